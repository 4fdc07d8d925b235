//! The admin control plane (issue 6): app registrations and their roles, tenants, data in and
//! out, resets, the request journal, metrics and the admin guard.

use palisade_testkit::*;
use reqwest::Method;
use serde_json::{json, Value};

/// Every write endpoint of the emulated APIs: method, path (`{machine}`, `{alert}`, `{action}` are
/// filled with real ids of the demo tenant) and a body that is valid for it, so that the only
/// reason to refuse is the caller's roles. Families added later append their rows here.
const WRITE_ENDPOINTS: &[(&str, &str, &str)] = &[
    (
        "POST",
        "/api/machines/{machine}/tags",
        r#"{"Value":"t","Action":"Add"}"#,
    ),
    ("PATCH", "/api/machines/{machine}", r#"{"machineTags":["t"]}"#),
    (
        "POST",
        "/api/machines/{machine}/setDeviceValue",
        r#"{"DeviceValue":"High"}"#,
    ),
    (
        "POST",
        "/api/machines/AddOrRemoveTagForMultipleMachines",
        r#"{"Value":"t","Action":"Add","MachineIds":["{machine}"]}"#,
    ),
    ("PATCH", "/api/alerts/{alert}", r#"{"status":"Resolved"}"#),
    (
        "POST",
        "/api/alerts/batchUpdate",
        r#"{"alertIds":["{alert}"],"status":"Resolved"}"#,
    ),
    (
        "POST",
        "/api/alerts/CreateAlertByReference",
        r#"{"eventTime":"{now}","reportId":"1","machineId":"{machine}","severity":"Low","title":"t","description":"d","recommendedAction":"r","category":"Execution"}"#,
    ),
    (
        "POST",
        "/api/machines/{machine}/isolate",
        r#"{"Comment":"c","IsolationType":"Full"}"#,
    ),
    ("POST", "/api/machines/{machine}/unisolate", r#"{"Comment":"c"}"#),
    (
        "POST",
        "/api/machines/{machine}/restrictCodeExecution",
        r#"{"Comment":"c"}"#,
    ),
    (
        "POST",
        "/api/machines/{machine}/unrestrictCodeExecution",
        r#"{"Comment":"c"}"#,
    ),
    (
        "POST",
        "/api/machines/{machine}/runAntiVirusScan",
        r#"{"Comment":"c","ScanType":"Quick"}"#,
    ),
    (
        "POST",
        "/api/machines/{machine}/collectInvestigationPackage",
        r#"{"Comment":"c"}"#,
    ),
    ("POST", "/api/machines/{machine}/offboard", r#"{"Comment":"c"}"#),
    (
        "POST",
        "/api/machines/{machine}/StopAndQuarantineFile",
        r#"{"Comment":"c","Sha1":"87662bc3d60e4200ceaaad2b04a0e01a8ff1a9f1"}"#,
    ),
    (
        "POST",
        "/api/machines/{machine}/runliveresponse",
        r#"{"Comment":"c","Commands":[{"type":"RunScript","params":[{"key":"ScriptName","value":"a.ps1"}]}]}"#,
    ),
    ("POST", "/api/machineactions/{action}/cancel", r#"{"Comment":"c"}"#),
    (
        "POST",
        "/api/machines/{machine}/startInvestigation",
        r#"{"Comment":"c"}"#,
    ),
    (
        "POST",
        "/api/indicators",
        r#"{"indicatorValue":"w.example.com","indicatorType":"DomainName","action":"Block","title":"t","description":"d","severity":"High"}"#,
    ),
    (
        "POST",
        "/api/indicators/import",
        r#"{"Indicators":[{"indicatorValue":"w.example.com","indicatorType":"DomainName","action":"Block","title":"t","description":"d","severity":"High"}]}"#,
    ),
    ("DELETE", "/api/indicators/1", ""),
    ("POST", "/api/indicators/BatchDelete", r#"{"IndicatorIds":["1"]}"#),
    ("POST", "/api/libraryfiles", ""),
    ("DELETE", "/api/libraryfiles/collect.ps1", ""),
];

async fn admin_ok(app: &TestApp, method: Method, path: &str, body: Option<Value>) -> Value {
    let response = admin(app, method.clone(), path, body).await;
    let status = response.status();
    let text = response.text().await.unwrap();
    assert!(status.is_success(), "{method} {path}: {status} {text}");
    if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap()
    }
}

/// Registers an app in `tenant` with `roles`; returns (client id, secret).
async fn register(app: &TestApp, tenant: &str, roles: &[&str]) -> (String, String) {
    let response = admin(
        app,
        Method::POST,
        &format!("/_palisade/tenants/{tenant}/apps"),
        Some(json!({"displayName": "under test", "roles": roles})),
    )
    .await;
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["roles"], json!(roles));
    (
        body["clientId"].as_str().unwrap().to_string(),
        body["clientSecret"].as_str().unwrap().to_string(),
    )
}

async fn sign_in(app: &TestApp, tenant: &str, client_id: &str, secret: &str) -> reqwest::Response {
    app.client
        .post(format!("{}/{tenant}/oauth2/v2.0/token", app.https))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
            ("client_secret", secret),
            ("scope", &format!("{MDE}/.default")),
        ])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_role_less_app_is_forbidden_on_every_write_endpoint() {
    let app = TestApp::spawn().await;
    let dev = app.token().await;
    let machines = app
        .get_ok(
            "/api/machines?$filter=osPlatform%20eq%20%27Windows11%27%20and%20healthStatus%20eq%20%27Active%27",
            &dev,
        )
        .await;
    let machine = machines["value"][0]["id"].as_str().unwrap().to_string();
    let alerts = app.get_ok("/api/alerts?$top=1", &dev).await;
    let alert = alerts["value"][0]["id"].as_str().unwrap().to_string();
    let response = app
        .post(
            &format!("/api/machines/{machine}/runAntiVirusScan"),
            &dev,
            r#"{"Comment":"setup","ScanType":"Quick"}"#,
        )
        .await;
    assert_eq!(response.status(), 201);
    let action: Value = response.json().await.unwrap();
    let action = action["id"].as_str().unwrap().to_string();
    let now = app.get_json(&format!("{}/_palisade/clock", app.http)).await["now"]
        .as_str()
        .unwrap()
        .to_string();

    let (client, secret) = register(&app, TENANT, &[]).await;
    let response = sign_in(&app, TENANT, &client, &secret).await;
    assert_eq!(response.status(), 200);
    let token: Value = response.json().await.unwrap();
    let token = token["access_token"].as_str().unwrap().to_string();

    for (method, path, body) in WRITE_ENDPOINTS {
        let fill = |s: &str| {
            s.replace("{machine}", &machine)
                .replace("{alert}", &alert)
                .replace("{action}", &action)
                .replace("{now}", &now)
        };
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let response = app
            .call(method.clone(), &fill(path), Some(&token), Some(&fill(body)))
            .await;
        let record = expect_error(
            &app,
            response,
            403,
            "Forbidden",
            &["Missing application roles", "(none)"],
        )
        .await;
        assert_eq!(record["appId"], client.as_str(), "{method} {path}");
    }
    // Nothing was changed by any of them.
    let after = app.get_ok(&format!("/api/machines/{machine}"), &dev).await;
    assert_eq!(after["machineTags"], machines["value"][0]["machineTags"]);
}

#[tokio::test]
async fn an_app_without_machine_isolate_is_forbidden_naming_the_role() {
    let app = TestApp::spawn().await;
    let (client, secret) = register(&app, TENANT, &["Machine.Read.All", "Machine.Scan"]).await;
    let token = app.token_for(TENANT, &client, &secret).await;
    let machines = app.get_ok("/api/machines?$top=1", &token).await;
    let machine = machines["value"][0]["id"].as_str().unwrap();
    let response = app
        .post(
            &format!("/api/machines/{machine}/isolate"),
            &token,
            r#"{"Comment":"contain","IsolationType":"Full"}"#,
        )
        .await;
    expect_error(
        &app,
        response,
        403,
        "Forbidden",
        &["Machine.Isolate", "Machine.Read.All, Machine.Scan"],
    )
    .await;
}

#[tokio::test]
async fn unknown_roles_are_refused_listing_the_known_ones() {
    let app = TestApp::spawn().await;
    let response = admin(
        &app,
        Method::POST,
        &format!("/_palisade/tenants/{TENANT}/apps"),
        Some(json!({"roles": ["Machine.Read.All", "Machine.Fly"]})),
    )
    .await;
    expect_error(
        &app,
        response,
        400,
        "InvalidInput",
        &["Machine.Fly", "Machine.Isolate", "AdvancedHunting.Read.All"],
    )
    .await;
    let response = admin(
        &app,
        Method::POST,
        "/_palisade/tenants/00000000-0000-4000-8000-00000000dead/apps",
        Some(json!({"roles": []})),
    )
    .await;
    expect_error(
        &app,
        response,
        404,
        "ResourceNotFound",
        &["00000000-0000-4000-8000-00000000dead"],
    )
    .await;
}

#[tokio::test]
async fn apps_are_listed_without_secrets_and_their_roles_change_for_new_tokens_only() {
    let app = TestApp::spawn().await;
    let (client, secret) = register(&app, TENANT, &["Machine.Read.All"]).await;
    let listed = admin_ok(&app, Method::GET, &format!("/_palisade/tenants/{TENANT}/apps"), None).await;
    let apps = listed["value"].as_array().unwrap();
    assert_eq!(apps.len(), 2, "the dev app and the new one: {listed}");
    assert!(apps.iter().all(|a| a.get("clientSecret").is_none()), "{listed}");
    assert!(apps.iter().any(|a| a["clientId"] == client.as_str()));

    let old_token = app.token_for(TENANT, &client, &secret).await;
    let patched = admin_ok(
        &app,
        Method::PATCH,
        &format!("/_palisade/tenants/{TENANT}/apps/{client}"),
        Some(json!({"roles": ["Alert.Read.All"]})),
    )
    .await;
    assert_eq!(patched["roles"], json!(["Alert.Read.All"]));
    // The token issued before keeps the roles it carries, as with Entra.
    assert_eq!(app.get("/api/machines?$top=1", &old_token).await.status(), 200);
    let response = app.get("/api/alerts?$top=1", &old_token).await;
    expect_error(&app, response, 403, "Forbidden", &["Alert.Read.All"]).await;
    let new_token = app.token_for(TENANT, &client, &secret).await;
    assert_eq!(app.get("/api/alerts?$top=1", &new_token).await.status(), 200);
    let response = app.get("/api/machines?$top=1", &new_token).await;
    expect_error(&app, response, 403, "Forbidden", &["Machine.Read.All"]).await;
}

#[tokio::test]
async fn rotating_a_secret_retires_the_old_one_at_once() {
    let app = TestApp::spawn().await;
    let (client, old_secret) = register(&app, TENANT, &["Machine.Read.All"]).await;
    let token = app.token_for(TENANT, &client, &old_secret).await;
    let rotated = admin_ok(
        &app,
        Method::POST,
        &format!("/_palisade/tenants/{TENANT}/apps/{client}/secrets"),
        None,
    )
    .await;
    let new_secret = rotated["clientSecret"].as_str().unwrap();
    assert_ne!(new_secret, old_secret);
    let response = sign_in(&app, TENANT, &client, &old_secret).await;
    assert_eq!(response.status(), 401);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client");
    app.token_for(TENANT, &client, new_secret).await;
    // Issued tokens stay valid until they expire.
    assert_eq!(app.get("/api/machines?$top=1", &token).await.status(), 200);
}

#[tokio::test]
async fn a_deleted_app_loses_its_tokens_at_once() {
    let app = TestApp::spawn().await;
    let (client, secret) = register(&app, TENANT, &["Machine.Read.All"]).await;
    let token = app.token_for(TENANT, &client, &secret).await;
    assert_eq!(app.get("/api/machines?$top=1", &token).await.status(), 200);
    let response = admin(
        &app,
        Method::DELETE,
        &format!("/_palisade/tenants/{TENANT}/apps/{client}"),
        None,
    )
    .await;
    assert_eq!(response.status(), 204);
    let response = app.get("/api/machines?$top=1", &token).await;
    expect_error(&app, response, 401, "Unauthorized", &[&client, "not registered"]).await;
    let response = sign_in(&app, TENANT, &client, &secret).await;
    assert_eq!(response.status(), 400, "Entra: application not found");
    let response = admin(
        &app,
        Method::DELETE,
        &format!("/_palisade/tenants/{TENANT}/apps/{client}"),
        None,
    )
    .await;
    expect_error(&app, response, 404, "ResourceNotFound", &[&client]).await;
    // The dev app is untouched.
    assert_eq!(app.get("/api/machines?$top=1", &app.token().await).await.status(), 200);
}

#[tokio::test]
async fn tenants_are_listed_fetched_and_deleted_with_everything_they_own() {
    let app = TestApp::spawn().await;
    let (tenant, client, secret) = app.create_tenant(Some(&["Machine.Read.All"]), true).await;
    let token = app.token_for(&tenant, &client, &secret).await;
    let listed = admin_ok(&app, Method::GET, "/_palisade/tenants", None).await;
    let ids: Vec<&str> = listed["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&TENANT) && ids.contains(&tenant.as_str()), "{listed}");
    let one = admin_ok(&app, Method::GET, &format!("/_palisade/tenants/{tenant}"), None).await;
    assert_eq!(one["id"], tenant.as_str());
    assert_eq!(one["features"]["liveResponse"], true);

    let response = admin(&app, Method::DELETE, &format!("/_palisade/tenants/{tenant}"), None).await;
    assert_eq!(response.status(), 204);
    let response = app.get("/api/machines", &token).await;
    expect_error(&app, response, 401, "Unauthorized", &[&tenant]).await;
    let response = admin(&app, Method::GET, &format!("/_palisade/tenants/{tenant}"), None).await;
    expect_error(&app, response, 404, "ResourceNotFound", &[&tenant]).await;
    let response = admin(&app, Method::GET, &format!("/_palisade/tenants/{tenant}/export"), None).await;
    expect_error(&app, response, 404, "ResourceNotFound", &[&tenant]).await;
    // Brought back under the same id, it starts empty: nothing of the old one survived.
    let response = app
        .admin_post(
            "/_palisade/tenants",
            json!({"tenantId": tenant, "demoData": false, "roles": ["Machine.Read.All"]}),
        )
        .await;
    assert_eq!(response.status(), 201);
    let again: Value = response.json().await.unwrap();
    let token = app
        .token_for(
            &tenant,
            again["clientId"].as_str().unwrap(),
            again["clientSecret"].as_str().unwrap(),
        )
        .await;
    let response = app.get("/api/machines", &token).await;
    expect_error(&app, response, 404, "NotFound", &[]).await;
    // The demo tenant is unaffected.
    assert_eq!(app.get("/api/machines", &app.token().await).await.status(), 200);
}

#[tokio::test]
async fn the_demo_tenant_can_be_deleted_and_a_global_reset_brings_it_back() {
    let app = TestApp::spawn().await;
    let (tenant, _, _) = app.create_tenant(None, false).await;
    let dev = app.token().await;
    let response = admin(&app, Method::DELETE, &format!("/_palisade/tenants/{TENANT}"), None).await;
    assert_eq!(response.status(), 204);
    let response = app.get("/api/machines", &dev).await;
    expect_error(&app, response, 401, "Unauthorized", &[CLIENT_ID]).await;

    let response = app.admin_post("/_palisade/reset", json!({})).await;
    assert_eq!(response.status(), 204);
    let listed = admin_ok(&app, Method::GET, "/_palisade/tenants", None).await;
    let ids: Vec<&str> = listed["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [TENANT], "only the demo tenant after a reset; {tenant} is gone");
    let machines = app.get_ok("/api/machines", &app.token().await).await;
    assert_eq!(machines["value"].as_array().unwrap().len(), 36);
    // The request journal starts afresh too: the reset itself is its first record.
    let journal = admin_ok(&app, Method::GET, "/_palisade/requests", None).await;
    let paths: Vec<&str> = journal["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths[0], "/_palisade/reset");
    assert!(!paths.iter().any(|p| p.starts_with("/_palisade/tenants/")), "{paths:?}");
}

#[tokio::test]
async fn export_delete_load_export_round_trips() {
    let app = TestApp::spawn().await;
    let dev = app.token().await;
    // Some state made through the API, so the export is more than the demo seed.
    let machines = app.get_ok("/api/machines?$top=1", &dev).await;
    let machine = machines["value"][0]["id"].as_str().unwrap().to_string();
    let response = app
        .post(
            &format!("/api/machines/{machine}/runAntiVirusScan"),
            &dev,
            r#"{"Comment":"before export","ScanType":"Quick"}"#,
        )
        .await;
    assert_eq!(response.status(), 201);
    app.freeze_clock().await;

    let exported = admin_ok(&app, Method::GET, &format!("/_palisade/tenants/{TENANT}/export"), None).await;
    for kind in [
        "machines",
        "users",
        "alerts",
        "investigations",
        "machineActions",
        "logons",
    ] {
        assert!(!exported[kind].as_array().unwrap().is_empty(), "{kind} exported");
    }
    assert!(!exported["alerts"][0]["evidence"].as_array().unwrap().is_empty());

    let response = admin(&app, Method::DELETE, &format!("/_palisade/tenants/{TENANT}"), None).await;
    assert_eq!(response.status(), 204);
    let response = app
        .admin_post(
            "/_palisade/tenants",
            json!({"tenantId": TENANT, "domain": "palisade-demo.onmicrosoft.com", "demoData": false}),
        )
        .await;
    assert_eq!(response.status(), 201);
    let created: Value = response.json().await.unwrap();
    let counts = admin_ok(
        &app,
        Method::POST,
        &format!("/_palisade/tenants/{TENANT}/data"),
        Some(exported.clone()),
    )
    .await;
    assert_eq!(counts["machines"], exported["machines"].as_array().unwrap().len());
    assert_eq!(counts["alerts"], exported["alerts"].as_array().unwrap().len());
    assert_eq!(counts["logons"], exported["logons"].as_array().unwrap().len());
    let again = admin_ok(&app, Method::GET, &format!("/_palisade/tenants/{TENANT}/export"), None).await;
    assert_eq!(again, exported);

    // The relations came back with the entities: users' machines and alerts answer as before.
    let token = app
        .token_for(
            TENANT,
            created["clientId"].as_str().unwrap(),
            created["clientSecret"].as_str().unwrap(),
        )
        .await;
    let user = exported["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|a| a["relatedUser"]["userName"].as_str())
        .unwrap();
    let alerts = app.get_ok(&format!("/api/users/{user}/alerts"), &token).await;
    assert!(!alerts["value"].as_array().unwrap().is_empty());
    let logon = &exported["logons"][0];
    let users = app
        .get_ok(
            &format!("/api/machines/{}/logonusers", logon["machineId"].as_str().unwrap()),
            &token,
        )
        .await;
    assert!(users["value"]
        .as_array()
        .unwrap()
        .iter()
        .any(|u| u["id"] == logon["userId"]));
    // Lookups see the loaded alerts' evidence: a file of the first alert with a SHA-1 lists it.
    let (alert, sha1) = exported["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|a| {
            let sha1 = a["evidence"].as_array()?.iter().find_map(|e| e["sha1"].as_str())?;
            Some((a["id"].as_str()?, sha1))
        })
        .unwrap();
    let related = app.get_ok(&format!("/api/files/{sha1}/alerts"), &token).await;
    assert!(related["value"].as_array().unwrap().iter().any(|a| a["id"] == alert));
}

#[tokio::test]
async fn loaded_entities_are_validated_naming_kind_index_and_property() {
    let app = TestApp::spawn().await;
    let (tenant, client, secret) = app.create_tenant(Some(&["Machine.Read.All"]), false).await;
    let demo = admin_ok(&app, Method::GET, &format!("/_palisade/tenants/{TENANT}/export"), None).await;
    let good = demo["machines"][0].clone();
    let path = format!("/_palisade/tenants/{tenant}/data");

    let mut bad_enum = demo["machines"][1].clone();
    bad_enum["healthStatus"] = json!("Sleepy");
    let response = admin(&app, Method::POST, &path, Some(json!({"machines": [good, bad_enum]}))).await;
    expect_error(
        &app,
        response,
        400,
        "InvalidRequestBody",
        &["machines[1]", "healthStatus"],
    )
    .await;

    let mut misspelt = demo["alerts"][0].clone();
    misspelt["evidence"][0]["sha1x"] = json!("x");
    let response = admin(&app, Method::POST, &path, Some(json!({"alerts": [misspelt]}))).await;
    expect_error(
        &app,
        response,
        400,
        "InvalidRequestBody",
        &["alerts[0]", "evidence[0].sha1x"],
    )
    .await;

    let response = admin(&app, Method::POST, &path, Some(json!({"gadgets": []}))).await;
    expect_error(
        &app,
        response,
        400,
        "InvalidRequestBody",
        &["gadgets", "machines", "logons"],
    )
    .await;
    let response = admin(&app, Method::POST, &path, Some(json!({"users": {}}))).await;
    expect_error(&app, response, 400, "InvalidRequestBody", &["users", "array"]).await;

    // Nothing of a refused document was stored: all or nothing.
    let token = app.token_for(&tenant, &client, &secret).await;
    let response = app.get("/api/machines", &token).await;
    expect_error(&app, response, 404, "NotFound", &[]).await;

    // Loading is an upsert by id: the same machine twice is one machine, changed.
    let mut changed = demo["machines"][0].clone();
    admin_ok(&app, Method::POST, &path, Some(json!({"machines": [changed.clone()]}))).await;
    changed["deviceValue"] = json!("High");
    let counts = admin_ok(&app, Method::POST, &path, Some(json!({"machines": [changed.clone()]}))).await;
    assert_eq!(counts, json!({"machines": 1}));
    let listed = app.get_ok("/api/machines", &token).await;
    assert_eq!(listed["value"].as_array().unwrap().len(), 1);
    assert_eq!(listed["value"][0]["deviceValue"], "High");
}

#[tokio::test]
async fn a_tenant_reset_empties_it_or_restores_the_demo_population() {
    let app = TestApp::spawn().await;
    let dev = app.token().await;
    let path = format!("/_palisade/tenants/{TENANT}/reset");
    let response = app.admin_post(&path, json!({"demoData": false})).await;
    assert_eq!(response.status(), 204);
    let response = app.get("/api/machines", &dev).await;
    expect_error(&app, response, 404, "NotFound", &[]).await;
    let alerts = app.get_ok("/api/alerts", &dev).await;
    assert!(alerts["value"].as_array().unwrap().is_empty());
    // The registration survives: the same token still works.
    let response = app.admin_post(&path, json!({"demoData": true})).await;
    assert_eq!(response.status(), 204);
    let machines = app.get_ok("/api/machines", &dev).await;
    assert_eq!(machines["value"].as_array().unwrap().len(), 36);
    let response = app.admin_post(&path, json!({})).await;
    expect_error(&app, response, 400, "MissingRequiredParameter", &["demoData"]).await;
}

/// The journal's records of `query` (a `/_palisade/requests` query string).
async fn journal(app: &TestApp, query: &str) -> Vec<Value> {
    let body = admin_ok(app, Method::GET, &format!("/_palisade/requests?{query}"), None).await;
    body["value"].as_array().unwrap().clone()
}

#[tokio::test]
async fn the_journal_shows_the_client_called_isolate_exactly_once_with_its_comment() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let machines = app
        .get_ok(
            "/api/machines?$filter=osPlatform%20eq%20%27Windows11%27%20and%20healthStatus%20eq%20%27Active%27",
            &token,
        )
        .await;
    let machine = machines["value"][0]["id"].as_str().unwrap();
    let path = format!("/api/machines/{machine}/isolate");
    let response = app
        .post(
            &path,
            &token,
            r#"{"Comment":"Contain incident 42","IsolationType":"Full"}"#,
        )
        .await;
    assert_eq!(response.status(), 201);
    let request_id = response.headers()["x-ms-request-id"].to_str().unwrap().to_string();
    // A second, refused isolate with another comment, through the versioned path in other case.
    let response = app
        .post(
            &format!("/API/v1.0/Machines/{machine}/Isolate"),
            &token,
            r#"{"Comment":"again","IsolationType":"Full"}"#,
        )
        .await;
    assert_eq!(response.status(), 400);

    let calls = journal(
        &app,
        &format!("method=POST&path={path}&bodyContains=Contain%20incident%2042"),
    )
    .await;
    assert_eq!(calls.len(), 1, "exactly once: {calls:?}");
    let call = &calls[0];
    assert_eq!(call["status"], 201);
    assert_eq!(call["requestId"], request_id.as_str());
    assert_eq!(call["route"], "/api/machines/{id}/isolate");
    assert_eq!(call["clientId"], CLIENT_ID);
    assert_eq!(call["tenantId"], TENANT);
    assert_eq!(call["errorCode"], Value::Null);
    assert_eq!(call["headers"]["authorization"], "Bearer [redacted]");
    let body = r#"{"Comment":"Contain incident 42","IsolationType":"Full"}"#;
    assert_eq!(call["body"], body);
    assert_eq!(call["bodyBytes"], body.len());
    assert_eq!(call["bodySha256"].as_str().unwrap().len(), 64);
    assert!(call["latencyMs"].as_f64().unwrap() >= 0.0);

    let isolates = journal(&app, &format!("method=post&path={path}")).await;
    assert_eq!(isolates.len(), 2, "both calls, the normalised path journaled");
    assert_eq!(isolates[1]["status"], 400, "oldest first");
    assert_eq!(isolates[1]["errorCode"], "ActiveRequestAlreadyExists");
    let refused = journal(&app, "code=ActiveRequestAlreadyExists").await;
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0]["requestId"], isolates[1]["requestId"]);
}

#[tokio::test]
async fn journal_filters_combine_and_clearing_empties_it() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let (tenant, client, secret) = app.create_tenant(Some(&["Machine.Read.All"]), false).await;
    let other = app.token_for(&tenant, &client, &secret).await;
    let start = journal(&app, "").await.last().unwrap()["sequence"].as_u64().unwrap();
    app.get("/api/machines?$top=2", &token).await;
    app.get("/api/machines/ghost", &token).await;
    app.get("/api/alerts", &other).await;
    app.call(Method::GET, "/nowhere", None, None).await;

    let after = format!("after={start}");
    assert_eq!(journal(&app, &after).await.len(), 4);
    let mine = journal(&app, &format!("{after}&clientId={CLIENT_ID}")).await;
    assert_eq!(mine.len(), 2);
    assert_eq!(mine[0]["query"], "$top=2");
    assert_eq!(journal(&app, &format!("{after}&tenantId={tenant}")).await.len(), 1);
    assert_eq!(journal(&app, &format!("{after}&status=404")).await.len(), 2);
    assert_eq!(
        journal(&app, &format!("{after}&status=404&pathPrefix=/api/"))
            .await
            .len(),
        1
    );
    assert_eq!(journal(&app, &format!("{after}&code=Forbidden")).await.len(), 1);
    let newest = journal(&app, &format!("{after}&limit=1")).await;
    assert_eq!(newest[0]["path"], "/nowhere");
    assert_eq!(newest[0]["route"], Value::Null);
    assert_eq!(journal(&app, "since=2999-01-01T00:00:00Z").await.len(), 0);
    // The sign-in form was journaled without its secret.
    let sign_ins = journal(&app, &format!("pathPrefix=/{tenant}/oauth2/")).await;
    assert_eq!(sign_ins.len(), 1);
    let form = sign_ins[0]["body"].as_str().unwrap();
    assert!(
        form.contains("client_secret=[redacted]") && !form.contains(&secret),
        "{form}"
    );
    assert_eq!(sign_ins[0]["clientId"], client.as_str());

    let response = admin(&app, Method::GET, "/_palisade/requests?colour=red", None).await;
    expect_error(&app, response, 400, "InvalidInput", &["colour", "pathPrefix"]).await;
    let response = admin(&app, Method::GET, "/_palisade/requests?status=abc", None).await;
    expect_error(&app, response, 400, "InvalidInput", &["status", "abc"]).await;

    let cleared = admin_ok(&app, Method::DELETE, "/_palisade/requests", None).await;
    assert!(cleared["cleared"].as_u64().unwrap() >= 4);
    assert!(
        journal(&app, "").await.is_empty(),
        "reading the journal is not journaled"
    );
}

#[tokio::test]
async fn the_request_journal_is_bounded() {
    let app = TestApp::spawn_with(|c| c.request_journal_capacity = 3).await;
    for n in 0..5 {
        app.call(Method::GET, &format!("/_palisade/health?n={n}"), None, None)
            .await;
    }
    let kept = journal(&app, "").await;
    let queries: Vec<&str> = kept.iter().map(|r| r["query"].as_str().unwrap()).collect();
    assert_eq!(queries, ["n=2", "n=3", "n=4"]);
}

#[tokio::test]
async fn metrics_count_requests_by_route_template_errors_by_code_and_latency() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    app.get("/api/machines/ghost-1", &token).await;
    app.get("/api/machines/ghost-2", &token).await;
    app.get("/api/machines?$top=1", &token).await;
    app.call(Method::GET, "/no/such/path", None, None).await;
    let response = admin(&app, Method::GET, "/metrics", None).await;
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    let text = response.text().await.unwrap();
    assert!(
        text.contains(r#"palisade_http_requests_total{route="/api/machines/{id}",method="GET",status="404"} 2"#),
        "{text}"
    );
    assert!(text.contains(r#"palisade_http_requests_total{route="/api/machines",method="GET",status="200"} 1"#));
    assert!(text.contains(r#"palisade_http_errors_total{code="ResourceNotFound"} 2"#));
    assert!(text.contains(r#"palisade_http_errors_total{code="NotFound"} 1"#));
    assert!(text.contains(r#"palisade_http_request_duration_seconds_count{route="/api/machines/{id}"} 2"#));
    assert!(text.contains(r#"palisade_http_request_duration_seconds_bucket{route="/api/machines/{id}",le="+Inf"} 2"#));
    assert!(!text.contains("ghost"), "raw paths never become labels");
    assert!(!text.contains("/no/such/path"));
}

#[tokio::test]
async fn without_trusted_networks_the_admin_api_needs_the_key() {
    let app = TestApp::spawn_with(|c| {
        c.admin_trusted_networks.clear();
        c.admin_key = Some("k3y".into());
    })
    .await;
    for key in [None, Some("wrong")] {
        let mut request = app.client.get(format!("{}/_palisade/tenants", app.http));
        if let Some(key) = key {
            request = request.header("X-Palisade-Admin-Key", key);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 403, "key {key:?}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "Forbidden");
        assert!(body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("X-Palisade-Admin-Key"));
    }
    let response = app.client.get(format!("{}/metrics", app.http)).send().await.unwrap();
    assert_eq!(response.status(), 403, "metrics are behind the guard too");
    let response = app
        .client
        .get(format!("{}/_palisade/tenants", app.http))
        .header("X-Palisade-Admin-Key", "k3y")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    // Health stays open; refusals are in the journal like any error (looked up with the key).
    assert_eq!(
        app.client
            .get(format!("{}/_palisade/health", app.http))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let journal: Value = app
        .client
        .get(format!("{}/_palisade/requests?status=403", app.http))
        .header("X-Palisade-Admin-Key", "k3y")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let refused = journal["value"].as_array().unwrap();
    assert_eq!(
        refused.len(),
        2,
        "the two refused /_palisade/tenants calls (metrics are not journaled)"
    );
    assert_eq!(refused[1]["headers"]["x-palisade-admin-key"], "[redacted]");
}

#[tokio::test]
async fn loaded_indicators_keep_their_ids_and_new_ones_never_reuse_them() {
    let source = TestApp::spawn().await;
    let token = source.token().await;
    let body = r#"{"indicatorValue":"loaded.example.com","indicatorType":"DomainName","action":"Block","title":"t","description":"d","severity":"High"}"#;
    let response = source.post("/api/indicators", &token, body).await;
    assert_eq!(response.status(), 200);
    let exported = admin_ok(
        &source,
        Method::GET,
        &format!("/_palisade/tenants/{TENANT}/export"),
        None,
    )
    .await;
    let loaded_id = exported["indicators"][0]["id"].as_str().unwrap().to_string();

    // A fresh server has handed out no indicator id yet.
    let target = TestApp::spawn().await;
    let token = target.token().await;
    let document = json!({"indicators": exported["indicators"].clone()});
    let counts = admin_ok(
        &target,
        Method::POST,
        &format!("/_palisade/tenants/{TENANT}/data"),
        Some(document),
    )
    .await;
    assert_eq!(counts["indicators"], 1);
    let body = r#"{"indicatorValue":"new.example.com","indicatorType":"DomainName","action":"Block","title":"t","description":"d","severity":"High"}"#;
    let response = target.post("/api/indicators", &token, body).await;
    assert_eq!(response.status(), 200);
    let created: Value = response.json().await.unwrap();
    assert_ne!(created["id"].as_str().unwrap(), loaded_id);
    let listed = target.get_ok("/api/indicators", &token).await;
    let values: Vec<&str> = listed["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["indicatorValue"].as_str().unwrap())
        .collect();
    assert_eq!(values, ["loaded.example.com", "new.example.com"]);
}
