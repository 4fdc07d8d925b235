//! Investigations (`shared/reference/mde-api.md` §10): the list with OData and `$count`, one by
//! investigation id or by triggering alert id, roles and not-found.

use palisade_testkit::*;
use serde_json::json;

const INVESTIGATION_PROPERTIES: &[&str] = &[
    "id",
    "startTime",
    "endTime",
    "cancelledBy",
    "state",
    "statusDetails",
    "machineId",
    "computerDnsName",
    "triggeringAlertId",
];

#[tokio::test]
async fn list_count_and_odata() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let body = app.get_ok("/api/investigations", &token).await;
    assert_eq!(
        body["@odata.context"],
        format!("{}/api/$metadata#Investigations", app.http)
    );
    let all = values(&body);
    assert!(!all.is_empty(), "High demo alerts triggered investigations");
    for inv in all {
        let keys: Vec<&str> = inv.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, INVESTIGATION_PROPERTIES);
        assert!(inv["id"].as_str().unwrap().parse::<u64>().is_ok(), "numeric string id");
    }
    let response = app.get("/api/investigations/$count", &token).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), all.len().to_string());

    let state = all[0]["state"].as_str().unwrap();
    let same_state = all.iter().filter(|i| i["state"] == state).count();
    let body = app
        .get_ok(&format!("/api/investigations?$filter=state eq '{state}'"), &token)
        .await;
    assert_eq!(values(&body).len(), same_state);
    let response = app
        .get(
            &format!("/api/investigations/$count?$filter=state eq '{state}'"),
            &token,
        )
        .await;
    assert_eq!(response.text().await.unwrap(), same_state.to_string());
    let machine = all[0]["machineId"].as_str().unwrap();
    let body = app
        .get_ok(
            &format!(
                "/api/investigations?$filter=machineId eq '{machine}' and startTime ge 2019-01-01T00:00:00Z&$top=1"
            ),
            &token,
        )
        .await;
    assert_eq!(values(&body)[0]["machineId"], machine);
    let alert = all[0]["triggeringAlertId"].as_str().unwrap();
    let body = app
        .get_ok(
            &format!("/api/investigations?$filter=triggeringAlertId eq '{alert}'"),
            &token,
        )
        .await;
    assert_eq!(values(&body).len(), 1);

    let response = app.get("/api/investigations?$filter=colour eq 'x'", &token).await;
    expect_error(&app, response, 400, "ODataError", &["colour"]).await;
    let response = app.get("/api/investigations?$expand=evidence", &token).await;
    expect_error(&app, response, 400, "ODataError", &["evidence"]).await;
}

#[tokio::test]
async fn get_by_investigation_id_or_triggering_alert_id() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let first = values(&app.get_ok("/api/investigations?$top=1", &token).await)[0].clone();
    let id = first["id"].as_str().unwrap();
    let alert_id = first["triggeringAlertId"].as_str().unwrap();
    for key in [id, alert_id] {
        let inv = app.get_ok(&format!("/api/investigations/{key}"), &token).await;
        assert_eq!(
            inv["@odata.context"],
            format!("{}/api/$metadata#Investigations/$entity", app.http)
        );
        assert_eq!(inv["id"], id);
    }
    // The triggering alert points back at it.
    let alert = app.get_ok(&format!("/api/alerts/{alert_id}"), &token).await;
    assert_eq!(alert["investigationId"].to_string(), id);
    let response = app.get("/api/investigations/999999", &token).await;
    expect_error(
        &app,
        response,
        404,
        "ResourceNotFound",
        &["Investigation 999999 was not found"],
    )
    .await;
}

#[tokio::test]
async fn investigations_need_an_alert_role_and_are_per_tenant() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let none = app.mint(json!({"roles": ["Machine.ReadWrite.All"]})).await;
    for path in [
        "/api/investigations",
        "/api/investigations/$count",
        "/api/investigations/5000",
    ] {
        let response = app.get(path, &none).await;
        expect_error(&app, response, 403, "Forbidden", &["Alert.Read.All"]).await;
    }
    let read = app.mint(json!({"roles": ["Alert.Read.All"]})).await;
    app.get_ok("/api/investigations", &read).await;
    let id = values(&app.get_ok("/api/investigations?$top=1", &token).await)[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (tenant, client, secret) = app.create_tenant(None, false).await;
    let other = app.token_for(&tenant, &client, &secret).await;
    assert_eq!(app.get_ok("/api/investigations", &other).await["value"], json!([]));
    let response = app.get(&format!("/api/investigations/{id}"), &other).await;
    expect_error(&app, response, 404, "ResourceNotFound", &[&id]).await;
}
