//! Point 10: the machines read side (and the two simple updates), with real names and casing.

use palisade_testkit::*;
use serde_json::Value;

/// Property order of real Machine responses (`shared/reference/mde-api.md` §2.3).
const MACHINE_PROPERTIES: &[&str] = &[
    "id",
    "mergedIntoMachineId",
    "isPotentialDuplication",
    "isExcluded",
    "exclusionReason",
    "computerDnsName",
    "firstSeen",
    "lastSeen",
    "osPlatform",
    "osVersion",
    "osProcessor",
    "version",
    "lastIpAddress",
    "lastExternalIpAddress",
    "agentVersion",
    "osBuild",
    "healthStatus",
    "deviceValue",
    "rbacGroupId",
    "rbacGroupName",
    "riskScore",
    "exposureLevel",
    "isAadJoined",
    "aadDeviceId",
    "machineTags",
    "defenderAvStatus",
    "onboardingStatus",
    "osArchitecture",
    "managedBy",
    "managedByStatus",
    "ipAddresses",
    "vmMetadata",
];

async fn list(app: &TestApp, token: &str) -> Value {
    let response = app.get("/api/machines", token).await;
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .contains("odata.metadata=minimal"));
    assert_eq!(response.headers()["odata-version"], "4.0");
    response.json().await.unwrap()
}

#[tokio::test]
async fn list_returns_the_demo_tenant_in_an_odata_envelope() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let body = list(&app, &token).await;
    assert_eq!(body["@odata.context"], format!("{}/api/$metadata#Machines", app.http));
    let machines = body["value"].as_array().unwrap();
    assert!(
        machines.len() >= 30,
        "a few dozen demo machines, got {}",
        machines.len()
    );
    let keys: Vec<&str> = machines[0].as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, MACHINE_PROPERTIES, "properties, names and order as the real API");
    for platform in ["Windows10", "Windows11", "WindowsServer2022", "macOS", "Linux"] {
        assert!(machines.iter().any(|m| m["osPlatform"] == platform), "{platform}");
    }
    let last_seen = machines[0]["lastSeen"].as_str().unwrap();
    assert_eq!(last_seen.len(), "2021-01-26T20:33:57.7220239Z".len(), "{last_seen}");
}

#[tokio::test]
async fn get_by_id_or_computer_name_and_under_v1_0() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let first = list(&app, &token).await["value"][0].clone();
    let id = first["id"].as_str().unwrap();
    let name = first["computerDnsName"].as_str().unwrap();
    for path in [
        format!("/api/machines/{id}"),
        format!("/api/v1.0/machines/{id}"),
        format!("/API/Machines/{name}"),
    ] {
        let response = app.get(&path, &token).await;
        assert_eq!(response.status(), 200, "{path}");
        let machine: Value = response.json().await.unwrap();
        assert_eq!(
            machine["@odata.context"],
            format!("{}/api/$metadata#Machines/$entity", app.http)
        );
        assert_eq!(machine["id"], id);
    }
}

#[tokio::test]
async fn unknown_machine_is_resource_not_found_naming_it() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let response = app.get("/api/machines/123123123", &token).await;
    let record = expect_error(
        &app,
        response,
        404,
        "ResourceNotFound",
        &["Machine 123123123 was not found"],
    )
    .await;
    assert_eq!(record["cause"], "Machine lookup");
    assert_eq!(record["tenantId"], TENANT);
}

#[tokio::test]
async fn tags_are_added_and_removed() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let path = "/api/machines/web-01.contoso.local/tags";
    let response = app
        .post(path, &token, r#"{"Value": "Quarantine-Candidate", "Action": "Add"}"#)
        .await;
    assert_eq!(response.status(), 200);
    let machine: Value = response.json().await.unwrap();
    assert!(machine["machineTags"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t == "Quarantine-Candidate"));
    let fetched: Value = app
        .get("/api/machines/web-01.contoso.local", &token)
        .await
        .json()
        .await
        .unwrap();
    assert!(fetched["machineTags"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t == "Quarantine-Candidate"));
    let response = app
        .post(path, &token, r#"{"Value": "Quarantine-Candidate", "Action": "Remove"}"#)
        .await;
    let machine: Value = response.json().await.unwrap();
    assert!(!machine["machineTags"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t == "Quarantine-Candidate"));
}

#[tokio::test]
async fn tag_action_outside_the_enum_is_invalid_input() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let response = app
        .post(
            "/api/machines/web-01.contoso.local/tags",
            &token,
            r#"{"Value": "x", "Action": "Toggle"}"#,
        )
        .await;
    expect_error(&app, response, 400, "InvalidInput", &["'Toggle'", "Add, Remove"]).await;
}

#[tokio::test]
async fn device_value_is_set_and_validated() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let path = "/api/machines/dc-01.contoso.local/setDeviceValue";
    let response = app.post(path, &token, r#"{"DeviceValue": "High"}"#).await;
    assert_eq!(response.status(), 200);
    let machine: Value = response.json().await.unwrap();
    assert_eq!(machine["deviceValue"], "High");
    let response = app.post(path, &token, r#"{"DeviceValue": "Critical"}"#).await;
    expect_error(
        &app,
        response,
        400,
        "InvalidInput",
        &["'Critical'", "Normal, Low, High"],
    )
    .await;
}

#[tokio::test]
async fn writes_to_an_unknown_machine_are_resource_not_found() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let response = app
        .post("/api/machines/nope/setDeviceValue", &token, r#"{"DeviceValue": "Low"}"#)
        .await;
    expect_error(&app, response, 404, "ResourceNotFound", &["Machine nope was not found"]).await;
}

#[tokio::test]
async fn empty_tenant_answers_the_documented_not_found() {
    let app = TestApp::spawn().await;
    let (tenant, client, secret) = app.create_tenant(None, false).await;
    let token = app.token_for(&tenant, &client, &secret).await;
    let response = app.get("/api/machines", &token).await;
    expect_error(&app, response, 404, "NotFound", &["No recent machines"]).await;
}

/// An Active demo machine (its address is current, so findbyip finds it now).
async fn active_machine(app: &TestApp, token: &str) -> Value {
    let page = app
        .get_ok(
            "/api/machines?$filter=healthStatus eq 'Active' and osPlatform eq 'Windows11'&$top=1",
            token,
        )
        .await;
    page["value"][0].clone()
}

fn iso(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

#[tokio::test]
async fn find_by_ip_finds_the_machine_within_the_window() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let machine = active_machine(&app, &token).await;
    let ip = machine["lastIpAddress"].as_str().unwrap();
    let now = app.frozen_now().await;
    let path = format!("/api/machines/findbyip(ip='{ip}',timestamp={})", iso(now));
    let found = app.get_ok(&path, &token).await;
    assert_eq!(found["@odata.context"], format!("{}/api/$metadata#Machines", app.http));
    let ids: Vec<&str> = found["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![machine["id"].as_str().unwrap()]);
    // The legacy form, with its own argument names, and case-insensitive function name.
    let legacy = app
        .get_ok(
            &format!("/api/machines/Find(timestamp={},key='{ip}')", iso(now)),
            &token,
        )
        .await;
    assert_eq!(legacy["value"].as_array().unwrap().len(), 1);
    // Before the machine was first seen nothing matches: an empty list, or the legacy 404.
    let first_seen = chrono::DateTime::parse_from_rfc3339(machine["firstSeen"].as_str().unwrap()).unwrap();
    let before = first_seen.with_timezone(&chrono::Utc) - chrono::TimeDelta::hours(1);
    if now - before < chrono::TimeDelta::days(30) {
        let path = format!("/api/machines/findbyip(ip='{ip}',timestamp={})", iso(before));
        assert_eq!(app.get_ok(&path, &token).await["value"], serde_json::json!([]));
    }
    let unused = format!("/api/machines/find(timestamp={},key='10.250.250.250')", iso(now));
    let response = app.get(&unused, &token).await;
    expect_error(&app, response, 404, "NotFound", &["10.250.250.250"]).await;
}

#[tokio::test]
async fn find_by_ip_rejects_bad_arguments_precisely() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let frozen = app.frozen_now().await;
    let now = iso(frozen);
    let old = iso(frozen - chrono::TimeDelta::days(31));
    let cases: Vec<(String, &str, Vec<String>)> = vec![
        (
            format!("findbyip(ip='10.0.0.300',timestamp={now})"),
            "InvalidIpAddress",
            vec!["10.0.0.300".into()],
        ),
        (
            format!("findbyip(ip='10.0.0.1',timestamp={old})"),
            "BadRequest",
            vec![old.clone(), "30 days".into()],
        ),
        (
            format!("findbyip(timestamp={now})"),
            "MissingRequiredParameter",
            vec!["ip".into()],
        ),
        (
            "findbyip(ip='10.0.0.1')".to_string(),
            "MissingRequiredParameter",
            vec!["timestamp".into()],
        ),
        (
            "findbyip(ip='10.0.0.1',timestamp=yesterday)".to_string(),
            "InvalidInput",
            vec!["yesterday".into()],
        ),
        (
            format!("findbyip(ip='10.0.0.1',timestamp={now}"),
            "BadRequest",
            vec!["')'".into()],
        ),
    ];
    for (call, code, mentions) in cases {
        let response = app.get(&format!("/api/machines/{call}"), &token).await;
        let mentions: Vec<&str> = mentions.iter().map(String::as_str).collect();
        expect_error(&app, response, 400, code, &mentions).await;
    }
}

#[tokio::test]
async fn find_by_tag_matches_exactly_or_by_prefix() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let all = app.get_ok("/api/machines", &token).await;
    let with = |pred: &dyn Fn(&str) -> bool| -> usize {
        all["value"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| {
                m["machineTags"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|t| pred(t.as_str().unwrap()))
            })
            .count()
    };
    let exact = app.get_ok("/api/machines/findbytag?tag=VIP", &token).await;
    let exact = exact["value"].as_array().unwrap();
    assert!(!exact.is_empty());
    assert_eq!(exact.len(), with(&|t| t == "VIP"));
    let prefix = app
        .get_ok("/api/machines/FindByTag?tag=Contoso&useStartsWithFilter=true", &token)
        .await;
    assert_eq!(
        prefix["value"].as_array().unwrap().len(),
        with(&|t| t.starts_with("Contoso"))
    );
    assert!(with(&|t| t.starts_with("Contoso")) > 0);
    let none = app.get_ok("/api/machines/findbytag?tag=Contoso", &token).await;
    assert_eq!(
        none["value"],
        serde_json::json!([]),
        "without the flag the match is exact"
    );
    let response = app.get("/api/machines/findbytag", &token).await;
    expect_error(&app, response, 400, "MissingRequiredParameter", &["tag"]).await;
    let response = app
        .get("/api/machines/findbytag?tag=VIP&useStartsWithFilter=maybe", &token)
        .await;
    expect_error(&app, response, 400, "InvalidInput", &["maybe"]).await;
    let read_only = app.mint(serde_json::json!({"roles": ["Alert.Read.All"]})).await;
    let response = app.get("/api/machines/findbytag?tag=VIP", &read_only).await;
    expect_error(&app, response, 403, "Forbidden", &["Machine.Read.All"]).await;
}

#[tokio::test]
async fn logon_users_lists_the_accounts_of_a_machine() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let users = app
        .get_ok("/api/machines/desktop-01.contoso.local/logonusers", &token)
        .await;
    assert_eq!(users["@odata.context"], format!("{}/api/$metadata#Users", app.http));
    let users = users["value"].as_array().unwrap();
    assert!(!users.is_empty());
    for user in users {
        assert!(user["id"].as_str().unwrap().starts_with("contoso\\"), "{user}");
        assert!(user["accountName"].is_string() && user["logonTypes"].is_string());
    }
    let response = app.get("/api/machines/nope/logonusers", &token).await;
    expect_error(&app, response, 404, "ResourceNotFound", &["Machine nope"]).await;
    let machine_reader = app.mint(serde_json::json!({"roles": ["Machine.Read.All"]})).await;
    let response = app
        .get("/api/machines/desktop-01.contoso.local/logonusers", &machine_reader)
        .await;
    expect_error(&app, response, 403, "Forbidden", &["User.Read.All"]).await;
}

#[tokio::test]
async fn tags_for_multiple_machines_are_all_or_nothing_and_capped() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let page = app.get_ok("/api/machines?$top=3", &token).await;
    let ids: Vec<String> = page["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_string())
        .collect();
    let path = "/api/machines/AddOrRemoveTagForMultipleMachines";
    let body = serde_json::json!({"Value": "Wave-1", "Action": "Add", "MachineIds": ids}).to_string();
    let response = app.post(path, &token, &body).await;
    assert_eq!(response.status(), 200);
    let tagged: Value = response.json().await.unwrap();
    assert_eq!(tagged["value"].as_array().unwrap().len(), 3);
    let found = app.get_ok("/api/machines/findbytag?tag=Wave-1", &token).await;
    assert_eq!(found["value"].as_array().unwrap().len(), 3);

    let mut with_unknown = ids.clone();
    with_unknown.push("0000000000000000000000000000000000000000".into());
    let body = serde_json::json!({"Value": "Wave-2", "Action": "Add", "MachineIds": with_unknown}).to_string();
    let response = app.post(path, &token, &body).await;
    expect_error(
        &app,
        response,
        404,
        "ResourceNotFound",
        &["0000000000000000000000000000000000000000"],
    )
    .await;
    let found = app.get_ok("/api/machines/findbytag?tag=Wave-2", &token).await;
    assert_eq!(found["value"], serde_json::json!([]), "nothing changed");

    let many: Vec<String> = (0..501).map(|n| format!("{n:040x}")).collect();
    let body = serde_json::json!({"Value": "x", "Action": "Add", "MachineIds": many}).to_string();
    let response = app.post(path, &token, &body).await;
    expect_error(
        &app,
        response,
        400,
        "MaximumBatchSizeExceeded",
        &["Received: 501", "allowed: 500"],
    )
    .await;
    let response = app.post(path, &token, r#"{"Value": "x", "Action": "Add"}"#).await;
    expect_error(&app, response, 400, "MissingRequiredParameter", &["MachineIds"]).await;
    let response = app
        .post(path, &token, r#"{"Value": "x", "Action": "Add", "MachineIds": []}"#)
        .await;
    expect_error(&app, response, 400, "InvalidInput", &["MachineIds"]).await;
    let reader = app.mint(serde_json::json!({"roles": ["Machine.Read.All"]})).await;
    let response = app.post(path, &reader, &body).await;
    expect_error(&app, response, 403, "Forbidden", &["Machine.ReadWrite.All"]).await;
}

#[tokio::test]
async fn patch_replaces_tags_and_sets_device_value() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let path = "/api/machines/laptop-01.contoso.local";
    let response = app
        .patch(
            path,
            &token,
            r#"{"machineTags": ["Alpha", "Beta", "Alpha"], "deviceValue": "High"}"#,
        )
        .await;
    assert_eq!(response.status(), 200);
    let machine: Value = response.json().await.unwrap();
    assert_eq!(machine["machineTags"], serde_json::json!(["Alpha", "Beta"]));
    assert_eq!(machine["deviceValue"], "High");
    let response = app.patch(path, &token, r#"{"deviceValue": "Low"}"#).await;
    let machine: Value = response.json().await.unwrap();
    assert_eq!(
        machine["machineTags"],
        serde_json::json!(["Alpha", "Beta"]),
        "omitted tags are kept"
    );
    assert_eq!(app.get_ok(path, &token).await["deviceValue"], "Low");

    let response = app.patch(path, &token, r#"{"deviceValue": "Critical"}"#).await;
    expect_error(&app, response, 400, "InvalidInput", &["'Critical'"]).await;
    let response = app.patch(path, &token, r#"{"MachineTags": []}"#).await;
    expect_error(
        &app,
        response,
        400,
        "InvalidRequestBody",
        &["'MachineTags'", "'machineTags'"],
    )
    .await;
    let response = app.patch(path, &token, r#"{"machineTags": "Alpha"}"#).await;
    expect_error(&app, response, 400, "InvalidRequestBody", &["machineTags"]).await;
    let response = app
        .patch("/api/machines/nope", &token, r#"{"deviceValue": "Low"}"#)
        .await;
    expect_error(&app, response, 404, "ResourceNotFound", &["Machine nope"]).await;
    let reader = app.mint(serde_json::json!({"roles": ["Machine.Read.All"]})).await;
    let response = app.patch(path, &reader, r#"{"deviceValue": "Low"}"#).await;
    expect_error(&app, response, 403, "Forbidden", &["Machine.ReadWrite.All"]).await;
}
