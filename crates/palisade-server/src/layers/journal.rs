//! The journal layer, outermost after path normalisation. For every request it
//! - records each error response (time, caller, request, code, message, internal cause) in the
//!   persistent error journal before the response leaves, so its `target` can be looked up at once;
//! - records the request itself in the bounded, in-memory request journal
//!   (`GET /_palisade/requests`): method, path, query, headers without secrets, body digest (and
//!   small bodies as text), status, error code, request id, latency, tenant and app;
//! - counts it in the Prometheus metrics by route template.
//!
//! The request journal lives in memory: it is test instrumentation written on every request, where
//! a database write would double the cost of a cheap GET; a restart empties it (errors stay in the
//! persistent error journal).

use crate::layers::metrics::Metrics;
use crate::layers::requests::{HeaderLines, RequestJournal, RequestRecord};
use crate::state::AppState;
use axum::body::{Body, Bytes};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use palisade_error::JournalEntry;
use palisade_model::journal::ErrorRecord;
use sha2::{Digest, Sha256};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

/// What the journal needs to know about a request beyond its response.
#[derive(Debug)]
pub struct RequestContext {
    method: axum::http::Method,
    path: String,
    caller: OnceLock<(String, Option<String>)>,
    route: OnceLock<MatchedPath>,
    ignored_properties: Mutex<Vec<String>>,
}

impl RequestContext {
    /// Records the body properties the request sent that the API does not document (see
    /// [`crate::extract::apply_body_policy`]).
    pub fn add_ignored_properties(&self, names: Vec<String>) {
        if let Ok(mut ignored) = self.ignored_properties.lock() {
            ignored.extend(names);
        }
    }

    /// Whether the request is for Palisade's own API (`/_palisade/`), not an emulated one.
    pub fn is_admin(&self) -> bool {
        self.path.starts_with("/_palisade/")
    }

    fn ignored_properties(&self) -> Vec<String> {
        self.ignored_properties
            .lock()
            .map(|names| names.clone())
            .unwrap_or_default()
    }

    /// Records who is calling (tenant, app) once it is known.
    pub fn set_caller(&self, tenant_id: String, app_id: Option<String>) {
        let _ = self.caller.set((tenant_id, app_id));
    }
}

/// The header carrying the tracking id of the response (the error's `target` on errors).
pub const REQUEST_ID_HEADER: &str = "x-ms-request-id";

/// Names the body properties a request sent that the API ignored (lenient body policy).
pub const IGNORED_PROPERTIES_HEADER: &str = "x-palisade-ignored-properties";

/// Bodies up to this size are kept as text in the request journal (larger ones: digest and size).
pub const BODY_TEXT_LIMIT: usize = 64 * 1024;

/// The request journal's own endpoint and the metrics scrape are not journaled: reading the
/// journal must not change it.
fn journaled(path: &str) -> bool {
    !(path == "/metrics" || path == "/_palisade/requests" || path.starts_with("/_palisade/requests/"))
}

/// Copies the matched route template (`/api/machines/{id}`) into the request's context; installed
/// with `route_layer`, so it runs only once routing has matched.
pub async fn record_route(request: Request, next: Next) -> Response {
    if let (Some(matched), Some(context)) = (
        request.extensions().get::<MatchedPath>(),
        request.extensions().get::<Arc<RequestContext>>(),
    ) {
        let _ = context.route.set(matched.clone());
    }
    next.run(request).await
}

/// The server-wide body limit, or a route's own larger one (the library upload takes 20 MB files).
fn body_limit(method: &axum::http::Method, path: &str, server_wide: usize) -> usize {
    if method == axum::http::Method::POST && path.eq_ignore_ascii_case("/api/libraryfiles") {
        server_wide.max(crate::config::UPLOAD_BODY_LIMIT)
    } else {
        server_wide
    }
}

pub async fn journal_errors(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let context = Arc::new(RequestContext {
        method: request.method().clone(),
        path: request
            .uri()
            .path_and_query()
            .map(|p| p.to_string())
            .unwrap_or_default(),
        caller: OnceLock::new(),
        route: OnceLock::new(),
        ignored_properties: Mutex::new(Vec::new()),
    });
    let keep = journaled(request.uri().path());
    let (mut parts, body) = request.into_parts();
    parts.extensions.insert(context.clone());
    let mut seen = if keep { Some(SeenRequest::of(&parts)) } else { None };
    // Bodies are read here (up to the same limit the handlers apply) only when there is one, so a
    // GET costs no buffering; the bytes are handed on as they are, without a copy.
    let mut response = if has_body(&parts.headers) || !axum::body::HttpBody::is_end_stream(&body) {
        let limit = body_limit(&parts.method, parts.uri.path(), state.config.max_body_bytes);
        match crate::extract::read_limited(body, limit).await {
            Ok(bytes) => {
                if let Some(seen) = seen.as_mut() {
                    seen.body(&bytes);
                }
                next.run(Request::from_parts(parts, Body::from(bytes))).await
            }
            Err(refusal) => {
                let path = parts.uri.path();
                let response = crate::signin::pre_routing_refusal(&state, path, refusal);
                if crate::api::graph::is_graph_path(path) {
                    crate::api::graph::pre_routing_refusal(&state, &parts.headers, response)
                } else {
                    response
                }
            }
        }
    } else {
        next.run(Request::from_parts(parts, body)).await
    };
    let status = response.status().as_u16();
    let (request_id, code) = match response.extensions_mut().remove::<JournalEntry>() {
        Some(entry) => {
            let request_id = entry.target.clone();
            let code = entry.code.clone();
            record_error(&state, &context, status, entry).await;
            (request_id, Some(code))
        }
        // A Graph response names its own request id (its `request-id` header): keep one id.
        None => match response
            .headers()
            .get(crate::api::graph::REQUEST_ID)
            .and_then(|v| v.to_str().ok())
        {
            Some(id) => (id.to_string(), None),
            None => (palisade_error::new_target(), None),
        },
    };
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    let ignored_properties = context.ignored_properties();
    if !ignored_properties.is_empty() {
        if let Ok(value) = HeaderValue::from_str(&ignored_properties.join(", ")) {
            response.headers_mut().insert(IGNORED_PROPERTIES_HEADER, value);
        }
    }
    let elapsed = started.elapsed();
    let route = context.route.get();
    state.metrics.observe(
        route.map(MatchedPath::as_str),
        context.method.as_str(),
        status,
        code.as_deref(),
        elapsed.as_secs_f64(),
    );
    if let Some(seen) = seen {
        let (tenant_id, client_id) = match context.caller.get() {
            Some((tenant, app)) => (Some(tenant.clone()), app.clone()),
            None => (None, None),
        };
        state.requests.push(RequestRecord {
            sequence: 0,
            time: state.core.clock.now().into(),
            method: context.method.clone(),
            path: seen.path,
            query: seen.query,
            route: route.cloned(),
            headers: seen.headers,
            body_bytes: seen.body_bytes,
            body_sha256: seen.body_sha256,
            body: seen.body,
            status,
            error_code: code,
            request_id,
            latency_ms: elapsed.as_secs_f64() * 1000.0,
            tenant_id,
            client_id,
            ignored_properties,
        });
    }
    response
}

/// Whether the request announces a body (a length above zero, or chunked transfer); HTTP/2
/// bodies without a length are caught by the body's own end-of-stream flag.
fn has_body(headers: &HeaderMap) -> bool {
    headers.contains_key(header::TRANSFER_ENCODING)
        || headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .is_some_and(|n| n > 0)
}

/// What the request journal keeps of a request before it is answered.
struct SeenRequest {
    path: String,
    query: Option<String>,
    headers: HeaderLines,
    body_bytes: usize,
    body_sha256: Option<String>,
    body: Option<String>,
    form: bool,
}

impl SeenRequest {
    fn of(parts: &axum::http::request::Parts) -> SeenRequest {
        let form = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"))
            // Sign-in forms are read whatever their Content-Type says.
            || parts.uri.path().contains("/oauth2/");
        SeenRequest {
            path: parts.uri.path().to_string(),
            query: parts.uri.query().map(str::to_string),
            headers: redacted_headers(&parts.headers),
            body_bytes: 0,
            body_sha256: None,
            body: None,
            form,
        }
    }

    fn body(&mut self, bytes: &Bytes) {
        self.body_bytes = bytes.len();
        self.body_sha256 = Some(hex(&Sha256::digest(bytes)));
        if bytes.len() <= BODY_TEXT_LIMIT {
            self.body =
                std::str::from_utf8(bytes).ok().map(
                    |text| {
                        if self.form {
                            redact_form(text)
                        } else {
                            text.to_string()
                        }
                    },
                );
        }
    }
}

const REDACTED: &str = "[redacted]";

/// Headers as sent, except credentials: `Authorization` keeps its scheme only; cookies and the
/// admin key are replaced.
fn redacted_headers(headers: &HeaderMap) -> HeaderLines {
    let mut lines = HeaderLines::default();
    for (name, value) in headers {
        let text = String::from_utf8_lossy(value.as_bytes());
        match name.as_str() {
            "authorization" | "proxy-authorization" => match text.split_once(' ') {
                Some((scheme, _)) => lines.push(name.as_str(), &format!("{scheme} {REDACTED}")),
                None => lines.push(name.as_str(), REDACTED),
            },
            "cookie" | crate::config::ADMIN_KEY_HEADER => lines.push(name.as_str(), REDACTED),
            _ => lines.push(name.as_str(), &text),
        }
    }
    lines
}

/// A form body with the values of `client_secret` and `client_assertion` replaced.
fn redact_form(text: &str) -> String {
    text.split('&')
        .map(|pair| {
            let key = pair.split('=').next().unwrap_or("");
            let decoded: String = form_urlencoded::parse(key.as_bytes())
                .map(|(k, _)| k.into_owned())
                .next()
                .unwrap_or_default();
            if matches!(decoded.as_str(), "client_secret" | "client_assertion") {
                format!("{key}={REDACTED}")
            } else {
                pair.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("&")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

async fn record_error(state: &AppState, context: &RequestContext, status: u16, entry: JournalEntry) {
    let (tenant_id, app_id) = match context.caller.get() {
        Some((tenant, app)) => (Some(tenant.clone()), app.clone()),
        None => (None, None),
    };
    // DEBUG: the journal keeps every error response, so a line per error on stderr would only
    // cost the error path its speed (RUST_LOG=palisade_server=debug shows them).
    tracing::debug!(
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
    let ignored = context.ignored_properties();
    let cause = if ignored.is_empty() {
        entry.cause
    } else {
        format!("{}; ignored body properties: {}", entry.cause, ignored.join(", "))
    };
    let record = ErrorRecord {
        target: entry.target,
        time: state.core.clock.now().into(),
        tenant_id,
        app_id,
        method: context.method.to_string(),
        path: context.path.clone(),
        status,
        code: entry.code,
        message: entry.message,
        cause,
    };
    // Queued before the response leaves (findable at once, written by the journal's group
    // commit: see `palisade_domain::control::journal`). Past the queue's high-water mark the
    // response waits for the writer, off the async worker.
    if state.core.record_error(record, state.config.journal_capacity) {
        let core = state.core.clone();
        let _ = tokio::task::spawn_blocking(move || core.wait_journal_below_high_water()).await;
    }
}

/// Shared by the state: the journal and metrics a server instance keeps in memory.
pub fn observability(config: &crate::Config) -> (Arc<RequestJournal>, Arc<Metrics>) {
    (
        Arc::new(RequestJournal::new(config.request_journal_capacity)),
        Arc::new(Metrics::default()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_in_secrets_are_redacted_and_the_rest_kept() {
        assert_eq!(
            redact_form("grant_type=client_credentials&client_secret=s3cr%26t&client_id=abc"),
            "grant_type=client_credentials&client_secret=[redacted]&client_id=abc"
        );
        assert_eq!(redact_form("client%5Fsecret=x"), "client%5Fsecret=[redacted]");
    }

    #[test]
    fn credentials_never_reach_the_journal_headers() {
        let mut headers = HeaderMap::new();
        headers.insert("authorization", HeaderValue::from_static("Bearer eyJ.abc.def"));
        headers.insert("x-palisade-admin-key", HeaderValue::from_static("k"));
        headers.insert("cookie", HeaderValue::from_static("a=b"));
        headers.insert("accept", HeaderValue::from_static("application/json"));
        let shown = redacted_headers(&headers);
        let get = |n: &str| shown.iter().find(|(k, _)| *k == n).map(|(_, v)| v);
        assert_eq!(get("authorization"), Some("Bearer [redacted]"));
        assert_eq!(get("x-palisade-admin-key"), Some(REDACTED));
        assert_eq!(get("cookie"), Some(REDACTED));
        assert_eq!(get("accept"), Some("application/json"));
    }
}
