//! Point 4: the error journal and its trace.

use palisade_testkit::*;
use reqwest::Method;
use serde_json::Value;

#[tokio::test]
async fn trace_tells_the_whole_story() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let response = app.get("/api/machines/ghost?x=1", &token).await;
    let record = expect_error(&app, response, 404, "ResourceNotFound", &["ghost"]).await;
    assert_eq!(record["method"], "GET");
    assert_eq!(record["path"], "/api/machines/ghost?x=1");
    assert_eq!(record["tenantId"], TENANT);
    assert_eq!(record["appId"], CLIENT_ID);
    assert!(record["time"].as_str().unwrap().ends_with('Z'));
    assert!(!record["cause"].as_str().unwrap().is_empty());
}

#[tokio::test]
async fn unknown_target_is_resource_not_found() {
    let app = TestApp::spawn().await;
    let response = app
        .call(
            Method::GET,
            "/_palisade/errors/00000000-0000-4000-8000-000000000000",
            None,
            None,
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
}

#[tokio::test]
async fn journal_is_bounded_dropping_the_oldest() {
    let app = TestApp::spawn_with(|c| c.journal_capacity = 3).await;
    let mut targets = Vec::new();
    for _ in 0..5 {
        let body: Value = app
            .call(Method::GET, "/api/machines", None, None)
            .await
            .json()
            .await
            .unwrap();
        targets.push(body["error"]["target"].as_str().unwrap().to_string());
    }
    // Present ones first: a lookup that misses is itself an error response, journaled in turn.
    for target in &targets[2..] {
        assert!(app.trace(target).await.is_some(), "{target}");
    }
    assert!(app.trace(&targets[0]).await.is_none());
    assert!(app.trace(&targets[1]).await.is_none());
}

#[tokio::test]
async fn successful_responses_carry_a_request_id_too() {
    let app = TestApp::spawn().await;
    let response = app.call(Method::GET, "/_palisade/health", None, None).await;
    assert_eq!(response.status(), 200);
    assert!(uuid_like(response.headers()["x-ms-request-id"].to_str().unwrap()));
}
