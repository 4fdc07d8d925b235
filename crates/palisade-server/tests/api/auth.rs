//! Point 7: every way a token can be refused is `401 Unauthorized`; a valid token without the role
//! is `403 Forbidden` naming it; a ReadWrite role satisfies the read requirement.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use palisade_testkit::*;
use reqwest::Method;
use serde_json::json;

async fn unauthorized_with(app: &TestApp, authorization: Option<&str>, mentions: &[&str], cause: &str) {
    let mut request = app.client.get(format!("{}/api/machines", app.http));
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    let response = request.send().await.unwrap();
    let record = expect_error(app, response, 401, "Unauthorized", mentions).await;
    assert_eq!(record["cause"], cause, "{record}");
}

fn segments(token: &str) -> (String, String, String) {
    let mut parts = token.split('.').map(str::to_string);
    (parts.next().unwrap(), parts.next().unwrap(), parts.next().unwrap())
}

#[tokio::test]
async fn missing_header_is_unauthorized() {
    let app = TestApp::spawn().await;
    unauthorized_with(&app, None, &["no Authorization header"], "missing authorization header").await;
}

#[tokio::test]
async fn non_bearer_scheme_is_unauthorized() {
    let app = TestApp::spawn().await;
    unauthorized_with(
        &app,
        Some("Basic dXNlcjpwYXNz"),
        &["Bearer"],
        "non-bearer authorization scheme",
    )
    .await;
}

#[tokio::test]
async fn malformed_token_is_unauthorized() {
    let app = TestApp::spawn().await;
    unauthorized_with(
        &app,
        Some("Bearer not-a-jwt"),
        &["not a well-formed JWT"],
        "malformed token",
    )
    .await;
    unauthorized_with(
        &app,
        Some("Bearer a.b.c"),
        &["not a well-formed JWT"],
        "malformed token",
    )
    .await;
}

#[tokio::test]
async fn tampered_token_fails_its_signature() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let (header, payload, signature) = segments(&token);
    let mut claims: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    claims["roles"] = json!(["Machine.Read.All", "Machine.Offboard"]);
    let forged = format!("{header}.{}.{signature}", URL_SAFE_NO_PAD.encode(claims.to_string()));
    unauthorized_with(
        &app,
        Some(&format!("Bearer {forged}")),
        &["signature is invalid"],
        "signature verification",
    )
    .await;
}

#[tokio::test]
async fn token_signed_by_another_key_is_unauthorized() {
    let app = TestApp::spawn().await;
    let other = TestApp::spawn().await;
    let foreign = other.token().await;
    // A different key id than ours.
    unauthorized_with(
        &app,
        Some(&format!("Bearer {foreign}")),
        &["key id"],
        "unknown signing key id",
    )
    .await;
}

#[tokio::test]
async fn expired_token_is_unauthorized() {
    let app = TestApp::spawn().await;
    let token = app.mint(json!({"lifetimeSeconds": -60})).await;
    unauthorized_with(
        &app,
        Some(&format!("Bearer {token}")),
        &["expired"],
        "token expiry (exp)",
    )
    .await;
}

#[tokio::test]
async fn not_yet_valid_token_is_unauthorized() {
    let app = TestApp::spawn().await;
    let token = app.mint(json!({"notBeforeOffsetSeconds": 600})).await;
    unauthorized_with(
        &app,
        Some(&format!("Bearer {token}")),
        &["not valid before"],
        "token not-before (nbf)",
    )
    .await;
}

#[tokio::test]
async fn token_for_another_audience_is_unauthorized() {
    let app = TestApp::spawn().await;
    let token = app.mint(json!({"audience": "https://management.azure.com"})).await;
    unauthorized_with(
        &app,
        Some(&format!("Bearer {token}")),
        &["https://management.azure.com"],
        "audience check",
    )
    .await;
}

#[tokio::test]
async fn graph_token_is_unauthorized_on_defender_routes() {
    let app = TestApp::spawn().await;
    let token = app.mint(json!({"audience": "https://graph.microsoft.com"})).await;
    unauthorized_with(
        &app,
        Some(&format!("Bearer {token}")),
        &[
            "https://graph.microsoft.com",
            "https://api.securitycenter.microsoft.com",
        ],
        "audience check (token for another API)",
    )
    .await;
}

#[tokio::test]
async fn alg_none_token_is_unauthorized() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let (_, payload, _) = segments(&token);
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
    unauthorized_with(
        &app,
        Some(&format!("Bearer {header}.{payload}.")),
        &["'none'"],
        "algorithm pinning (RS256 only)",
    )
    .await;
}

#[tokio::test]
async fn hs256_token_keyed_with_the_public_key_is_unauthorized() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let (_, payload, _) = segments(&token);
    let claims: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    // The classic confusion attack: sign HS256 with the published public key as the HMAC secret.
    let jwks = app
        .get_json(&format!("{}/{TENANT}/discovery/v2.0/keys", app.http))
        .await;
    let public_key = jwks["keys"][0]["n"].as_str().unwrap().as_bytes().to_vec();
    let forged = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(&public_key),
    )
    .unwrap();
    unauthorized_with(
        &app,
        Some(&format!("Bearer {forged}")),
        &["'HS256'"],
        "algorithm pinning (RS256 only)",
    )
    .await;
}

#[tokio::test]
async fn token_without_the_role_is_forbidden_naming_the_role() {
    let app = TestApp::spawn().await;
    let (tenant, client, secret) = app.create_tenant(Some(&["Alert.Read.All"]), true).await;
    let token = app.token_for(&tenant, &client, &secret).await;
    let response = app.get("/api/machines", &token).await;
    let record = expect_error(
        &app,
        response,
        403,
        "Forbidden",
        &["Machine.Read.All", "Machine.ReadWrite.All", "Alert.Read.All"],
    )
    .await;
    assert_eq!(record["tenantId"], tenant.as_str());
    assert_eq!(record["appId"], client.as_str());
    let response = app
        .call(
            Method::POST,
            "/api/machines/web-01.contoso.local/tags",
            Some(&token),
            Some(r#"{"Value":"x","Action":"Add"}"#),
        )
        .await;
    expect_error(&app, response, 403, "Forbidden", &["Machine.ReadWrite.All"]).await;
}

#[tokio::test]
async fn read_write_role_satisfies_the_read_requirement() {
    let app = TestApp::spawn().await;
    let (tenant, client, secret) = app.create_tenant(Some(&["Machine.ReadWrite.All"]), true).await;
    let token = app.token_for(&tenant, &client, &secret).await;
    assert_eq!(app.get("/api/machines", &token).await.status(), 200);
}

#[tokio::test]
async fn a_valid_token_works_on_both_listeners() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let over_https = app
        .client
        .get(format!("{}/api/machines", app.https))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(over_https.status(), 200);
    assert_eq!(app.get("/api/machines", &token).await.status(), 200);
}
