//! Defender XDR incidents (`shared/reference/xdr-api-and-auth.md` §2.6): list with OData, get,
//! update, every error each answers, and the rules that keep incidents and MDE alerts one truth
//! (grouping, resolution both ways, merging, the data loader).

use palisade_testkit::*;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

/// Property order of real incident responses (2024 capture: `incidentUri` after `incidentId`).
const INCIDENT_PROPERTIES: &[&str] = &[
    "incidentId",
    "incidentUri",
    "redirectIncidentId",
    "incidentName",
    "createdTime",
    "lastUpdateTime",
    "assignedTo",
    "classification",
    "determination",
    "status",
    "severity",
    "tags",
    "comments",
    "alerts",
];

const ALERT_PROPERTIES: &[&str] = &[
    "alertId",
    "providerAlertId",
    "incidentId",
    "serviceSource",
    "creationTime",
    "lastUpdatedTime",
    "resolvedTime",
    "firstActivity",
    "lastActivity",
    "title",
    "description",
    "category",
    "status",
    "severity",
    "investigationId",
    "investigationState",
    "classification",
    "determination",
    "detectionSource",
    "detectorId",
    "assignedTo",
    "actorName",
    "threatFamilyName",
    "mitreTechniques",
    "devices",
    "entities",
];

/// Every key of the list page's entity example, in its order.
const ENTITY_PROPERTIES: &[&str] = &[
    "entityType",
    "sha1",
    "sha256",
    "fileName",
    "filePath",
    "processId",
    "processCommandLine",
    "processCreationTime",
    "parentProcessId",
    "parentProcessCreationTime",
    "ipAddress",
    "url",
    "accountName",
    "domainName",
    "userSid",
    "aadUserId",
    "userPrincipalName",
    "mailboxDisplayName",
    "mailboxAddress",
    "clusterBy",
    "sender",
    "recipient",
    "subject",
    "deliveryAction",
    "securityGroupId",
    "securityGroupName",
    "registryHive",
    "registryKey",
    "registryValueType",
    "registryValue",
    "deviceId",
];

/// ISO-8601 with exactly seven fractional digits and `Z`.
fn seven_digits(value: &Value) -> bool {
    let Some(s) = value.as_str() else { return false };
    let Some((_, fraction)) = s.split_once('.') else {
        return false;
    };
    fraction.len() == 8 && fraction.ends_with('Z') && fraction[..7].bytes().all(|b| b.is_ascii_digit())
}

async fn all_incidents(app: &TestApp, token: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut url = "/api/incidents".to_string();
    loop {
        let body = app.get_ok(&url, token).await;
        out.extend(values(&body).iter().cloned());
        match body["@odata.nextLink"].as_str() {
            Some(next) => {
                url = next
                    .strip_prefix(&app.http)
                    .expect("nextLink on our origin")
                    .to_string()
            }
            None => return out,
        }
    }
}

async fn incident(app: &TestApp, token: &str, id: i64) -> Value {
    app.get_ok(&format!("/api/incidents/{id}"), token).await
}

async fn patch_incident(app: &TestApp, token: &str, id: i64, body: Value) -> Value {
    let response = app
        .patch(&format!("/api/incidents/{id}"), token, &body.to_string())
        .await;
    assert_eq!(response.status(), 200, "PATCH {body}");
    response.json().await.unwrap()
}

/// The first demo incident whose alerts satisfy `keep`.
async fn incident_where(app: &TestApp, token: &str, keep: impl Fn(&Value) -> bool) -> Value {
    all_incidents(app, token)
        .await
        .into_iter()
        .find(|i| keep(i))
        .expect("a demo incident of that kind")
}

fn alerts_of(incident: &Value) -> &Vec<Value> {
    incident["alerts"].as_array().unwrap()
}

fn id_of(incident: &Value) -> i64 {
    incident["incidentId"].as_i64().expect("incidentId is a JSON integer")
}

fn reference_body(machine_id: &str, event_time: &str, title: &str) -> Value {
    json!({
        "machineId": machine_id,
        "severity": "Medium",
        "title": title,
        "description": "Raised by a test",
        "recommendedAction": "Look",
        "eventTime": event_time,
        "reportId": "42",
        "category": "Execution",
    })
}

fn iso(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

// ---- the entity -----------------------------------------------------------------------------

#[tokio::test]
async fn list_answers_the_documented_entity_with_alerts_devices_and_entities() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let body = app.get_ok("/api/incidents", &token).await;
    assert_eq!(body["@odata.context"], format!("{}/api/$metadata#Incidents", app.http));
    let incidents = values(&body);
    assert!(incidents.len() > 5, "the demo alerts are grouped into incidents");
    let machines = values(&app.get_ok("/api/machines", &token).await).to_vec();
    for incident in incidents {
        assert_eq!(keys(incident), INCIDENT_PROPERTIES);
        let id = id_of(incident);
        assert_eq!(
            incident["incidentUri"],
            format!("https://security.microsoft.com/incidents/{id}?tid={TENANT}")
        );
        assert!(seven_digits(&incident["createdTime"]), "{}", incident["createdTime"]);
        assert!(seven_digits(&incident["lastUpdateTime"]));
        assert_eq!(incident["redirectIncidentId"], Value::Null);
        // Untriaged: the demo data never classifies incidents.
        assert_eq!(incident["classification"], "Unknown");
        assert_eq!(incident["determination"], "NotAvailable");
        assert!(incident["tags"].as_array().unwrap().is_empty());
        assert!(!incident["incidentName"].as_str().unwrap().is_empty());
        let alerts = alerts_of(incident);
        assert!(!alerts.is_empty());
        for alert in alerts {
            assert_eq!(keys(alert), ALERT_PROPERTIES);
            assert_eq!(alert["incidentId"], id);
            assert_eq!(alert["serviceSource"], "MicrosoftDefenderForEndpoint");
            assert!(seven_digits(&alert["creationTime"]));
            let devices = alert["devices"].as_array().unwrap();
            assert_eq!(devices.len(), 1, "the alert's machine");
            let device = &devices[0];
            let machine = machines
                .iter()
                .find(|m| m["id"] == device["mdatpDeviceId"])
                .expect("the device is a machine of the tenant");
            assert_eq!(device["deviceDnsName"], machine["computerDnsName"]);
            assert_eq!(device["osPlatform"], machine["osPlatform"]);
            assert_eq!(device["rbacGroupId"], machine["rbacGroupId"]);
            let entities = alert["entities"].as_array().unwrap();
            assert!(!entities.is_empty(), "from the alert's evidence");
            for entity in entities {
                assert_eq!(keys(entity), ENTITY_PROPERTIES);
                assert_eq!(entity["deviceId"], device["mdatpDeviceId"]);
            }
        }
        // The highest severity of its alerts.
        let order = ["UnSpecified", "Informational", "Low", "Medium", "High"];
        let highest = alerts
            .iter()
            .map(|a| order.iter().position(|s| *s == a["severity"]).unwrap())
            .max()
            .unwrap();
        assert_eq!(incident["severity"], order[highest]);
    }
    // Most recent first.
    let created: Vec<&str> = incidents.iter().map(|i| i["createdTime"].as_str().unwrap()).collect();
    let mut sorted = created.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(created, sorted);
    // Kinds of evidence come through as entities.
    let kinds: BTreeSet<&str> = incidents
        .iter()
        .flat_map(|i| alerts_of(i).iter())
        .flat_map(|a| a["entities"].as_array().unwrap())
        .map(|e| e["entityType"].as_str().unwrap())
        .collect();
    for kind in ["File", "Process", "User", "Ip", "Url"] {
        assert!(kinds.contains(kind), "{kind} entities in {kinds:?}");
    }
}

#[tokio::test]
async fn every_alert_names_an_incident_that_holds_it() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let incidents = all_incidents(&app, &token).await;
    let held: BTreeMap<String, i64> = incidents
        .iter()
        .flat_map(|i| {
            alerts_of(i)
                .iter()
                .map(move |a| (a["alertId"].as_str().unwrap().to_string(), id_of(i)))
        })
        .collect();
    let alerts = all_alerts(&app, &token).await;
    assert_eq!(held.len(), alerts.len(), "every alert is in exactly one incident");
    for alert in &alerts {
        let id = alert["incidentId"].as_i64().expect("an incident id");
        assert_eq!(held.get(alert["id"].as_str().unwrap()), Some(&id));
    }
    let one = incident(&app, &token, id_of(&incidents[0])).await;
    assert_eq!(
        one["@odata.context"],
        format!("{}/api/$metadata#Incidents/$entity", app.http)
    );
    let mut expected = vec!["@odata.context"];
    expected.extend_from_slice(INCIDENT_PROPERTIES);
    assert_eq!(keys(&one), expected);
    assert_eq!(one["alerts"], incidents[0]["alerts"]);
}

// ---- OData ------------------------------------------------------------------------------------

#[tokio::test]
async fn documented_odata_options_filter_page_and_link_on_the_callers_origin() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let all = all_incidents(&app, &token).await;

    let first = app.get_ok("/api/incidents?$top=2", &token).await;
    assert_eq!(values(&first).len(), 2);
    let next = first["@odata.nextLink"].as_str().unwrap();
    assert!(next.starts_with(&format!("{}/api/incidents?", app.http)), "{next}");
    assert!(next.contains("$top=2") && next.contains("$skip=2"), "{next}");
    let second = app.get_ok(next.strip_prefix(&app.http).unwrap(), &token).await;
    assert_eq!(values(&second)[0], all[2]);

    let skipped = app.get_ok("/api/incidents?$skip=3&$top=1", &token).await;
    assert_eq!(values(&skipped)[0], all[3]);

    let active = app.get_ok("/api/incidents?$filter=status eq 'Active'", &token).await;
    let expected = all.iter().filter(|i| i["status"] == "Active").count();
    assert!(expected > 0);
    assert_eq!(values(&active).len(), expected);

    let since = all[2]["createdTime"].as_str().unwrap();
    let recent = app
        .get_ok(&format!("/api/incidents?$filter=createdTime ge {since}"), &token)
        .await;
    assert_eq!(values(&recent).len(), 3);

    // Microsoft's own sample: `+` for spaces.
    let updated = app
        .get_ok("/api/incidents?$filter=lastUpdateTime+ge+2019-01-01T00:00:00Z", &token)
        .await;
    assert_eq!(values(&updated).len(), all.len());

    let id = id_of(&all[0]);
    patch_incident(&app, &token, id, json!({"assignedTo": "secop2@contoso.com"})).await;
    let mine = app
        .get_ok(
            "/api/incidents?$filter=assignedTo eq 'secop2@contoso.com' and status ne 'Resolved'",
            &token,
        )
        .await;
    assert_eq!(values(&mine).len(), 1);
    assert_eq!(id_of(&values(&mine)[0]), id);
}

#[tokio::test]
async fn undocumented_filters_and_pages_over_100_are_odata_errors() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let response = app.get("/api/incidents?$filter=severity eq 'High'", &token).await;
    expect_error(
        &app,
        response,
        400,
        "ODataError",
        &["severity", "assignedTo", "createdTime", "lastUpdateTime", "status"],
    )
    .await;
    let response = app.get("/api/incidents?$top=101", &token).await;
    expect_error(&app, response, 400, "ODataError", &["101", "100"]).await;
    let response = app.get("/api/incidents?$filter=status eq 'Closed'", &token).await;
    expect_error(&app, response, 400, "ODataError", &["Closed", "Redirected"]).await;
    let response = app
        .get("/api/incidents?$filter=createdTime ge 'yesterday'", &token)
        .await;
    expect_error(&app, response, 400, "ODataError", &["createdTime"]).await;
    // The documented maximum is accepted.
    assert_eq!(app.get("/api/incidents?$top=100", &token).await.status(), 200);
}

#[tokio::test]
async fn a_page_holds_at_most_100_incidents_without_top() {
    let app = TestApp::spawn().await;
    let (tenant, client, secret) = app.create_tenant(None, false).await;
    let token = app.token_for(&tenant, &client, &secret).await;
    // 105 alerts on machines never seen together: 105 incidents.
    let now = app.frozen_now().await;
    let alerts: Vec<Value> = (0..105)
        .map(|n| {
            json!({
                "id": format!("da0000000000000000_{n}"), "incidentId": 7000 + n, "investigationId": null,
                "assignedTo": null, "severity": "Low", "status": "New", "classification": null,
                "determination": null, "investigationState": null, "detectionSource": "EDR",
                "detectorId": null, "category": "Execution", "threatFamilyName": null, "title": "t",
                "description": "d", "alertCreationTime": iso(now - chrono::TimeDelta::minutes(n)),
                "firstEventTime": null, "lastEventTime": null,
                "lastUpdateTime": iso(now - chrono::TimeDelta::minutes(n)), "resolvedTime": null,
                "machineId": format!("{n:040x}"), "computerDnsName": "m", "rbacGroupName": null,
                "aadTenantId": tenant, "threatName": null, "mitreTechniques": [], "relatedUser": null,
                "comments": [], "evidence": []
            })
        })
        .collect();
    let response = app
        .admin_post(&format!("/_palisade/tenants/{tenant}/data"), json!({"alerts": alerts}))
        .await;
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    let body = app.get_ok("/api/incidents", &token).await;
    assert_eq!(values(&body).len(), 100);
    assert!(body["@odata.nextLink"].as_str().unwrap().ends_with("$skip=100"));
    assert_eq!(id_of(&values(&body)[0]), 7000, "the most recent first");
    let rest = app.get_ok("/api/incidents?$skip=100", &token).await;
    assert_eq!(values(&rest).len(), 5);
    assert!(rest.get("@odata.nextLink").is_none());
    // An alert without a machine: no device, and still an incident.
    assert!(alerts_of(&values(&rest)[0])[0]["devices"]
        .as_array()
        .unwrap()
        .is_empty());
}

// ---- get, roles, not found ---------------------------------------------------------------------

#[tokio::test]
async fn unknown_and_malformed_ids_and_missing_roles() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let response = app.get("/api/incidents/987654321", &token).await;
    expect_error(
        &app,
        response,
        404,
        "ResourceNotFound",
        &["Incident 987654321 was not found"],
    )
    .await;
    let response = app
        .patch("/api/incidents/987654321", &token, r#"{"status":"Resolved"}"#)
        .await;
    expect_error(
        &app,
        response,
        404,
        "ResourceNotFound",
        &["Incident 987654321 was not found"],
    )
    .await;
    let response = app.get("/api/incidents/abc", &token).await;
    expect_error(&app, response, 400, "InvalidInput", &["'abc'"]).await;

    let alerts_only = app.mint(json!({"roles": ["Alert.ReadWrite.All"]})).await;
    let response = app.get("/api/incidents", &alerts_only).await;
    expect_error(&app, response, 403, "Forbidden", &["Incident.Read.All"]).await;
    let id = id_of(&values(&app.get_ok("/api/incidents?$top=1", &token).await)[0]);
    let response = app.get(&format!("/api/incidents/{id}"), &alerts_only).await;
    expect_error(&app, response, 403, "Forbidden", &["Incident.Read.All"]).await;

    let reader = app.mint(json!({"roles": ["Incident.Read.All"]})).await;
    assert_eq!(app.get(&format!("/api/incidents/{id}"), &reader).await.status(), 200);
    let response = app
        .patch(&format!("/api/incidents/{id}"), &reader, r#"{"status":"Resolved"}"#)
        .await;
    expect_error(&app, response, 403, "Forbidden", &["Incident.ReadWrite.All"]).await;
    let writer = app.mint(json!({"roles": ["Incident.ReadWrite.All"]})).await;
    assert_eq!(app.get("/api/incidents", &writer).await.status(), 200);

    // Another tenant's incident does not exist for this one.
    let (tenant, client, secret) = app.create_tenant(None, false).await;
    let other = app.token_for(&tenant, &client, &secret).await;
    let response = app.get(&format!("/api/incidents/{id}"), &other).await;
    expect_error(
        &app,
        response,
        404,
        "ResourceNotFound",
        &[&format!("Incident {id} was not found")],
    )
    .await;
}

// ---- update -----------------------------------------------------------------------------------

#[tokio::test]
async fn the_documented_update_body_resolves_the_incident_and_its_alerts() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let before = incident_where(&app, &token, |i| {
        i["status"] == "Active" && alerts_of(i).iter().filter(|a| a["status"] != "Resolved").count() >= 2
    })
    .await;
    let id = id_of(&before);
    app.freeze_clock().await;
    app.advance_clock(90.0).await;
    let now = app.frozen_now().await;
    let body = json!({
        "status": "Resolved",
        "assignedTo": "secop2@contoso.com",
        "classification": "TruePositive",
        "determination": "Malware",
        "tags": ["Yossi's playground", "Don't mess with the Zohan"],
        "comment": "pen testing"
    });
    let updated = patch_incident(&app, &token, id, body).await;
    assert_eq!(
        updated["@odata.context"],
        format!("{}/api/$metadata#Incidents/$entity", app.http)
    );
    assert_eq!(updated["status"], "Resolved");
    assert_eq!(updated["assignedTo"], "secop2@contoso.com");
    assert_eq!(updated["classification"], "TruePositive");
    assert_eq!(updated["determination"], "Malware");
    assert_eq!(
        updated["tags"],
        json!(["Yossi's playground", "Don't mess with the Zohan"])
    );
    let comments = updated["comments"].as_array().unwrap();
    assert_eq!(comments.len(), 1);
    assert_eq!(keys(&comments[0]), ["comment", "createdBy", "createdTime"]);
    assert_eq!(comments[0]["comment"], "pen testing");
    assert_eq!(comments[0]["createdBy"], CLIENT_ID);
    let moved: chrono::DateTime<chrono::Utc> = updated["lastUpdateTime"].as_str().unwrap().parse().unwrap();
    assert_eq!(moved, now);
    assert!(seven_digits(&updated["lastUpdateTime"]));
    // One truth: its alerts are resolved, as MDE reads them.
    for alert in alerts_of(&updated) {
        assert_eq!(alert["status"], "Resolved");
        let mde = app
            .get_ok(&format!("/api/alerts/{}", alert["alertId"].as_str().unwrap()), &token)
            .await;
        assert_eq!(mde["status"], "Resolved");
        assert!(mde["resolvedTime"].is_string());
    }
    // The next update appends a comment and replaces the tags.
    let again = patch_incident(&app, &token, id, json!({"comment": "second", "tags": ["only"]})).await;
    assert_eq!(again["comments"].as_array().unwrap().len(), 2);
    assert_eq!(again["comments"][1]["comment"], "second");
    assert_eq!(again["tags"], json!(["only"]));
    // `""` unassigns, as a production client sends it.
    let unassigned = patch_incident(&app, &token, id, json!({"assignedTo": ""})).await;
    assert_eq!(unassigned["assignedTo"], Value::Null);
    assert_eq!(incident(&app, &token, id).await["tags"], json!(["only"]));
}

#[tokio::test]
async fn every_enum_spelling_of_the_pages_is_accepted_with_its_classification() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let id = id_of(&values(&app.get_ok("/api/incidents?$top=1", &token).await)[0]);
    for (classification, determination) in [
        ("TruePositive", "MultiStagedAttack"),
        ("TruePositive", "MaliciousUserActivity"),
        ("TruePositive", "CompromisedAccount"),
        ("TruePositive", "CompromisedUser"),
        ("TruePositive", "Phishing"),
        ("TruePositive", "UnwantedSoftware"),
        ("TruePositive", "Apt"),
        ("InformationalExpectedActivity", "SecurityTesting"),
        ("InformationalExpectedActivity", "LineOfBusinessApplication"),
        ("InformationalExpectedActivity", "ConfirmedActivity"),
        ("InformationalExpectedActivity", "ConfirmedUserActivity"),
        ("InformationalExpectedActivity", "SecurityPersonnel"),
        ("FalsePositive", "Clean"),
        ("FalsePositive", "NoEnoughDataToValidate"),
        ("FalsePositive", "NotEnoughDataToValidate"),
        ("FalsePositive", "InsufficientData"),
        ("FalsePositive", "Other"),
    ] {
        let updated = patch_incident(
            &app,
            &token,
            id,
            json!({"classification": classification, "determination": determination}),
        )
        .await;
        assert_eq!(updated["classification"], classification);
        assert_eq!(updated["determination"], determination, "kept as sent");
    }
    for status in ["InProgress", "Active", "Resolved", "active"] {
        let updated = patch_incident(&app, &token, id, json!({"status": status})).await;
        assert!(updated["status"].as_str().unwrap().eq_ignore_ascii_case(status));
    }
    // A new classification drops a determination that no longer fits.
    patch_incident(
        &app,
        &token,
        id,
        json!({"classification": "TruePositive", "determination": "Malware"}),
    )
    .await;
    let changed = patch_incident(&app, &token, id, json!({"classification": "FalsePositive"})).await;
    assert_eq!(changed["determination"], "NotAvailable");
    // ... and keeps one that does.
    patch_incident(&app, &token, id, json!({"determination": "Other"})).await;
    let kept = patch_incident(&app, &token, id, json!({"classification": "TruePositive"})).await;
    assert_eq!(kept["determination"], "Other");
}

#[tokio::test]
async fn bad_update_bodies_name_what_is_wrong() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let id = id_of(&values(&app.get_ok("/api/incidents?$top=1", &token).await)[0]);
    let path = format!("/api/incidents/{id}");
    let before = incident(&app, &token, id).await;

    let cases: &[(&str, u16, &str, &[&str])] = &[
        (
            r#"{"status":"Closed"}"#,
            400,
            "InvalidInput",
            &["status 'Closed'", "Active, InProgress, Resolved"],
        ),
        (
            r#"{"status":"Redirected"}"#,
            400,
            "InvalidInput",
            &["Redirected", "merge"],
        ),
        (
            r#"{"classification":"Maybe"}"#,
            400,
            "InvalidInput",
            &["classification 'Maybe'", "TruePositive"],
        ),
        (
            r#"{"determination":"Malware"}"#,
            400,
            "InvalidInput",
            &["determination 'Malware'", "classification 'Unknown'"],
        ),
        (
            r#"{"classification":"FalsePositive","determination":"Malware"}"#,
            400,
            "InvalidInput",
            &["determination 'Malware'", "FalsePositive", "NoEnoughDataToValidate"],
        ),
        (r#"{"comment":"  "}"#, 400, "InvalidInput", &["comment"]),
        (r#"{"tags":"one"}"#, 400, "InvalidRequestBody", &["tags"]),
        (
            r#"{"Status":"Resolved"}"#,
            400,
            "InvalidRequestBody",
            &["Status", "status"],
        ),
        (r#"{"status":"Resolved""#, 400, "InvalidRequestBody", &[]),
        (r#"[]"#, 400, "InvalidRequestBody", &[]),
    ];
    for (body, status, code, mentions) in cases {
        let response = app.patch(&path, &token, body).await;
        expect_error(&app, response, *status, code, mentions).await;
    }
    // Nothing of the refused bodies was written.
    assert_eq!(incident(&app, &token, id).await, before);
}

// ---- one truth with MDE --------------------------------------------------------------------------

#[tokio::test]
async fn an_incident_whose_alerts_are_all_resolved_reads_as_resolved_and_reopens_with_them() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let before = incident_where(&app, &token, |i| {
        i["status"] == "Active" && alerts_of(i).iter().any(|a| a["status"] != "Resolved")
    })
    .await;
    let id = id_of(&before);
    let alert_ids: Vec<String> = alerts_of(&before)
        .iter()
        .map(|a| a["alertId"].as_str().unwrap().to_string())
        .collect();
    app.freeze_clock().await;
    app.advance_clock(60.0).await;
    let body = json!({"alertIds": alert_ids, "status": "Resolved"});
    let response = app.post("/api/alerts/batchUpdate", &token, &body.to_string()).await;
    assert_eq!(response.status(), 200);
    let resolved = incident(&app, &token, id).await;
    assert_eq!(resolved["status"], "Resolved");
    assert_ne!(
        resolved["lastUpdateTime"], before["lastUpdateTime"],
        "alert changes move it"
    );
    let listed = app.get_ok("/api/incidents?$filter=status eq 'Resolved'", &token).await;
    assert!(
        values(&listed).iter().any(|i| id_of(i) == id),
        "the status column follows"
    );
    // A SIEM polling by lastUpdateTime sees exactly the incident whose alerts changed.
    let since = iso(app.frozen_now().await);
    let polled = app
        .get_ok(&format!("/api/incidents?$filter=lastUpdateTime ge {since}"), &token)
        .await;
    assert_eq!(values(&polled).iter().map(id_of).collect::<Vec<_>>(), [id]);

    // One alert reopens: the incident is active again.
    let response = app
        .patch(
            &format!("/api/alerts/{}", alert_ids[0]),
            &token,
            r#"{"status":"InProgress"}"#,
        )
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(incident(&app, &token, id).await["status"], "Active");

    // Resolving the incident resolves that alert; reactivating it reopens them all.
    patch_incident(&app, &token, id, json!({"status": "Resolved"})).await;
    let alert = app.get_ok(&format!("/api/alerts/{}", alert_ids[0]), &token).await;
    assert_eq!(alert["status"], "Resolved");
    let reopened = patch_incident(&app, &token, id, json!({"status": "InProgress"})).await;
    assert_eq!(reopened["status"], "InProgress");
    for alert_id in &alert_ids {
        let alert = app.get_ok(&format!("/api/alerts/{alert_id}"), &token).await;
        assert_eq!(alert["status"], "InProgress");
        assert_eq!(alert["resolvedTime"], Value::Null);
    }
}

#[tokio::test]
async fn alerts_created_by_reference_join_an_open_incident_on_their_machine_or_open_one() {
    let app = TestApp::spawn().await;
    let mut token = app.token().await;
    let now = app.frozen_now().await;
    // A machine with no demo alert in the last day: the first alert opens an incident.
    let machine = values(&app.get_ok("/api/machines?$top=1&$skip=35", &token).await)[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let before: BTreeSet<i64> = all_incidents(&app, &token).await.iter().map(id_of).collect();
    let create = |title: &str, at: chrono::DateTime<chrono::Utc>| {
        reference_body(&machine, &iso(at - chrono::TimeDelta::seconds(30)), title).to_string()
    };
    let first: Value = app
        .post("/api/alerts/CreateAlertByReference", &token, &create("First step", now))
        .await
        .json()
        .await
        .unwrap();
    let opened = first["incidentId"].as_i64().expect("the alert names its incident");
    assert!(!before.contains(&opened), "a new incident");
    let incident_now = incident(&app, &token, opened).await;
    assert_eq!(incident_now["status"], "Active");
    assert_eq!(incident_now["severity"], "Medium");
    assert_eq!(alerts_of(&incident_now).len(), 1);
    assert_eq!(alerts_of(&incident_now)[0]["alertId"], first["id"]);
    assert_eq!(incident_now["incidentName"], "First step on one endpoint");

    // An hour later on the same machine: joins it.
    app.advance_clock(3600.0).await;
    token = app.token().await; // the first one expired with the hour
    let second: Value = app
        .post(
            "/api/alerts/CreateAlertByReference",
            &token,
            &create("Second step", now + chrono::TimeDelta::hours(1)),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(second["incidentId"], opened);
    let grown = incident(&app, &token, opened).await;
    assert_eq!(alerts_of(&grown).len(), 2);
    assert!(grown["incidentName"]
        .as_str()
        .unwrap()
        .starts_with("Multi-stage incident"));

    // A resolved incident takes no new alerts: the next opens its own.
    patch_incident(&app, &token, opened, json!({"status": "Resolved"})).await;
    let third: Value = app
        .post(
            "/api/alerts/CreateAlertByReference",
            &token,
            &create("Third step", now + chrono::TimeDelta::hours(1)),
        )
        .await
        .json()
        .await
        .unwrap();
    let third_incident = third["incidentId"].as_i64().unwrap();
    assert_ne!(third_incident, opened);

    // More than a day later: a new incident too.
    app.advance_clock(25.0 * 3600.0).await;
    token = app.token().await;
    let fourth: Value = app
        .post(
            "/api/alerts/CreateAlertByReference",
            &token,
            &create("Fourth step", now + chrono::TimeDelta::hours(26)),
        )
        .await
        .json()
        .await
        .unwrap();
    let fourth_incident = fourth["incidentId"].as_i64().unwrap();
    assert!(![opened, third_incident].contains(&fourth_incident));
    assert_eq!(alerts_of(&incident(&app, &token, fourth_incident).await).len(), 1);
}

#[tokio::test]
async fn merging_redirects_an_incident_and_moves_its_alerts() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let incidents = all_incidents(&app, &token).await;
    let (source, target) = (&incidents[0], &incidents[1]);
    let (source_id, target_id) = (id_of(source), id_of(target));
    let merge = |id: i64| format!("/_palisade/tenants/{TENANT}/incidents/{id}/merge");

    let response = app.admin_post(&merge(source_id), json!({"into": target_id})).await;
    assert_eq!(response.status(), 200);
    let merged: Value = response.json().await.unwrap();
    assert_eq!(id_of(&merged), target_id);
    assert_eq!(
        alerts_of(&merged).len(),
        alerts_of(source).len() + alerts_of(target).len()
    );
    let redirected = incident(&app, &token, source_id).await;
    assert_eq!(redirected["status"], "Redirected");
    assert_eq!(redirected["redirectIncidentId"], target_id);
    assert!(alerts_of(&redirected).is_empty());
    for alert in alerts_of(source) {
        let mde = app
            .get_ok(&format!("/api/alerts/{}", alert["alertId"].as_str().unwrap()), &token)
            .await;
        assert_eq!(mde["incidentId"], target_id);
    }
    let listed = app
        .get_ok("/api/incidents?$filter=status eq 'Redirected'", &token)
        .await;
    assert_eq!(values(&listed).len(), 1);
    // A redirected incident's status is its merge.
    let response = app
        .patch(&format!("/api/incidents/{source_id}"), &token, r#"{"status":"Active"}"#)
        .await;
    expect_error(
        &app,
        response,
        400,
        "InvalidInput",
        &[&format!("merged into incident {target_id}")],
    )
    .await;

    let response = app.admin_post(&merge(source_id), json!({"into": target_id})).await;
    expect_error(&app, response, 400, "InvalidInput", &["already merged"]).await;
    let response = app.admin_post(&merge(target_id), json!({"into": target_id})).await;
    expect_error(&app, response, 400, "InvalidInput", &["itself"]).await;
    let response = app.admin_post(&merge(target_id), json!({"into": 424242})).await;
    expect_error(
        &app,
        response,
        404,
        "ResourceNotFound",
        &["Incident 424242 was not found"],
    )
    .await;
    let response = app.admin_post(&merge(target_id), json!({})).await;
    expect_error(&app, response, 400, "MissingRequiredParameter", &["into"]).await;
}

#[tokio::test]
async fn the_data_loader_takes_and_gives_incidents_and_derives_missing_ones() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let exported = app
        .get_json(&format!("{}/_palisade/tenants/{TENANT}/export", app.http))
        .await;
    let stored = exported["incidents"].as_array().unwrap();
    assert_eq!(stored.len(), all_incidents(&app, &token).await.len());
    assert!(stored[0].get("alerts").is_none(), "alerts travel as alerts");

    let (tenant, client, secret) = app.create_tenant(None, false).await;
    let other = app.token_for(&tenant, &client, &secret).await;
    let mut alerts = exported["alerts"].as_array().unwrap().clone();
    for alert in &mut alerts {
        alert["aadTenantId"] = json!(tenant);
    }
    // Round trip: the incidents come back as they were.
    let document = json!({"machines": exported["machines"], "alerts": alerts, "incidents": stored});
    let response = app
        .admin_post(&format!("/_palisade/tenants/{tenant}/data"), document)
        .await;
    assert_eq!(response.status(), 200);
    let counts: Value = response.json().await.unwrap();
    assert_eq!(counts["incidents"], stored.len());
    let again = app
        .get_json(&format!("{}/_palisade/tenants/{tenant}/export", app.http))
        .await;
    assert_eq!(&again["incidents"], &exported["incidents"]);
    assert_eq!(all_incidents(&app, &other).await.len(), stored.len());

    // Alerts naming an unknown incident get it derived; alerts without one are grouped.
    let (tenant, client, secret) = app.create_tenant(None, false).await;
    let third = app.token_for(&tenant, &client, &secret).await;
    let mut loose = alerts[..3].to_vec();
    loose[0]["incidentId"] = json!(880001);
    loose[1]["incidentId"] = Value::Null;
    loose[2]["incidentId"] = Value::Null;
    loose[2]["machineId"] = loose[1]["machineId"].clone();
    loose[2]["alertCreationTime"] = loose[1]["alertCreationTime"].clone();
    let response = app
        .admin_post(&format!("/_palisade/tenants/{tenant}/data"), json!({"alerts": loose}))
        .await;
    assert_eq!(response.status(), 200);
    let derived = incident(&app, &third, 880001).await;
    assert_eq!(alerts_of(&derived).len(), 1);
    assert_eq!(derived["classification"], "Unknown");
    let listed = all_incidents(&app, &third).await;
    assert_eq!(
        listed.len(),
        2,
        "the two unfiled alerts share a machine and a time: one incident"
    );
    let grouped = listed.iter().find(|i| id_of(i) != 880001).unwrap();
    assert_eq!(alerts_of(grouped).len(), 2);
    assert!(id_of(grouped) > 880001, "fresh ids stay clear of loaded ones");

    let bad = json!({"incidents": [{"incidentId": "x"}]});
    let response = app.admin_post(&format!("/_palisade/tenants/{tenant}/data"), bad).await;
    expect_error(
        &app,
        response,
        400,
        "InvalidRequestBody",
        &["incidents[0]", "incidentId"],
    )
    .await;
}

// ---- limits -----------------------------------------------------------------------------------

#[tokio::test]
async fn listing_and_updating_allow_fifty_calls_a_minute() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    app.freeze_clock().await;
    let id = id_of(&values(&app.get_ok("/api/incidents?$top=1", &token).await)[0]);
    for _ in 1..50 {
        assert_eq!(app.get("/api/incidents?$top=1", &token).await.status(), 200);
    }
    let response = app.get("/api/incidents?$top=1", &token).await;
    expect_error(
        &app,
        response,
        429,
        "TooManyRequests",
        &["maximum allowed 50 per 00:01:00"],
    )
    .await;
    // Get incident has its own page's limit (100/minute): still admitted.
    assert_eq!(app.get(&format!("/api/incidents/{id}"), &token).await.status(), 200);
    for _ in 0..50 {
        let response = app
            .patch(&format!("/api/incidents/{id}"), &token, r#"{"tags":["x"]}"#)
            .await;
        assert_eq!(response.status(), 200);
    }
    let response = app
        .patch(&format!("/api/incidents/{id}"), &token, r#"{"tags":["x"]}"#)
        .await;
    expect_error(
        &app,
        response,
        429,
        "TooManyRequests",
        &["maximum allowed 50 per 00:01:00"],
    )
    .await;
}

// ---- the request journal ------------------------------------------------------------------------

#[tokio::test]
async fn the_request_journal_records_incident_calls_with_their_route_and_body() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let id = id_of(&values(&app.get_ok("/api/incidents?$top=1", &token).await)[0]);
    let body = r#"{"comment":"seen by the journal"}"#;
    let response = app.patch(&format!("/API/Incidents/{id}"), &token, body).await;
    assert_eq!(response.status(), 200);
    app.get("/api/incidents/0", &token).await;
    let journal = |query: String| {
        let app = &app;
        async move {
            let body = app.get_json(&format!("{}/_palisade/requests?{query}", app.http)).await;
            body["value"].as_array().unwrap().clone()
        }
    };
    let calls = journal(format!("method=PATCH&path=/api/incidents/{id}")).await;
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0]["route"], "/api/incidents/{id}");
    assert_eq!(calls[0]["status"], 200);
    assert_eq!(calls[0]["body"], body);
    assert_eq!(calls[0]["clientId"], CLIENT_ID);
    let missing = journal("path=/api/incidents/0".to_string()).await;
    assert_eq!(missing.len(), 1);
    assert_eq!(missing[0]["errorCode"], "ResourceNotFound");
    assert_eq!(journal("method=GET&path=/api/incidents".to_string()).await.len(), 1);
}
