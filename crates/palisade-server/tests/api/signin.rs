//! Point 5: sign-in as MSAL, azure-identity and the docs' raw samples perform it.

use palisade_testkit::*;
use serde_json::Value;

async fn token_request(app: &TestApp, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
    app.client
        .post(format!("{}{path}", app.https))
        .form(form)
        .send()
        .await
        .unwrap()
}

fn v2(tenant: &str) -> String {
    format!("/{tenant}/oauth2/v2.0/token")
}

/// A client-credentials form for the MDE scope.
fn form(client_id: &'static str, secret: &'static str) -> Vec<(&'static str, &'static str)> {
    vec![
        ("grant_type", "client_credentials"),
        ("client_id", client_id),
        ("client_secret", secret),
        ("scope", "https://api.securitycenter.microsoft.com/.default"),
    ]
}

/// Checks an Entra-format refusal and that its trace id is in the journal.
async fn expect_oauth_error(
    app: &TestApp,
    response: reqwest::Response,
    status: u16,
    error: &str,
    aadsts: u64,
) -> Value {
    assert_eq!(response.status().as_u16(), status);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], error, "{body}");
    assert_eq!(body["error_codes"][0], aadsts, "{body}");
    let description = body["error_description"].as_str().unwrap();
    assert!(description.starts_with(&format!("AADSTS{aadsts}:")), "{description}");
    let trace_id = body["trace_id"].as_str().unwrap();
    let record = app
        .trace(trace_id)
        .await
        .expect("sign-in failure journaled under its trace id");
    assert_eq!(record["code"], error);
    body
}

#[tokio::test]
async fn v2_endpoint_issues_a_token_with_integer_lifetimes() {
    let app = TestApp::spawn().await;
    let response = token_request(&app, &v2(TENANT), &form(CLIENT_ID, SECRET)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store, no-cache");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3599);
    assert_eq!(body["ext_expires_in"], 3599);
    let claims = decode_claims(body["access_token"].as_str().unwrap());
    assert_eq!(claims["aud"], MDE);
    assert_eq!(claims["tid"], TENANT);
    assert_eq!(claims["appid"], CLIENT_ID);
    assert_eq!(claims["iss"], format!("https://sts.windows.net/{TENANT}/"));
    assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 3599);
    assert!(claims["roles"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r == "Machine.Isolate"));
}

#[tokio::test]
async fn v1_endpoint_issues_a_token_with_string_numbers_and_resource() {
    let app = TestApp::spawn().await;
    let resource = "https://api.security.microsoft.com";
    let response = token_request(
        &app,
        &format!("/{TENANT}/oauth2/token"),
        &[
            ("grant_type", "client_credentials"),
            ("client_id", CLIENT_ID),
            ("client_secret", SECRET),
            ("resource", resource),
        ],
    )
    .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["expires_in"], "3599");
    assert_eq!(body["resource"], resource);
    let expires_on: i64 = body["expires_on"].as_str().unwrap().parse().unwrap();
    let not_before: i64 = body["not_before"].as_str().unwrap().parse().unwrap();
    assert_eq!(expires_on - not_before, 3599);
    let token = body["access_token"].as_str().unwrap();
    assert_eq!(decode_claims(token)["aud"], resource);
    // The XDR audience is accepted by the API too.
    assert_eq!(app.get("/api/machines", token).await.status(), 200);
}

#[tokio::test]
async fn a_form_without_content_type_is_still_read() {
    let app = TestApp::spawn().await;
    let body = format!(
        "grant_type=client_credentials&client_id={CLIENT_ID}&client_secret={SECRET}&scope={}",
        "https%3A%2F%2Fapi.securitycenter.microsoft.com%2F.default"
    );
    let response = app
        .client
        .post(format!("{}{}", app.https, v2(TENANT)))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn basic_client_credentials_are_accepted() {
    let app = TestApp::spawn().await;
    let scope = format!("{MDE}/.default");
    let response = app
        .client
        .post(format!("{}{}", app.https, v2(TENANT)))
        .basic_auth(CLIENT_ID, Some(SECRET))
        .form(&[("grant_type", "client_credentials"), ("scope", scope.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn the_tenant_may_be_named_by_its_domain() {
    let app = TestApp::spawn().await;
    let response = token_request(&app, &v2("palisade-demo.onmicrosoft.com"), &form(CLIENT_ID, SECRET)).await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn wrong_secret_is_invalid_client() {
    let app = TestApp::spawn().await;
    let response = token_request(&app, &v2(TENANT), &form(CLIENT_ID, "nope")).await;
    let body = expect_oauth_error(&app, response, 401, "invalid_client", 7000215).await;
    let record = app.trace(body["trace_id"].as_str().unwrap()).await.unwrap();
    assert_eq!(record["tenantId"], TENANT);
    assert_eq!(record["appId"], CLIENT_ID);
}

#[tokio::test]
async fn missing_secret_is_invalid_client() {
    let app = TestApp::spawn().await;
    let scope = format!("{MDE}/.default");
    let response = token_request(
        &app,
        &v2(TENANT),
        &[
            ("grant_type", "client_credentials"),
            ("client_id", CLIENT_ID),
            ("scope", &scope),
        ],
    )
    .await;
    expect_oauth_error(&app, response, 401, "invalid_client", 7000216).await;
}

#[tokio::test]
async fn unknown_client_is_unauthorized_client() {
    let app = TestApp::spawn().await;
    let response = token_request(&app, &v2(TENANT), &form("00000000-0000-0000-0000-000000000000", SECRET)).await;
    let body = expect_oauth_error(&app, response, 400, "unauthorized_client", 700016).await;
    assert!(body["error_description"]
        .as_str()
        .unwrap()
        .contains("00000000-0000-0000-0000-000000000000"));
}

#[tokio::test]
async fn unknown_tenant_is_refused() {
    let app = TestApp::spawn().await;
    let response = token_request(
        &app,
        &v2("11111111-2222-3333-4444-555555555555"),
        &form(CLIENT_ID, SECRET),
    )
    .await;
    expect_oauth_error(&app, response, 400, "invalid_request", 90002).await;
}

#[tokio::test]
async fn missing_or_unsupported_grant_type_is_refused() {
    let app = TestApp::spawn().await;
    let response = token_request(
        &app,
        &v2(TENANT),
        &[("client_id", CLIENT_ID), ("client_secret", SECRET)],
    )
    .await;
    let body = expect_oauth_error(&app, response, 400, "invalid_request", 900144).await;
    assert!(body["error_description"].as_str().unwrap().contains("'grant_type'"));
    let response = token_request(
        &app,
        &v2(TENANT),
        &[("grant_type", "password"), ("client_id", CLIENT_ID)],
    )
    .await;
    expect_oauth_error(&app, response, 400, "unsupported_grant_type", 70003).await;
}

#[tokio::test]
async fn scope_without_default_suffix_or_unknown_resource_is_refused() {
    let app = TestApp::spawn().await;
    let base = [
        ("grant_type", "client_credentials"),
        ("client_id", CLIENT_ID),
        ("client_secret", SECRET),
    ];
    let with_scope = |scope: &'static str| {
        let mut form = base.to_vec();
        form.push(("scope", scope));
        form
    };
    let response = token_request(
        &app,
        &v2(TENANT),
        &with_scope("https://api.securitycenter.microsoft.com/Machine.Read"),
    )
    .await;
    expect_oauth_error(&app, response, 400, "invalid_scope", 1002012).await;
    let response = token_request(&app, &v2(TENANT), &with_scope("https://management.azure.com/.default")).await;
    let body = expect_oauth_error(&app, response, 400, "invalid_resource", 500011).await;
    assert!(body["error_description"]
        .as_str()
        .unwrap()
        .contains("https://management.azure.com"));
    let response = token_request(&app, &v2(TENANT), &base).await;
    expect_oauth_error(&app, response, 400, "invalid_request", 900144).await;
}

#[tokio::test]
async fn discovery_documents_point_at_this_origin() {
    let app = TestApp::spawn().await;
    let doc = app
        .get_json(&format!("{}/{TENANT}/v2.0/.well-known/openid-configuration", app.https))
        .await;
    assert_eq!(
        doc["token_endpoint"],
        format!("{}/{TENANT}/oauth2/v2.0/token", app.https)
    );
    assert_eq!(doc["jwks_uri"], format!("{}/{TENANT}/discovery/v2.0/keys", app.https));
    assert!(doc["authorization_endpoint"].as_str().unwrap().starts_with("https://"));
    assert_eq!(
        doc["issuer"],
        format!("https://login.microsoftonline.com/{TENANT}/v2.0")
    );
    let v1 = app
        .get_json(&format!("{}/{TENANT}/.well-known/openid-configuration", app.https))
        .await;
    assert_eq!(v1["token_endpoint"], format!("{}/{TENANT}/oauth2/token", app.https));
    assert_eq!(v1["issuer"], format!("https://sts.windows.net/{TENANT}/"));
    let unknown = app
        .client
        .get(format!(
            "{}/nobody.example/v2.0/.well-known/openid-configuration",
            app.https
        ))
        .send()
        .await
        .unwrap();
    let body = expect_oauth_error(&app, unknown, 400, "invalid_tenant", 90002).await;
    assert!(body["error_description"].as_str().unwrap().contains("nobody.example"));
}

#[tokio::test]
async fn jwks_verifies_issued_tokens() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let jwks = app
        .get_json(&format!("{}/{TENANT}/discovery/v2.0/keys", app.https))
        .await;
    let key = &jwks["keys"][0];
    let header = jsonwebtoken::decode_header(&token).unwrap();
    assert_eq!(header.kid.as_deref(), key["kid"].as_str());
    let decoding =
        jsonwebtoken::DecodingKey::from_rsa_components(key["n"].as_str().unwrap(), key["e"].as_str().unwrap()).unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_audience(&[MDE]);
    let data = jsonwebtoken::decode::<Value>(&token, &decoding, &validation).expect("signature verifies with JWKS");
    assert_eq!(data.claims["tid"], TENANT);
}

#[tokio::test]
async fn instance_discovery_names_the_tenant_discovery_endpoint() {
    let app = TestApp::spawn().await;
    let authorize = format!("https://127.0.0.1/{TENANT}/oauth2/v2.0/authorize");
    let doc: Value = app
        .client
        .get(format!("{}/common/discovery/instance", app.https))
        .query(&[("authorization_endpoint", authorize.as_str()), ("api-version", "1.0")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        doc["tenant_discovery_endpoint"],
        format!("{}/{TENANT}/v2.0/.well-known/openid-configuration", app.https)
    );
}

fn decode_claims(token: &str) -> Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

#[tokio::test]
async fn certificate_credentials_are_refused_as_not_emulated() {
    let app = TestApp::spawn().await;
    let mut form = form(CLIENT_ID, SECRET);
    form.retain(|(k, _)| *k != "client_secret");
    form.push((
        "client_assertion_type",
        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
    ));
    form.push(("client_assertion", "eyJhbGciOiJSUzI1NiJ9.e30.c2ln"));
    let response = token_request(&app, &v2(TENANT), &form).await;
    let body = expect_oauth_error(&app, response, 400, "invalid_request", 50027).await;
    assert!(body["error_description"].as_str().unwrap().contains("client_secret"));
}

#[tokio::test]
async fn two_scopes_in_one_request_are_invalid_scope() {
    let app = TestApp::spawn().await;
    let mut form = form(CLIENT_ID, SECRET);
    form.retain(|(k, _)| *k != "scope");
    form.push((
        "scope",
        "https://api.securitycenter.microsoft.com/.default https://api.security.microsoft.com/.default",
    ));
    let response = token_request(&app, &v2(TENANT), &form).await;
    expect_oauth_error(&app, response, 400, "invalid_scope", 70011).await;
}

#[tokio::test]
async fn instance_discovery_without_authorization_endpoint_is_refused() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .get(format!("{}/common/discovery/instance?api-version=1.0", app.https))
        .send()
        .await
        .unwrap();
    let body = expect_oauth_error(&app, response, 400, "invalid_request", 90014).await;
    assert!(body["error_description"]
        .as_str()
        .unwrap()
        .contains("authorization_endpoint"));
}
