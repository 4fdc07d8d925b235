//! The live-response library (`shared/reference/mde-api.md` §11): upload, list, delete, the
//! override rule, the 20 MB cap, names that could escape the library directory, roles, persistence
//! across a restart, and live response refusing files the library does not hold.

use palisade_testkit::*;
use reqwest::Method;
use serde_json::{json, Value};

/// SHA-256 of "abc" (FIPS 180-2 test vector).
const ABC_SHA256: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
const MIB: usize = 1024 * 1024;

async fn list(app: &TestApp, token: &str, query: &str) -> Vec<Value> {
    let body = app.get_ok(&format!("/api/libraryfiles{query}"), token).await;
    assert!(
        body["@odata.context"]
            .as_str()
            .unwrap()
            .ends_with("/api/$metadata#LibraryFiles"),
        "{body}"
    );
    body["value"].as_array().unwrap().clone()
}

async fn delete(app: &TestApp, token: &str, name: &str) -> reqwest::Response {
    app.call(Method::DELETE, &format!("/api/libraryfiles/{name}"), Some(token), None)
        .await
}

/// The bytes the store keeps for a tenant's library file, through the admin API (`None`: 404).
async fn stored_in(app: &TestApp, tenant: &str, name: &str) -> Option<Vec<u8>> {
    let response = app
        .client
        .get(format!("{}/_palisade/tenants/{tenant}/libraryfiles/{name}", app.http))
        .send()
        .await
        .expect("admin request");
    match response.status().as_u16() {
        200 => Some(response.bytes().await.expect("bytes").to_vec()),
        404 => None,
        other => panic!("library content: status {other}"),
    }
}

async fn stored(app: &TestApp, name: &str) -> Option<Vec<u8>> {
    stored_in(app, TENANT, name).await
}

async fn live_response(app: &TestApp, token: &str, machine: &str, commands: Value) -> reqwest::Response {
    app.post(
        &format!("/api/machines/{machine}/runliveresponse"),
        token,
        &json!({"Comment": "library test", "Commands": commands}).to_string(),
    )
    .await
}

#[tokio::test]
async fn upload_list_and_delete_a_library_file() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    assert!(
        list(&app, &token, "").await.is_empty(),
        "a new tenant's library is empty"
    );

    let response = app
        .upload_form(
            &token,
            &[
                FormPart::File("File", "script1.ps1", b"abc"),
                FormPart::Text("Description", "Collects process information"),
                FormPart::Text("ParametersDescription", "-Name <process>"),
                FormPart::Text("HasParameters", "true"),
            ],
        )
        .await;
    assert_eq!(response.status(), 200, "the page documents 200, not 201");
    let uploaded: Value = response.json().await.unwrap();
    let keys: Vec<&str> = uploaded.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "@odata.context",
            "fileName",
            "sha256",
            "description",
            "creationTime",
            "lastUpdatedTime",
            "createdBy",
            "hasParameters",
            "parametersDescription"
        ]
    );
    assert!(uploaded["@odata.context"]
        .as_str()
        .unwrap()
        .ends_with("#LibraryFiles/$entity"));
    assert_eq!(uploaded["fileName"], "script1.ps1");
    assert_eq!(uploaded["sha256"], ABC_SHA256);
    assert_eq!(uploaded["description"], "Collects process information");
    assert_eq!(uploaded["createdBy"], CLIENT_ID);
    assert_eq!(uploaded["hasParameters"], true);
    assert_eq!(uploaded["parametersDescription"], "-Name <process>");
    assert_eq!(uploaded["creationTime"], uploaded["lastUpdatedTime"]);
    assert_eq!(
        stored(&app, "script1.ps1").await.as_deref(),
        Some(&b"abc"[..]),
        "the bytes are kept in the store"
    );

    // The documented curl example's lower-case `file` part; no parameters: the key is absent.
    let response = app
        .upload_form(&token, &[FormPart::File("file", "memdump.exe", b"MZ\x90\x00")])
        .await;
    assert_eq!(response.status(), 200);
    let plain: Value = response.json().await.unwrap();
    assert_eq!(plain["hasParameters"], false);
    assert_eq!(plain["description"], Value::Null);
    assert!(plain.get("parametersDescription").is_none(), "{plain}");

    let files = list(&app, &token, "").await;
    let names: Vec<&str> = files.iter().map(|f| f["fileName"].as_str().unwrap()).collect();
    assert_eq!(names, ["memdump.exe", "script1.ps1"], "in file-name order");
    let mut listed = uploaded.clone();
    listed.as_object_mut().unwrap().remove("@odata.context");
    assert_eq!(files[1], listed, "the list shows the entity as the upload answered it");
    let with_parameters = list(&app, &token, "?$filter=hasParameters%20eq%20true").await;
    assert_eq!(with_parameters.len(), 1);
    assert_eq!(with_parameters[0]["fileName"], "script1.ps1");
    let response = app.get("/api/libraryfiles?$filter=size%20gt%201", &token).await;
    expect_error(&app, response, 400, "ODataError", &["size"]).await;

    let response = delete(&app, &token, "SCRIPT1.PS1").await;
    assert_eq!(response.status(), 204, "names match in any case");
    assert!(response.text().await.unwrap().is_empty());
    assert!(stored(&app, "script1.ps1").await.is_none(), "the bytes go too");
    let names: Vec<Value> = list(&app, &token, "")
        .await
        .iter()
        .map(|f| f["fileName"].clone())
        .collect();
    assert_eq!(names, [json!("memdump.exe")]);
    let response = delete(&app, &token, "script1.ps1").await;
    expect_error(&app, response, 404, "ResourceNotFound", &["script1.ps1"]).await;
}

#[tokio::test]
async fn an_existing_name_needs_override_if_exists() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    app.freeze_clock().await;
    let first = app.upload_library_file(&token, "collect.ps1", b"first").await;

    for flag in [None, Some("false"), Some("")] {
        let mut parts = vec![FormPart::File("File", "Collect.PS1", b"second")];
        if let Some(flag) = flag {
            parts.push(FormPart::Text("OverrideIfExists", flag));
        }
        let response = app.upload_form(&token, &parts).await;
        expect_error(
            &app,
            response,
            400,
            "BadRequest",
            &["collect.ps1", "already exists", "OverrideIfExists=true"],
        )
        .await;
    }
    let response = app
        .upload_form(
            &token,
            &[
                FormPart::File("File", "collect.ps1", b"second"),
                FormPart::Text("OverrideIfExists", "maybe"),
            ],
        )
        .await;
    expect_error(
        &app,
        response,
        400,
        "InvalidInput",
        &["OverrideIfExists 'maybe'", "true, false"],
    )
    .await;
    assert_eq!(
        stored(&app, "collect.ps1").await.as_deref(),
        Some(&b"first"[..]),
        "refused uploads change nothing"
    );

    app.advance_clock(90.0).await;
    let response = app
        .upload_form(
            &token,
            &[
                FormPart::File("File", "Collect.ps1", b"abc"),
                FormPart::Text("OverrideIfExists", "True"),
            ],
        )
        .await;
    assert_eq!(response.status(), 200);
    let replaced: Value = response.json().await.unwrap();
    assert_eq!(replaced["fileName"], "Collect.ps1", "the new spelling is kept");
    assert_eq!(replaced["sha256"], ABC_SHA256);
    assert_eq!(replaced["creationTime"], first["creationTime"]);
    assert_ne!(replaced["lastUpdatedTime"], first["lastUpdatedTime"]);
    let files = list(&app, &token, "").await;
    assert_eq!(files.len(), 1, "an override replaces, it does not add: {files:?}");
    assert_eq!(stored(&app, "COLLECT.ps1").await.as_deref(), Some(&b"abc"[..]));
}

#[tokio::test]
async fn files_are_capped_at_twenty_megabytes() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let limit = 20 * MIB;

    let too_big = vec![b'x'; limit + 1];
    let response = app
        .upload_form(&token, &[FormPart::File("File", "big.bin", &too_big)])
        .await;
    expect_error(
        &app,
        response,
        400,
        "InvalidInput",
        &["big.bin", &format!("{}", limit + 1), "20 MB"],
    )
    .await;
    assert!(list(&app, &token, "").await.is_empty());

    let exactly = vec![b'y'; limit];
    let uploaded = app.upload_library_file(&token, "exact.bin", &exactly).await;
    assert_eq!(uploaded["fileName"], "exact.bin");
    assert_eq!(stored(&app, "exact.bin").await.map(|b| b.len()), Some(limit));

    // Within the file cap, but the whole form beyond the route's own limit.
    let padding = "d".repeat(2 * MIB);
    let response = app
        .upload_form(
            &token,
            &[
                FormPart::Text("Description", &padding),
                FormPart::File("File", "padded.bin", &exactly),
            ],
        )
        .await;
    expect_error(&app, response, 413, "PayloadTooLarge", &["larger than"]).await;
}

#[tokio::test]
async fn malformed_forms_are_refused_with_the_contract_codes() {
    let app = TestApp::spawn().await;
    let token = app.token().await;

    let response = app.post("/api/libraryfiles", &token, r#"{"File": "abc"}"#).await;
    expect_error(&app, response, 400, "InvalidRequestBody", &["multipart/form-data"]).await;

    let response = app
        .upload_form(&token, &[FormPart::Text("Description", "no file")])
        .await;
    expect_error(&app, response, 400, "MissingRequiredParameter", &["File"]).await;

    let cases: Vec<(Vec<FormPart<'_>>, Vec<&str>)> = vec![
        (
            vec![
                FormPart::File("File", "a.ps1", b"x"),
                FormPart::Text("description", "d"),
            ],
            vec!["'description'", "did you mean 'Description'"],
        ),
        (
            vec![FormPart::File("File", "a.ps1", b"x"), FormPart::Text("Owner", "me")],
            vec!["'Owner'", "OverrideIfExists"],
        ),
        (
            vec![
                FormPart::File("File", "a.ps1", b"x"),
                FormPart::Text("Description", "1"),
                FormPart::Text("Description", "2"),
            ],
            vec!["'Description'", "more than once"],
        ),
        (
            vec![
                FormPart::File("File", "a.ps1", b"x"),
                FormPart::File("File", "b.ps1", b"y"),
            ],
            vec!["more than one"],
        ),
        (vec![FormPart::Text("File", "not a file")], vec!["no file name"]),
    ];
    for (parts, mentions) in cases {
        let response = app.upload_form(&token, &parts).await;
        expect_error(&app, response, 400, "InvalidRequestBody", &mentions).await;
    }

    let response = app
        .upload_form(
            &token,
            &[
                FormPart::File("File", "a.ps1", b"x"),
                FormPart::Text("HasParameters", "yes"),
            ],
        )
        .await;
    expect_error(&app, response, 400, "InvalidInput", &["HasParameters 'yes'"]).await;

    // A form cut off before its closing boundary.
    let (content_type, body) = multipart_form(&[FormPart::File("File", "a.ps1", b"x")]);
    let response = app
        .client
        .post(format!("{}/api/libraryfiles", app.http))
        .bearer_auth(&token)
        .header("content-type", content_type)
        .body(body[..body.len() - 30].to_vec())
        .send()
        .await
        .unwrap();
    expect_error(&app, response, 400, "InvalidRequestBody", &["multipart"]).await;
    assert!(list(&app, &token, "").await.is_empty(), "nothing was stored");
}

#[tokio::test]
async fn names_that_could_leave_the_library_are_refused() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    for (name, mention) in [
        ("../palisade.db", "'/'"),
        ("..\\palisade.db", "'\\'"),
        ("..", "'..'"),
        ("sub/dir.ps1", "'/'"),
        ("C:evil.ps1", "':'"),
        ("x.ps1.", "end with a dot"),
        ("tab\tname.ps1", "control characters"),
    ] {
        let response = app.upload_form(&token, &[FormPart::File("File", name, b"owned")]).await;
        expect_error(&app, response, 400, "InvalidInput", &["file name", mention]).await;
    }
    assert!(list(&app, &token, "").await.is_empty());
    assert!(
        !app.data_dir().join("library").exists(),
        "nothing is written beside the store"
    );
    if app.backend == palisade_testkit::Backend::Sqlite {
        // The file those names aimed at is still there, untouched by the refused uploads.
        let database = std::fs::metadata(app.data_dir().join("palisade.db")).unwrap();
        assert!(database.len() > 0);
    }

    // (A bare `..` segment never reaches the server: clients resolve it away.)
    for encoded in [
        "..%2Fpalisade.db",
        "%2E%2E%2Fpalisade.db",
        "..%5C..%5Cpalisade.db",
        "x%00.ps1",
    ] {
        let response = delete(&app, &token, encoded).await;
        expect_error(&app, response, 400, "InvalidInput", &["file name"]).await;
    }
    if app.backend == palisade_testkit::Backend::Sqlite {
        assert!(
            app.data_dir().join("palisade.db").exists(),
            "the database is still there"
        );
    }
}

#[tokio::test]
async fn every_library_operation_needs_library_manage() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    app.upload_library_file(&token, "kept.ps1", b"abc").await;
    // Live response alone does not manage the library.
    let other = app
        .mint(json!({"roles": ["Machine.LiveResponse", "Machine.ReadWrite.All"]}))
        .await;
    let response = app.get("/api/libraryfiles", &other).await;
    expect_error(&app, response, 403, "Forbidden", &["Library.Manage"]).await;
    let response = app
        .upload_form(&other, &[FormPart::File("File", "new.ps1", b"abc")])
        .await;
    expect_error(&app, response, 403, "Forbidden", &["Library.Manage"]).await;
    // Role before body: a broken form from a caller without the role is still Forbidden.
    let response = app.post("/api/libraryfiles", &other, "not a form").await;
    expect_error(&app, response, 403, "Forbidden", &["Library.Manage"]).await;
    let response = delete(&app, &other, "kept.ps1").await;
    expect_error(&app, response, 403, "Forbidden", &["Library.Manage"]).await;
    let manager = app.mint(json!({"roles": ["Library.Manage"]})).await;
    assert_eq!(list(&app, &manager, "").await.len(), 1);
}

#[tokio::test]
async fn each_tenant_has_its_own_library() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    app.upload_library_file(&token, "shared-name.ps1", b"demo").await;
    let (tenant, client, secret) = app.create_tenant(None, false).await;
    let other = app.token_for(&tenant, &client, &secret).await;
    assert!(list(&app, &other, "").await.is_empty());
    let response = delete(&app, &other, "shared-name.ps1").await;
    expect_error(&app, response, 404, "ResourceNotFound", &["shared-name.ps1"]).await;
    let theirs = app.upload_library_file(&other, "shared-name.ps1", b"abc").await;
    assert_eq!(theirs["sha256"], ABC_SHA256, "no override needed in another tenant");
    assert_eq!(stored(&app, "shared-name.ps1").await.as_deref(), Some(&b"demo"[..]));
    assert_eq!(stored_in(&app, &tenant, "shared-name.ps1").await.unwrap(), b"abc");
}

#[tokio::test]
async fn library_files_survive_a_restart() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let stored = app.upload_library_file(&token, "persist.ps1", b"abc").await;
    let app = app.restart().await;
    let token = app.token().await;
    let files = list(&app, &token, "").await;
    assert_eq!(files.len(), 1);
    assert_eq!(files[0]["sha256"], stored["sha256"]);
    assert_eq!(files[0]["creationTime"], stored["creationTime"]);
    let machine = windows_machine(&app, &token).await;
    let response = live_response(
        &app,
        &token,
        &machine,
        json!([{"type": "PutFile", "params": [{"key": "FileName", "value": "persist.ps1"}]}]),
    )
    .await;
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
}

#[tokio::test]
async fn live_response_needs_its_files_in_the_library() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let machine = windows_machine(&app, &token).await;

    let response = live_response(
        &app,
        &token,
        &machine,
        json!([{"type": "PutFile", "params": [{"key": "FileName", "value": "tool.exe"}]}]),
    )
    .await;
    expect_error(
        &app,
        response,
        404,
        "ResourceNotFound",
        &["Library file tool.exe was not found", "Commands[0]", "PutFile"],
    )
    .await;

    app.upload_library_file(&token, "tool.exe", b"MZ").await;
    let commands = json!([
        {"type": "PutFile", "params": [{"key": "FileName", "value": "TOOL.EXE"}]},
        {"type": "RunScript", "params": [{"key": "ScriptName", "value": "run.ps1"}, {"key": "Args", "value": "-x"}]}
    ]);
    let response = live_response(&app, &token, &machine, commands.clone()).await;
    expect_error(
        &app,
        response,
        404,
        "ResourceNotFound",
        &["run.ps1", "Commands[1]", "RunScript ScriptName"],
    )
    .await;

    app.upload_library_file(&token, "run.ps1", b"Write-Output $args").await;
    let response = live_response(&app, &token, &machine, commands).await;
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    let action: Value = response.json().await.unwrap();
    assert_eq!(action["type"], "LiveResponse");

    // GetFile collects from the device and needs no library file.
    let response = delete(&app, &token, "run.ps1").await;
    assert_eq!(response.status(), 204);
    let machines = app
        .get_ok(
            "/api/machines?$filter=osPlatform%20eq%20%27Windows11%27%20and%20healthStatus%20eq%20%27Active%27",
            &token,
        )
        .await;
    let second = machines["value"][1]["id"]
        .as_str()
        .expect("a second Windows 11 machine");
    let response = live_response(
        &app,
        &token,
        second,
        json!([{"type": "GetFile", "params": [{"key": "Path", "value": "C:\\Windows\\TEMP\\a.txt"}]}]),
    )
    .await;
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
}

#[tokio::test]
async fn resetting_or_deleting_a_tenant_removes_its_library_files_from_disk() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    app.upload_library_file(&token, "kept-until-reset.ps1", b"Write-Output 1")
        .await;
    assert!(stored(&app, "kept-until-reset.ps1").await.is_some());
    let response = app
        .admin_post(&format!("/_palisade/tenants/{TENANT}/reset"), json!({"demoData": true}))
        .await;
    assert_eq!(response.status(), 204);
    let listed = app.get_ok("/api/libraryfiles", &token).await;
    assert_eq!(listed["value"], json!([]));
    assert!(stored(&app, "kept-until-reset.ps1").await.is_none());

    app.upload_library_file(&token, "kept-until-delete.ps1", b"Write-Output 2")
        .await;
    let response = app
        .call(Method::DELETE, &format!("/_palisade/tenants/{TENANT}"), None, None)
        .await;
    assert_eq!(response.status(), 204);
    assert!(stored(&app, "kept-until-delete.ps1").await.is_none());
}
