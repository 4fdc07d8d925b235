//! Point 3 of the skeleton: the envelope everywhere, for every way a request can be wrong.

use palisade_testkit::*;
use reqwest::Method;

fn a_machine_path(suffix: &str) -> String {
    // Any machine works; the body is rejected before the machine is looked up.
    format!("/api/machines/desktop-01.contoso.local{suffix}")
}

#[tokio::test]
async fn unknown_route_is_not_found() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let response = app.get("/api/machinez", &token).await;
    let record = expect_error(&app, response, 404, "NotFound", &["/api/machinez"]).await;
    assert_eq!(record["cause"], "no route");
    let response = app.call(Method::GET, "/totally/unknown/path", None, None).await;
    expect_error(&app, response, 404, "NotFound", &["/totally/unknown/path"]).await;
}

#[tokio::test]
async fn unsupported_method_is_method_not_allowed_with_allow_header() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let response = app.call(Method::DELETE, "/api/machines", Some(&token), None).await;
    assert!(response.headers()["allow"].to_str().unwrap().contains("GET"));
    expect_error(&app, response, 405, "MethodNotAllowed", &["DELETE", "/api/machines"]).await;
}

#[tokio::test]
async fn body_that_is_not_json_is_invalid_request_body() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let response = app.post(&a_machine_path("/tags"), &token, "Value=VIP&Action=Add").await;
    expect_error(&app, response, 400, "InvalidRequestBody", &["not valid JSON"]).await;
    let response = app.post(&a_machine_path("/tags"), &token, "").await;
    expect_error(&app, response, 400, "InvalidRequestBody", &["empty", "Value, Action"]).await;
    let response = app.post(&a_machine_path("/tags"), &token, "[1,2]").await;
    expect_error(&app, response, 400, "InvalidRequestBody", &["JSON object", "an array"]).await;
}

#[tokio::test]
async fn property_of_the_wrong_type_is_invalid_request_body_naming_it() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let response = app
        .post(&a_machine_path("/tags"), &token, r#"{"Value": 42, "Action": "Add"}"#)
        .await;
    expect_error(&app, response, 400, "InvalidRequestBody", &["'Value'", "integer"]).await;
}

#[tokio::test]
async fn under_strict_bodies_an_unknown_property_is_invalid_request_body_listing_known_ones() {
    // By default it is ignored and recorded instead (`fidelity.rs`).
    let app = TestApp::spawn_with(|config| config.strict_bodies = true).await;
    let token = app.token().await;
    let response = app
        .post(
            &a_machine_path("/tags"),
            &token,
            r#"{"Value": "VIP", "Action": "Add", "Colour": "red"}"#,
        )
        .await;
    expect_error(
        &app,
        response,
        400,
        "InvalidRequestBody",
        &["'Colour'", "Value, Action"],
    )
    .await;
}

#[tokio::test]
async fn miscased_optional_or_duplicate_property_hints_at_the_right_casing() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    // Both spellings present: the exact one satisfies the requirement, the other is unknown.
    let response = app
        .post(
            &a_machine_path("/tags"),
            &token,
            r#"{"Value": "VIP", "Action": "Add", "action": "Add"}"#,
        )
        .await;
    expect_error(
        &app,
        response,
        400,
        "InvalidRequestBody",
        &["'action'", "did you mean 'Action'"],
    )
    .await;
}

#[tokio::test]
async fn missing_required_property_is_missing_required_parameter() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let response = app.post(&a_machine_path("/tags"), &token, r#"{"Value": "VIP"}"#).await;
    let record = expect_error(
        &app,
        response,
        400,
        "MissingRequiredParameter",
        &["Parameter Action is missing"],
    )
    .await;
    assert_eq!(record["cause"], "required parameter Action");
}

#[tokio::test]
async fn required_property_in_the_wrong_case_is_missing_required_parameter_for_the_documented_name() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let response = app
        .post(&a_machine_path("/setDeviceValue"), &token, r#"{"deviceValue": "High"}"#)
        .await;
    expect_error(
        &app,
        response,
        400,
        "MissingRequiredParameter",
        &["DeviceValue", "'deviceValue'", "case-sensitive"],
    )
    .await;
}

#[tokio::test]
async fn oversized_body_is_payload_too_large() {
    let app = TestApp::spawn_with(|c| c.max_body_bytes = 1024).await;
    let token = app.token().await;
    let big = format!(r#"{{"Value": "{}", "Action": "Add"}}"#, "x".repeat(4096));
    let response = app.post(&a_machine_path("/tags"), &token, &big).await;
    expect_error(&app, response, 413, "PayloadTooLarge", &["1024 bytes"]).await;
}

#[tokio::test]
async fn a_panicking_handler_answers_internal_server_error_and_the_server_keeps_serving() {
    let app = TestApp::spawn().await;
    let response = app.call(Method::POST, "/_palisade/debug/panic", None, None).await;
    let record = expect_error(&app, response, 500, "InternalServerError", &[]).await;
    assert!(
        record["cause"].as_str().unwrap().contains("deliberate panic"),
        "{record}"
    );
    // The envelope never leaks the cause.
    let again = app.call(Method::POST, "/_palisade/debug/panic", None, None).await;
    let text = again.text().await.unwrap();
    assert!(!text.contains("deliberate"), "{text}");
    let token = app.token().await;
    assert_eq!(app.get("/api/machines", &token).await.status(), 200);
}

#[tokio::test]
async fn bad_percent_encoding_in_a_path_is_an_envelope() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let response = app.get("/api/machines/%FF%FE", &token).await;
    expect_error(&app, response, 400, "BadRequest", &["Invalid path"]).await;
}

#[tokio::test]
async fn every_error_response_has_its_own_target() {
    let app = TestApp::spawn().await;
    let mut targets = std::collections::HashSet::new();
    for _ in 0..5 {
        let response = app.call(Method::GET, "/api/machines", None, None).await;
        let body: serde_json::Value = response.json().await.unwrap();
        targets.insert(body["error"]["target"].as_str().unwrap().to_string());
    }
    assert_eq!(targets.len(), 5);
}
