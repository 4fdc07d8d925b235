//! Emulator-only endpoints under `/_palisade/`: health, error trace, token minting for tests,
//! tenant creation, credentials. Guarded: loopback peers only, unless an admin key is configured
//! and sent in `X-Palisade-Admin-Key`. Health stays open so orchestrators can probe it.

use crate::extract::{Caller, JsonBody, PathParam};
use crate::request_body;
use crate::state::AppState;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::StatusCode;
use axum::middleware::{from_fn_with_state, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use palisade_auth::{Claims, ALL_APP_ROLES};
use palisade_core::tenant::{AppRegistration, Tenant, DEMO_TENANT_ID, DEV_CLIENT_ID, DEV_CLIENT_SECRET};
use palisade_error::{ApiError, ErrorCode};
use serde_json::json;
use std::net::SocketAddr;

pub const ADMIN_KEY_HEADER: &str = "x-palisade-admin-key";

pub fn router(state: AppState) -> Router<AppState> {
    let guarded = Router::new()
        .route("/_palisade/errors/{target}", get(error_trace))
        .route("/_palisade/tokens", post(mint_token))
        .route("/_palisade/tenants", post(create_tenant))
        .route("/_palisade/credentials", get(credentials))
        .route("/_palisade/clock", get(clock_state).post(change_clock))
        .route(
            "/_palisade/tenants/{tenant}/features",
            get(tenant_features).patch(change_features),
        )
        .route("/_palisade/tenants/{tenant}/machines/{id}/state", get(machine_state))
        .route("/_palisade/debug/panic", post(panic_on_purpose))
        .route(
            "/_palisade/whoami",
            get(whoami).route_layer(from_fn_with_state(state.clone(), crate::auth::authenticate)),
        )
        .merge(super::faults::router())
        .route_layer(from_fn_with_state(state, guard));
    Router::new()
        .route("/_palisade/health", get(health))
        .merge(super::actions::downloads_router())
        .merge(guarded)
}

async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| *peer);
    let sent_key = request.headers().get(ADMIN_KEY_HEADER).map(|v| v.as_bytes());
    if admin_allowed(peer, state.config.admin_key.as_deref(), sent_key) {
        next.run(request).await
    } else {
        ApiError::new(
            ErrorCode::Forbidden,
            "The admin API answers loopback callers only, or callers sending the configured X-Palisade-Admin-Key",
            "admin guard",
        )
        .into_response()
    }
}

/// Loopback peers always; others only with the configured key (no key configured admits nobody else).
fn admin_allowed(peer: Option<SocketAddr>, configured_key: Option<&str>, sent_key: Option<&[u8]>) -> bool {
    let loopback = peer.is_some_and(|peer| peer.ip().is_loopback());
    let key_ok = matches!((configured_key, sent_key), (Some(expected), Some(sent)) if sent == expected.as_bytes());
    loopback || key_ok
}

async fn health() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

async fn error_trace(State(state): State<AppState>, PathParam(target): PathParam) -> Result<Response, ApiError> {
    let lookup = target.clone();
    let record = state.run(move |core| Ok(core.store.find_error(&lookup)?)).await?;
    match record {
        Some(record) => Ok(Json(record).into_response()),
        None => Err(ApiError::resource_not_found("Error target", &target)),
    }
}

request_body! {
    /// `POST /_palisade/tokens`: mint a token with chosen claims, e.g. expired or for another
    /// audience, to exercise a client's failure paths. Everything defaults to the dev app.
    pub struct MintRequest {
        optional "tenantId" tenant_id: Option<String>,
        optional "clientId" client_id: Option<String>,
        optional "roles" roles: Option<Vec<String>>,
        optional "audience" audience: Option<String>,
        optional "lifetimeSeconds" lifetime_seconds: Option<i64>,
        optional "notBeforeOffsetSeconds" not_before_offset_seconds: Option<i64>,
    }
}

async fn mint_token(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<MintRequest>,
) -> Result<Response, ApiError> {
    let now = state.core.clock.unix();
    let roles = body
        .roles
        .unwrap_or_else(|| ALL_APP_ROLES.iter().map(|r| r.to_string()).collect());
    let mut claims = Claims::for_app(
        body.tenant_id.as_deref().unwrap_or(DEMO_TENANT_ID),
        body.client_id.as_deref().unwrap_or(DEV_CLIENT_ID),
        roles,
        body.audience
            .as_deref()
            .unwrap_or("https://api.securitycenter.microsoft.com"),
        now,
        body.lifetime_seconds.unwrap_or(palisade_auth::TOKEN_LIFETIME_SECS),
    );
    if let Some(offset) = body.not_before_offset_seconds {
        claims.nbf = now + offset;
    }
    let token = state
        .core
        .signing_key
        .mint(&claims)
        .map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(Json(json!({"accessToken": token, "claims": claims})).into_response())
}

request_body! {
    /// `POST /_palisade/tenants`: a new tenant with one app registration.
    pub struct CreateTenantRequest {
        optional "displayName" display_name: Option<String>,
        optional "roles" roles: Option<Vec<String>>,
        optional "demoData" demo_data: Option<bool>,
    }
}

async fn create_tenant(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<CreateTenantRequest>,
) -> Result<Response, ApiError> {
    let tenant_id = uuid::Uuid::new_v4().to_string();
    let short = &tenant_id[..8];
    let tenant = Tenant::new(
        tenant_id.clone(),
        body.display_name.unwrap_or_else(|| format!("Tenant {short}")),
        format!("tenant-{short}.onmicrosoft.com"),
    );
    let app = AppRegistration {
        client_id: uuid::Uuid::new_v4().to_string(),
        tenant_id: tenant_id.clone(),
        display_name: "Palisade app".into(),
        client_secret: format!("secret-{}", uuid::Uuid::new_v4().simple()),
        roles: body
            .roles
            .unwrap_or_else(|| ALL_APP_ROLES.iter().map(|r| r.to_string()).collect()),
    };
    let demo = body.demo_data.unwrap_or(true);
    let created = app.clone();
    let domain = tenant.domain.clone();
    state.run(move |core| core.create_tenant(tenant, app, demo)).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "tenantId": tenant_id,
            "domain": domain,
            "clientId": created.client_id,
            "clientSecret": created.client_secret,
            "roles": created.roles,
        })),
    )
        .into_response())
}

fn clock_json(state: &AppState) -> Json<serde_json::Value> {
    let clock = &state.core.clock;
    Json(json!({
        "now": palisade_core::time::format_api_time(&clock.now()),
        "frozen": clock.is_frozen(),
        "offsetSeconds": clock.offset().num_milliseconds() as f64 / 1000.0,
    }))
}

async fn clock_state(State(state): State<AppState>) -> Json<serde_json::Value> {
    clock_json(&state)
}

request_body! {
    /// `POST /_palisade/clock`: applied in this order: `reset`, `freeze` (true freezes, false lets
    /// time run again), `set` (an ISO-8601 instant), `advanceSeconds` (negative goes back).
    pub struct ClockChange {
        optional "reset" reset: Option<bool>,
        optional "freeze" freeze: Option<bool>,
        optional "set" set: Option<String>,
        optional "advanceSeconds" advance_seconds: Option<f64>,
    }
}

async fn change_clock(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<ClockChange>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let set = match body.set.as_deref() {
        Some(text) => Some(
            chrono::DateTime::parse_from_rfc3339(text)
                .map_err(|e| ApiError::invalid_input(format!("set '{text}': {e}"), "clock set instant"))?
                .with_timezone(&chrono::Utc),
        ),
        None => None,
    };
    let advance = match body.advance_seconds {
        Some(seconds) if seconds.is_finite() && seconds.abs() < 1e10 => {
            Some(chrono::TimeDelta::milliseconds((seconds * 1000.0).round() as i64))
        }
        Some(seconds) => {
            return Err(ApiError::invalid_input(
                format!("advanceSeconds {seconds}; expected a number of seconds below 1e10"),
                "clock advance",
            ))
        }
        None => None,
    };
    let clock = &state.core.clock;
    if body.reset == Some(true) {
        clock.reset();
    }
    match body.freeze {
        Some(true) => clock.freeze(),
        Some(false) => clock.unfreeze(),
        None => {}
    }
    if let Some(at) = set {
        clock.set(at);
    }
    if let Some(by) = advance {
        clock.advance(by);
    }
    Ok(clock_json(&state))
}

async fn tenant_features(
    State(state): State<AppState>,
    PathParam(tenant): PathParam,
) -> Result<Json<palisade_core::tenant::TenantFeatures>, ApiError> {
    Ok(Json(state.run(move |core| core.features(&tenant)).await?))
}

/// `PATCH /_palisade/tenants/{tenant}/features` with `{"liveResponse": false, ...}`.
async fn change_features(
    State(state): State<AppState>,
    PathParam(tenant): PathParam,
    body: axum::body::Bytes,
) -> Result<Json<palisade_core::tenant::TenantFeatures>, ApiError> {
    let value: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::invalid_request_body(format!("the body is not valid JSON ({e})"), "json syntax"))?;
    let object = value.as_object().ok_or_else(|| {
        ApiError::invalid_request_body("expected a JSON object of feature names to booleans", "json shape")
    })?;
    let mut changes = Vec::new();
    for (name, on) in object {
        let on = on.as_bool().ok_or_else(|| {
            ApiError::invalid_request_body(format!("property '{name}': expected a boolean"), "feature value")
        })?;
        changes.push((name.clone(), on));
    }
    Ok(Json(state.run(move |core| core.set_features(&tenant, &changes)).await?))
}

/// `GET /_palisade/tenants/{tenant}/machines/{id}/state`: isolation, restriction and offboarding
/// as derived from the machine's actions, and its unfinished actions.
async fn machine_state(
    State(state): State<AppState>,
    params: super::actions::PathParams,
) -> Result<Json<palisade_core::actions::DeviceState>, ApiError> {
    let [tenant, machine] = super::actions::path_params::<2>(params)?;
    Ok(Json(state.run(move |core| core.device_state(&tenant, &machine)).await?))
}

async fn credentials(State(state): State<AppState>) -> Json<serde_json::Value> {
    Json(json!({
        "tenantId": DEMO_TENANT_ID,
        "clientId": DEV_CLIENT_ID,
        "clientSecret": DEV_CLIENT_SECRET,
        "caBundle": crate::tls::TlsFiles::in_dir(&state.config.data_dir).ca_bundle,
    }))
}

/// Exists to prove, in tests and to sceptical users, that a panicking handler yields
/// `InternalServerError` and the server keeps serving.
async fn panic_on_purpose() -> Response {
    panic!("deliberate panic requested through /_palisade/debug/panic")
}

/// Who the presented token says the caller is (handy when debugging a client's sign-in).
async fn whoami(Caller(caller): Caller) -> Json<serde_json::Value> {
    Json(json!({"tenantId": caller.tenant_id, "appId": caller.app_id, "roles": caller.roles}))
}

#[cfg(test)]
mod tests {
    use super::admin_allowed;
    use std::net::SocketAddr;

    #[test]
    fn admin_api_admits_loopback_or_the_configured_key_only() {
        let loopback: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let loopback6: SocketAddr = "[::1]:5000".parse().unwrap();
        let remote: SocketAddr = "192.0.2.7:5000".parse().unwrap();
        assert!(admin_allowed(Some(loopback), None, None));
        assert!(admin_allowed(Some(loopback6), None, None));
        assert!(!admin_allowed(Some(remote), None, None));
        assert!(
            !admin_allowed(Some(remote), None, Some(b"guess")),
            "no key configured: nobody remote"
        );
        assert!(!admin_allowed(Some(remote), Some("s3cret"), Some(b"wrong")));
        assert!(!admin_allowed(Some(remote), Some("s3cret"), None));
        assert!(admin_allowed(Some(remote), Some("s3cret"), Some(b"s3cret")));
        assert!(!admin_allowed(None, None, None), "an unknown peer is not loopback");
    }
}
