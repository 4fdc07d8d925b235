//! The emulator clock's admin API and tenant feature switches.

use palisade_testkit::*;
use serde_json::json;

#[tokio::test]
async fn clock_can_be_frozen_advanced_set_and_reset() {
    let app = TestApp::spawn().await;
    let frozen = app.freeze_clock().await;
    assert_eq!(frozen["frozen"], true);
    let before = chrono::DateTime::parse_from_rfc3339(frozen["now"].as_str().unwrap()).unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let advanced = app.advance_clock(3600.0).await;
    let after = chrono::DateTime::parse_from_rfc3339(advanced["now"].as_str().unwrap()).unwrap();
    assert_eq!(
        (after - before).num_milliseconds(),
        3_600_000,
        "frozen time moves only when advanced"
    );
    let set = app
        .admin_post("/_palisade/clock", json!({"set": "2030-01-02T03:04:05Z"}))
        .await;
    let set: serde_json::Value = set.json().await.unwrap();
    assert_eq!(set["now"], "2030-01-02T03:04:05.0000000Z");
    let reset = app.admin_post("/_palisade/clock", json!({"reset": true})).await;
    let reset: serde_json::Value = reset.json().await.unwrap();
    assert_eq!(reset["frozen"], false);
    assert!(reset["offsetSeconds"].as_f64().unwrap().abs() < 2.0);
    let bad = app.admin_post("/_palisade/clock", json!({"set": "tomorrow"})).await;
    expect_error(&app, bad, 400, "InvalidInput", &["tomorrow"]).await;
}

#[tokio::test]
async fn token_expiry_follows_the_emulator_clock() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    app.get_ok("/api/machines?$top=1", &token).await;
    app.advance_clock(3600.0).await;
    let response = app.get("/api/machines?$top=1", &token).await;
    expect_error(&app, response, 401, "Unauthorized", &["expired"]).await;
}

#[tokio::test]
async fn tenant_features_are_switched_and_validated() {
    let app = TestApp::spawn().await;
    let features = app.set_features(TENANT, json!({"liveResponse": false})).await;
    assert_eq!(features["liveResponse"], false);
    assert_eq!(features["customNetworkIndicators"], true);
    let response = app
        .client
        .patch(format!("{}/_palisade/tenants/{TENANT}/features", app.http))
        .json(&json!({"liveResponce": false}))
        .send()
        .await
        .unwrap();
    expect_error(&app, response, 400, "InvalidInput", &["liveResponce", "liveResponse"]).await;
    let unknown = app
        .client
        .get(format!("{}/_palisade/tenants/nope/features", app.http))
        .send()
        .await
        .unwrap();
    expect_error(&app, unknown, 404, "ResourceNotFound", &["nope"]).await;
}
