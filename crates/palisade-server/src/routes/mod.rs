//! Route families. API routes mirror the real paths; emulator-only ones live under `/_palisade/`.

pub mod admin;
pub mod machines;
pub mod signin;

use crate::extract::Origin;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// The content type the Defender API answers with.
const ODATA_JSON: &str = "application/json; odata.metadata=minimal; odata.streaming=true; charset=utf-8";

/// Serialises `body` as the API's JSON, with the OData headers real responses carry.
pub fn odata_response(status: StatusCode, body: &impl Serialize) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => {
            let mut response = (status, bytes).into_response();
            let headers = response.headers_mut();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(ODATA_JSON));
            headers.insert("odata-version", HeaderValue::from_static("4.0"));
            response
        }
        Err(e) => palisade_error::ApiError::internal(format!("response serialisation: {e}")).into_response(),
    }
}

/// `{"@odata.context": ".../api/$metadata#<Set>", "value": [...]}`.
#[derive(Serialize)]
pub struct Collection<'a, T> {
    #[serde(rename = "@odata.context")]
    context: String,
    value: &'a [T],
}

impl<'a, T: Serialize> Collection<'a, T> {
    pub fn new(origin: &Origin, set: &str, value: &'a [T]) -> Self {
        Collection {
            context: format!("{}/api/$metadata#{set}", origin.0),
            value,
        }
    }
}

/// A single entity with its `@odata.context` first, then its properties in their own order.
#[derive(Serialize)]
pub struct Entity<'a, T> {
    #[serde(rename = "@odata.context")]
    context: String,
    #[serde(flatten)]
    entity: &'a T,
}

impl<'a, T: Serialize> Entity<'a, T> {
    /// `context` is the part after `#`, e.g. `Machines/$entity`.
    pub fn new(origin: &Origin, context: &str, entity: &'a T) -> Self {
        Entity {
            context: format!("{}/api/$metadata#{context}", origin.0),
            entity,
        }
    }
}
