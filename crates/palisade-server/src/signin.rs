//! The sign-in endpoints an emulated Entra authority serves (`shared/reference/xdr-api-and-auth.md`
//! §3): both token endpoints, OIDC discovery (v1 and v2), JWKS, and instance discovery. Failures answer
//! in Entra's OAuth2 error format, not the Defender envelope, and are journaled under their trace id.

use crate::extract::{read_body, Origin};
use crate::layers::journal::RequestContext;
use crate::state::AppState;
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use base64::Engine;
use palisade_domain::signin::{Endpoint, TokenFailure, TokenRequest};
use palisade_error::{EntraError, JournalEntry};
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/{tenant}/oauth2/token", post(token_v1))
        .route("/{tenant}/oauth2/v2.0/token", post(token_v2))
        .route("/{tenant}/v2.0/.well-known/openid-configuration", get(discovery_v2))
        .route("/{tenant}/.well-known/openid-configuration", get(discovery_v1))
        .route("/{tenant}/discovery/v2.0/keys", get(jwks))
        .route("/{tenant}/discovery/keys", get(jwks))
        .route("/{tenant}/discovery/instance", get(instance_discovery))
}

async fn token_v1(
    state: State<AppState>,
    tenant: Path<String>,
    ctx: Extension<Arc<RequestContext>>,
    request: Request,
) -> Response {
    token(state, tenant, ctx, Endpoint::V1, request).await
}

async fn token_v2(
    state: State<AppState>,
    tenant: Path<String>,
    ctx: Extension<Arc<RequestContext>>,
    request: Request,
) -> Response {
    token(state, tenant, ctx, Endpoint::V2, request).await
}

async fn token(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    Extension(context): Extension<Arc<RequestContext>>,
    endpoint: Endpoint,
    request: Request,
) -> Response {
    let basic = basic_credentials(request.headers());
    // Like Entra, read the form whatever the Content-Type says (some clients send none).
    let body = match read_body(request, state.config.max_body_bytes).await {
        Ok(body) => body,
        Err(e) => return e.into_response(),
    };
    let mut form = TokenRequest::default();
    for (key, value) in form_urlencoded::parse(&body) {
        let slot = match key.as_ref() {
            "grant_type" => &mut form.grant_type,
            "client_id" => &mut form.client_id,
            "client_secret" => &mut form.client_secret,
            "client_assertion" => &mut form.client_assertion,
            "scope" => &mut form.scope,
            "resource" => &mut form.resource,
            _ => continue,
        };
        if slot.is_none() && !value.is_empty() {
            *slot = Some(value.into_owned());
        }
    }
    if let Some((id, secret)) = basic {
        form.client_id.get_or_insert(id);
        form.client_secret.get_or_insert(secret);
    }
    let outcome = state
        .run(move |core| Ok(core.issue_token(&tenant, endpoint, &form)))
        .await;
    match outcome {
        Ok(Ok(token)) => {
            context.set_caller(token.tenant_id.clone(), Some(token.client_id.clone()));
            let body = match endpoint {
                Endpoint::V2 => json!({
                    "token_type": "Bearer",
                    "expires_in": token.expires_in,
                    "ext_expires_in": token.expires_in,
                    "access_token": token.access_token,
                }),
                // v1 answers every number as a string, and adds expires_on, not_before, resource.
                Endpoint::V1 => json!({
                    "token_type": "Bearer",
                    "expires_in": token.expires_in.to_string(),
                    "ext_expires_in": token.expires_in.to_string(),
                    "expires_on": token.expires_on.to_string(),
                    "not_before": token.not_before.to_string(),
                    "resource": token.resource,
                    "access_token": token.access_token,
                }),
            };
            no_store(json_response(StatusCode::OK, &body))
        }
        Ok(Err(TokenFailure::Refused(refusal))) => {
            if let Some(tenant) = &refusal.tenant_id {
                context.set_caller(tenant.clone(), refusal.client_id.clone());
            }
            oauth_error(&state, refusal)
        }
        Ok(Err(TokenFailure::Failed(failure))) => crate::error::from_domain(failure).into_response(),
        Err(api) => api.into_response(),
    }
}

/// `Authorization: Basic base64(client_id:client_secret)` (client_secret_basic).
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    let unescape = |s: &str| {
        form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
    };
    Some((unescape(id)?, unescape(secret)?))
}

/// Entra's error body; its `trace_id` is also the journal's target for this failure.
fn oauth_error(state: &AppState, refusal: EntraError) -> Response {
    let cause = format!("sign-in refused: {}", refusal.code);
    entra_response(state, refusal, palisade_error::new_target(), cause)
}

/// Every failure on a sign-in route answers in Entra's shape, whatever raised it: a fault rule, a
/// throttle, a body over the limit or an internal error arrive here as the Defender envelope (an
/// [`ApiError`](palisade_error::ApiError) response) and leave as Entra's OAuth2 error, under the
/// same tracking id, keeping `Retry-After`. MSAL and azure-identity read `error` and
/// `error_description`; a Defender envelope leaves them with an error without a description.
pub async fn entra_errors(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    in_entra_shape(&state, response)
}

/// Whether `path` is one of the sign-in routes (for refusals raised before routing, such as the
/// journal's body limit).
pub fn is_signin_path(path: &str) -> bool {
    let Some((_, route)) = path.trim_start_matches('/').split_once('/') else {
        return false;
    };
    matches!(
        route,
        "oauth2/token"
            | "oauth2/v2.0/token"
            | "v2.0/.well-known/openid-configuration"
            | ".well-known/openid-configuration"
            | "discovery/v2.0/keys"
            | "discovery/keys"
            | "discovery/instance"
    )
}

/// A refusal raised before routing (the journal's body limit, the Host/Origin guard), in the shape
/// of the route it was meant for: Entra's on the sign-in routes, whose own layer it never reaches;
/// the Defender envelope everywhere else.
pub fn pre_routing_refusal(state: &AppState, path: &str, refusal: palisade_error::ApiError) -> Response {
    let response = refusal.into_response();
    if is_signin_path(path) {
        in_entra_shape(state, response)
    } else {
        response
    }
}

/// A Defender-envelope error response re-rendered as Entra's (anything else is returned as it is).
pub fn in_entra_shape(state: &AppState, response: Response) -> Response {
    let Some(entry) = response.extensions().get::<JournalEntry>() else {
        return response;
    };
    let Some(code) = palisade_error::ErrorCode::parse(&entry.code) else {
        return response; // already Entra's (its codes are snake_case OAuth2 errors)
    };
    let entry = entry.clone();
    let refusal = EntraError::equivalent_of(code, &entry.message);
    let cause = format!(
        "{} (answered as Entra's {}, {})",
        entry.cause, refusal.error, refusal.code
    );
    let mut converted = entra_response(state, refusal, entry.target, cause);
    if let Some(retry_after) = response.headers().get(header::RETRY_AFTER) {
        converted.headers_mut().insert(header::RETRY_AFTER, retry_after.clone());
    }
    converted
}

/// Renders an Entra error under `trace_id` (also the journal's target) with its journal entry.
fn entra_response(state: &AppState, refusal: EntraError, trace_id: String, cause: String) -> Response {
    let correlation_id = uuid::Uuid::new_v4().to_string();
    let now = state.core.clock.now();
    let timestamp = now.format("%Y-%m-%d %H:%M:%SZ").to_string();
    let description = format!(
        "AADSTS{}: {} Trace ID: {trace_id} Correlation ID: {correlation_id} Timestamp: {timestamp}",
        refusal.aadsts(),
        refusal.description
    );
    let body = json!({
        "error": refusal.error,
        "error_description": description,
        "error_codes": [refusal.aadsts()],
        "timestamp": timestamp,
        "trace_id": trace_id,
        "correlation_id": correlation_id,
        "error_uri": format!("https://login.microsoftonline.com/error?code={}", refusal.aadsts()),
    });
    let status = StatusCode::from_u16(refusal.status).unwrap_or(StatusCode::BAD_REQUEST);
    let mut response = no_store(json_response(status, &body));
    response.extensions_mut().insert(JournalEntry {
        target: trace_id,
        code: refusal.error.to_string(),
        message: format!("{}: {}", refusal.code, refusal.description),
        cause,
    });
    response
}

fn json_response(status: StatusCode, body: &serde_json::Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    response
}

fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store, no-cache"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// Resolves the tenant segment of a discovery URL: `common`/`organizations` stay symbolic (Entra
/// then writes `{tenantid}` in the issuer); anything else must be a known tenant id or domain.
async fn resolve_tenant(state: &AppState, tenant: String) -> Result<Option<String>, Response> {
    if matches!(tenant.as_str(), "common" | "organizations" | "consumers") {
        return Ok(None);
    }
    let lookup = tenant.clone();
    match state.run(move |core| core.find_tenant(&lookup)).await {
        Ok(Some(found)) => Ok(Some(found.id)),
        Ok(None) => {
            // Discovery names the same failure `invalid_tenant`.
            let refusal = EntraError::tenant_not_found(&tenant).answered_as("invalid_tenant");
            Err(oauth_error(state, refusal))
        }
        Err(api) => Err(api.into_response()),
    }
}

async fn discovery_v2(State(state): State<AppState>, origin: Origin, Path(tenant): Path<String>) -> Response {
    let tid = match resolve_tenant(&state, tenant.clone()).await {
        Ok(tid) => tid,
        Err(response) => return response,
    };
    let base = format!("{}/{tenant}", origin.0);
    let issuer = format!(
        "https://login.microsoftonline.com/{}/v2.0",
        tid.as_deref().unwrap_or("{tenantid}")
    );
    let doc = json!({
        "token_endpoint": format!("{base}/oauth2/v2.0/token"),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
        "jwks_uri": format!("{base}/discovery/v2.0/keys"),
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": issuer,
        "request_uri_parameter_supported": false,
        "authorization_endpoint": format!("{base}/oauth2/v2.0/authorize"),
        "device_authorization_endpoint": format!("{base}/oauth2/v2.0/devicecode"),
        "end_session_endpoint": format!("{base}/oauth2/v2.0/logout"),
        "http_logout_supported": true,
        "frontchannel_logout_supported": true,
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username", "name", "tid", "ver", "at_hash", "c_hash", "email"],
        "tenant_region_scope": "WW",
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": "graph.microsoft.com",
        "rbac_url": "https://pas.windows.net",
    });
    discovery_response(&doc)
}

async fn discovery_v1(State(state): State<AppState>, origin: Origin, Path(tenant): Path<String>) -> Response {
    let tid = match resolve_tenant(&state, tenant.clone()).await {
        Ok(tid) => tid,
        Err(response) => return response,
    };
    let base = format!("{}/{tenant}", origin.0);
    let doc = json!({
        "token_endpoint": format!("{base}/oauth2/token"),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
        "jwks_uri": format!("{base}/discovery/keys"),
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "token id_token", "token"],
        "scopes_supported": ["openid"],
        "issuer": format!("https://sts.windows.net/{}/", tid.as_deref().unwrap_or("{tenantid}")),
        "authorization_endpoint": format!("{base}/oauth2/authorize"),
        "device_authorization_endpoint": format!("{base}/oauth2/devicecode"),
        "end_session_endpoint": format!("{base}/oauth2/logout"),
        "tenant_region_scope": "WW",
        "cloud_instance_name": "microsoftonline.com",
    });
    discovery_response(&doc)
}

fn discovery_response(doc: &serde_json::Value) -> Response {
    let mut response = json_response(StatusCode::OK, doc);
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("max-age=86400, private"),
    );
    response
}

async fn jwks(State(state): State<AppState>) -> Response {
    discovery_response(&state.core.signing_key.jwks())
}

/// MSAL's instance discovery: it only reads `tenant_discovery_endpoint`.
async fn instance_discovery(
    State(state): State<AppState>,
    origin: Origin,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let Some(authorize) = query.get("authorization_endpoint") else {
        let refusal = EntraError::missing_query_field("authorization_endpoint");
        return oauth_error(&state, refusal);
    };
    // https://host/{tenant}/oauth2/v2.0/authorize → {tenant}
    let tenant = authorize
        .split("://")
        .nth(1)
        .and_then(|rest| rest.split('/').nth(1))
        .filter(|t| !t.is_empty())
        .unwrap_or("common");
    let host = origin.0.split("://").nth(1).unwrap_or("localhost").to_string();
    discovery_response(&json!({
        "tenant_discovery_endpoint": format!("{}/{tenant}/v2.0/.well-known/openid-configuration", origin.0),
        "api-version": "1.1",
        "metadata": [{"preferred_network": host, "preferred_cache": host, "aliases": [host]}],
    }))
}
