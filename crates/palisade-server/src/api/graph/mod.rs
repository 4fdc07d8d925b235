//! Microsoft Graph's security API (`shared/reference/xdr-api-and-auth.md` §2.9, §4) on the same
//! origin as the Defender APIs, under `/v1.0/security/` and `/beta/security/`: [`alerts`]
//! (`alerts_v2`), [`incidents`] and [`hunting`] (`runHuntingQuery`). Graph's conventions apply
//! here, not Defender's:
//!
//! - tokens for `https://graph.microsoft.com` with Graph's permissions (the auth layer refuses a
//!   Defender token here, and a Graph token on the Defender routes);
//! - Graph's error body, `{"error":{"code","message","innerError":{"date","request-id",
//!   "client-request-id"}}}`, from `palisade_error::GraphError`: every layer below speaks the
//!   Defender contract, and [`graph_shape`] translates each error response on a Graph path once,
//!   keeping its tracking id as Graph's `request-id` (so the error journal traces it as it traces a
//!   Defender `target`), echoing the client's `client-request-id`, keeping `Retry-After`;
//! - `request-id` and `client-request-id` headers on every response;
//! - `@odata.context` under the caller's origin and version, `@odata.nextLink` on the caller's
//!   origin, `@odata.count`; property names and enum values as Graph spells them
//!   (`palisade_model::graph`); body property names matched without regard to case.

pub mod alerts;
pub mod hunting;
pub mod incidents;

use crate::extract::Origin;
use crate::routing::Routes;
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use palisade_error::{ErrorCode, GraphError, JournalEntry};
use palisade_odata::{EntitySchema, Query};
use serde_json::{Map, Value};

/// The content type Graph answers JSON with.
const GRAPH_JSON: &str =
    "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8";

/// Graph's correlation headers.
pub const REQUEST_ID: &str = "request-id";
pub const CLIENT_REQUEST_ID: &str = "client-request-id";

pub fn router() -> Routes {
    Routes::new()
        .merge(alerts::router())
        .merge(incidents::router())
        .merge(hunting::router())
}

/// Whether `path` is one of Graph's (after normalisation: `/v1.0/...` or `/beta/...`).
pub fn is_graph_path(path: &str) -> bool {
    path == "/v1.0" || path == "/beta" || path.starts_with("/v1.0/") || path.starts_with("/beta/")
}

/// The Graph version segment of the request (`v1.0` or `beta`).
fn version(uri: &Uri) -> &'static str {
    if uri.path().starts_with("/beta/") {
        "beta"
    } else {
        "v1.0"
    }
}

/// `@odata.context` for `fragment` (the part after `#`), under the caller's origin and version.
pub fn context(origin: &Origin, uri: &Uri, fragment: &str) -> String {
    format!("{}/{}/$metadata#{fragment}", origin.0, version(uri))
}

/// A Graph JSON response.
pub fn graph_response(status: StatusCode, body: &Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(GRAPH_JSON));
    headers.insert("odata-version", HeaderValue::from_static("4.0"));
    response
}

/// One entity: `@odata.context` first, then its properties.
pub fn entity_response(origin: &Origin, uri: &Uri, fragment: &str, entity: Value) -> Response {
    let mut body = Map::new();
    body.insert("@odata.context".into(), Value::String(context(origin, uri, fragment)));
    if let Value::Object(properties) = entity {
        body.extend(properties);
    }
    graph_response(StatusCode::OK, &Value::Object(body))
}

/// A page of a collection: `@odata.context`, `@odata.count` when asked, `value` (trimmed by
/// `$select`), and `@odata.nextLink` on the caller's origin while more remain.
pub fn collection_response(
    origin: &Origin,
    uri: &Uri,
    schema: &EntitySchema,
    query: &Query,
    values: Vec<Value>,
    count: Option<u64>,
    next_skip: Option<u64>,
) -> Response {
    let mut body = Map::new();
    body.insert("@odata.context".into(), Value::String(context(origin, uri, schema.set)));
    if let Some(count) = count {
        body.insert("@odata.count".into(), Value::from(count));
    }
    let values = match &query.select {
        None => values,
        Some(_) => values.iter().map(|v| query.apply_select(schema, v)).collect(),
    };
    body.insert("value".into(), Value::Array(values));
    if let Some(skip) = next_skip {
        body.insert(
            "@odata.nextLink".into(),
            Value::String(crate::api::next_link(origin, uri, skip)),
        );
    }
    graph_response(StatusCode::OK, &Value::Object(body))
}

/// The Graph shape of every response on a Graph path, in one place: an error response of the
/// layers below (a Defender envelope, with its journal entry) becomes Graph's error body under the
/// same tracking id; every response gets `request-id` and `client-request-id` (the client's, or
/// the request id when it sent none, as Graph does).
pub async fn graph_shape(State(state): State<std::sync::Arc<AppState>>, request: Request, next: Next) -> Response {
    if !is_graph_path(request.uri().path()) {
        return next.run(request).await;
    }
    let client_request_id = client_request_id(request.headers());
    let response = next.run(request).await;
    in_graph_shape(&state, client_request_id.as_deref(), response)
}

fn client_request_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get(CLIENT_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}

/// A refusal raised before routing on a Graph path (the journal's body limit), in Graph's shape.
pub fn pre_routing_refusal(state: &AppState, headers: &HeaderMap, response: Response) -> Response {
    in_graph_shape(state, client_request_id(headers).as_deref(), response)
}

/// [`graph_shape`] for one response.
pub fn in_graph_shape(state: &AppState, client_request_id: Option<&str>, response: Response) -> Response {
    let mut response = match response.extensions().get::<JournalEntry>() {
        Some(entry) => match ErrorCode::parse(&entry.code) {
            Some(code) => {
                let entry = entry.clone();
                graph_error(state, code, entry, client_request_id, response)
            }
            None => response, // already Graph's
        },
        None => response,
    };
    let request_id = match response.extensions().get::<JournalEntry>() {
        Some(entry) => entry.target.clone(),
        None => palisade_error::new_target(),
    };
    let client_request_id = client_request_id.unwrap_or(&request_id).to_string();
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        headers.insert(REQUEST_ID, value);
    }
    if let Ok(value) = HeaderValue::from_str(&client_request_id) {
        headers.insert(CLIENT_REQUEST_ID, value);
    }
    response
}

/// Renders the Graph equivalent of a Defender-contract error response, keeping its tracking id
/// (Graph's `request-id`), `Retry-After` and `Allow`, and journaling it under Graph's code.
fn graph_error(
    state: &AppState,
    code: ErrorCode,
    entry: JournalEntry,
    client_request_id: Option<&str>,
    original: Response,
) -> Response {
    let graph = GraphError::equivalent_of(code, &entry.message);
    let date = state.core.clock.now().format("%Y-%m-%dT%H:%M:%S").to_string();
    let body = graph.body(&entry.target, client_request_id.unwrap_or(&entry.target), &date);
    let status = StatusCode::from_u16(graph.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (status, body.to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    for name in [header::RETRY_AFTER, header::ALLOW] {
        if let Some(value) = original.headers().get(&name) {
            headers.insert(name, value.clone());
        }
    }
    response.extensions_mut().insert(JournalEntry {
        cause: format!("{} (answered as Graph's {})", entry.cause, graph.code),
        code: graph.code.as_str().to_string(),
        message: graph.message,
        target: entry.target,
    });
    response
}
