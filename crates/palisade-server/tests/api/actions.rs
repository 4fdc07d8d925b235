//! Machine actions (`shared/reference/mde-api.md` §4) and startInvestigation (§10): every verb's
//! happy path and every error code it can return, the lifecycle on the emulator clock, cancel,
//! offboarding, and the download links.

use palisade_testkit::*;
use serde_json::{json, Value};

/// Key order of real MachineAction responses (§4.3), after `@odata.context`.
const ACTION_PROPERTIES: &[&str] = &[
    "id",
    "type",
    "title",
    "requestor",
    "requestorComment",
    "status",
    "machineId",
    "computerDnsName",
    "creationDateTimeUtc",
    "lastUpdateDateTimeUtc",
    "cancellationRequestor",
    "cancellationComment",
    "cancellationDateTimeUtc",
    "errorHResult",
    "scope",
    "externalId",
    "requestSource",
    "relatedFileInfo",
    "commands",
    "troubleshootInfo",
];

const SHA1: &str = "87662bc3d60e4200ceaaad2b04a0e01a8ff1a9f1";

/// The first machine matching an OData filter (found through the API, not hard-coded).
async fn machine(app: &TestApp, token: &str, filter: &str) -> Value {
    let path = format!(
        "/api/machines?$filter={}",
        filter.replace(' ', "%20").replace('\'', "%27")
    );
    let body = app.get_ok(&path, token).await;
    body["value"][0].clone()
}

async fn machine_id(app: &TestApp, token: &str, filter: &str) -> String {
    let m = machine(app, token, filter).await;
    m["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no machine where {filter}"))
        .to_string()
}

const WIN11: &str = "osPlatform eq 'Windows11' and healthStatus eq 'Active'";

async fn act(app: &TestApp, token: &str, machine: &str, verb: &str, body: Value) -> reqwest::Response {
    app.post(&format!("/api/machines/{machine}/{verb}"), token, &body.to_string())
        .await
}

/// POSTs a verb that must succeed with 201; returns the action.
async fn act_ok(app: &TestApp, token: &str, machine: &str, verb: &str, body: Value) -> Value {
    let response = act(app, token, machine, verb, body).await;
    let status = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(status, 201, "{verb}: {text}");
    serde_json::from_str(&text).unwrap()
}

async fn action(app: &TestApp, token: &str, id: &str) -> Value {
    app.get_ok(&format!("/api/machineactions/{id}"), token).await
}

async fn state(app: &TestApp, machine: &str) -> Value {
    app.get_json(&format!(
        "{}/_palisade/tenants/{TENANT}/machines/{machine}/state",
        app.http
    ))
    .await
}

fn comment() -> Value {
    json!({"Comment": "palisade test"})
}

#[tokio::test]
async fn isolation_lifecycle_on_the_emulator_clock() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    app.freeze_clock().await;
    let id = machine_id(&app, &token, WIN11).await;

    let created = act_ok(&app, &token, &id, "isolate", comment()).await;
    assert_eq!(
        created["@odata.context"],
        format!("{}/api/$metadata#MachineActions/$entity", app.http)
    );
    let keys: Vec<&str> = created
        .as_object()
        .unwrap()
        .keys()
        .skip(1)
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ACTION_PROPERTIES, "names and order as the real API");
    assert_eq!(created["type"], "Isolate");
    assert_eq!(created["scope"], "Full", "IsolationType defaults to Full");
    assert_eq!(created["status"], "Pending");
    assert_eq!(created["requestor"], CLIENT_ID);
    assert_eq!(created["requestorComment"], "palisade test");
    assert_eq!(created["requestSource"], "PublicApi");
    assert_eq!(created["errorHResult"], 0);
    assert_eq!(created["commands"], json!([]));
    assert_eq!(created["machineId"], id.as_str());
    assert!(created["title"].is_null() && created["externalId"].is_null());
    let action_id = created["id"].as_str().unwrap().to_string();
    assert!(uuid_like(&action_id));
    let created_at = created["creationDateTimeUtc"].as_str().unwrap().to_string();
    assert_eq!(created["lastUpdateDateTimeUtc"], created_at.as_str());
    assert_eq!(state(&app, &id).await["pendingActions"], json!([action_id]));

    // A second isolate while the first is pending.
    let second = act(&app, &token, &id, "isolate", comment()).await;
    expect_error(&app, second, 400, "ActiveRequestAlreadyExists", &[&action_id]).await;

    app.advance_clock(10.0).await;
    let picked = action(&app, &token, &action_id).await;
    assert_eq!(picked["status"], "InProgress");
    assert_eq!(picked["creationDateTimeUtc"], created_at.as_str());
    let picked_at = picked["lastUpdateDateTimeUtc"].as_str().unwrap().to_string();
    assert_ne!(picked_at, created_at);
    assert_eq!(
        state(&app, &id).await["isolation"],
        Value::Null,
        "not isolated until it succeeds"
    );

    app.advance_clock(50.0).await;
    let done = action(&app, &token, &action_id).await;
    assert_eq!(done["status"], "Succeeded");
    let done_at = done["lastUpdateDateTimeUtc"].as_str().unwrap();
    let seconds = |a: &str, b: &str| {
        let parse = |s: &str| chrono::DateTime::parse_from_rfc3339(s).unwrap();
        (parse(b) - parse(a)).num_seconds()
    };
    assert_eq!(seconds(&created_at, &picked_at), 10);
    assert_eq!(seconds(&created_at, done_at), 60);
    let device = state(&app, &id).await;
    assert_eq!(device["isolation"], "Full");
    assert_eq!(device["pendingActions"], json!([]));

    let again = act(
        &app,
        &token,
        &id,
        "isolate",
        json!({"Comment": "x", "IsolationType": "Selective"}),
    )
    .await;
    expect_error(&app, again, 400, "BadRequest", &[&id, "already isolated"]).await;

    // Released, by computer name this time.
    let name = done["computerDnsName"].as_str().unwrap();
    let release = act_ok(&app, &token, name, "unisolate", comment()).await;
    assert_eq!(release["type"], "Unisolate");
    assert!(release["scope"].is_null());
    let pending_isolate = act(&app, &token, &id, "isolate", comment()).await;
    expect_error(
        &app,
        pending_isolate,
        400,
        "ActiveRequestAlreadyExists",
        &[release["id"].as_str().unwrap()],
    )
    .await;
    app.advance_clock(60.0).await;
    assert_eq!(
        action(&app, &token, release["id"].as_str().unwrap()).await["status"],
        "Succeeded"
    );
    assert_eq!(state(&app, &id).await["isolation"], Value::Null);
    let not_isolated = act(&app, &token, &id, "unisolate", comment()).await;
    expect_error(&app, not_isolated, 400, "BadRequest", &[&id, "not isolated"]).await;

    // Isolate again, then a second isolate while pending.
    let selective = act_ok(
        &app,
        &token,
        &id,
        "isolate",
        json!({"Comment": "x", "IsolationType": "selective"}),
    )
    .await;
    assert_eq!(selective["scope"], "Selective", "enum values are case-insensitive");
    let dup = act(&app, &token, &id, "isolate", comment()).await;
    expect_error(&app, dup, 400, "ActiveRequestAlreadyExists", &["Isolate", &id]).await;
    app.advance_clock(60.0).await;
    assert_eq!(state(&app, &id).await["isolation"], "Selective");

    // The list with an OData filter on machine and status.
    let list = app
        .get_ok(
            &format!("/api/machineactions?$filter=machineId%20eq%20%27{id}%27%20and%20status%20eq%20%27Succeeded%27"),
            &token,
        )
        .await;
    assert_eq!(
        list["@odata.context"],
        format!("{}/api/$metadata#MachineActions", app.http)
    );
    let values = list["value"].as_array().unwrap();
    assert_eq!(values.len(), 3, "{list}");
    assert!(values
        .iter()
        .all(|a| a["status"] == "Succeeded" && a["machineId"] == id.as_str()));
    let count = app
        .get(
            &format!("/api/machineactions/$count?$filter=machineId%20eq%20%27{id}%27"),
            &token,
        )
        .await;
    assert_eq!(count.status(), 200);
    assert_eq!(count.text().await.unwrap(), "3");
}

/// Every verb: its path, a valid body, and a role that is not enough.
fn verbs() -> Vec<(&'static str, Value)> {
    vec![
        ("isolate", json!({"Comment": "c", "IsolationType": "Full"})),
        ("unisolate", comment()),
        ("restrictCodeExecution", comment()),
        ("unrestrictCodeExecution", comment()),
        ("runAntiVirusScan", json!({"Comment": "c", "ScanType": "Quick"})),
        ("collectInvestigationPackage", comment()),
        ("offboard", comment()),
        ("StopAndQuarantineFile", json!({"Comment": "c", "Sha1": SHA1})),
        (
            "runliveresponse",
            json!({"Comment": "c", "Commands": [{"type": "RunScript", "params": [{"key": "ScriptName", "value": "a.ps1"}]}]}),
        ),
        ("startInvestigation", comment()),
    ]
}

#[tokio::test]
async fn every_verb_checks_role_then_body() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let read_only = app.mint(json!({"roles": ["Machine.Read.All"]})).await;
    let id = machine_id(&app, &token, WIN11).await;
    for (verb, body) in verbs() {
        // Role before body: even a broken body gets Forbidden.
        let response = act(&app, &read_only, &id, verb, json!({"Bogus": 1})).await;
        expect_error(&app, response, 403, "Forbidden", &["Machine.Read.All"]).await;

        let response = act(&app, &token, &id, verb, json!({})).await;
        expect_error(&app, response, 400, "MissingRequiredParameter", &["Comment"]).await;

        let mut miscased = body.clone();
        let value = miscased.as_object_mut().unwrap().remove("Comment").unwrap();
        miscased["comment"] = value;
        let response = act(&app, &token, &id, verb, miscased).await;
        expect_error(
            &app,
            response,
            400,
            "MissingRequiredParameter",
            &["Comment", "'comment'"],
        )
        .await;

        // Unknown properties are ignored (see `fidelity.rs`); one differing only in case from a
        // documented one is a typo and stays an error.
        let mut miscased_optional = body.clone();
        miscased_optional["externalId"] = json!("x");
        let response = act(&app, &token, &id, verb, miscased_optional).await;
        expect_error(
            &app,
            response,
            400,
            "InvalidRequestBody",
            &["'externalId'", "did you mean 'ExternalId'"],
        )
        .await;

        let mut wrong_type = body.clone();
        wrong_type["Comment"] = json!(5);
        let response = act(&app, &token, &id, verb, wrong_type).await;
        expect_error(&app, response, 400, "InvalidRequestBody", &["Comment"]).await;

        let response = act(&app, &token, "0000000000000000000000000000000000000000", verb, body).await;
        expect_error(
            &app,
            response,
            404,
            "ResourceNotFound",
            &["Machine 0000000000000000000000000000000000000000 was not found"],
        )
        .await;
    }
    let response = app
        .post(
            &format!("/api/machines/{id}/runAntiVirusScan"),
            &token,
            "{\"Comment\":\"c\"}",
        )
        .await;
    expect_error(&app, response, 400, "MissingRequiredParameter", &["ScanType"]).await;
    let response = act(&app, &token, &id, "StopAndQuarantineFile", comment()).await;
    expect_error(&app, response, 400, "MissingRequiredParameter", &["Sha1"]).await;
    let response = act(&app, &token, &id, "runliveresponse", comment()).await;
    expect_error(&app, response, 400, "MissingRequiredParameter", &["Commands"]).await;
    let response = act(
        &app,
        &token,
        &id,
        "runliveresponse",
        json!({"Comment": "c", "Commands": "RunScript"}),
    )
    .await;
    expect_error(&app, response, 400, "InvalidRequestBody", &["Commands"]).await;
}

#[tokio::test]
async fn values_are_checked_before_the_machine() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let id = machine_id(&app, &token, WIN11).await;
    let nowhere = "no-such-machine";
    let cases = [
        (
            "isolate",
            json!({"Comment": "c", "IsolationType": "Partial"}),
            "InvalidInput",
            vec!["IsolationType", "'Partial'", "Full, Selective, UnManagedDevice"],
        ),
        (
            "runAntiVirusScan",
            json!({"Comment": "c", "ScanType": "Deep"}),
            "InvalidInput",
            vec!["ScanType", "'Deep'", "Quick, Full"],
        ),
        (
            "StopAndQuarantineFile",
            json!({"Comment": "c", "Sha1": "1234"}),
            "InvalidHashValue",
            vec!["Hash value 1234 is invalid"],
        ),
        (
            "StopAndQuarantineFile",
            json!({"Comment": "c", "Sha1": format!("{}zz", &SHA1[..38])}),
            "InvalidHashValue",
            vec!["zz"],
        ),
        (
            "runliveresponse",
            json!({"Comment": "c", "Commands": []}),
            "InvalidInput",
            vec!["Commands"],
        ),
        (
            "runliveresponse",
            json!({"Comment": "c", "Commands": [
                {"type": "PutFile", "params": [{"key": "FileName", "value": "a.ps1"}]},
                {"type": "Reboot", "params": []}
            ]}),
            "InvalidInput",
            vec!["Commands[1].type", "'Reboot'"],
        ),
        (
            "runliveresponse",
            json!({"Comment": "c", "Commands": [{"type": "RunScript", "params": [{"key": "Args", "value": "-x"}]}]}),
            "MissingRequiredParameter",
            vec!["ScriptName", "Commands[0]"],
        ),
        (
            "runliveresponse",
            json!({"Comment": "c", "Commands": [{"type": "GetFile"}]}),
            "MissingRequiredParameter",
            vec!["Commands[0].params"],
        ),
        (
            "runliveresponse",
            json!({"Comment": "c", "Commands": [{"type": "GetFile", "params": [{"key": "File", "value": "x"}]}]}),
            "InvalidInput",
            vec!["Commands[0].params[0].key", "'File'", "Path"],
        ),
    ];
    for (verb, body, code, mentions) in cases {
        // On an unknown machine: the value is refused first.
        let response = act(&app, &token, nowhere, verb, body.clone()).await;
        expect_error(&app, response, 400, code, &mentions).await;
        let response = act(&app, &token, &id, verb, body).await;
        expect_error(&app, response, 400, code, &mentions).await;
    }
    let quarantine = act_ok(
        &app,
        &token,
        &id,
        "StopAndQuarantineFile",
        json!({"Comment": "c", "Sha1": SHA1.to_uppercase()}),
    )
    .await;
    assert_eq!(quarantine["type"], "StopAndQuarantineFile");
    assert_eq!(
        quarantine["relatedFileInfo"],
        json!({"fileIdentifier": SHA1.to_uppercase(), "fileIdentifierType": "Sha1"})
    );
}

#[tokio::test]
async fn platforms_and_client_versions_follow_the_support_table() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let ios = machine_id(&app, &token, "osPlatform eq 'iOS' and healthStatus eq 'Active'").await;
    let mac = machine_id(&app, &token, "osPlatform eq 'macOS' and agentVersion eq '101.97.13'").await;
    let mac_new = machine_id(&app, &token, "osPlatform eq 'macOS' and agentVersion eq '101.98.84'").await;
    let linux = machine_id(&app, &token, "osPlatform eq 'Linux' and healthStatus eq 'Active'").await;
    let win1607 = machine_id(&app, &token, "osPlatform eq 'Windows10' and version eq '1607'").await;
    let win1909 = machine_id(&app, &token, "osPlatform eq 'Windows10' and version eq '1909'").await;
    let server = machine_id(&app, &token, "osPlatform eq 'WindowsServer2022'").await;

    let refused = [
        (
            &ios,
            "isolate",
            comment(),
            "OsPlatformNotSupported",
            vec!["OS Platform iOS is not supported for this action", "Isolate"],
        ),
        (
            &mac,
            "offboard",
            comment(),
            "OsPlatformNotSupported",
            vec!["OS Platform macOS", "Offboard"],
        ),
        (
            &linux,
            "isolate",
            json!({"Comment": "c", "IsolationType": "Selective"}),
            "OsPlatformNotSupported",
            vec!["Linux"],
        ),
        (
            &server,
            "StopAndQuarantineFile",
            json!({"Comment": "c", "Sha1": SHA1}),
            "OsPlatformNotSupported",
            vec!["WindowsServer2022"],
        ),
        (
            &ios,
            "runliveresponse",
            json!({"Comment": "c", "Commands": [{"type": "GetFile", "params": [{"key": "Path", "value": "a"}]}]}),
            "OsPlatformNotSupported",
            vec!["iOS"],
        ),
        (
            &mac,
            "runAntiVirusScan",
            json!({"Comment": "c", "ScanType": "Quick"}),
            "ClientVersionNotSupported",
            vec![
                "RunAntiVirusScan is supported on client version 101.98.84 and above",
                "101.97.13",
            ],
        ),
        (
            &mac,
            "isolate",
            comment(),
            "ClientVersionNotSupported",
            vec!["Isolate is supported on client version 101.98.84", "101.97.13"],
        ),
        (
            &win1607,
            "isolate",
            comment(),
            "ClientVersionNotSupported",
            vec!["Isolate is supported on client version 1703", "1607", "14393"],
        ),
        (
            &win1607,
            "restrictCodeExecution",
            comment(),
            "ClientVersionNotSupported",
            vec!["1709", "1607"],
        ),
        (
            &win1607,
            "startInvestigation",
            comment(),
            "ClientVersionNotSupported",
            vec!["startInvestigation", "1803", "1607"],
        ),
    ];
    for (machine, verb, body, code, mentions) in refused {
        let response = act(&app, &token, machine, verb, body).await;
        expect_error(&app, response, 400, code, &mentions).await;
    }
    // Supported: selective isolation on any macOS, a scan on a recent agent, live response on 1909,
    // UnManagedDevice anywhere.
    let s = act_ok(
        &app,
        &token,
        &mac,
        "isolate",
        json!({"Comment": "c", "IsolationType": "Selective"}),
    )
    .await;
    assert_eq!(s["scope"], "Selective");
    let scan = act_ok(
        &app,
        &token,
        &mac_new,
        "runAntiVirusScan",
        json!({"Comment": "c", "ScanType": "full"}),
    )
    .await;
    assert_eq!(
        (scan["type"].as_str(), scan["scope"].as_str()),
        (Some("RunAntiVirusScan"), Some("Full"))
    );
    act_ok(
        &app,
        &token,
        &win1909,
        "runliveresponse",
        json!({"Comment": "c", "Commands": [{"type": "GetFile", "params": [{"key": "Path", "value": "C:\\a.txt"}]}]}),
    )
    .await;
    let contained = act_ok(
        &app,
        &token,
        &ios,
        "isolate",
        json!({"Comment": "c", "IsolationType": "UnManagedDevice"}),
    )
    .await;
    assert_eq!(contained["scope"], "UnManagedDevice");
    for verb in ["collectInvestigationPackage", "restrictCodeExecution", "offboard"] {
        let created = act_ok(&app, &token, &server, verb, comment()).await;
        assert_eq!(created["status"], "Pending", "{verb}");
    }
}

#[tokio::test]
async fn pending_actions_of_a_kind_conflict() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    app.freeze_clock().await;
    let id = machine_id(&app, &token, WIN11).await;
    let scan = act_ok(
        &app,
        &token,
        &id,
        "runAntiVirusScan",
        json!({"Comment": "c", "ScanType": "Quick"}),
    )
    .await;
    let scan_id = scan["id"].as_str().unwrap();
    let again = act(
        &app,
        &token,
        &id,
        "runAntiVirusScan",
        json!({"Comment": "c", "ScanType": "Full"}),
    )
    .await;
    expect_error(
        &app,
        again,
        400,
        "BadRequest",
        &["Action is already in progress", scan_id],
    )
    .await;

    let restrict = act_ok(&app, &token, &id, "restrictCodeExecution", comment()).await;
    let unrestrict = act(&app, &token, &id, "unrestrictCodeExecution", comment()).await;
    expect_error(
        &app,
        unrestrict,
        400,
        "BadRequest",
        &["Action is already in progress", restrict["id"].as_str().unwrap()],
    )
    .await;
    let collect = act_ok(&app, &token, &id, "collectInvestigationPackage", comment()).await;
    let again = act(&app, &token, &id, "collectInvestigationPackage", comment()).await;
    expect_error(&app, again, 400, "BadRequest", &[collect["id"].as_str().unwrap()]).await;
    act_ok(
        &app,
        &token,
        &id,
        "StopAndQuarantineFile",
        json!({"Comment": "c", "Sha1": SHA1}),
    )
    .await;
    let again = act(
        &app,
        &token,
        &id,
        "StopAndQuarantineFile",
        json!({"Comment": "c", "Sha1": SHA1}),
    )
    .await;
    expect_error(&app, again, 400, "BadRequest", &["Action is already in progress"]).await;
    // Other kinds do not block each other.
    act_ok(&app, &token, &id, "isolate", comment()).await;

    app.advance_clock(60.0).await;
    let device = state(&app, &id).await;
    assert_eq!(device["codeExecutionRestricted"], true);
    assert_eq!(device["isolation"], "Full");
    let restricted = act(&app, &token, &id, "restrictCodeExecution", comment()).await;
    expect_error(&app, restricted, 400, "BadRequest", &[&id, "already restricted"]).await;
    act_ok(&app, &token, &id, "unrestrictCodeExecution", comment()).await;
    app.advance_clock(60.0).await;
    assert_eq!(state(&app, &id).await["codeExecutionRestricted"], false);
    let not_restricted = act(&app, &token, &id, "unrestrictCodeExecution", comment()).await;
    expect_error(&app, not_restricted, 400, "BadRequest", &[&id, "not restricted"]).await;
    // The scan finished: a new one is accepted.
    act_ok(
        &app,
        &token,
        &id,
        "runAntiVirusScan",
        json!({"Comment": "c", "ScanType": "Quick"}),
    )
    .await;
}

#[tokio::test]
async fn offline_devices_time_out_and_impaired_ones_fail() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    app.freeze_clock().await;
    let inactive = machine_id(&app, &token, "osPlatform eq 'Windows10' and healthStatus eq 'Inactive'").await;
    let impaired = machine_id(
        &app,
        &token,
        "osPlatform eq 'Windows11' and healthStatus eq 'ImpairedCommunication'",
    )
    .await;
    let queued = act_ok(&app, &token, &inactive, "collectInvestigationPackage", comment()).await;
    let failing = act_ok(&app, &token, &impaired, "collectInvestigationPackage", comment()).await;
    let (queued_id, failing_id) = (queued["id"].as_str().unwrap(), failing["id"].as_str().unwrap());

    app.advance_clock(60.0).await;
    assert_eq!(
        action(&app, &token, queued_id).await["status"],
        "Pending",
        "offline: not picked up"
    );
    let failed = action(&app, &token, failing_id).await;
    assert_eq!(failed["status"], "Failed");
    assert_ne!(failed["errorHResult"], 0);

    app.advance_clock(3.0 * 86400.0 - 61.0).await;
    // Tokens expire on the emulator clock too.
    let token = app.token().await;
    assert_eq!(action(&app, &token, queued_id).await["status"], "Pending");
    app.advance_clock(1.0).await;
    let timed_out = action(&app, &token, queued_id).await;
    assert_eq!(timed_out["status"], "TimeOut");
    let created = chrono::DateTime::parse_from_rfc3339(timed_out["creationDateTimeUtc"].as_str().unwrap()).unwrap();
    let updated = chrono::DateTime::parse_from_rfc3339(timed_out["lastUpdateDateTimeUtc"].as_str().unwrap()).unwrap();
    assert_eq!((updated - created).num_days(), 3);
}

#[tokio::test]
async fn cancel_while_unfinished_only() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    app.freeze_clock().await;
    let id = machine_id(&app, &token, WIN11).await;
    let isolate = act_ok(&app, &token, &id, "isolate", comment()).await;
    let action_id = isolate["id"].as_str().unwrap();
    let cancel_path = format!("/api/machineactions/{action_id}/cancel");

    let scan_only = app.mint(json!({"roles": ["Machine.Scan"]})).await;
    let read_only = app.mint(json!({"roles": ["Machine.Read.All"]})).await;
    let response = app.post(&cancel_path, &read_only, "{\"Comment\":\"stop\"}").await;
    expect_error(
        &app,
        response,
        403,
        "Forbidden",
        &["Machine.Isolate", "Machine.LiveResponse"],
    )
    .await;
    let response = app.post(&cancel_path, &token, "{\"comment\":\"stop\"}").await;
    expect_error(&app, response, 400, "MissingRequiredParameter", &["Comment"]).await;
    let response = app
        .post(
            "/api/machineactions/00000000-0000-4000-8000-000000000000/cancel",
            &token,
            "{\"Comment\":\"stop\"}",
        )
        .await;
    expect_error(
        &app,
        response,
        404,
        "ResourceNotFound",
        &["MachineAction 00000000-0000-4000-8000-000000000000 was not found"],
    )
    .await;

    app.advance_clock(10.0).await;
    // Any one of the seven action roles may cancel; InProgress is still cancellable.
    let response = app.post(&cancel_path, &scan_only, "{\"Comment\":\"stop\"}").await;
    assert_eq!(response.status(), 200);
    let cancelled: Value = response.json().await.unwrap();
    assert_eq!(cancelled["status"], "Cancelled");
    assert_eq!(cancelled["cancellationComment"], "stop");
    assert_eq!(cancelled["cancellationRequestor"], CLIENT_ID);
    assert_eq!(cancelled["cancellationDateTimeUtc"], cancelled["lastUpdateDateTimeUtc"]);
    assert!(cancelled["cancellationDateTimeUtc"].is_string());

    app.advance_clock(120.0).await;
    assert_eq!(
        action(&app, &token, action_id).await["status"],
        "Cancelled",
        "stays cancelled"
    );
    assert_eq!(state(&app, &id).await["isolation"], Value::Null);
    let response = app.post(&cancel_path, &token, "{\"Comment\":\"again\"}").await;
    expect_error(&app, response, 400, "BadRequest", &[action_id, "Cancelled"]).await;

    let scan = act_ok(
        &app,
        &token,
        &id,
        "runAntiVirusScan",
        json!({"Comment": "c", "ScanType": "Quick"}),
    )
    .await;
    app.advance_clock(60.0).await;
    let path = format!("/api/machineactions/{}/cancel", scan["id"].as_str().unwrap());
    let response = app.post(&path, &token, "{\"Comment\":\"late\"}").await;
    expect_error(&app, response, 400, "BadRequest", &["Succeeded"]).await;
}

#[tokio::test]
async fn offboarding_makes_the_machine_inactive_and_untouchable() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    app.freeze_clock().await;
    let id = machine_id(&app, &token, WIN11).await;
    let offboard = act_ok(&app, &token, &id, "offboard", comment()).await;
    let again = act(&app, &token, &id, "offboard", comment()).await;
    expect_error(&app, again, 400, "BadRequest", &["Action is already in progress"]).await;
    app.advance_clock(60.0).await;
    // The machine read alone settles the offboarding: no action read in between.
    let machine = app.get_ok(&format!("/api/machines/{id}"), &token).await;
    assert_eq!(machine["healthStatus"], "Inactive");
    let done = action(&app, &token, offboard["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "Succeeded");
    assert_eq!(state(&app, &id).await["offboarded"], true);
    for (verb, body) in verbs() {
        let response = act(&app, &token, &id, verb, body).await;
        expect_error(&app, response, 403, "DisallowedOperation", &[&id, "offboarded"]).await;
    }
}

#[tokio::test]
async fn live_response_feature_results_and_links() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    app.freeze_clock().await;
    let id = machine_id(&app, &token, WIN11).await;
    app.upload_library_file(&token, "collect.ps1", b"Get-Process | Out-File output.txt")
        .await;
    let body = json!({"Comment": "collect", "Commands": [
        {"type": "PutFile", "params": [{"key": "FileName", "value": "collect.ps1"}]},
        {"type": "RunScript", "params": [{"key": "ScriptName", "value": "collect.ps1"}, {"key": "Args", "value": "-Verbose"}]},
        {"type": "GetFile", "params": [{"key": "Path", "value": "C:\\Windows\\TEMP\\output.txt"}]}
    ]});

    app.set_features(TENANT, json!({"liveResponse": false})).await;
    let response = act(&app, &token, &id, "runliveresponse", body.clone()).await;
    expect_error(&app, response, 403, "DisabledFeature", &["Live response"]).await;
    app.set_features(TENANT, json!({"liveResponse": true})).await;

    let created = act_ok(&app, &token, &id, "runliveresponse", body.clone()).await;
    assert_eq!(created["type"], "LiveResponse");
    let commands = created["commands"].as_array().unwrap();
    assert_eq!(commands.len(), 3);
    assert_eq!(
        commands[1],
        json!({"index": 1, "startTime": null, "endTime": null, "commandStatus": "Created", "errors": [],
               "command": {"type": "RunScript", "params": [{"key": "ScriptName", "value": "collect.ps1"}, {"key": "Args", "value": "-Verbose"}]}})
    );
    let action_id = created["id"].as_str().unwrap().to_string();
    let second = act(&app, &token, &id, "runliveresponse", body).await;
    expect_error(&app, second, 400, "ActiveRequestAlreadyExists", &[&action_id]).await;

    let link_path =
        |index: &str| format!("/api/machineactions/{action_id}/GetLiveResponseResultDownloadLink(index={index})");
    let early = app.get(&link_path("1"), &token).await;
    expect_error(&app, early, 404, "ResourceNotFound", &[&action_id, "Pending"]).await;

    app.advance_clock(60.0).await;
    let done = action(&app, &token, &action_id).await;
    assert_eq!(done["status"], "Succeeded");
    for command in done["commands"].as_array().unwrap() {
        assert_eq!(command["commandStatus"], "Completed");
        assert!(command["startTime"].as_str().unwrap() < command["endTime"].as_str().unwrap());
    }

    let no_role = app.mint(json!({"roles": ["Machine.LiveResponse"]})).await;
    let response = app.get(&link_path("1"), &no_role).await;
    expect_error(&app, response, 403, "Forbidden", &["Machine.Read.All"]).await;
    for (index, mention) in [("7", "7"), ("x", "'x'"), ("0", "PutFile")] {
        let response = app.get(&link_path(index), &token).await;
        expect_error(&app, response, 400, "InvalidInput", &[mention]).await;
    }
    let response = app
        .get(
            "/api/machineactions/00000000-0000-4000-8000-000000000000/GetLiveResponseResultDownloadLink(index=0)",
            &token,
        )
        .await;
    expect_error(
        &app,
        response,
        404,
        "ResourceNotFound",
        &["00000000-0000-4000-8000-000000000000"],
    )
    .await;

    let link = app.get_ok(&link_path("1"), &token).await;
    assert_eq!(link["@odata.context"], format!("{}/api/$metadata#Edm.String", app.http));
    let url = link["value"].as_str().unwrap().to_string();
    assert!(url.starts_with(&format!("{}/_palisade/downloads/", app.http)), "{url}");
    let script = app.client.get(&url).send().await.unwrap();
    assert_eq!(script.status(), 200);
    assert_eq!(script.headers()["content-type"], "application/json");
    let result: Value = script.json().await.unwrap();
    let keys: Vec<&str> = result.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys.len(), 4);
    assert_eq!(result["script_name"], "collect.ps1");
    assert_eq!(result["exit_code"], 0);
    assert!(result["script_output"].is_string() && result["script_errors"].is_string());

    // The case-insensitive function name, as the docs mix spellings.
    let file_link = app
        .get_ok(
            &format!("/api/machineactions/{action_id}/getliveresponseresultdownloadlink(index=2)"),
            &token,
        )
        .await;
    let file = app
        .client
        .get(file_link["value"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(file.status(), 200);
    assert!(file.text().await.unwrap().contains("C:\\Windows\\TEMP\\output.txt"));

    app.advance_clock(31.0 * 60.0).await;
    let expired = app.client.get(&url).send().await.unwrap();
    expect_error(&app, expired, 404, "ResourceNotFound", &["expired"]).await;
}

#[tokio::test]
async fn investigation_package_uri_and_download() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    app.freeze_clock().await;
    let id = machine_id(&app, &token, WIN11).await;
    let collect = act_ok(&app, &token, &id, "collectInvestigationPackage", comment()).await;
    let collect_id = collect["id"].as_str().unwrap();
    let uri_path = format!("/api/machineactions/{collect_id}/getPackageUri");

    let response = app.get(&uri_path, &token).await;
    expect_error(&app, response, 404, "ResourceNotFound", &[collect_id, "Pending"]).await;
    let scan_only = app.mint(json!({"roles": ["Machine.CollectForensics"]})).await;
    let response = app.get(&uri_path, &scan_only).await;
    expect_error(&app, response, 403, "Forbidden", &["Machine.Read.All"]).await;
    let isolate = act_ok(&app, &token, &id, "isolate", comment()).await;
    app.advance_clock(60.0).await;
    let response = app
        .get(
            &format!("/api/machineactions/{}/getPackageUri", isolate["id"].as_str().unwrap()),
            &token,
        )
        .await;
    expect_error(
        &app,
        response,
        404,
        "ResourceNotFound",
        &["Isolate", "CollectInvestigationPackage"],
    )
    .await;
    let response = app.get("/api/machineactions/nope/getPackageUri", &token).await;
    expect_error(
        &app,
        response,
        404,
        "ResourceNotFound",
        &["MachineAction nope was not found"],
    )
    .await;
    let response = app
        .get(&format!("/api/machineactions/{collect_id}/somethingElse"), &token)
        .await;
    expect_error(&app, response, 404, "NotFound", &["somethingElse"]).await;

    // getPackageUri allows 2 calls a minute per app (rate limits): the two above used this minute's.
    app.advance_clock(60.0).await;
    let read_only = app.mint(json!({"roles": ["Machine.Read.All"]})).await;
    let body = app.get_ok(&uri_path, &read_only).await;
    assert_eq!(body["@odata.context"], format!("{}/api/$metadata#Edm.String", app.http));
    let url = body["value"].as_str().unwrap().to_string();
    let download = app.client.get(&url).send().await.unwrap();
    assert_eq!(download.status(), 200);
    assert_eq!(download.headers()["content-type"], "application/zip");
    let bytes = download.bytes().await.unwrap();
    assert_eq!(&bytes[..4], b"PK\x03\x04");
    assert_eq!(&bytes[bytes.len() - 22..bytes.len() - 18], b"PK\x05\x06");
    // A ZIP reader opens it: the files, in order, and a summary naming the action (CRCs checked).
    let mut package = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).unwrap();
    let names: Vec<&str> = package.file_names().collect();
    assert_eq!(
        names,
        [
            "Summary.txt",
            "Processes/processes.csv",
            "Network connections/ActiveNetConnections.txt"
        ]
    );
    let mut summary = String::new();
    std::io::Read::read_to_string(&mut package.by_name("Summary.txt").unwrap(), &mut summary).unwrap();
    assert!(summary.contains(collect_id), "{summary}");

    let tampered = url.replace("sig=", "sig=0");
    let response = app.client.get(&tampered).send().await.unwrap();
    expect_error(&app, response, 404, "ResourceNotFound", &["not valid"]).await;
    // Same length, one hexadecimal digit changed.
    let (head, sig) = url.split_once("sig=").unwrap();
    let flipped = format!("{}{}", if sig.starts_with('0') { '1' } else { '0' }, &sig[1..]);
    let response = app.client.get(format!("{head}sig={flipped}")).send().await.unwrap();
    expect_error(&app, response, 404, "ResourceNotFound", &["not valid"]).await;
    app.advance_clock(31.0 * 60.0).await;
    let response = app.client.get(&url).send().await.unwrap();
    expect_error(&app, response, 404, "ResourceNotFound", &["expired", collect_id]).await;
}

#[tokio::test]
async fn reading_actions() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let id = machine_id(&app, &token, WIN11).await;
    let created = act_ok(&app, &token, &id, "collectInvestigationPackage", comment()).await;
    let fetched = action(&app, &token, created["id"].as_str().unwrap()).await;
    assert_eq!(fetched["id"], created["id"]);
    let keys: Vec<&str> = fetched
        .as_object()
        .unwrap()
        .keys()
        .skip(1)
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ACTION_PROPERTIES);

    let response = app
        .get("/api/machineactions/00000000-0000-4000-8000-000000000001", &token)
        .await;
    expect_error(
        &app,
        response,
        404,
        "ResourceNotFound",
        &["MachineAction 00000000-0000-4000-8000-000000000001 was not found"],
    )
    .await;
    let alerts_only = app.mint(json!({"roles": ["Alert.Read.All"]})).await;
    for path in ["/api/machineactions", "/api/machineactions/$count"] {
        let response = app.get(path, &alerts_only).await;
        expect_error(&app, response, 403, "Forbidden", &["Machine.Read.All"]).await;
    }
    let response = app
        .get("/api/machineactions?$filter=colour%20eq%20%27red%27", &token)
        .await;
    expect_error(&app, response, 400, "ODataError", &["colour"]).await;
    let list = app.get_ok("/api/machineactions?$top=1&$count=true", &token).await;
    assert_eq!(list["@odata.count"], 1);
    assert_eq!(list["value"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn start_investigation() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let id = machine_id(&app, &token, WIN11).await;
    let machine_read = app
        .mint(json!({"roles": ["Machine.ReadWrite.All", "Alert.Read.All"]}))
        .await;
    let response = act(&app, &machine_read, &id, "startInvestigation", comment()).await;
    expect_error(&app, response, 403, "Forbidden", &["Alert.ReadWrite.All"]).await;

    let response = act_ok(&app, &token, &id, "startInvestigation", comment()).await;
    assert_eq!(
        response["@odata.context"],
        format!("{}/api/$metadata#Investigations/$entity", app.http)
    );
    let keys: Vec<&str> = response
        .as_object()
        .unwrap()
        .keys()
        .skip(1)
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "id",
            "startTime",
            "endTime",
            "cancelledBy",
            "state",
            "statusDetails",
            "machineId",
            "computerDnsName",
            "triggeringAlertId"
        ]
    );
    assert_eq!(response["state"], "Running");
    assert_eq!(response["machineId"], id.as_str());
    assert!(response["triggeringAlertId"].is_null() && response["endTime"].is_null());
    let first: u64 = response["id"].as_str().unwrap().parse().unwrap();
    assert!(first >= 5000, "{first}");
    let next = act_ok(&app, &token, &id, "startInvestigation", comment()).await;
    assert_eq!(next["id"], (first + 1).to_string());

    let linux = machine_id(&app, &token, "osPlatform eq 'Linux' and healthStatus eq 'Active'").await;
    let response = act(&app, &token, &linux, "startInvestigation", comment()).await;
    expect_error(
        &app,
        response,
        400,
        "OsPlatformNotSupported",
        &["Linux", "startInvestigation"],
    )
    .await;
    let win1709 = machine_id(&app, &token, "osPlatform eq 'Windows10' and version eq '1709'").await;
    let response = act(&app, &token, &win1709, "startInvestigation", comment()).await;
    expect_error(&app, response, 400, "ClientVersionNotSupported", &["1803", "1709"]).await;

    app.set_features(TENANT, json!({"automatedInvestigation": false})).await;
    let response = act(&app, &token, &id, "startInvestigation", comment()).await;
    expect_error(&app, response, 403, "DisabledFeature", &["Automated investigation"]).await;
}

#[tokio::test]
async fn concurrent_duplicates_cannot_both_pass() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    app.freeze_clock().await;
    let id = machine_id(&app, &token, WIN11).await;
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (client, url, token) = (
            app.client.clone(),
            format!("{}/api/machines/{id}/isolate", app.http),
            token.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let response = client
                .post(url)
                .bearer_auth(token)
                .header("content-type", "application/json")
                .body(r#"{"Comment":"race"}"#)
                .send()
                .await
                .unwrap();
            response.status().as_u16()
        }));
    }
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    statuses.sort();
    assert_eq!(statuses, [201, 400, 400, 400, 400, 400, 400, 400]);
    assert_eq!(state(&app, &id).await["pendingActions"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn tenants_see_only_their_own_actions_and_the_admin_view_names_unknowns() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let id = machine_id(&app, &token, WIN11).await;
    let created = act_ok(&app, &token, &id, "collectInvestigationPackage", comment()).await;
    let action_id = created["id"].as_str().unwrap();

    let (tenant, client, secret) = app.create_tenant(None, true).await;
    let other = app.token_for(&tenant, &client, &secret).await;
    let response = app.get(&format!("/api/machineactions/{action_id}"), &other).await;
    expect_error(&app, response, 404, "ResourceNotFound", &[action_id]).await;
    let response = act(&app, &other, &id, "isolate", comment()).await;
    expect_error(&app, response, 404, "ResourceNotFound", &[&id]).await;
    assert_eq!(app.get_ok("/api/machineactions", &other).await["value"], json!([]));

    let response = app
        .client
        .get(format!("{}/_palisade/tenants/{TENANT}/machines/nope/state", app.http))
        .send()
        .await
        .unwrap();
    expect_error(&app, response, 404, "ResourceNotFound", &["Machine nope was not found"]).await;
    let response = app
        .client
        .get(format!("{}/_palisade/tenants/no-tenant/machines/{id}/state", app.http))
        .send()
        .await
        .unwrap();
    expect_error(
        &app,
        response,
        404,
        "ResourceNotFound",
        &["Tenant no-tenant was not found"],
    )
    .await;
    let name = created["computerDnsName"].as_str().unwrap();
    let by_name = state(&app, name).await;
    assert_eq!(by_name["machineId"], id.as_str());
    assert_eq!(by_name["pendingActions"], json!([action_id]));
    assert_eq!(by_name["offboarded"], false);
    assert_eq!(by_name["codeExecutionRestricted"], false);

    let response = app
        .get(
            &format!("/api/machineactions/{action_id}/GetLiveResponseResultDownloadLink(idx=1)"),
            &token,
        )
        .await;
    expect_error(&app, response, 400, "InvalidInput", &["idx=1"]).await;
}
