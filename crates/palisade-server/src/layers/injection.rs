//! The rate-limit and fault-injection layer.
//!
//! - API routes: [`api_calls`] sits inside the authentication layer (so the caller's tenant and
//!   app are known) and outside the handler: first the documented rate limits
//!   ([`palisade_domain::control::ratelimit`]), as the service's gateway would, then the fault rules
//!   ([`palisade_domain::control::faults`]). A call refused with 429 never reaches a fault rule; a call
//!   refused by authentication is neither counted nor faulted.
//! - Sign-in routes: [`signin_calls`] applies fault rules by path and method only (the caller is
//!   not known before the token is issued), so a client's token retry logic can be tested. Injected
//!   errors there leave in Entra's OAuth2 shape ([`crate::signin::entra_errors`]), with the
//!   status and `Retry-After` the rule asked for.
//! - Admin routes (`/_palisade/`) have neither layer: they are never limited nor faulted.

use crate::state::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use palisade_auth::Principal;
use palisade_domain::control::faults::{Call, OwnedCall};
use palisade_error::ApiError;
use std::sync::Arc;

/// Rate limits, then fault rules, for an authenticated API call.
pub async fn api_calls(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let Some(caller) = request.extensions().get::<Principal>() else {
        return ApiError::internal("API route served without the authentication layer").into_response();
    };
    let path = request.uri().path();
    if state.config.rate_limits {
        let route = request
            .extensions()
            .get::<MatchedPath>()
            .map_or(path, MatchedPath::as_str);
        if let Err(refusal) = admit(&state, caller, request.method().as_str(), route, path).await {
            return refusal.into_response();
        }
    }
    let call = Call {
        method: request.method().as_str(),
        path,
        tenant_id: Some(&caller.tenant_id),
        client_id: Some(&caller.app_id),
    };
    if let Some(refusal) = apply_faults(&state, &call).await {
        return refusal.into_response();
    }
    next.run(request).await
}

/// Fault rules, by method and path only, for a sign-in call.
pub async fn signin_calls(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let call = Call {
        method: request.method().as_str(),
        path: request.uri().path(),
        tenant_id: None,
        client_id: None,
    };
    if let Some(refusal) = apply_faults(&state, &call).await {
        return refusal.into_response();
    }
    next.run(request).await
}

/// Counts the call against its API's limits, or says why not (`TooManyRequests`).
async fn admit(state: &AppState, caller: &Principal, method: &str, route: &str, path: &str) -> Result<(), ApiError> {
    let core = &state.core;
    let enabled = match core.rate_limits.cached_tenant(&caller.tenant_id) {
        Some(enabled) => enabled,
        // First call of the tenant since start: read its switch from the store, once.
        None => {
            let tenant = caller.tenant_id.clone();
            state.run(move |core| core.rate_limits_enabled(&tenant)).await?
        }
    };
    if !enabled {
        return Ok(());
    }
    let limit = core.limit_for(method, path);
    let now_ms = core.clock.now().timestamp_millis();
    // One small store write (the windows are shared by every process on the store). On a local
    // store it runs on the async worker, as the settling write of a point read does: a hop to the
    // blocking pool would cost more than the write.
    let (tenant, app, method_owned, route_owned) = (
        caller.tenant_id.clone(),
        caller.app_id.clone(),
        method.to_string(),
        route.to_string(),
    );
    state
        .read_inline(move |core| core.admit_call(&tenant, &app, limit, &method_owned, &route_owned, now_ms))
        .await?
        .map_err(|throttle| {
            let api = match (limit.api, limit.path) {
                (Some(name), Some(pattern)) => format!("{name} ({method} {pattern})"),
                _ => format!("{method} {route}"),
            };
            throttle.to_error(&api, &caller.tenant_id, &caller.app_id)
        })
}

/// Waits and/or fails as the firing fault rules say; `Some` is the injected error.
async fn apply_faults(state: &AppState, call: &Call<'_>) -> Option<ApiError> {
    // This process's copy of the shared rules says whether a rule may fire; only then is the
    // call counted in the shared set (a store lock and write, so off the async workers).
    if !state.core.faults.might_fire(call, state.core.clock.now()) {
        return None;
    }
    let owned = OwnedCall::of(call);
    let verdict = match state.run(move |core| core.evaluate_faults(&owned)).await {
        Ok(verdict) => verdict?,
        Err(error) => return Some(error),
    };
    if !verdict.delay.is_zero() {
        tracing::info!(
            method = call.method,
            path = call.path,
            delay_ms = verdict.delay.as_millis() as u64,
            "fault injection: delaying"
        );
        tokio::time::sleep(verdict.delay).await;
    }
    verdict.error
}
