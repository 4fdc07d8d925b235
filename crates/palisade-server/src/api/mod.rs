//! The emulated APIs, by product: [`mde`] (Defender for Endpoint), [`xdr`] (Defender XDR) and
//! [`graph`] (Microsoft Graph's security API over the same data), one
//! route module per API family; and the response shapes they share (OData entity and collection
//! envelopes, paging links, `$count`). Routes mirror the real paths; emulator-only ones live under
//! `/_palisade/` ([`crate::admin`]).

pub mod graph;
pub mod mde;
pub mod xdr;

use crate::extract::Origin;
use crate::state::AppState;
use axum::http::{header, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use palisade_domain::listing::Page;
use palisade_domain::{Core, DomainResult};
use palisade_odata::{EntitySchema, Query};
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

/// A single entity with its `@odata.context` (`context` is the part after `#`).
pub fn entity_response(status: StatusCode, origin: &Origin, context: &str, entity: &impl Serialize) -> Response {
    odata_response(status, &Entity::new(origin, context, entity))
}

/// Parses a list request's OData options against the entity set's schema.
pub fn odata_query(uri: &Uri, schema: &EntitySchema) -> Result<Query, palisade_error::ApiError> {
    palisade_odata::parse_query(uri.query().unwrap_or(""), schema).map_err(crate::error::from_odata)
}

/// A list endpoint in one call: the client's OData options checked against `schema`, the domain's
/// page for them, and the paging envelope.
pub async fn list_response<F>(
    state: &AppState,
    origin: &Origin,
    uri: &Uri,
    schema: &'static EntitySchema,
    list: F,
) -> Result<Response, palisade_error::ApiError>
where
    F: FnOnce(&Core, &Query, u32) -> DomainResult<Page> + Send + 'static,
{
    let query = odata_query(uri, schema)?;
    let page_size = state.config.page_size;
    let run_query = query.clone();
    let page = state.run(move |core| list(core, &run_query, page_size)).await?;
    Ok(page_response(origin, uri, schema, &query, page))
}

/// A collection page: `@odata.context`, `@odata.count` when asked, `value`, and `@odata.nextLink`
/// when more results remain. Documents are spliced in as stored unless `$select` trims them.
pub fn page_response(origin: &Origin, uri: &Uri, schema: &EntitySchema, query: &Query, page: Page) -> Response {
    let mut body = String::with_capacity(64 + page.docs.iter().map(|d| d.len() + 1).sum::<usize>());
    body.push_str("{\"@odata.context\":");
    push_json_string(&mut body, &format!("{}/api/$metadata#{}", origin.0, schema.set));
    if let Some(count) = page.count {
        body.push_str(&format!(",\"@odata.count\":{count}"));
    }
    body.push_str(",\"value\":[");
    let collapsed: Vec<&str> = schema
        .expandable
        .iter()
        .copied()
        .filter(|name| !query.expand.contains(name))
        .collect();
    for (n, doc) in page.docs.iter().enumerate() {
        if n > 0 {
            body.push(',');
        }
        let mut doc = std::borrow::Cow::Borrowed(doc.as_str());
        for name in &collapsed {
            if let Some(cut) = collapse_last_array(&doc, name) {
                doc = std::borrow::Cow::Owned(cut);
            }
        }
        let doc = doc.as_ref();
        match &query.select {
            None => body.push_str(doc),
            Some(_) => match serde_json::from_str::<serde_json::Value>(doc) {
                Ok(entity) => body.push_str(&query.apply_select(schema, &entity).to_string()),
                Err(e) => return palisade_error::ApiError::internal(format!("stored document: {e}")).into_response(),
            },
        }
    }
    body.push(']');
    if let Some(skip) = page.next_skip {
        body.push_str(",\"@odata.nextLink\":");
        push_json_string(&mut body, &next_link(origin, uri, skip));
    }
    body.push('}');
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(ODATA_JSON));
    headers.insert("odata-version", HeaderValue::from_static("4.0"));
    response
}

/// Empties the navigation array `name` when it is the document's last property, as stored
/// documents keep them (`..., "evidence": [...]}` becomes `..., "evidence": []}`), so unexpanded
/// lists need no JSON round trip. An inner `"name":[` cannot match: quotes inside JSON strings
/// are escaped.
fn collapse_last_array(doc: &str, name: &str) -> Option<String> {
    let key = format!(",\"{name}\":[");
    let at = doc.rfind(&key)?;
    if !doc.ends_with("]}") || doc[at..].len() == key.len() + 2 {
        return None;
    }
    Some(format!("{}[]}}", &doc[..at + key.len() - 1]))
}

/// The same request with `$skip` moved on; every other option is kept exactly as the client sent it.
pub(crate) fn next_link(origin: &Origin, uri: &Uri, skip: u64) -> String {
    let mut parts: Vec<&str> = uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|part| {
            let key = part.split('=').next().unwrap_or("");
            let key = key.replace("%24", "$");
            !part.is_empty() && !key.eq_ignore_ascii_case("$skip")
        })
        .collect();
    let skip_part = format!("$skip={skip}");
    parts.push(&skip_part);
    format!("{}{}?{}", origin.0, uri.path(), parts.join("&"))
}

fn push_json_string(out: &mut String, value: &str) {
    out.push_str(&serde_json::Value::String(value.to_string()).to_string());
}

/// `/$count`: the bare number, as the service answers it.
pub fn count_response(count: u64) -> Response {
    let mut response = (StatusCode::OK, count.to_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
        .headers_mut()
        .insert("odata-version", HeaderValue::from_static("4.0"));
    response
}

#[cfg(test)]
mod tests {
    use super::collapse_last_array;

    #[test]
    fn unexpanded_navigation_arrays_are_emptied() {
        // The title holds the key's text, escaped as JSON escapes it inside strings.
        let doc = r#"{"id":"a","title":"x \",\"evidence\":[1]","evidence":[{"entityType":"File"}]}"#;
        serde_json::from_str::<serde_json::Value>(doc).unwrap();
        assert_eq!(
            collapse_last_array(doc, "evidence").as_deref(),
            Some(r#"{"id":"a","title":"x \",\"evidence\":[1]","evidence":[]}"#)
        );
        assert_eq!(collapse_last_array(r#"{"id":"a","evidence":[]}"#, "evidence"), None);
        assert_eq!(collapse_last_array(r#"{"id":"a"}"#, "evidence"), None);
    }
}
