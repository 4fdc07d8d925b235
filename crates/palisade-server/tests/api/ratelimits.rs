//! Rate limits (`shared/reference/mde-api.md` §1.8): per tenant + app + API, per minute and per
//! hour, on the emulator's clock; 429 `TooManyRequests` with an exact `Retry-After`; switchable per
//! tenant and globally; counters resettable.

use palisade_testkit::*;
use reqwest::{Method, Response, StatusCode};
use serde_json::{json, Value};

/// A machine's id, found through the API.
async fn some_machine(app: &TestApp, token: &str) -> String {
    let body = app.get_ok("/api/machines?$top=1", token).await;
    body["value"][0]["id"].as_str().expect("a machine").to_string()
}

/// `n` calls that must all be admitted (whatever they answer besides 429).
async fn calls_admitted(n: usize, send: impl AsyncFn() -> Response) {
    for i in 0..n {
        let response = send().await;
        assert_ne!(
            response.status(),
            StatusCode::TOO_MANY_REQUESTS,
            "call {} refused",
            i + 1
        );
    }
}

fn retry_after(response: &Response) -> u64 {
    response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .expect("Retry-After in whole seconds")
}

/// Asserts a 429 (envelope, journal) naming `limit` and `window`; returns its Retry-After.
async fn expect_throttled(app: &TestApp, response: Response, limit: &str, window: &str) -> u64 {
    let seconds = retry_after(&response);
    let record = expect_error(
        app,
        response,
        429,
        "TooManyRequests",
        &[
            &format!("maximum allowed {limit} per {window}"),
            &format!("Try again in {seconds} seconds"),
        ],
    )
    .await;
    assert!(record["cause"].as_str().unwrap().contains("rate limit"), "{record}");
    seconds
}

#[tokio::test]
async fn the_101st_call_in_a_minute_waits_exactly_retry_after() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let machine = some_machine(&app, &token).await;
    let path = format!("/api/machines/{machine}");
    app.freeze_clock().await;
    calls_admitted(50, async || app.get(&path, &token).await).await;
    app.advance_clock(20.5).await;
    calls_admitted(50, async || app.get(&path, &token).await).await;

    let response = app.get(&path, &token).await;
    let wait = expect_throttled(&app, response, "100", "00:01:00").await;
    assert_eq!(wait, 40, "60 s window opened 20.5 s ago: 39.5 s left, rounded up");
    // A second too early is still too early (and refused calls do not move the window).
    app.advance_clock((wait - 1) as f64).await;
    let response = app.get(&path, &token).await;
    assert_eq!(expect_throttled(&app, response, "100", "00:01:00").await, 1);
    app.advance_clock(1.0).await;
    app.get_ok(&path, &token).await;
}

#[tokio::test]
async fn after_retry_after_on_the_clock_the_call_succeeds() {
    // The issue's own scenario, on the running clock: 100 calls, the 101st refused, the clock moved
    // by the Retry-After it gave, and the call goes through.
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let machine = some_machine(&app, &token).await;
    let path = format!("/api/machines/{machine}/logonusers");
    calls_admitted(100, async || app.get(&path, &token).await).await;
    let response = app.get(&path, &token).await;
    let wait = expect_throttled(&app, response, "100", "00:01:00").await;
    assert!((1..=60).contains(&wait), "{wait}");
    app.advance_clock(wait as f64).await;
    app.get_ok(&path, &token).await;
}

#[tokio::test]
async fn apps_tenants_and_apis_are_counted_apart() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    app.freeze_clock().await;
    let alerts = app.get_ok("/api/alerts?$top=1", &token).await;
    let alert = alerts["value"][0]["id"].as_str().unwrap().to_string();
    let body = json!({"alertIds": [alert], "status": "InProgress"}).to_string();
    // Batch update alerts: 10 calls a minute.
    calls_admitted(10, async || app.post("/api/alerts/batchUpdate", &token, &body).await).await;
    let response = app.post("/api/alerts/batchUpdate", &token, &body).await;
    let wait = expect_throttled(&app, response, "10", "00:01:00").await;
    assert_eq!(wait, 60);
    let response = app.post("/api/alerts/batchUpdate", &token, &body).await;
    expect_error(
        &app,
        response,
        429,
        "TooManyRequests",
        &["Batch update alerts", "batchUpdate"],
    )
    .await;

    // The same app on another API, another app of the tenant, another tenant: all admitted.
    app.get_ok(&format!("/api/alerts/{alert}"), &token).await;
    let other_app = app.second_app_token().await;
    let response = app.post("/api/alerts/batchUpdate", &other_app, &body).await;
    assert_eq!(response.status(), StatusCode::OK);
    let (tenant, client, secret) = app.create_tenant(None, true).await;
    let other_tenant = app.token_for(&tenant, &client, &secret).await;
    let theirs = app.get_ok("/api/alerts?$top=1", &other_tenant).await;
    let their_alert = theirs["value"][0]["id"].as_str().unwrap();
    let their_body = json!({"alertIds": [their_alert], "status": "InProgress"}).to_string();
    let response = app.post("/api/alerts/batchUpdate", &other_tenant, &their_body).await;
    assert_eq!(response.status(), StatusCode::OK);

    // Calls that fail for other reasons are calls too: a bad body counts against the limit.
    calls_admitted(9, async || app.post("/api/alerts/batchUpdate", &other_app, "{}").await).await;
    let response = app.post("/api/alerts/batchUpdate", &other_app, &body).await;
    expect_throttled(&app, response, "10", "00:01:00").await;
}

#[tokio::test]
async fn get_package_uri_allows_two_calls_a_minute() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    app.freeze_clock().await;
    let path = "/api/machineactions/00000000-0000-4000-8000-000000000000/getPackageUri";
    for _ in 0..2 {
        let response = app.get(path, &token).await;
        expect_error(&app, response, 404, "ResourceNotFound", &[]).await;
    }
    let response = app.get(path, &token).await;
    expect_throttled(&app, response, "2", "00:01:00").await;
    // The other function of the same route is another API, under the default limit.
    let response = app
        .get(
            "/api/machineactions/00000000-0000-4000-8000-000000000000/GetLiveResponseResultDownloadLink(index=0)",
            &token,
        )
        .await;
    expect_error(&app, response, 404, "ResourceNotFound", &[]).await;
}

#[tokio::test]
async fn the_hourly_limit_outlasts_the_minute_windows() {
    let app = TestApp::spawn().await;
    // The test moves the clock by more than a token's hour: a token of the same app that lasts.
    let token = app.mint(json!({"lifetimeSeconds": 4 * 3600})).await;
    let machine = some_machine(&app, &token).await;
    let path = format!("/api/machines/{machine}");
    app.freeze_clock().await;
    for minute in 0..15 {
        calls_admitted(100, async || app.get(&path, &token).await).await;
        let response = app.get(&path, &token).await;
        // In the 15th minute both windows are full; the answer names the one that lasts longer.
        if minute < 14 {
            assert_eq!(expect_throttled(&app, response, "100", "00:01:00").await, 60);
        } else {
            assert_eq!(
                expect_throttled(&app, response, "1500", "01:00:00").await,
                3600 - 14 * 60
            );
        }
        app.advance_clock(60.0).await;
    }
    // 15 minutes in: the minute window is new, the hour's is full.
    let response = app.get(&path, &token).await;
    let wait = expect_throttled(&app, response, "1500", "01:00:00").await;
    assert_eq!(wait, 3600 - 15 * 60);
    app.advance_clock(wait as f64).await;
    app.get_ok(&path, &token).await;
}

#[tokio::test]
async fn start_investigation_allows_fifty_calls_an_hour() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let machine = some_machine(&app, &token).await;
    app.freeze_clock().await;
    let path = format!("/api/machines/{machine}/startInvestigation");
    let body = r#"{"Comment":"look"}"#;
    calls_admitted(50, async || app.post(&path, &token, body).await).await;
    let response = app.post(&path, &token, body).await;
    assert_eq!(expect_throttled(&app, response, "50", "01:00:00").await, 3600);
}

async fn tenant_limits(app: &TestApp, tenant: &str, change: Option<Value>) -> Response {
    let url = format!("{}/_palisade/tenants/{tenant}/ratelimits", app.http);
    match change {
        None => app.client.get(url).send().await.unwrap(),
        Some(body) => app.client.patch(url).json(&body).send().await.unwrap(),
    }
}

#[tokio::test]
async fn a_tenant_switch_turns_limits_off_and_is_kept() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let response = tenant_limits(&app, TENANT, None).await;
    assert_eq!(response.json::<Value>().await.unwrap(), json!({"enabled": true}));
    let response = tenant_limits(&app, TENANT, Some(json!({"enabled": false}))).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.json::<Value>().await.unwrap(), json!({"enabled": false}));
    calls_admitted(120, async || app.get("/api/alerts?$top=1", &token).await).await;

    let app = app.restart().await;
    let token = app.token().await;
    let response = tenant_limits(&app, TENANT, None).await;
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"enabled": false}),
        "kept with the tenant"
    );
    calls_admitted(101, async || app.get("/api/alerts?$top=1", &token).await).await;

    let response = tenant_limits(&app, TENANT, Some(json!({"enabled": true}))).await;
    assert_eq!(response.status(), StatusCode::OK);
    calls_admitted(100, async || app.get("/api/alerts?$top=1", &token).await).await;
    let response = app.get("/api/alerts?$top=1", &token).await;
    expect_throttled(&app, response, "100", "00:01:00").await;

    let response = tenant_limits(&app, "no-such-tenant", None).await;
    expect_error(&app, response, 404, "ResourceNotFound", &["no-such-tenant"]).await;
    let response = tenant_limits(&app, TENANT, Some(json!({"Enabled": false}))).await;
    expect_error(&app, response, 400, "MissingRequiredParameter", &["enabled"]).await;
    let response = tenant_limits(&app, TENANT, Some(json!({"enabled": "no"}))).await;
    expect_error(&app, response, 400, "InvalidRequestBody", &["enabled"]).await;
}

#[tokio::test]
async fn counters_reset_and_the_global_switch() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    app.freeze_clock().await;
    calls_admitted(100, async || app.get("/api/alerts?$top=1", &token).await).await;
    let response = app.get("/api/alerts?$top=1", &token).await;
    expect_throttled(&app, response, "100", "00:01:00").await;
    let response = app.call(Method::DELETE, "/_palisade/ratelimits", None, None).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    app.get_ok("/api/alerts?$top=1", &token).await;

    let table = app.get_json(&format!("{}/_palisade/ratelimits", app.http)).await;
    assert_eq!(table["enabled"], true);
    assert_eq!(table["default"]["perMinute"], 100);
    assert!(table["limits"]
        .as_array()
        .unwrap()
        .iter()
        .any(|l| l["api"] == "Batch update alerts" && l["perMinute"] == 10 && l["perHour"] == 500));

    let unlimited = TestApp::spawn_with(|config| config.rate_limits = false).await;
    let token = unlimited.token().await;
    calls_admitted(150, async || unlimited.get("/api/alerts?$top=1", &token).await).await;
    let table = unlimited
        .get_json(&format!("{}/_palisade/ratelimits", unlimited.http))
        .await;
    assert_eq!(table["enabled"], false);
}

#[tokio::test]
async fn live_response_sessions_beyond_the_limit_wait_for_the_first_to_end() {
    // The documented 25 is more than the demo tenant's machines able to run live response (25
    // exactly, so its 26th session cannot be started): the limit is lowered to 12 here.
    let app = TestApp::spawn_with(|config| config.core.max_live_response_sessions = Some(12)).await;
    let token = app.token().await;
    app.freeze_clock().await;
    let machines = app.get_ok("/api/machines", &token).await;
    // Several apps of the tenant, so the per-app 10 calls a minute do not get in the way: the
    // session limit is the tenant's.
    let mut apps = Vec::new();
    for _ in 0..5 {
        apps.push(app.second_app_token().await);
    }
    let body = json!({
        "Comment": "collect",
        "Commands": [{"type": "GetFile", "params": [{"key": "Path", "value": "C:\\windows\\temp\\a.txt"}]}]
    })
    .to_string();
    let mut started = 0;
    let mut refused = None;
    for (n, machine) in machines["value"].as_array().unwrap().iter().enumerate() {
        let path = format!("/api/machines/{}/runliveresponse", machine["id"].as_str().unwrap());
        let response = app.post(&path, &apps[n % apps.len()], &body).await;
        match response.status().as_u16() {
            201 => started += 1,
            429 => {
                refused = Some((path, response));
                break;
            }
            // Platforms and sensor versions that cannot run live response.
            400 => {}
            other => panic!("{path}: {other} {}", response.text().await.unwrap()),
        }
    }
    assert_eq!(started, 12);
    let (path, response) = refused.expect("the 26th session is refused");
    let wait = retry_after(&response);
    expect_error(
        &app,
        response,
        429,
        "TooManyRequests",
        &["maximum allowed 12", "running 12"],
    )
    .await;
    // All started at the same (frozen) instant; the first to end is on a reporting device, which
    // completes after pickup + run (10 s + 50 s by default).
    assert_eq!(wait, 60);
    app.advance_clock((wait - 1) as f64).await;
    let response = app.post(&path, &apps[0], &body).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(retry_after(&response), 1);
    app.advance_clock(1.0).await;
    let response = app.post(&path, &apps[1], &body).await;
    assert_eq!(
        response.status(),
        StatusCode::CREATED,
        "{}",
        response.text().await.unwrap()
    );
}
