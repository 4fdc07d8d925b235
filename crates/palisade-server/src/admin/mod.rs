//! Emulator-only endpoints under `/_palisade/` (and `/metrics`): health, error trace, token minting
//! for tests, tenants and their app registrations, data in and out, resets, the request journal,
//! credentials, clock and features. Guarded: peers in the trusted networks (loopback by default),
//! or any peer sending the configured key in `X-Palisade-Admin-Key`. Health stays open so
//! orchestrators can probe it.

pub mod faults;

use crate::extract::{Caller, JsonBody, PathParam};
use crate::layers::requests::RequestFilter;
use crate::request_body;
use crate::routing::Routes;
use crate::state::AppState;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::StatusCode;
use axum::middleware::{from_fn_with_state, Next};
use axum::response::{IntoResponse, Response};
use axum::Json;
use palisade_auth::Claims;
use palisade_domain::control::apps::AppView;
use palisade_domain::control::tenants::NewTenant;
use palisade_error::{ApiError, ErrorCode};
use palisade_model::tenant::{AppRegistration, Tenant, DEMO_TENANT_ID, DEV_CLIENT_ID, DEV_CLIENT_SECRET};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use std::net::SocketAddr;
use std::str::FromStr;
use subtle::ConstantTimeEq;

pub use crate::config::ADMIN_KEY_HEADER;

pub fn router(state: AppState) -> Routes {
    let guarded = Routes::new()
        .get("/_palisade/errors/{target}", error_trace)
        .post("/_palisade/tokens", mint_token)
        .post("/_palisade/tenants", create_tenant)
        .get("/_palisade/tenants", list_tenants)
        .get("/_palisade/tenants/{tenant}", get_tenant)
        .delete("/_palisade/tenants/{tenant}", delete_tenant)
        .post("/_palisade/tenants/{tenant}/apps", register_app)
        .get("/_palisade/tenants/{tenant}/apps", list_apps)
        .get("/_palisade/tenants/{tenant}/apps/{client}", get_app)
        .patch("/_palisade/tenants/{tenant}/apps/{client}", update_app)
        .delete("/_palisade/tenants/{tenant}/apps/{client}", delete_app)
        .post("/_palisade/tenants/{tenant}/apps/{client}/secrets", rotate_secret)
        .post("/_palisade/tenants/{tenant}/data", load_data)
        .get("/_palisade/tenants/{tenant}/export", export_data)
        .post("/_palisade/tenants/{tenant}/incidents/{id}/merge", merge_incident)
        .post("/_palisade/tenants/{tenant}/reset", reset_tenant)
        .post("/_palisade/reset", reset_everything)
        .get("/_palisade/requests", list_requests)
        .delete("/_palisade/requests", clear_requests)
        .get("/metrics", metrics)
        .get("/_palisade/credentials", credentials)
        .get("/_palisade/clock", clock_state)
        .post("/_palisade/clock", change_clock)
        .get("/_palisade/tenants/{tenant}/features", tenant_features)
        .patch("/_palisade/tenants/{tenant}/features", change_features)
        .get("/_palisade/tenants/{tenant}/machines/{id}/state", machine_state)
        .get(
            "/_palisade/tenants/{tenant}/libraryfiles/{fileName}",
            library_file_content,
        )
        .post("/_palisade/debug/panic", panic_on_purpose)
        .on(
            "get",
            "/_palisade/whoami",
            axum::routing::get(whoami).route_layer(from_fn_with_state(
                std::sync::Arc::new(state.clone()),
                crate::layers::auth::authenticate,
            )),
        )
        .merge(faults::router())
        .layered(|router| router.route_layer(from_fn_with_state(state, guard)));
    Routes::new()
        .get("/_palisade/health", health)
        .merge(crate::api::mde::actions::downloads_router())
        .merge(guarded)
}

async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| *peer);
    let sent_key = request.headers().get(ADMIN_KEY_HEADER).map(|v| v.as_bytes());
    if admin_allowed(
        peer,
        &state.config.admin_trusted_networks,
        state.config.admin_key.as_ref(),
        sent_key,
    ) {
        next.run(request).await
    } else {
        ApiError::new(
            ErrorCode::Forbidden,
            "The admin API answers callers from the trusted networks (loopback by default) or sending the configured X-Palisade-Admin-Key",
            "admin guard",
        )
        .into_response()
    }
}

/// Peers of the trusted networks always; others only with the configured key (no key configured
/// admits nobody else). The key is compared in constant time (`subtle`), so response timing does
/// not tell a guesser how many leading bytes were right.
fn admin_allowed(
    peer: Option<SocketAddr>,
    trusted: &[crate::IpNetwork],
    configured_key: Option<&SecretString>,
    sent_key: Option<&[u8]>,
) -> bool {
    let trusted_peer = peer.is_some_and(|peer| trusted.iter().any(|net| net.contains(peer.ip())));
    let key_ok = match (configured_key, sent_key) {
        (Some(expected), Some(sent)) => bool::from(sent.ct_eq(expected.expose_secret().as_bytes())),
        _ => false,
    };
    trusted_peer || key_ok
}

/// `GET /_palisade/health`: the server answers, and so does its store, with the store's
/// round-trip latency. A store that does not answer makes it a traceable `InternalServerError`
/// (the journal keeps the cause), so a health check notices a lost database.
async fn health(State(state): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    let backend = state.core.store_backend();
    let started = std::time::Instant::now();
    state.run(|core| core.ping_store()).await?;
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    Ok(Json(json!({
        "status": "ok",
        "store": {"backend": backend, "status": "ok", "latencyMs": (latency_ms * 1000.0).round() / 1000.0},
    })))
}

async fn error_trace(State(state): State<AppState>, PathParam(target): PathParam) -> Result<Response, ApiError> {
    let lookup = target.clone();
    let mut record = state.read_inline(move |core| core.find_error(&lookup)).await?;
    if record.is_none() {
        // Another process on the store may still be writing it: look again, up to its bound,
        // on a blocking thread.
        let lookup = target.clone();
        record = state.run(move |core| core.find_error_shared(&lookup)).await?;
    }
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
    // Absent means the dev app's ids; present but blank names no tenant or app, and a token for
    // one would only fail later, somewhere less clear.
    for (name, value) in [("tenantId", &body.tenant_id), ("clientId", &body.client_id)] {
        if value.as_deref().is_some_and(|v| v.trim().is_empty()) {
            return Err(ApiError::invalid_input(
                format!("{name} ''; leave it out for the dev app's"),
                "blank id",
            ));
        }
    }
    let now = state.core.clock.unix();
    let roles = body
        .roles
        .unwrap_or_else(|| state.core.app_roles().iter().map(|r| r.to_string()).collect());
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
    /// `POST /_palisade/tenants`: a new tenant with one app registration. `tenantId` (a GUID) and
    /// `domain` may be chosen, e.g. to bring a deleted tenant back under its id.
    pub struct CreateTenantRequest {
        optional "displayName" display_name: Option<String>,
        optional "roles" roles: Option<Vec<String>>,
        optional "demoData" demo_data: Option<bool>,
        optional "tenantId" tenant_id: Option<String>,
        optional "domain" domain: Option<String>,
    }
}

async fn create_tenant(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<CreateTenantRequest>,
) -> Result<Response, ApiError> {
    let request = NewTenant {
        tenant_id: body.tenant_id,
        display_name: body.display_name,
        domain: body.domain,
        roles: body.roles,
        demo_data: body.demo_data.unwrap_or(true),
    };
    let (tenant, created) = state.run(move |core| core.add_tenant(request)).await?;
    let (tenant_id, domain) = (tenant.id, tenant.domain);
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
        "now": palisade_model::time::format_api_time(&clock.now()),
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
    // Shared by every process on the store: stored first, then applied here.
    state
        .run(move |core| {
            core.change_clock(|clock| {
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
            })
        })
        .await?;
    Ok(clock_json(&state))
}

async fn tenant_features(
    State(state): State<AppState>,
    PathParam(tenant): PathParam,
) -> Result<Json<palisade_model::tenant::TenantFeatures>, ApiError> {
    Ok(Json(state.run(move |core| core.features(&tenant)).await?))
}

/// `PATCH /_palisade/tenants/{tenant}/features` with `{"liveResponse": false, ...}`.
async fn change_features(
    State(state): State<AppState>,
    PathParam(tenant): PathParam,
    request: Request,
) -> Result<Json<palisade_model::tenant::TenantFeatures>, ApiError> {
    // Our own reader, so an oversized body is the envelope's PayloadTooLarge, not axum's text.
    let body = crate::extract::read_body(request, state.config.max_body_bytes).await?;
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
    params: crate::api::mde::actions::PathParams,
) -> Result<Json<palisade_domain::mde::actions::DeviceState>, ApiError> {
    let [tenant, machine] = crate::api::mde::actions::path_params::<2>(params)?;
    Ok(Json(state.run(move |core| core.device_state(&tenant, &machine)).await?))
}

/// The bytes of a live-response library file as uploaded (the API has no download of its own):
/// lets a user check what their client sent.
async fn library_file_content(
    State(state): State<AppState>,
    params: crate::api::mde::actions::PathParams,
) -> Result<Response, ApiError> {
    let [tenant, name] = crate::api::mde::actions::path_params::<2>(params)?;
    let lookup = name.clone();
    let (file, bytes) = state
        .run(move |core| core.library_file_content(&tenant, &lookup))
        .await?
        .ok_or_else(|| ApiError::resource_not_found("Library file", &name))?;
    let mut response = (StatusCode::OK, bytes).into_response();
    let headers = response.headers_mut();
    headers.insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/octet-stream"),
    );
    let disposition = format!("attachment; filename=\"{}\"", file.file_name.replace(['"', '\\'], "_"));
    if let Ok(value) = axum::http::HeaderValue::from_str(&disposition) {
        headers.insert(axum::http::header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

async fn list_tenants(State(state): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    let tenants = state.run(|core| core.list_tenants()).await?;
    Ok(Json(json!({ "value": tenants })))
}

async fn get_tenant(State(state): State<AppState>, PathParam(tenant): PathParam) -> Result<Json<Tenant>, ApiError> {
    Ok(Json(state.run(move |core| core.tenant(&tenant)).await?))
}

/// Deletes the tenant with its apps, entities and relations; its apps' tokens stop working at once.
async fn delete_tenant(State(state): State<AppState>, PathParam(tenant): PathParam) -> Result<StatusCode, ApiError> {
    state.run(move |core| core.delete_tenant(&tenant)).await?;
    Ok(StatusCode::NO_CONTENT)
}

request_body! {
    /// `POST /_palisade/tenants/{tenant}/apps`: a new app registration with chosen roles (an empty
    /// list makes a role-less app).
    pub struct RegisterAppRequest {
        optional "displayName" display_name: Option<String>,
        required "roles" roles: Vec<String>,
    }
}

/// An app with its secret: answered only when the secret is created or rotated.
fn app_with_secret(app: &AppRegistration) -> serde_json::Value {
    json!({
        "clientId": app.client_id,
        "tenantId": app.tenant_id,
        "displayName": app.display_name,
        "clientSecret": app.client_secret,
        "roles": app.roles,
    })
}

async fn register_app(
    State(state): State<AppState>,
    PathParam(tenant): PathParam,
    JsonBody(body): JsonBody<RegisterAppRequest>,
) -> Result<Response, ApiError> {
    let name = body.display_name.unwrap_or_else(|| "Palisade app".to_string());
    let app = state
        .run(move |core| core.register_app(&tenant, &name, &body.roles))
        .await?;
    Ok((StatusCode::CREATED, Json(app_with_secret(&app))).into_response())
}

async fn list_apps(
    State(state): State<AppState>,
    PathParam(tenant): PathParam,
) -> Result<Json<serde_json::Value>, ApiError> {
    let apps = state.run(move |core| core.list_apps(&tenant)).await?;
    let apps: Vec<AppView> = apps.iter().map(AppView::from).collect();
    Ok(Json(json!({ "value": apps })))
}

async fn get_app(
    State(state): State<AppState>,
    params: crate::api::mde::actions::PathParams,
) -> Result<Json<AppView>, ApiError> {
    let [tenant, client] = crate::api::mde::actions::path_params::<2>(params)?;
    let app = state.run(move |core| core.app(&tenant, &client)).await?;
    Ok(Json(AppView::from(&app)))
}

request_body! {
    /// `PATCH /_palisade/tenants/{tenant}/apps/{clientId}`: new roles (and name). Tokens already
    /// issued keep their roles until they expire.
    pub struct UpdateAppRequest {
        optional "displayName" display_name: Option<String>,
        optional "roles" roles: Option<Vec<String>>,
    }
}

async fn update_app(
    State(state): State<AppState>,
    params: crate::api::mde::actions::PathParams,
    JsonBody(body): JsonBody<UpdateAppRequest>,
) -> Result<Json<AppView>, ApiError> {
    let [tenant, client] = crate::api::mde::actions::path_params::<2>(params)?;
    let app = state
        .run(move |core| core.update_app(&tenant, &client, body.display_name, body.roles.as_deref()))
        .await?;
    Ok(Json(AppView::from(&app)))
}

async fn delete_app(
    State(state): State<AppState>,
    params: crate::api::mde::actions::PathParams,
) -> Result<StatusCode, ApiError> {
    let [tenant, client] = crate::api::mde::actions::path_params::<2>(params)?;
    state.run(move |core| core.delete_app(&tenant, &client)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A new secret; the old one stops working at once (one secret per app).
async fn rotate_secret(
    State(state): State<AppState>,
    params: crate::api::mde::actions::PathParams,
) -> Result<Json<serde_json::Value>, ApiError> {
    let [tenant, client] = crate::api::mde::actions::path_params::<2>(params)?;
    let app = state.run(move |core| core.rotate_secret(&tenant, &client)).await?;
    Ok(Json(app_with_secret(&app)))
}

/// `POST /_palisade/tenants/{tenant}/data`: entities in the API's shapes, validated whole, then
/// upserted by id; answers how many of each kind were stored.
async fn load_data(
    State(state): State<AppState>,
    PathParam(tenant): PathParam,
    request: Request,
) -> Result<Json<serde_json::Value>, ApiError> {
    let body = crate::extract::read_body(request, state.config.max_body_bytes).await?;
    let document: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::invalid_request_body(format!("the body is not valid JSON ({e})"), "json syntax"))?;
    let counts = state.run(move |core| core.load_data(&tenant, document)).await?;
    Ok(Json(serde_json::Value::Object(counts)))
}

request_body! {
    /// Body of `POST /_palisade/tenants/{tenant}/incidents/{id}/merge`: the incident to merge into.
    pub struct MergeIncidentRequest {
        required "into" into: i64,
    }
}

/// Merges incident `{id}` into `into` (Defender merges incidents itself; the public API has no
/// such operation). Answers the target incident in the XDR shape.
async fn merge_incident(
    State(state): State<AppState>,
    params: crate::api::mde::actions::PathParams,
    JsonBody(body): JsonBody<MergeIncidentRequest>,
) -> Result<Response, ApiError> {
    let [tenant, id] = crate::api::mde::actions::path_params::<2>(params)?;
    let source = palisade_domain::xdr::incidents::parse_incident_id(&id)?;
    let rendered = state
        .run(move |core| {
            let tenant_id = core.tenant(&tenant)?.id;
            let incident = core.merge_incidents(&tenant_id, source, body.into)?;
            Ok(incident.to_xdr(&tenant_id))
        })
        .await?;
    Ok(Json(rendered).into_response())
}

async fn export_data(
    State(state): State<AppState>,
    PathParam(tenant): PathParam,
) -> Result<Json<serde_json::Value>, ApiError> {
    Ok(Json(state.run(move |core| core.export_data(&tenant)).await?))
}

request_body! {
    /// `POST /_palisade/tenants/{tenant}/reset`: empty the tenant, or put the demo data back.
    pub struct ResetTenantRequest {
        required "demoData" demo_data: bool,
    }
}

async fn reset_tenant(
    State(state): State<AppState>,
    PathParam(tenant): PathParam,
    JsonBody(body): JsonBody<ResetTenantRequest>,
) -> Result<StatusCode, ApiError> {
    state
        .run(move |core| core.reset_tenant(&tenant, body.demo_data))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /_palisade/reset`: back to a first start (demo tenant and dev app only, journals empty,
/// clock reset).
async fn reset_everything(State(state): State<AppState>) -> Result<StatusCode, ApiError> {
    state
        .run(|core| {
            core.reset_all()?;
            core.change_clock(|clock| clock.reset())
        })
        .await?;
    state.requests.clear();
    Ok(StatusCode::NO_CONTENT)
}

/// The query parameters of `GET /_palisade/requests`.
const REQUEST_FILTERS: &[&str] = &[
    "method",
    "path",
    "pathPrefix",
    "status",
    "code",
    "clientId",
    "tenantId",
    "bodyContains",
    "since",
    "after",
    "limit",
];

fn parse_request_filter(query: Option<&str>) -> Result<RequestFilter, ApiError> {
    let mut filter = RequestFilter::default();
    let bad = |name: &str, value: &str, expected: &str| {
        ApiError::invalid_input(
            format!("{name} '{value}'; expected {expected}"),
            "request journal filter",
        )
    };
    for (name, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        let value = value.into_owned();
        match name.as_ref() {
            "method" => {
                filter.method = Some(
                    axum::http::Method::from_str(&value.to_ascii_uppercase())
                        .map_err(|_| bad("method", &value, "an HTTP method"))?,
                )
            }
            "path" => filter.path = Some(value),
            "pathPrefix" => filter.path_prefix = Some(value),
            "status" => {
                filter.status = Some(
                    value
                        .parse()
                        .ok()
                        .filter(|s| (100..=599).contains(s))
                        .ok_or_else(|| bad("status", &value, "an HTTP status code"))?,
                )
            }
            "code" => filter.code = Some(value),
            "clientId" => filter.client_id = Some(value),
            "tenantId" => filter.tenant_id = Some(value),
            "bodyContains" => filter.body_contains = Some(value),
            "since" => {
                filter.since = Some(
                    chrono::DateTime::parse_from_rfc3339(&value)
                        .map_err(|_| bad("since", &value, "an ISO-8601 instant like 2030-01-01T00:00:00Z"))?
                        .with_timezone(&chrono::Utc),
                )
            }
            "after" => filter.after = Some(value.parse().map_err(|_| bad("after", &value, "a sequence number"))?),
            "limit" => {
                filter.limit = Some(
                    value
                        .parse()
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or_else(|| bad("limit", &value, "a positive number"))?,
                )
            }
            other => {
                return Err(ApiError::invalid_input(
                    format!(
                        "query parameter '{other}'; the request journal filters on: {}",
                        REQUEST_FILTERS.join(", ")
                    ),
                    "request journal filter",
                ))
            }
        }
    }
    Ok(filter)
}

/// `GET /_palisade/requests`: journaled requests matching every given filter, oldest first.
async fn list_requests(State(state): State<AppState>, uri: axum::http::Uri) -> Result<Response, ApiError> {
    let filter = parse_request_filter(uri.query())?;
    let records = state.requests.matching(&filter);
    let records: Vec<&crate::layers::requests::RequestRecord> = records.iter().map(|r| r.as_ref()).collect();
    Ok(Json(json!({ "value": records })).into_response())
}

async fn clear_requests(State(state): State<AppState>) -> Json<serde_json::Value> {
    let cleared = state.requests.clear();
    Json(json!({ "cleared": cleared }))
}

/// `GET /metrics`: the Prometheus text exposition.
async fn metrics(State(state): State<AppState>) -> Response {
    let mut response = state.metrics.render().into_response();
    response.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
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
    use secrecy::SecretString;
    use std::net::SocketAddr;

    #[test]
    fn admin_api_admits_trusted_networks_or_the_configured_key_only() {
        let loopback: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let loopback6: SocketAddr = "[::1]:5000".parse().unwrap();
        let remote: SocketAddr = "192.0.2.7:5000".parse().unwrap();
        let trusted = crate::IpNetwork::loopback();
        let secret = SecretString::from("s3cret");
        let key = SecretString::from("k");
        assert!(admin_allowed(Some(loopback), &trusted, None, None));
        assert!(admin_allowed(Some(loopback6), &trusted, None, None));
        assert!(!admin_allowed(Some(remote), &trusted, None, None));
        assert!(
            !admin_allowed(Some(remote), &trusted, None, Some(b"guess")),
            "no key configured: nobody remote"
        );
        assert!(!admin_allowed(Some(remote), &trusted, Some(&secret), Some(b"wrong")));
        assert!(!admin_allowed(Some(remote), &trusted, Some(&secret), None));
        assert!(admin_allowed(Some(remote), &trusted, Some(&secret), Some(b"s3cret")));
        assert!(
            !admin_allowed(Some(remote), &trusted, Some(&secret), Some(b"s3cre")),
            "a prefix is not the key"
        );
        assert!(
            !admin_allowed(None, &trusted, None, None),
            "an unknown peer is not trusted"
        );
        assert!(
            !admin_allowed(Some(loopback), &[], None, None),
            "no trusted network: key only"
        );
        assert!(admin_allowed(Some(loopback), &[], Some(&key), Some(b"k")));
    }
}
