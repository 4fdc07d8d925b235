//! What published clients send must work (issue 11): documented optional properties (and `null`
//! for them) on every action body; the unknown-property policy (ignored and recorded by default,
//! refused under strict bodies, typos of documented names always refused).

use palisade_testkit::*;
use serde_json::{json, Value};

const WIN11: &str = "osPlatform%20eq%20%27Windows11%27%20and%20healthStatus%20eq%20%27Active%27";

async fn windows11(app: &TestApp, token: &str) -> String {
    let machines = app.get_ok(&format!("/api/machines?$filter={WIN11}"), token).await;
    machines["value"][0]["id"]
        .as_str()
        .expect("an active Windows 11 machine")
        .to_string()
}

/// What a generated client sends for an action: every settable property, unset ones as `null`.
fn client_body(extra: Value) -> Value {
    let mut body =
        json!({"Comment": "from a generated client", "ExternalId": null, "RequestSource": null, "Title": null});
    for (key, value) in extra.as_object().unwrap() {
        body[key] = value.clone();
    }
    body
}

async fn post_created(app: &TestApp, token: &str, path: &str, body: &Value) -> Value {
    let response = app.post(path, token, &body.to_string()).await;
    let status = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(status, 201, "{path}: {text}");
    serde_json::from_str(&text).unwrap()
}

#[tokio::test]
async fn every_action_verb_takes_the_documented_optional_properties_as_null() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    app.freeze_clock().await;
    let machine = windows11(&app, &token).await;
    let verbs = [
        ("isolate", json!({"IsolationType": null})),
        ("unisolate", json!({})),
        ("restrictCodeExecution", json!({})),
        ("unrestrictCodeExecution", json!({})),
        ("runAntiVirusScan", json!({"ScanType": "Quick"})),
        ("collectInvestigationPackage", json!({})),
    ];
    for (verb, extra) in verbs {
        let action = post_created(
            &app,
            &token,
            &format!("/api/machines/{machine}/{verb}"),
            &client_body(extra),
        )
        .await;
        assert_eq!(action["externalId"], Value::Null, "{verb}");
        assert_eq!(action["requestSource"], "PublicApi", "{verb}: null means the default");
        assert_eq!(action["title"], Value::Null, "{verb}");
        // Let it complete, so the next verb meets no pending action.
        app.advance_clock(120.0).await;
    }
    let investigation = post_created(
        &app,
        &token,
        &format!("/api/machines/{machine}/startInvestigation"),
        &client_body(json!({})),
    )
    .await;
    assert!(investigation["computerDnsName"].is_string(), "{investigation}");
}

#[tokio::test]
async fn external_id_request_source_and_title_are_stored_on_the_action() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let machine = windows11(&app, &token).await;
    let body =
        json!({"Comment": "c", "ExternalId": "ticket-4711", "RequestSource": "Playbook", "Title": "Contain host"});
    let created = post_created(&app, &token, &format!("/api/machines/{machine}/isolate"), &body).await;
    let read = app
        .get_ok(
            &format!("/api/machineactions/{}", created["id"].as_str().unwrap()),
            &token,
        )
        .await;
    for action in [&created, &read] {
        assert_eq!(action["externalId"], "ticket-4711");
        assert_eq!(action["requestSource"], "Playbook");
        assert_eq!(action["title"], "Contain host");
        assert_eq!(action["requestorComment"], "c");
    }
    let found = app
        .get_ok("/api/machineactions?$filter=type%20eq%20%27Isolate%27", &token)
        .await;
    assert!(found["value"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["externalId"] == "ticket-4711"));
}

#[tokio::test]
async fn unknown_properties_are_ignored_and_recorded_by_default() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let machine = windows11(&app, &token).await;
    let body = json!({"Comment": "c", "Priority": "high", "Links": null});
    let response = app
        .post(
            &format!("/api/machines/{machine}/collectInvestigationPackage"),
            &token,
            &body.to_string(),
        )
        .await;
    assert_eq!(response.status(), 201);
    assert_eq!(
        response.headers()["x-palisade-ignored-properties"].to_str().unwrap(),
        "Priority, Links"
    );
    let journal = app
        .get_json(&format!(
            "{}/_palisade/requests?path=/api/machines/{machine}/collectInvestigationPackage",
            app.http
        ))
        .await;
    let record = &journal["value"][0];
    assert_eq!(record["ignoredProperties"], json!(["Priority", "Links"]), "{journal}");

    // A clean body names nothing.
    let response = app
        .post(
            &format!("/api/machines/{machine}/runAntiVirusScan"),
            &token,
            r#"{"Comment":"c","ScanType":"Quick"}"#,
        )
        .await;
    assert_eq!(response.status(), 201);
    assert!(response.headers().get("x-palisade-ignored-properties").is_none());
}

#[tokio::test]
async fn an_error_trace_names_the_ignored_properties() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let response = app
        .post(
            "/api/machines/0000000000000000000000000000000000000000/isolate",
            &token,
            r#"{"Comment":"c","IsolationType":"Full","Reason":"x"}"#,
        )
        .await;
    let record = expect_error(&app, response, 404, "ResourceNotFound", &["Machine"]).await;
    assert!(
        record["cause"]
            .as_str()
            .unwrap()
            .contains("ignored body properties: Reason"),
        "{record}"
    );
}

#[tokio::test]
async fn a_property_differing_only_in_case_is_still_a_typo() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let machine = windows11(&app, &token).await;
    let response = app
        .post(
            &format!("/api/machines/{machine}/isolate"),
            &token,
            r#"{"Comment":"c","isolationType":"Full"}"#,
        )
        .await;
    expect_error(
        &app,
        response,
        400,
        "InvalidRequestBody",
        &["'isolationType'", "did you mean 'IsolationType'"],
    )
    .await;
    let response = app
        .post(
            &format!("/api/machines/{machine}/isolate"),
            &token,
            r#"{"comment":"c"}"#,
        )
        .await;
    expect_error(
        &app,
        response,
        400,
        "MissingRequiredParameter",
        &["Comment", "'comment'"],
    )
    .await;
}

#[tokio::test]
async fn strict_bodies_refuse_unknown_properties_server_wide() {
    let app = TestApp::spawn_with(|config| config.strict_bodies = true).await;
    let token = app.token().await;
    let machine = windows11(&app, &token).await;
    let response = app
        .post(
            &format!("/api/machines/{machine}/isolate"),
            &token,
            r#"{"Comment":"c","Reason":"x","Other":1}"#,
        )
        .await;
    expect_error(
        &app,
        response,
        400,
        "InvalidRequestBody",
        &["'Reason'", "strict", "Other"],
    )
    .await;
    // Documented properties, and null for them, still pass.
    let response = app
        .post(
            &format!("/api/machines/{machine}/isolate"),
            &token,
            &client_body(json!({})).to_string(),
        )
        .await;
    assert_eq!(response.status(), 201);
}

#[tokio::test]
async fn strict_bodies_can_be_switched_on_for_one_tenant() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let body = json!({"Indicators": [{"indicatorValue": "evil.example", "indicatorType": "DomainName", "action": "Alert", "title": "t", "description": "d", "severity": "High", "Colour": "red"}]});
    let response = app.post("/api/indicators/import", &token, &body.to_string()).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["x-palisade-ignored-properties"].to_str().unwrap(),
        "Indicators[0].Colour",
        "an element's unknown property is named with its place"
    );

    let features = app.set_features(TENANT, json!({"strictBodies": true})).await;
    assert_eq!(features["strictBodies"], true);
    let response = app.post("/api/indicators/import", &token, &body.to_string()).await;
    expect_error(&app, response, 400, "InvalidRequestBody", &["'Indicators[0].Colour'"]).await;

    // Another tenant keeps the lenient default.
    let (tenant, client, secret) = app.create_tenant(None, true).await;
    let other = app.token_for(&tenant, &client, &secret).await;
    let response = app.post("/api/indicators/import", &other, &body.to_string()).await;
    assert_eq!(response.status(), 200);
}

async fn add_fault(app: &TestApp, rule: Value) {
    let response = app.admin_post("/_palisade/faults", rule).await;
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
}

fn token_form() -> [(&'static str, String); 4] {
    [
        ("grant_type", "client_credentials".to_string()),
        ("client_id", CLIENT_ID.to_string()),
        ("client_secret", SECRET.to_string()),
        ("scope", "https://api.securitycenter.microsoft.com/.default".to_string()),
    ]
}

#[tokio::test]
async fn throttled_sign_in_answers_entras_shape_with_retry_after() {
    let app = TestApp::spawn().await;
    add_fault(
        &app,
        json!({"path": "/{tenant}/oauth2/token", "error": "TooManyRequests", "times": 1, "retryAfterSeconds": 30}),
    )
    .await;
    let response = app
        .client
        .post(format!("{}/{TENANT}/oauth2/token", app.https))
        .form(&token_form())
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["retry-after"], "30");
    let record = expect_entra_error(&app, response, 429, "temporarily_unavailable", 90055).await;
    assert!(
        record["cause"].as_str().unwrap().contains("injected by fault rule"),
        "{record}"
    );
    assert!(
        record["message"].as_str().unwrap().starts_with("AADSTS90055: "),
        "{record}"
    );
}

#[tokio::test]
async fn every_sign_in_route_answers_failures_in_entras_shape() {
    let app = TestApp::spawn().await;
    for path in [
        "/{tenant}/v2.0/.well-known/openid-configuration",
        "/{tenant}/.well-known/openid-configuration",
        "/{tenant}/discovery/v2.0/keys",
        "/{tenant}/discovery/keys",
        "/{tenant}/discovery/instance",
    ] {
        add_fault(&app, json!({"path": path, "error": "InternalServerError", "times": 1})).await;
        let url = format!("{}{}", app.https, path.replace("{tenant}", TENANT));
        let response = app.client.get(&url).send().await.unwrap();
        expect_entra_error(&app, response, 500, "server_error", 50000).await;
    }
    add_fault(
        &app,
        json!({"path": "/{tenant}/oauth2/v2.0/token", "error": "BadRequest", "times": 1}),
    )
    .await;
    let response = app
        .client
        .post(format!("{}/{TENANT}/oauth2/v2.0/token", app.https))
        .form(&token_form())
        .send()
        .await
        .unwrap();
    expect_entra_error(&app, response, 400, "invalid_request", 90100).await;
}

#[tokio::test]
async fn an_oversized_token_request_is_refused_in_entras_shape() {
    let app = TestApp::spawn_with(|config| config.max_body_bytes = 1024).await;
    let response = app
        .client
        .post(format!("{}/{TENANT}/oauth2/v2.0/token", app.https))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("grant_type=client_credentials&scope={}", "x".repeat(4096)))
        .send()
        .await
        .unwrap();
    expect_entra_error(&app, response, 413, "invalid_request", 90100).await;
}

#[tokio::test]
async fn a_sign_in_call_refused_by_the_host_guard_is_in_entras_shape() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .post(format!("{}/{TENANT}/oauth2/v2.0/token", app.http))
        .header("host", "rebind.example")
        .form(&token_form())
        .send()
        .await
        .unwrap();
    expect_entra_error(&app, response, 400, "invalid_request", 90100).await;
}

async fn machine_state(app: &TestApp, machine: &str) -> Value {
    app.get_json(&format!(
        "{}/_palisade/tenants/{TENANT}/machines/{machine}/state",
        app.http
    ))
    .await
}

#[tokio::test]
async fn moving_the_clock_back_keeps_what_happened_in_request_order() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let machine = windows11(&app, &token).await;
    app.freeze_clock().await;
    let comment = json!({"Comment": "c"});
    let path = |verb: &str| format!("/api/machines/{machine}/{verb}");
    post_created(&app, &token, &path("isolate"), &comment).await;
    app.advance_clock(120.0).await;
    let release = post_created(&app, &token, &path("unisolate"), &comment).await;
    app.advance_clock(120.0).await;
    assert_eq!(machine_state(&app, &machine).await["isolation"], Value::Null);

    // Back one hour: the isolation requested now happens after the release above, whatever its
    // timestamps say.
    app.advance_clock(-3600.0).await;
    let isolate = post_created(&app, &token, &path("isolate"), &comment).await;
    assert!(
        isolate["creationDateTimeUtc"].as_str().unwrap() < release["creationDateTimeUtc"].as_str().unwrap(),
        "timestamps re-live the earlier hour: {isolate} vs {release}"
    );
    app.advance_clock(120.0).await;
    let action = app
        .get_ok(
            &format!("/api/machineactions/{}", isolate["id"].as_str().unwrap()),
            &token,
        )
        .await;
    assert_eq!(action["status"], "Succeeded");
    assert_eq!(machine_state(&app, &machine).await["isolation"], "Full");
    // So releasing it is allowed, and then it is released.
    post_created(&app, &token, &path("unisolate"), &comment).await;
    app.advance_clock(120.0).await;
    assert_eq!(machine_state(&app, &machine).await["isolation"], Value::Null);
    // Isolating again while the (re-lived) isolation stands would be refused as before.
    post_created(&app, &token, &path("isolate"), &comment).await;
    let response = app.post(&path("isolate"), &token, &comment.to_string()).await;
    expect_error(&app, response, 400, "ActiveRequestAlreadyExists", &["Isolate"]).await;
}
