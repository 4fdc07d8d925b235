//! Point 10: the machines read side (and the two simple updates), with real names and casing.

use crate::helpers::*;
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
