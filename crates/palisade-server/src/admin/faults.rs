//! Admin endpoints of fault injection and rate limits (behind the admin guard):
//!
//! - `POST /_palisade/faults` creates a rule, `GET` lists them with their counters and state,
//!   `DELETE` removes them all; `GET`/`DELETE /_palisade/faults/{id}` one rule.
//! - `GET /_palisade/ratelimits` shows the limit table and the global switch; `DELETE` resets
//!   every counter.
//! - `GET`/`PATCH /_palisade/tenants/{tenant}/ratelimits` reads or switches a tenant's limits
//!   (`{"enabled": false}`), kept with the tenant.

use crate::extract::{JsonBody, PathParam};
use crate::request_body;
use crate::routing::Routes;
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use palisade_domain::control::faults::{FaultRuleSpec, FaultRuleView};
use palisade_domain::control::ratelimit::{RateLimitSettings, DEFAULT_LIMIT};
use palisade_error::ApiError;
use serde_json::json;

pub fn router() -> Routes {
    Routes::new()
        .get("/_palisade/faults", list)
        .post("/_palisade/faults", create)
        .delete("/_palisade/faults", clear)
        .get("/_palisade/faults/{id}", get_one)
        .delete("/_palisade/faults/{id}", remove)
        .get("/_palisade/ratelimits", limits)
        .delete("/_palisade/ratelimits", reset_counters)
        .get("/_palisade/tenants/{tenant}/ratelimits", tenant_limits)
        .patch("/_palisade/tenants/{tenant}/ratelimits", change_tenant_limits)
}

request_body! {
    /// `POST /_palisade/faults`. Only `path` is required; a rule needs `error`, `delayMs` or both.
    pub struct FaultRuleBody {
        optional "method" method: Option<String>,
        required "path" path: String,
        optional "clientId" client_id: Option<String>,
        optional "tenantId" tenant_id: Option<String>,
        optional "error" error: Option<String>,
        optional "message" message: Option<String>,
        optional "delayMs" delay_ms: Option<u64>,
        optional "afterCalls" after_calls: Option<u64>,
        optional "times" times: Option<u64>,
        optional "probability" probability: Option<f64>,
        optional "seed" seed: Option<u64>,
        optional "expiresInSeconds" expires_in_seconds: Option<f64>,
        optional "retryAfterSeconds" retry_after_seconds: Option<u64>,
    }
}

async fn create(State(state): State<AppState>, JsonBody(body): JsonBody<FaultRuleBody>) -> Result<Response, ApiError> {
    // Patterns are matched against normalised paths, so they are normalised the same way
    // (`/api/v1.0/...` → `/api/...`).
    let path = crate::layers::normalize::normalize_path(&body.path, state.core.families()).unwrap_or(body.path);
    let spec = FaultRuleSpec {
        method: body.method,
        path,
        client_id: body.client_id,
        tenant_id: body.tenant_id,
        error: body.error,
        message: body.message,
        delay_ms: body.delay_ms,
        after_calls: body.after_calls,
        times: body.times,
        probability: body.probability,
        seed: body.seed,
        expires_in_seconds: body.expires_in_seconds,
        retry_after_seconds: body.retry_after_seconds,
    };
    let rule = state.run(move |core| core.add_fault_rule(spec)).await?;
    tracing::info!(rule = %rule.id, path = %rule.path, "fault rule created");
    Ok((StatusCode::CREATED, Json(rule)).into_response())
}

async fn list(State(state): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    let rules: Vec<FaultRuleView> = state.run(|core| core.list_fault_rules()).await?;
    Ok(Json(json!({ "value": rules })))
}

async fn get_one(State(state): State<AppState>, PathParam(id): PathParam) -> Result<Json<FaultRuleView>, ApiError> {
    Ok(Json(state.run(move |core| core.fault_rule(&id)).await?))
}

async fn remove(State(state): State<AppState>, PathParam(id): PathParam) -> Result<StatusCode, ApiError> {
    state.run(move |core| core.remove_fault_rule(&id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn clear(State(state): State<AppState>) -> Result<StatusCode, ApiError> {
    state.run(|core| core.clear_fault_rules()).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn limits(State(state): State<AppState>) -> Json<serde_json::Value> {
    Json(json!({
        "enabled": state.config.rate_limits,
        "windows": "fixed, opened by the first call counted in them; refused calls are not counted",
        "default": DEFAULT_LIMIT,
        "limits": state.core.api_limits(),
    }))
}

async fn reset_counters(State(state): State<AppState>) -> Result<StatusCode, ApiError> {
    state.run(|core| core.reset_rate_limits()).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn tenant_limits(
    State(state): State<AppState>,
    PathParam(tenant): PathParam,
) -> Result<Json<RateLimitSettings>, ApiError> {
    Ok(Json(state.run(move |core| core.tenant_rate_limits(&tenant)).await?))
}

request_body! {
    /// `PATCH /_palisade/tenants/{tenant}/ratelimits`.
    pub struct TenantRateLimitsBody {
        required "enabled" enabled: bool,
    }
}

async fn change_tenant_limits(
    State(state): State<AppState>,
    PathParam(tenant): PathParam,
    JsonBody(body): JsonBody<TenantRateLimitsBody>,
) -> Result<Json<RateLimitSettings>, ApiError> {
    Ok(Json(
        state
            .run(move |core| core.set_tenant_rate_limits(&tenant, body.enabled))
            .await?,
    ))
}
