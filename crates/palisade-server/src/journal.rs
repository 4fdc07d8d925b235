//! The error journal layer: every error response, whoever produced it, is logged with its tracking
//! id and recorded (time, caller, request, code, message, internal cause) before it leaves.

use crate::state::AppState;
use axum::extract::{Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use palisade_core::journal::ErrorRecord;
use palisade_error::JournalEntry;
use std::any::Any;
use std::sync::{Arc, OnceLock};

/// What the journal needs to know about a request beyond its response.
#[derive(Debug)]
pub struct RequestContext {
    method: String,
    path: String,
    caller: OnceLock<(String, Option<String>)>,
}

impl RequestContext {
    /// Records who is calling (tenant, app) once it is known.
    pub fn set_caller(&self, tenant_id: String, app_id: Option<String>) {
        let _ = self.caller.set((tenant_id, app_id));
    }
}

/// The header carrying the tracking id of the response (the error's `target` on errors).
pub const REQUEST_ID_HEADER: &str = "x-ms-request-id";

pub async fn journal_errors(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let context = Arc::new(RequestContext {
        method: request.method().to_string(),
        path: request
            .uri()
            .path_and_query()
            .map(|p| p.to_string())
            .unwrap_or_default(),
        caller: OnceLock::new(),
    });
    request.extensions_mut().insert(context.clone());
    let mut response = next.run(request).await;
    let request_id = match response.extensions_mut().remove::<JournalEntry>() {
        Some(entry) => {
            let request_id = entry.target.clone();
            record(&state, &context, response.status().as_u16(), entry).await;
            request_id
        }
        None => palisade_error::new_target(),
    };
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    response
}

async fn record(state: &AppState, context: &RequestContext, status: u16, entry: JournalEntry) {
    let (tenant_id, app_id) = match context.caller.get() {
        Some((tenant, app)) => (Some(tenant.clone()), app.clone()),
        None => (None, None),
    };
    tracing::warn!(
        target_id = %entry.target,
        code = %entry.code,
        status,
        tenant = tenant_id.as_deref().unwrap_or("-"),
        app = app_id.as_deref().unwrap_or("-"),
        method = %context.method,
        path = %context.path,
        cause = %entry.cause,
        "error response"
    );
    let record = ErrorRecord {
        target: entry.target,
        time: state.core.clock.now().into(),
        tenant_id,
        app_id,
        method: context.method.clone(),
        path: context.path.clone(),
        status,
        code: entry.code,
        message: entry.message,
        cause: entry.cause,
    };
    let store = state.core.store.clone();
    let capacity = state.config.journal_capacity;
    // Written before the response leaves, so a client can look its target up at once.
    let written = tokio::task::spawn_blocking(move || store.record_error(&record, capacity)).await;
    match written {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::error!(error = %e, "error journal write failed"),
        Err(e) => tracing::error!(error = %e, "error journal write panicked"),
    }
}

/// The message of a panic payload (a `&str` or `String` in practice).
pub fn describe_panic(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-string payload".to_string()
    }
}
