//! Fault injection (`/_palisade/faults`): rules that make matching calls fail or wait, when and as
//! often as asked, with traceable targets; and the admin API that manages them.

use palisade_testkit::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// Creates a rule that must be accepted; returns it as listed.
async fn add_rule(app: &TestApp, rule: Value) -> Value {
    let response = app.admin_post("/_palisade/faults", rule.clone()).await;
    let status = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "rule {rule}: {text}");
    serde_json::from_str(&text).unwrap()
}

async fn rules(app: &TestApp) -> Vec<Value> {
    let response = admin(app, Method::GET, "/_palisade/faults", None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    body["value"].as_array().unwrap().clone()
}

async fn rule(app: &TestApp, id: &str) -> Value {
    let response = admin(app, Method::GET, &format!("/_palisade/faults/{id}"), None).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

fn id_of(rule: &Value) -> String {
    rule["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn isolate_fails_exactly_twice_then_goes_through() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let machine = windows_machine(&app, &token).await;
    let created = add_rule(
        &app,
        json!({"path": "/api/machines/{id}/isolate", "error": "InternalServerError", "times": 2}),
    )
    .await;
    let id = id_of(&created);
    assert_eq!(created["state"], "Active");
    assert_eq!(created["remaining"], 2);

    let body = r#"{"Comment":"contain","IsolationType":"Full"}"#;
    let mut targets = Vec::new();
    // The second call uses the versioned prefix and other casing: rules see the normalised path.
    for path in [
        format!("/api/machines/{machine}/isolate"),
        format!("/API/v1.0/Machines/{machine}/Isolate"),
    ] {
        let response = app.post(&path, &token, body).await;
        let record = expect_error(&app, response, 500, "InternalServerError", &[&id]).await;
        assert_eq!(record["cause"], format!("injected by fault rule {id}"));
        assert_eq!(record["appId"], CLIENT_ID);
        targets.push(record["target"].as_str().unwrap().to_string());
    }
    assert_ne!(targets[0], targets[1], "each injected error has its own target");

    let response = app
        .post(&format!("/api/machines/{machine}/isolate"), &token, body)
        .await;
    assert_eq!(
        response.status(),
        StatusCode::CREATED,
        "{}",
        response.text().await.unwrap()
    );

    let listed = rule(&app, &id).await;
    assert_eq!(listed["fired"], 2);
    assert_eq!(listed["matched"], 2, "an exhausted rule no longer counts calls");
    assert_eq!(listed["remaining"], 0);
    assert_eq!(listed["state"], "Exhausted");
}

#[tokio::test]
async fn a_delay_then_passes_through_or_then_fails() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let slow = id_of(&add_rule(&app, json!({"method": "GET", "path": "/api/alerts", "delayMs": 400})).await);
    // Wall time is checked as a lower bound only: tokio's sleep never wakes early, so this cannot
    // fail on a slow machine. An upper bound could, so the rule's own counters say what was delayed.
    let started = Instant::now();
    app.get_ok("/api/alerts?$top=1", &token).await;
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "{:?}",
        started.elapsed()
    );
    let listed = rule(&app, &slow).await;
    assert_eq!(
        (listed["matched"].as_u64(), listed["fired"].as_u64()),
        (Some(1), Some(1))
    );
    // Other routes are not delayed: the rule does not even match them.
    app.get_ok("/api/machines?$top=1", &token).await;
    let listed = rule(&app, &slow).await;
    assert_eq!(
        (listed["matched"].as_u64(), listed["fired"].as_u64()),
        (Some(1), Some(1))
    );

    let rule = add_rule(
        &app,
        json!({"path": "/api/machines", "delayMs": 300, "error": "BadRequest", "message": "slow and wrong"}),
    )
    .await;
    let started = Instant::now();
    let response = app.get("/api/machines", &token).await;
    assert!(started.elapsed() >= Duration::from_millis(300)); // a lower bound, as above
    let record = expect_error(&app, response, 400, "BadRequest", &["slow and wrong"]).await;
    assert_eq!(record["cause"], format!("injected by fault rule {}", id_of(&rule)));
}

#[tokio::test]
async fn after_calls_skips_the_first_matching_calls() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let machine = windows_machine(&app, &token).await;
    let rule = add_rule(
        &app,
        json!({"path": "/api/machines/*", "error": "ResourceNotFound", "afterCalls": 2, "times": 1}),
    )
    .await;
    let path = format!("/api/machines/{machine}");
    app.get_ok(&path, &token).await;
    app.get_ok(&path, &token).await;
    let response = app.get(&path, &token).await;
    expect_error(&app, response, 404, "ResourceNotFound", &["injected", &id_of(&rule)]).await;
    app.get_ok(&path, &token).await;
    let listed = self::rule(&app, &id_of(&rule)).await;
    assert_eq!(
        (listed["matched"].as_u64(), listed["fired"].as_u64()),
        (Some(3), Some(1))
    );
}

/// Which of `n` calls the rules made fail.
async fn outcomes(app: &TestApp, token: &str, n: usize) -> Vec<bool> {
    let mut failed = Vec::new();
    for _ in 0..n {
        let status = app.get("/api/alerts?$top=1", token).await.status();
        assert!(status == StatusCode::OK || status == StatusCode::SERVICE_UNAVAILABLE || status == 403);
        failed.push(status != StatusCode::OK);
    }
    failed
}

#[tokio::test]
async fn a_seeded_probability_repeats_its_sequence() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    // No seed given: the rule reports the one it drew, so the run can be repeated.
    let first = add_rule(
        &app,
        json!({"path": "/api/alerts", "error": "Forbidden", "probability": 0.5}),
    )
    .await;
    let seed = first["seed"].as_u64().expect("the seed in use is reported");
    let run = outcomes(&app, &token, 24).await;
    let fired = rule(&app, &id_of(&first)).await["fired"].as_u64().unwrap();
    assert_eq!(fired as usize, run.iter().filter(|f| **f).count());

    let response = admin(
        &app,
        Method::DELETE,
        &format!("/_palisade/faults/{}", id_of(&first)),
        None,
    )
    .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let again = add_rule(
        &app,
        json!({"path": "/api/alerts", "error": "Forbidden", "probability": 0.5, "seed": seed}),
    )
    .await;
    assert_eq!(again["seed"], seed);
    assert_eq!(outcomes(&app, &token, 24).await, run, "same seed, same sequence");

    // A fixed seed gives both outcomes at p = 0.5 (and the same ones on every run).
    admin(&app, Method::DELETE, "/_palisade/faults", None).await;
    add_rule(
        &app,
        json!({"path": "/api/alerts", "error": "Forbidden", "probability": 0.5, "seed": 42}),
    )
    .await;
    let fixed = outcomes(&app, &token, 24).await;
    assert!(fixed.contains(&true) && fixed.contains(&false), "{fixed:?}");
    // p = 0 never fires, p = 1 always does.
    admin(&app, Method::DELETE, "/_palisade/faults", None).await;
    add_rule(
        &app,
        json!({"path": "/api/alerts", "error": "Forbidden", "probability": 0.0}),
    )
    .await;
    assert_eq!(outcomes(&app, &token, 5).await, vec![false; 5]);
}

#[tokio::test]
async fn rules_expire_on_the_emulator_clock() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    app.freeze_clock().await;
    let rule = add_rule(
        &app,
        json!({"path": "/api/alerts", "error": "DisallowedOperation", "expiresInSeconds": 120}),
    )
    .await;
    assert!(rule["expiresAt"].is_string());
    let response = app.get("/api/alerts", &token).await;
    expect_error(&app, response, 403, "DisallowedOperation", &[&id_of(&rule)]).await;
    app.advance_clock(119.0).await;
    let response = app.get("/api/alerts", &token).await;
    expect_error(&app, response, 403, "DisallowedOperation", &[]).await;
    app.advance_clock(1.0).await;
    app.get_ok("/api/alerts", &token).await;
    let listed = self::rule(&app, &id_of(&rule)).await;
    assert_eq!(listed["state"], "Expired");
    assert_eq!(listed["fired"], 2);
}

#[tokio::test]
async fn rules_match_app_tenant_and_method() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let other_app = app.second_app_token().await;
    let (tenant, client, secret) = app.create_tenant(None, true).await;
    let other_tenant = app.token_for(&tenant, &client, &secret).await;

    add_rule(
        &app,
        json!({"path": "/api/alerts", "clientId": CLIENT_ID.to_uppercase(), "error": "Forbidden"}),
    )
    .await;
    let response = app.get("/api/alerts", &token).await;
    expect_error(&app, response, 403, "Forbidden", &["injected"]).await;
    app.get_ok("/api/alerts", &other_app).await;
    admin(&app, Method::DELETE, "/_palisade/faults", None).await;

    add_rule(
        &app,
        json!({"path": "/api/machines", "tenantId": tenant, "error": "InternalServerError"}),
    )
    .await;
    app.get_ok("/api/machines", &token).await;
    let response = app.get("/api/machines", &other_tenant).await;
    let record = expect_error(&app, response, 500, "InternalServerError", &[]).await;
    assert_eq!(record["tenantId"], tenant);
    admin(&app, Method::DELETE, "/_palisade/faults", None).await;

    add_rule(
        &app,
        json!({"method": "patch", "path": "/api/alerts/*", "error": "BadRequest"}),
    )
    .await;
    let alerts = app.get_ok("/api/alerts?$top=1", &token).await;
    let alert = alerts["value"][0]["id"].as_str().unwrap();
    app.get_ok(&format!("/api/alerts/{alert}"), &token).await;
    let response = app
        .patch(&format!("/api/alerts/{alert}"), &token, r#"{"status":"InProgress"}"#)
        .await;
    expect_error(&app, response, 400, "BadRequest", &["injected"]).await;
}

#[tokio::test]
async fn sign_in_routes_are_faulted_by_path() {
    let app = TestApp::spawn().await;
    let rule = add_rule(
        &app,
        json!({"path": "/{tenant}/oauth2/v2.0/token", "error": "TooManyRequests", "times": 1, "retryAfterSeconds": 7}),
    )
    .await;
    let response = app
        .client
        .post(format!("{}/{TENANT}/oauth2/v2.0/token", app.http))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", CLIENT_ID),
            ("client_secret", SECRET),
            ("scope", &format!("{MDE}/.default")),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["retry-after"], "7");
    // Answered in Entra's shape (see `fidelity.rs`), still traceable to the rule.
    let record = expect_entra_error(&app, response, 429, "temporarily_unavailable", 90055).await;
    assert!(record["cause"].as_str().unwrap().contains(&id_of(&rule)), "{record}");
    assert_eq!(record["path"], format!("/{TENANT}/oauth2/v2.0/token"));
    // The client's retry then gets its token.
    let token = app.token().await;
    app.get_ok("/api/alerts?$top=1", &token).await;
}

#[tokio::test]
async fn admin_routes_are_never_faulted() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    add_rule(&app, json!({"path": "/**", "error": "InternalServerError"})).await;
    let response = app.get("/api/alerts", &token).await;
    expect_error(&app, response, 500, "InternalServerError", &[]).await;
    assert_eq!(rules(&app).await.len(), 1, "the admin API still answers");
    let response = admin(&app, Method::GET, "/_palisade/health", None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let response = app
        .admin_post(
            "/_palisade/faults",
            json!({"path": "/_palisade/clock", "error": "BadRequest"}),
        )
        .await;
    expect_error(
        &app,
        response,
        400,
        "InvalidInput",
        &["/_palisade/clock", "never faulted"],
    )
    .await;
}

#[tokio::test]
async fn rules_are_listed_fetched_and_deleted() {
    let app = TestApp::spawn().await;
    assert!(rules(&app).await.is_empty());
    let a = add_rule(&app, json!({"path": "/api/alerts", "error": "BadRequest", "times": 3})).await;
    let b = add_rule(
        &app,
        json!({"path": "/api/machines/**", "delayMs": 10, "method": "GET"}),
    )
    .await;
    let listed = rules(&app).await;
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0]["id"], a["id"]);
    assert_eq!(listed[1]["method"], "GET");
    assert_eq!(listed[1]["remaining"], Value::Null, "no times: unlimited");
    for key in [
        "id",
        "path",
        "error",
        "delayMs",
        "afterCalls",
        "times",
        "matched",
        "fired",
        "remaining",
        "state",
        "createdAt",
    ] {
        assert!(listed[0].get(key).is_some(), "listing has {key}: {}", listed[0]);
    }
    assert_eq!(rule(&app, &id_of(&b)).await["path"], "/api/machines/**");

    let response = admin(&app, Method::DELETE, &format!("/_palisade/faults/{}", id_of(&a)), None).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let response = admin(&app, Method::GET, &format!("/_palisade/faults/{}", id_of(&a)), None).await;
    expect_error(&app, response, 404, "ResourceNotFound", &["Fault rule", &id_of(&a)]).await;
    let response = admin(&app, Method::DELETE, "/_palisade/faults/nope", None).await;
    expect_error(&app, response, 404, "ResourceNotFound", &["nope"]).await;
    assert_eq!(rules(&app).await.len(), 1);
    let response = admin(&app, Method::DELETE, "/_palisade/faults", None).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(rules(&app).await.is_empty());
}

#[tokio::test]
async fn invalid_rules_are_refused_with_the_reason() {
    let app = TestApp::spawn().await;
    let cases: &[(Value, u16, &str, &[&str])] = &[
        (
            json!({"path": "/api/alerts", "error": "Boom"}),
            400,
            "InvalidInput",
            &["Boom", "InternalServerError", "TooManyRequests", "ResourceNotFound"],
        ),
        (
            json!({"error": "BadRequest"}),
            400,
            "MissingRequiredParameter",
            &["path"],
        ),
        (
            json!({"Path": "/api/alerts", "error": "BadRequest"}),
            400,
            "MissingRequiredParameter",
            &["path", "'Path'"],
        ),
        (
            json!({"path": "/api/alerts"}),
            400,
            "MissingRequiredParameter",
            &["error", "delayMs"],
        ),
        (
            json!({"path": "/api/alerts", "error": "BadRequest", "probability": 2}),
            400,
            "InvalidInput",
            &["probability 2"],
        ),
        (
            json!({"path": "/api/alerts", "error": "BadRequest", "times": 0}),
            400,
            "InvalidInput",
            &["times 0"],
        ),
        (
            json!({"path": "/api/alerts", "error": "BadRequest", "times": "two"}),
            400,
            "InvalidRequestBody",
            &["times"],
        ),
        (
            json!({"path": "/api/alerts", "error": "BadRequest", "seed": 1}),
            400,
            "InvalidInput",
            &["seed"],
        ),
        (
            json!({"path": "api/alerts", "error": "BadRequest"}),
            400,
            "InvalidInput",
            &["api/alerts", "'/'"],
        ),
        (
            json!({"path": "/api/alerts", "error": "BadRequest", "method": "FETCH"}),
            400,
            "InvalidInput",
            &["FETCH"],
        ),
        (
            json!({"path": "/api/alerts", "delayMs": 600001}),
            400,
            "InvalidInput",
            &["delayMs 600001"],
        ),
        (
            json!({"path": "/api/alerts", "error": "BadRequest", "expiresInSeconds": 0}),
            400,
            "InvalidInput",
            &["expiresInSeconds"],
        ),
        (
            json!({"path": "/api/alerts", "error": "BadRequest", "retryAfterSeconds": 3}),
            400,
            "InvalidInput",
            &["retryAfterSeconds", "TooManyRequests"],
        ),
        (
            json!({"path": "/api/alerts", "error": "badrequest"}),
            400,
            "InvalidInput",
            &["badrequest", "case-sensitive"],
        ),
        (
            json!({"path": "/api/alerts", "error": "BadRequest", "bogus": 1}),
            400,
            "InvalidRequestBody",
            &["bogus"],
        ),
    ];
    for (body, status, code, mentions) in cases {
        let response = app.admin_post("/_palisade/faults", body.clone()).await;
        expect_error(&app, response, *status, code, mentions).await;
    }
    assert!(rules(&app).await.is_empty(), "nothing was created");
}

#[tokio::test]
async fn the_global_reset_clears_fault_rules_and_rate_limit_counters() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    add_rule(&app, json!({"path": "/api/alerts", "error": "InternalServerError"})).await;
    let response = app.get("/api/alerts", &token).await;
    expect_error(&app, response, 500, "InternalServerError", &["injected"]).await;
    app.freeze_clock().await;
    for _ in 0..99 {
        assert_eq!(app.get("/api/machines/$count", &token).await.status(), StatusCode::OK);
    }
    let response = app.admin_post("/_palisade/reset", json!({})).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(rules(&app).await.is_empty());
    let token = app.token().await;
    app.get_ok("/api/alerts", &token).await;
    // The minute's counter started over: 100 more calls fit.
    app.freeze_clock().await;
    for _ in 0..100 {
        assert_eq!(app.get("/api/machines/$count", &token).await.status(), StatusCode::OK);
    }
    let response = app.get("/api/machines/$count", &token).await;
    expect_error(&app, response, 429, "TooManyRequests", &["100"]).await;
}
