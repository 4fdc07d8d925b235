//! Alerts (`shared/reference/mde-api.md` §3): the list with OData and `$expand=evidence`, one
//! alert, triage updates (single and batch, all or nothing), create by reference (and its merge),
//! the related domains/files/IPs/machine/user, `/machines/{id}/alerts`, and every error code each
//! of them can answer with.

use palisade_testkit::*;
use serde_json::{json, Value};

/// Property order of real Alert responses (`get-alerts.md` examples), evidence last.
const ALERT_PROPERTIES: &[&str] = &[
    "id",
    "incidentId",
    "investigationId",
    "assignedTo",
    "severity",
    "status",
    "classification",
    "determination",
    "investigationState",
    "detectionSource",
    "detectorId",
    "category",
    "threatFamilyName",
    "title",
    "description",
    "alertCreationTime",
    "firstEventTime",
    "lastEventTime",
    "lastUpdateTime",
    "resolvedTime",
    "machineId",
    "computerDnsName",
    "rbacGroupName",
    "aadTenantId",
    "threatName",
    "mitreTechniques",
    "relatedUser",
    "comments",
    "evidence",
];

/// Every key of an evidence object, in the documented order.
const EVIDENCE_PROPERTIES: &[&str] = &[
    "entityType",
    "evidenceCreationTime",
    "sha1",
    "sha256",
    "fileName",
    "filePath",
    "processId",
    "processCommandLine",
    "processCreationTime",
    "parentProcessId",
    "parentProcessCreationTime",
    "parentProcessFileName",
    "parentProcessFilePath",
    "ipAddress",
    "url",
    "registryKey",
    "registryHive",
    "registryValueType",
    "registryValue",
    "accountName",
    "domainName",
    "userSid",
    "aadUserId",
    "userPrincipalName",
    "detectionStatus",
];

/// File entity properties in the documented order (§6).
const FILE_PROPERTIES: &[&str] = &[
    "sha1",
    "sha256",
    "md5",
    "globalPrevalence",
    "globalFirstObserved",
    "globalLastObserved",
    "size",
    "fileType",
    "isPeFile",
    "filePublisher",
    "fileProductName",
    "signer",
    "issuer",
    "signerHash",
    "isValidCertificate",
    "determinationType",
    "determinationValue",
];

/// The first demo alert (with evidence) satisfying `keep`.
async fn alert_where(app: &TestApp, token: &str, keep: impl Fn(&Value) -> bool) -> Value {
    all_alerts(app, token)
        .await
        .into_iter()
        .find(|a| keep(a))
        .expect("a demo alert of that kind")
}

fn has_evidence(alert: &Value, kind: &str) -> bool {
    alert["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["entityType"] == kind)
}

async fn token_with(app: &TestApp, roles: &[&str]) -> String {
    app.mint(json!({ "roles": roles })).await
}

/// `now` (the emulator's, from [`TestApp::frozen_now`]) moved by `offset_seconds`, as the API takes it.
fn iso_from(now: chrono::DateTime<chrono::Utc>, offset_seconds: i64) -> String {
    (now + chrono::TimeDelta::seconds(offset_seconds)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

// ---- list, count, get -------------------------------------------------------------------------

#[tokio::test]
async fn list_has_real_key_order_and_evidence_only_when_expanded() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let body = app.get_ok("/api/alerts", &token).await;
    assert_eq!(body["@odata.context"], format!("{}/api/$metadata#Alerts", app.http));
    let alerts = values(&body);
    assert_eq!(alerts.len(), 60, "the demo tenant's alerts");
    for alert in alerts {
        assert_eq!(keys(alert), ALERT_PROPERTIES);
        assert_eq!(alert["evidence"], json!([]), "not expanded");
        assert_eq!(alert["aadTenantId"], TENANT);
    }
    let expanded = app.get_ok("/api/alerts?$expand=evidence", &token).await;
    let expanded = values(&expanded);
    assert!(expanded.iter().all(|a| !a["evidence"].as_array().unwrap().is_empty()));
    for kind in ["User", "Process", "File", "Ip", "Url"] {
        assert!(expanded.iter().any(|a| has_evidence(a, kind)), "{kind} evidence");
    }
    for evidence in expanded.iter().flat_map(|a| a["evidence"].as_array().unwrap()) {
        assert_eq!(keys(evidence), EVIDENCE_PROPERTIES);
    }
}

#[tokio::test]
async fn documented_odata_examples_on_alerts() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let all = all_alerts(&app, &token).await;

    let body = app
        .get_ok("/api/alerts?$filter=lastUpdateTime ge 2019-11-22T00:00:00Z", &token)
        .await;
    assert_eq!(values(&body).len(), all.len());

    let body = app.get_ok("/api/alerts?$filter=status eq 'New'", &token).await;
    let new = all.iter().filter(|a| a["status"] == "New").count();
    assert!(new > 0);
    assert_eq!(values(&body).len(), new);
    assert!(values(&body).iter().all(|a| a["status"] == "New"));

    let body = app
        .get_ok("/api/alerts?$filter=severity+ne+'Informational'", &token)
        .await;
    let expected = all.iter().filter(|a| a["severity"] != "Informational").count();
    assert_eq!(values(&body).len(), expected);

    let body = app.get_ok("/api/alerts?$top=10&$expand=evidence", &token).await;
    assert_eq!(values(&body).len(), 10);
    assert!(values(&body)
        .iter()
        .all(|a| !a["evidence"].as_array().unwrap().is_empty()));
    assert!(body["@odata.nextLink"].as_str().unwrap().contains("$skip=10"));

    let body = app
        .get_ok(
            "/api/alerts?$filter=alertCreationTime gt 2018-11-22T00:00:00Z&$top=5&$count=true",
            &token,
        )
        .await;
    assert_eq!(body["@odata.count"], all.len());
    assert_eq!(values(&body).len(), 5);

    let id = all[3]["id"].as_str().unwrap();
    let body = app.get_ok(&format!("/api/alerts?$filter=id eq '{id}'"), &token).await;
    assert_eq!(values(&body).len(), 1);

    let response = app.get("/api/alerts/$count?$filter=status ne 'Resolved'", &token).await;
    assert_eq!(response.status(), 200);
    let open = all.iter().filter(|a| a["status"] != "Resolved").count();
    assert_eq!(response.text().await.unwrap(), open.to_string());
}

#[tokio::test]
async fn bad_odata_on_alerts_is_odata_error() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let response = app.get("/api/alerts?$expand=comments", &token).await;
    expect_error(&app, response, 400, "ODataError", &["comments"]).await;
    let response = app.get("/api/alerts?$filter=colour eq 'red'", &token).await;
    expect_error(&app, response, 400, "ODataError", &["colour"]).await;
    let response = app.get("/api/alerts/$count?$filter=status eq", &token).await;
    expect_error(&app, response, 400, "ODataError", &[]).await;
    let response = app.get("/api/alerts?$top=10001", &token).await;
    expect_error(&app, response, 400, "ODataError", &["10001"]).await;
}

#[tokio::test]
async fn get_one_includes_evidence() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let listed = alert_where(&app, &token, |a| has_evidence(a, "Url")).await;
    let id = listed["id"].as_str().unwrap();
    let alert = app.get_ok(&format!("/api/alerts/{id}"), &token).await;
    assert_eq!(
        alert["@odata.context"],
        format!("{}/api/$metadata#Alerts/$entity", app.http)
    );
    let mut expected = vec!["@odata.context"];
    expected.extend_from_slice(ALERT_PROPERTIES);
    assert_eq!(keys(&alert), expected);
    assert_eq!(alert["evidence"], listed["evidence"]);
    let alert = app.get_ok(&format!("/api/v1.0/Alerts/{id}"), &token).await;
    assert_eq!(alert["id"], id);
}

#[tokio::test]
async fn unknown_alert_is_resource_not_found_on_every_route() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let id = "da000000000000000000_42";
    for path in [
        format!("/api/alerts/{id}"),
        format!("/api/alerts/{id}/domains"),
        format!("/api/alerts/{id}/files"),
        format!("/api/alerts/{id}/ips"),
        format!("/api/alerts/{id}/machine"),
        format!("/api/alerts/{id}/user"),
    ] {
        let response = app.get(&path, &token).await;
        expect_error(
            &app,
            response,
            404,
            "ResourceNotFound",
            &[&format!("Alert {id} was not found")],
        )
        .await;
    }
    let response = app
        .patch(&format!("/api/alerts/{id}"), &token, r#"{"status":"Resolved"}"#)
        .await;
    expect_error(
        &app,
        response,
        404,
        "ResourceNotFound",
        &[&format!("Alert {id} was not found")],
    )
    .await;
}

#[tokio::test]
async fn roles_are_enforced_per_route() {
    let app = TestApp::spawn().await;
    let now = app.frozen_now().await;
    let token = app.token().await;
    let alert = alert_where(&app, &token, |a| a["relatedUser"].is_object()).await;
    let id = alert["id"].as_str().unwrap();
    let machine = alert["machineId"].as_str().unwrap();
    let nothing = token_with(&app, &["Machine.Read.All"]).await;
    let read = token_with(&app, &["Alert.Read.All"]).await;
    for (path, role) in [
        ("/api/alerts".to_string(), "Alert.Read.All"),
        ("/api/alerts/$count".to_string(), "Alert.Read.All"),
        (format!("/api/alerts/{id}"), "Alert.Read.All"),
        (format!("/api/machines/{machine}/alerts"), "Alert.Read.All"),
        (format!("/api/machines/{machine}/alerts/$count"), "Alert.Read.All"),
        (format!("/api/alerts/{id}/domains"), "URL.Read.All"),
        (format!("/api/alerts/{id}/files"), "File.Read.All"),
        (format!("/api/alerts/{id}/ips"), "Ip.Read.All"),
        (format!("/api/alerts/{id}/user"), "User.Read.All"),
    ] {
        let response = app.get(&path, &nothing).await;
        expect_error(&app, response, 403, "Forbidden", &[role]).await;
    }
    let response = app.get(&format!("/api/alerts/{id}/machine"), &read).await;
    expect_error(&app, response, 403, "Forbidden", &["Machine.Read.All"]).await;
    // Read is not write.
    let response = app
        .patch(&format!("/api/alerts/{id}"), &read, r#"{"status":"InProgress"}"#)
        .await;
    expect_error(&app, response, 403, "Forbidden", &["Alert.ReadWrite.All"]).await;
    let body = json!({"alertIds": [id], "status": "InProgress"}).to_string();
    let response = app.post("/api/alerts/batchUpdate", &read, &body).await;
    expect_error(&app, response, 403, "Forbidden", &["Alert.ReadWrite.All"]).await;
    let body = reference_body(machine, &iso_from(now, -60), "x");
    let response = app
        .post("/api/alerts/CreateAlertByReference", &read, &body.to_string())
        .await;
    expect_error(&app, response, 403, "Forbidden", &["Alert.ReadWrite.All"]).await;
    // ReadWrite satisfies Read.
    let write = token_with(&app, &["Alert.ReadWrite.All"]).await;
    app.get_ok(&format!("/api/alerts/{id}"), &write).await;
}

#[tokio::test]
async fn a_second_tenant_does_not_see_demo_alerts() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let demo = all_alerts(&app, &token).await;
    let id = demo[0]["id"].as_str().unwrap();
    let (tenant, client, secret) = app.create_tenant(None, false).await;
    let other = app.token_for(&tenant, &client, &secret).await;
    let body = app.get_ok("/api/alerts", &other).await;
    assert_eq!(values(&body).len(), 0);
    let response = app.get(&format!("/api/alerts/{id}"), &other).await;
    expect_error(&app, response, 404, "ResourceNotFound", &[id]).await;
    let body = json!({"alertIds": [id], "status": "Resolved"}).to_string();
    let response = app.post("/api/alerts/batchUpdate", &other, &body).await;
    expect_error(&app, response, 404, "ResourceNotFound", &[id]).await;
    let alert = app.get_ok(&format!("/api/alerts/{id}"), &token).await;
    assert_eq!(alert["status"], demo[0]["status"], "untouched by the other tenant");
}

// ---- update -----------------------------------------------------------------------------------

#[tokio::test]
async fn patch_updates_triage_fields_and_comments() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    app.freeze_clock().await;
    let alert = alert_where(&app, &token, |a| a["status"] == "New").await;
    let id = alert["id"].as_str().unwrap();
    let path = format!("/api/alerts/{id}");
    let body = r#"{"status":"Resolved","assignedTo":"secop2@contoso.com","classification":"FalsePositive","determination":"Malware","comment":"resolve alert"}"#;
    let response = app.patch(&path, &token, body).await;
    assert_eq!(response.status(), 200);
    let updated: Value = response.json().await.unwrap();
    assert_eq!(
        updated["@odata.context"],
        format!("{}/api/$metadata#Alerts/$entity", app.http)
    );
    assert_eq!(updated["status"], "Resolved");
    assert_eq!(updated["assignedTo"], "secop2@contoso.com");
    assert_eq!(updated["classification"], "FalsePositive");
    assert_eq!(updated["determination"], "Malware");
    assert!(updated["resolvedTime"].is_string());
    assert_eq!(updated["resolvedTime"], updated["lastUpdateTime"]);
    let comments = updated["comments"].as_array().unwrap();
    assert_eq!(comments.len(), 1);
    assert_eq!(comments[0]["comment"], "resolve alert");
    assert_eq!(comments[0]["createdBy"], CLIENT_ID);
    assert_eq!(comments[0]["createdTime"], updated["lastUpdateTime"]);
    assert_ne!(updated["lastUpdateTime"], alert["lastUpdateTime"]);
    // Omitted properties keep their values; a comment alone appends; enum values are lenient on case.
    app.advance_clock(60.0).await;
    let updated: Value = app
        .patch(&path, &token, r#"{"comment":"second look","status":"inprogress"}"#)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(updated["status"], "InProgress");
    assert_eq!(
        updated["resolvedTime"],
        Value::Null,
        "leaving Resolved clears resolvedTime"
    );
    assert_eq!(updated["classification"], "FalsePositive");
    assert_eq!(updated["comments"].as_array().unwrap().len(), 2);
    // The change is stored.
    let fetched = app.get_ok(&path, &token).await;
    assert_eq!(fetched["comments"], updated["comments"]);
    assert_eq!(fetched["evidence"], alert["evidence"], "evidence survives updates");
    // An empty body is fine: the alert as it is, nothing moves.
    app.advance_clock(60.0).await;
    let same: Value = app.patch(&path, &token, "{}").await.json().await.unwrap();
    assert_eq!(same["lastUpdateTime"], fetched["lastUpdateTime"]);
}

#[tokio::test]
async fn siem_poll_on_last_update_time_sees_updates() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let frozen = app.freeze_clock().await;
    let before = frozen["now"].as_str().unwrap().to_string();
    let poll = format!("/api/alerts?$filter=lastUpdateTime ge {before}");
    assert_eq!(values(&app.get_ok(&poll, &token).await).len(), 0, "nothing changed yet");
    app.advance_clock(5.0).await;
    let alert = alert_where(&app, &token, |a| a["status"] != "Resolved").await;
    let id = alert["id"].as_str().unwrap();
    let response = app
        .patch(
            &format!("/api/alerts/{id}"),
            &token,
            r#"{"assignedTo":"analyst@contoso.com"}"#,
        )
        .await;
    assert_eq!(response.status(), 200);
    let changed = app.get_ok(&poll, &token).await;
    let changed = values(&changed);
    assert_eq!(changed.len(), 1);
    assert_eq!(changed[0]["id"], id);
    assert_eq!(changed[0]["assignedTo"], "analyst@contoso.com");
}

#[tokio::test]
async fn patch_rejects_bad_values_and_bodies() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let alert = alert_where(&app, &token, |_| true).await;
    let id = alert["id"].as_str().unwrap();
    let path = format!("/api/alerts/{id}");
    let cases: &[(&str, &str, &[&str])] = &[
        (
            r#"{"status":"Closed"}"#,
            "InvalidInput",
            &["status", "'Closed'", "New, InProgress, Resolved"],
        ),
        (
            r#"{"classification":"Maybe"}"#,
            "InvalidInput",
            &["classification", "'Maybe'", "TruePositive"],
        ),
        (
            r#"{"determination":"Aliens"}"#,
            "InvalidInput",
            &["determination", "'Aliens'", "Malware"],
        ),
        (r#"{"comment":"  "}"#, "InvalidInput", &["comment"]),
        (
            r#"{"Status":"Resolved"}"#,
            "InvalidRequestBody",
            &["'Status'", "'status'"],
        ),
        (r#"{"status":5}"#, "InvalidRequestBody", &["status"]),
        ("status=Resolved", "InvalidRequestBody", &["not valid JSON"]),
        ("[]", "InvalidRequestBody", &["an array"]),
    ];
    for (body, code, mentions) in cases {
        let response = app.patch(&path, &token, body).await;
        expect_error(&app, response, 400, code, mentions).await;
    }
    let unchanged = app.get_ok(&path, &token).await;
    assert_eq!(unchanged["lastUpdateTime"], alert["lastUpdateTime"]);
    // A property the API does not bind (severity is not updatable) is ignored and named.
    let response = app.patch(&path, &token, r#"{"severity":"Informational"}"#).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-palisade-ignored-properties"], "severity");
    assert_eq!(app.get_ok(&path, &token).await["severity"], alert["severity"]);
}

// ---- batch update -----------------------------------------------------------------------------

#[tokio::test]
async fn batch_update_changes_every_alert_and_answers_an_empty_body() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let all = all_alerts(&app, &token).await;
    let ids: Vec<&str> = all.iter().take(3).map(|a| a["id"].as_str().unwrap()).collect();
    let body = json!({
        "alertIds": ids,
        "status": "Resolved",
        "assignedTo": "secop2@contoso.com",
        "classification": "InformationalExpectedActivity",
        "determination": "SecurityTesting",
        "comment": "Resolve my alerts"
    });
    let response = app.post("/api/alerts/batchUpdate", &token, &body.to_string()).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "", "empty body, as documented");
    for id in ids {
        let alert = app.get_ok(&format!("/api/alerts/{id}"), &token).await;
        assert_eq!(alert["status"], "Resolved");
        assert_eq!(alert["classification"], "InformationalExpectedActivity");
        assert_eq!(alert["determination"], "SecurityTesting");
        assert_eq!(alert["assignedTo"], "secop2@contoso.com");
        assert!(alert["resolvedTime"].is_string());
        let comments = alert["comments"].as_array().unwrap();
        assert_eq!(comments.last().unwrap()["comment"], "Resolve my alerts");
    }
}

#[tokio::test]
async fn batch_update_is_all_or_nothing() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let all = all_alerts(&app, &token).await;
    let known = all.iter().find(|a| a["status"] == "New").unwrap()["id"]
        .as_str()
        .unwrap();
    let body = json!({"alertIds": [known, "da999_unknown"], "status": "Resolved", "comment": "x"});
    let response = app.post("/api/alerts/batchUpdate", &token, &body.to_string()).await;
    expect_error(
        &app,
        response,
        404,
        "ResourceNotFound",
        &["Alert da999_unknown was not found"],
    )
    .await;
    let alert = app.get_ok(&format!("/api/alerts/{known}"), &token).await;
    assert_eq!(alert["status"], "New", "nothing changed");
    assert_eq!(alert["comments"], json!([]));
    // A bad value anywhere changes nothing either.
    let body = json!({"alertIds": [known], "status": "Resolved", "determination": "Nope"});
    let response = app.post("/api/alerts/batchUpdate", &token, &body.to_string()).await;
    expect_error(&app, response, 400, "InvalidInput", &["'Nope'"]).await;
    let alert = app.get_ok(&format!("/api/alerts/{known}"), &token).await;
    assert_eq!(alert["status"], "New");
}

#[tokio::test]
async fn batch_update_body_errors() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let too_many: Vec<String> = (0..501).map(|n| format!("da{n}_1")).collect();
    let cases: Vec<(String, u16, &str, Vec<&str>)> = vec![
        (
            json!({"status": "Resolved"}).to_string(),
            400,
            "MissingRequiredParameter",
            vec!["alertIds"],
        ),
        (
            json!({"AlertIds": ["x"], "status": "Resolved"}).to_string(),
            400,
            "MissingRequiredParameter",
            vec!["alertIds", "'AlertIds'"],
        ),
        (
            json!({"alertIds": []}).to_string(),
            400,
            "InvalidInput",
            vec!["alertIds", "between 1 and 500"],
        ),
        (
            json!({"alertIds": too_many, "status": "Resolved"}).to_string(),
            400,
            "MaximumBatchSizeExceeded",
            vec!["Received: 501", "allowed: 500"],
        ),
        (
            json!({"alertIds": "da1_1"}).to_string(),
            400,
            "InvalidRequestBody",
            vec!["alertIds"],
        ),
        (
            json!({"alertIds": ["x"], "status": "Gone"}).to_string(),
            400,
            "InvalidInput",
            vec!["'Gone'"],
        ),
        (
            "{not json".to_string(),
            400,
            "InvalidRequestBody",
            vec!["not valid JSON"],
        ),
    ];
    for (body, status, code, mentions) in cases {
        let response = app.post("/api/alerts/batchUpdate", &token, &body).await;
        expect_error(&app, response, status, code, &mentions).await;
    }
}

// ---- create by reference ----------------------------------------------------------------------

fn reference_body(machine: &str, event_time: &str, title: &str) -> Value {
    json!({
        "machineId": machine,
        "severity": "Low",
        "title": title,
        "description": "test alert",
        "recommendedAction": "nothing",
        "eventTime": event_time,
        "reportId": "20776",
        "category": "Exploit"
    })
}

async fn a_machine(app: &TestApp, token: &str) -> Value {
    values(&app.get_ok("/api/machines?$top=1", token).await)[0].clone()
}

#[tokio::test]
async fn create_by_reference_makes_an_alert_then_merges_into_it() {
    let app = TestApp::spawn().await;
    let now = app.frozen_now().await;
    let token = app.token().await;
    let machine = a_machine(&app, &token).await;
    let machine_id = machine["id"].as_str().unwrap();
    let first_time = iso_from(now, -3600);
    let body = reference_body(machine_id, &first_time, "Palisade custom detection");
    let response = app
        .post("/api/alerts/CreateAlertByReference", &token, &body.to_string())
        .await;
    assert_eq!(response.status(), 200, "200, not 201");
    let created: Value = response.json().await.unwrap();
    assert_eq!(
        created["@odata.context"],
        format!("{}/api/$metadata#Alerts/$entity", app.http)
    );
    let mut expected = vec!["@odata.context"];
    expected.extend_from_slice(ALERT_PROPERTIES);
    assert_eq!(keys(&created), expected);
    let id = created["id"].as_str().unwrap();
    assert!(id.starts_with("da") && id.contains('_'), "{id}");
    assert_eq!(created["status"], "New");
    assert_eq!(created["severity"], "Low");
    assert_eq!(created["category"], "Exploit");
    assert_eq!(created["detectionSource"], "CustomDetection");
    assert_eq!(created["investigationState"], "Queued");
    assert_eq!(created["relatedUser"], Value::Null);
    assert_eq!(created["evidence"], json!([]));
    assert_eq!(created["machineId"], machine_id);
    assert_eq!(created["computerDnsName"], machine["computerDnsName"]);
    assert_eq!(created["rbacGroupName"], machine["rbacGroupName"]);
    assert_eq!(created["aadTenantId"], TENANT);
    assert_eq!(
        app.get_ok(&format!("/api/alerts/{id}"), &token).await["title"],
        "Palisade custom detection"
    );

    // Same machine, same title, still open: absorbed.
    let later = iso_from(now, -60);
    let body = reference_body(machine_id, &later, "Palisade custom detection");
    let merged: Value = app
        .post("/api/alerts/CreateAlertByReference", &token, &body.to_string())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(merged["id"], id);
    assert_eq!(merged["firstEventTime"], created["firstEventTime"]);
    assert_ne!(merged["lastEventTime"], created["lastEventTime"]);
    assert_eq!(
        values(
            &app.get_ok(
                &format!("/api/alerts?$filter=machineId eq '{machine_id}' and title eq 'Palisade custom detection'"),
                &token
            )
            .await
        )
        .len(),
        1
    );

    // Once resolved, the next event makes a new alert.
    app.patch(&format!("/api/alerts/{id}"), &token, r#"{"status":"Resolved"}"#)
        .await;
    let fresh: Value = app
        .post("/api/alerts/CreateAlertByReference", &token, &body.to_string())
        .await
        .json()
        .await
        .unwrap();
    assert_ne!(fresh["id"], id);
    assert_eq!(fresh["status"], "New");
    // Machine given by computer name works too; another title is another alert.
    let by_name = reference_body(
        machine["computerDnsName"].as_str().unwrap(),
        &later,
        "Another detection",
    );
    let other: Value = app
        .post("/api/alerts/CreateAlertByReference", &token, &by_name.to_string())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(other["machineId"], machine_id);
    assert_ne!(other["id"], fresh["id"]);
}

#[tokio::test]
async fn create_by_reference_errors() {
    let app = TestApp::spawn().await;
    let now = app.frozen_now().await;
    let token = app.token().await;
    let machine = a_machine(&app, &token).await;
    let machine_id = machine["id"].as_str().unwrap();
    let good = reference_body(machine_id, &iso_from(now, -60), "t");
    let with = |key: &str, value: Value| {
        let mut body = good.clone();
        body[key] = value;
        body.to_string()
    };
    let without = |key: &str| {
        let mut body = good.clone();
        body.as_object_mut().unwrap().remove(key);
        body.to_string()
    };
    let recased = {
        let mut body = good.clone();
        let value = body.as_object_mut().unwrap().remove("reportId").unwrap();
        body["ReportId"] = value;
        body.to_string()
    };
    let old = iso_from(now, -31 * 24 * 3600);
    let future = iso_from(now, 3600);
    let cases: Vec<(String, u16, &str, Vec<&str>)> = vec![
        (
            with("severity", json!("Informational")),
            400,
            "InvalidInput",
            vec!["'Informational'", "Low, Medium, High"],
        ),
        (
            with("severity", json!("Critical")),
            400,
            "InvalidInput",
            vec!["'Critical'"],
        ),
        (
            with("category", json!("Espionage")),
            400,
            "InvalidInput",
            vec!["category", "'Espionage'", "CommandAndControl"],
        ),
        (
            with("eventTime", json!("yesterday")),
            400,
            "InvalidInput",
            vec!["eventTime", "'yesterday'"],
        ),
        (with("title", json!("")), 400, "InvalidInput", vec!["title"]),
        (with("title", json!(7)), 400, "InvalidRequestBody", vec!["title"]),
        (without("eventTime"), 400, "MissingRequiredParameter", vec!["eventTime"]),
        (
            without("recommendedAction"),
            400,
            "MissingRequiredParameter",
            vec!["recommendedAction"],
        ),
        (recased, 400, "MissingRequiredParameter", vec!["reportId", "'ReportId'"]),
        ("not json".into(), 400, "InvalidRequestBody", vec!["not valid JSON"]),
        (
            with("machineId", json!("no-such-machine")),
            404,
            "ResourceNotFound",
            vec!["Machine no-such-machine was not found"],
        ),
        (
            with("eventTime", json!(old.clone())),
            404,
            "ResourceNotFound",
            vec!["Event with reportId 20776", &old, machine_id],
        ),
        (
            with("eventTime", json!(future.clone())),
            404,
            "ResourceNotFound",
            vec![&future],
        ),
    ];
    for (body, status, code, mentions) in cases {
        let response = app.post("/api/alerts/CreateAlertByReference", &token, &body).await;
        expect_error(&app, response, status, code, &mentions).await;
    }
    let count = app.get("/api/alerts/$count", &token).await.text().await.unwrap();
    assert_eq!(count, "60", "no failed call created an alert");
}

// ---- related entities -------------------------------------------------------------------------

#[tokio::test]
async fn related_domains_ips_and_files() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let alert = alert_where(&app, &token, |a| has_evidence(a, "Url") && has_evidence(a, "Ip")).await;
    let id = alert["id"].as_str().unwrap();
    let evidence = alert["evidence"].as_array().unwrap();

    let domains = app.get_ok(&format!("/api/alerts/{id}/domains"), &token).await;
    assert_eq!(domains["@odata.context"], format!("{}/api/$metadata#Domains", app.http));
    let url = evidence.iter().find(|e| e["entityType"] == "Url").unwrap()["url"]
        .as_str()
        .unwrap();
    let host = url.split("://").nth(1).unwrap().split('/').next().unwrap();
    assert_eq!(domains["value"], json!([{"host": host}]));

    let ips = app.get_ok(&format!("/api/alerts/{id}/ips"), &token).await;
    assert_eq!(ips["@odata.context"], format!("{}/api/$metadata#Ips", app.http));
    let ip = evidence.iter().find(|e| e["entityType"] == "Ip").unwrap()["ipAddress"].clone();
    assert_eq!(ips["value"], json!([{"id": ip}]));

    let files = app.get_ok(&format!("/api/alerts/{id}/files"), &token).await;
    assert_eq!(files["@odata.context"], format!("{}/api/$metadata#Files", app.http));
    let files = values(&files);
    assert_eq!(files.len(), 1, "File and Process evidence of one file are one File");
    assert_eq!(keys(&files[0]), FILE_PROPERTIES);
    let file_evidence = evidence.iter().find(|e| e["entityType"] == "File").unwrap();
    assert_eq!(files[0]["sha1"], file_evidence["sha1"]);
    assert_eq!(files[0]["sha256"], file_evidence["sha256"]);
    assert_eq!(files[0]["md5"], Value::Null);

    // An alert without network evidence has empty related collections, not a 404.
    let quiet = alert_where(&app, &token, |a| !has_evidence(a, "Url") && !has_evidence(a, "Ip")).await;
    let quiet = quiet["id"].as_str().unwrap();
    assert_eq!(
        app.get_ok(&format!("/api/alerts/{quiet}/domains"), &token).await["value"],
        json!([])
    );
    assert_eq!(
        app.get_ok(&format!("/api/alerts/{quiet}/ips"), &token).await["value"],
        json!([])
    );
}

#[tokio::test]
async fn related_machine_and_user() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let alert = alert_where(&app, &token, |a| a["relatedUser"].is_object()).await;
    let id = alert["id"].as_str().unwrap();
    let machine = app.get_ok(&format!("/api/alerts/{id}/machine"), &token).await;
    assert_eq!(
        machine["@odata.context"],
        format!("{}/api/$metadata#Machines/$entity", app.http)
    );
    assert_eq!(machine["id"], alert["machineId"]);
    assert_eq!(machine["computerDnsName"], alert["computerDnsName"]);

    let user = app.get_ok(&format!("/api/alerts/{id}/user"), &token).await;
    assert_eq!(
        user["@odata.context"],
        format!("{}/api/$metadata#Users/$entity", app.http)
    );
    assert_eq!(user["accountName"], alert["relatedUser"]["userName"]);
    let expected_id = format!(
        "{}\\{}",
        alert["relatedUser"]["domainName"].as_str().unwrap().to_lowercase(),
        alert["relatedUser"]["userName"].as_str().unwrap()
    );
    assert_eq!(user["id"], expected_id);
    assert_eq!(
        keys(&user)[1..],
        [
            "id",
            "accountName",
            "accountDomain",
            "accountSid",
            "firstSeen",
            "lastSeen",
            "mostPrevalentMachineId",
            "leastPrevalentMachineId",
            "logonTypes",
            "logOnMachinesCount",
            "isDomainAdmin",
            "isOnlyNetworkUser"
        ]
    );
}

#[tokio::test]
async fn related_user_of_an_alert_without_one_is_resource_not_found() {
    let app = TestApp::spawn().await;
    let now = app.frozen_now().await;
    let token = app.token().await;
    let machine = a_machine(&app, &token).await;
    let body = reference_body(machine["id"].as_str().unwrap(), &iso_from(now, -60), "No user here");
    let created: Value = app
        .post("/api/alerts/CreateAlertByReference", &token, &body.to_string())
        .await
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap();
    let response = app.get(&format!("/api/alerts/{id}/user"), &token).await;
    expect_error(&app, response, 404, "ResourceNotFound", &[id, "no related user"]).await;
    // No evidence: no files either (200, empty).
    assert_eq!(
        app.get_ok(&format!("/api/alerts/{id}/files"), &token).await["value"],
        json!([])
    );
}

// ---- /machines/{id}/alerts --------------------------------------------------------------------

#[tokio::test]
async fn machine_alerts_with_odata_and_count() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let all = all_alerts(&app, &token).await;
    let machine_id = all[0]["machineId"].as_str().unwrap();
    let name = all[0]["computerDnsName"].as_str().unwrap();
    let mine: Vec<&Value> = all.iter().filter(|a| a["machineId"] == machine_id).collect();

    let body = app.get_ok(&format!("/api/machines/{machine_id}/alerts"), &token).await;
    assert_eq!(body["@odata.context"], format!("{}/api/$metadata#Alerts", app.http));
    assert_eq!(values(&body).len(), mine.len());
    assert!(values(&body)
        .iter()
        .all(|a| a["machineId"] == machine_id && a["evidence"] == json!([])));

    let by_name = app
        .get_ok(&format!("/api/machines/{name}/alerts?$expand=evidence"), &token)
        .await;
    assert_eq!(values(&by_name).len(), mine.len());
    assert!(values(&by_name)
        .iter()
        .all(|a| !a["evidence"].as_array().unwrap().is_empty()));

    let open = mine.iter().filter(|a| a["status"] != "Resolved").count();
    let response = app
        .get(
            &format!("/api/machines/{machine_id}/alerts/$count?$filter=status ne 'Resolved'"),
            &token,
        )
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), open.to_string(), "a bare number");

    let filtered = app
        .get_ok(
            &format!("/api/machines/{machine_id}/alerts?$filter=status ne 'Resolved'&$select=id,status"),
            &token,
        )
        .await;
    assert_eq!(values(&filtered).len(), open);
    assert_eq!(keys(&values(&filtered)[0]), ["id", "status"]);

    let response = app.get("/api/machines/no-such-machine/alerts", &token).await;
    expect_error(
        &app,
        response,
        404,
        "ResourceNotFound",
        &["Machine no-such-machine was not found"],
    )
    .await;
    let response = app.get("/api/machines/no-such-machine/alerts/$count", &token).await;
    expect_error(&app, response, 404, "ResourceNotFound", &["no-such-machine"]).await;
    let response = app
        .get(&format!("/api/machines/{machine_id}/alerts?$filter=bogus eq 1"), &token)
        .await;
    expect_error(&app, response, 400, "ODataError", &["bogus"]).await;
}

#[tokio::test]
async fn resolving_a_resolved_alert_keeps_its_resolved_time() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    app.freeze_clock().await;
    let alert = alert_where(&app, &token, |a| a["status"] == "Resolved").await;
    let id = alert["id"].as_str().unwrap();
    app.advance_clock(60.0).await;
    let updated: Value = app
        .patch(&format!("/api/alerts/{id}"), &token, r#"{"status":"Resolved"}"#)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(updated["resolvedTime"], alert["resolvedTime"]);
    assert_ne!(updated["lastUpdateTime"], alert["lastUpdateTime"]);
}
