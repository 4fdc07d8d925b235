//! Our own extractors, so that every rejection is an error envelope and body property names are
//! checked case-sensitively as the API documents (`shared/reference/error-contract.md`).

use crate::layers::journal::RequestContext;
use crate::state::AppState;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use palisade_auth::Principal;
use palisade_error::ApiError;
use serde::de::DeserializeOwned;
use std::sync::Arc;

/// A request body type: which properties it knows (exact case) and which are required.
pub trait RequestBody: DeserializeOwned + Send {
    /// `(name, required)` for each property, spelled exactly as the API documents it.
    const PROPERTIES: &'static [(&'static str, bool)];
    /// The Rust type of each property, in the same order (the OpenAPI document derives the
    /// JSON type from it, so the documented body cannot drift from the parsed one).
    const RUST_TYPES: &'static [&'static str];
}

/// Declares a body struct and its [`RequestBody`] table from one list of
/// `required|optional "WireName" field: Type` entries.
#[macro_export]
macro_rules! request_body {
    ($(#[$meta:meta])* pub struct $name:ident { $($kind:ident $wire:literal $field:ident : $ty:ty),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, serde::Deserialize)]
        pub struct $name { $( #[serde(rename = $wire)] pub $field: $ty, )* }
        impl $crate::extract::RequestBody for $name {
            const PROPERTIES: &'static [(&'static str, bool)] = &[$(($wire, $crate::request_body!(@required $kind))),*];
            const RUST_TYPES: &'static [&'static str] = &[$(stringify!($ty)),*];
        }
    };
    (@required required) => { true };
    (@required optional) => { false };
}

/// Reads the whole body, refusing more than the configured limit with `PayloadTooLarge`.
pub async fn read_body(request: Request, limit: usize) -> Result<axum::body::Bytes, ApiError> {
    read_limited(request.into_body(), limit).await
}

/// [`read_body`] for a body already split from its request.
pub async fn read_limited(body: axum::body::Body, limit: usize) -> Result<axum::body::Bytes, ApiError> {
    let too_large = || {
        ApiError::new(
            palisade_error::ErrorCode::PayloadTooLarge,
            format!("Request body is larger than {limit} bytes"),
            "body size limit",
        )
    };
    // A declared `Content-Length` over the limit is refused before the first poll: hyper sends
    // `100 Continue` only when the body is first read, so a client that sent
    // `Expect: 100-continue` gets the 413 at once and never uploads the body.
    if axum::body::HttpBody::size_hint(&body).lower() > limit as u64 {
        return Err(too_large());
    }
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<LengthLimitError>() => Err(too_large()),
        Err(e) => Err(ApiError::invalid_request_body(
            format!("the body could not be read ({e})"),
            "body read",
        )),
    }
}

/// A JSON body checked against `T`'s property table before it is deserialised, under the body
/// policy (see [`parse_body`] and [`apply_body_policy`]).
pub struct JsonBody<T>(pub T);

impl<T: RequestBody> FromRequest<AppState> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        json_body(state, request).await.map(JsonBody)
    }
}

/// Reads a request's JSON body and parses it as `T` under the body policy: the one path every JSON
/// body of the API takes (the [`JsonBody`] extractor, and handlers that check a role first).
pub async fn json_body<T: RequestBody>(state: &AppState, request: Request) -> Result<T, ApiError> {
    json_body_as(state, request, Casing::Exact).await
}

async fn json_body_as<T: RequestBody>(state: &AppState, request: Request, casing: Casing) -> Result<T, ApiError> {
    let context = request.extensions().get::<Arc<RequestContext>>().cloned();
    let caller = request.extensions().get::<Principal>().cloned();
    let bytes = read_body(request, state.config.max_body_bytes).await?;
    let parsed = parse_body_as::<T>(&bytes, casing)?;
    apply_body_policy(
        state,
        context.as_deref(),
        caller.as_ref(),
        parsed.ignored,
        T::PROPERTIES,
    )
    .await?;
    Ok(parsed.value)
}

/// A parsed body and the undocumented properties it carried (ignored unless bodies are strict).
pub struct ParsedBody<T> {
    pub value: T,
    /// Names of the properties `T` does not declare, in body order (`Indicators[2].Foo` for nested
    /// elements, as the caller prefixes them).
    pub ignored: Vec<String>,
}

/// The body rules, in order: valid JSON → an object → no property differing only in case from a
/// documented one (a typo: `MissingRequiredParameter` for a required one, otherwise
/// `InvalidRequestBody` with "did you mean") → every required property present and not `null` →
/// each property of the right type, `null` counting as absent for optional ones. Any other
/// property is not ours to refuse: it is returned in [`ParsedBody::ignored`], and
/// [`apply_body_policy`] decides.
pub fn parse_body<T: RequestBody>(bytes: &[u8]) -> Result<ParsedBody<T>, ApiError> {
    parse_body_as::<T>(bytes, Casing::Exact)
}

/// How body property names are matched to the documented ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Casing {
    /// The Defender APIs: exact case (a near miss is refused, see [`parse_body`]).
    Exact,
    /// Microsoft Graph: names match without regard to case (the Graph SDKs send `{"query": …}`
    /// for `Query`); two properties naming the same one are `InvalidRequestBody`.
    Insensitive,
}

/// [`parse_body`] under the given property-name [`Casing`].
pub fn parse_body_as<T: RequestBody>(bytes: &[u8], casing: Casing) -> Result<ParsedBody<T>, ApiError> {
    let expected = || {
        T::PROPERTIES
            .iter()
            .map(|(name, _)| *name)
            .collect::<Vec<_>>()
            .join(", ")
    };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::invalid_request_body(
            format!(
                "the body is empty; expected a JSON object with properties: {}",
                expected()
            ),
            "empty body",
        ));
    }
    let UniqueKeys(value) = serde_json::from_slice(bytes).map_err(|e| {
        if e.is_data() {
            ApiError::invalid_request_body(e.to_string(), "duplicate property")
        } else {
            ApiError::invalid_request_body(format!("the body is not valid JSON ({e})"), "json syntax")
        }
    })?;
    let serde_json::Value::Object(mut object) = value else {
        return Err(ApiError::invalid_request_body(
            format!(
                "expected a JSON object with properties: {}, got {}",
                expected(),
                json_kind(&value)
            ),
            "json shape",
        ));
    };
    if casing == Casing::Insensitive {
        object = documented_spelling::<T>(object)?;
    }
    let mut ignored = Vec::new();
    for key in object.keys() {
        if T::PROPERTIES.iter().any(|(name, _)| name == key) {
            continue;
        }
        match T::PROPERTIES.iter().find(|(name, _)| name.eq_ignore_ascii_case(key)) {
            Some((name, true)) if !object.contains_key(*name) => {
                return Err(ApiError::missing_parameter(
                    name,
                    Some(&format!("the body has '{key}'; property names are case-sensitive")),
                ))
            }
            Some((name, _)) => {
                return Err(ApiError::invalid_request_body(
                    format!("unknown property '{key}'; did you mean '{name}'? Property names are case-sensitive"),
                    "property casing",
                ))
            }
            None => ignored.push(key.clone()),
        }
    }
    for (name, required) in T::PROPERTIES {
        if *required && object.get(*name).is_none_or(serde_json::Value::is_null) {
            return Err(ApiError::missing_parameter(name, None));
        }
    }
    // What is not ours is not deserialised either, and an optional property sent as `null` is
    // absent: clients serialise unset fields that way.
    object.retain(|key, value| !value.is_null() && T::PROPERTIES.iter().any(|(name, _)| name == key));
    let value = serde_path_to_error::deserialize(serde_json::Value::Object(object)).map_err(|e| {
        let path = e.path().to_string();
        ApiError::invalid_request_body(format!("property '{path}': {}", e.into_inner()), "property type")
    })?;
    Ok(ParsedBody { value, ignored })
}

/// The object with every property that names a documented one in another case renamed to the
/// documented spelling.
fn documented_spelling<T: RequestBody>(
    object: serde_json::Map<String, serde_json::Value>,
) -> Result<serde_json::Map<String, serde_json::Value>, ApiError> {
    let mut out = serde_json::Map::with_capacity(object.len());
    let mut sent_as: Vec<(&str, String)> = Vec::new();
    for (key, value) in object {
        let name = T::PROPERTIES
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(&key))
            .map_or(key.clone(), |(name, _)| name.to_string());
        if let Some((_, first)) = sent_as.iter().find(|(n, _)| n.eq_ignore_ascii_case(&name)) {
            return Err(ApiError::invalid_request_body(
                format!("properties '{first}' and '{key}' name the same property '{name}' (names match without regard to case)"),
                "property sent twice in different cases",
            ));
        }
        if let Some((documented, _)) = T::PROPERTIES.iter().find(|(n, _)| *n == name) {
            sent_as.push((documented, key));
        }
        out.insert(name, value);
    }
    Ok(out)
}

/// A JSON body whose property names match without regard to case (Microsoft Graph's rule), under
/// the same body policy as [`JsonBody`].
pub struct AnyCaseJsonBody<T>(pub T);

impl<T: RequestBody> FromRequest<AppState> for AnyCaseJsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        json_body_as(state, request, Casing::Insensitive)
            .await
            .map(AnyCaseJsonBody)
    }
}

/// The unknown-property policy, in one place. Lenient by default on the emulated APIs: the
/// undocumented properties are ignored, recorded in the request journal and any error trace of the
/// request, and named in the `x-palisade-ignored-properties` response header. Strict
/// (`--strict-bodies`, or the tenant's `strictBodies` feature): `InvalidRequestBody` naming the
/// first of them. Palisade's own API (`/_palisade/`) is always strict: it is ours to define, and a
/// misspelt fault-rule property silently ignored would make a test quietly test nothing. The tenant
/// is only asked when there is something to decide, so a clean body costs nothing.
pub async fn apply_body_policy(
    state: &AppState,
    context: Option<&RequestContext>,
    caller: Option<&Principal>,
    ignored: Vec<String>,
    known: &[(&str, bool)],
) -> Result<(), ApiError> {
    let Some(first) = ignored.first() else {
        return Ok(());
    };
    let strict = state.config.strict_bodies
        || context.is_some_and(RequestContext::is_admin)
        || match caller {
            Some(caller) => {
                let tenant = caller.tenant_id.clone();
                state
                    .run(move |core| core.features(&tenant))
                    .await
                    .is_ok_and(|features| features.strict_bodies)
            }
            None => false,
        };
    if strict {
        let known: Vec<&str> = known.iter().map(|(name, _)| *name).collect();
        let also = if ignored.len() > 1 {
            format!("; also unknown: {}", ignored[1..].join(", "))
        } else {
            String::new()
        };
        return Err(ApiError::invalid_request_body(
            format!(
                "unknown property '{first}'; known properties are: {} (strict bodies){also}",
                known.join(", ")
            ),
            "unknown property under strict bodies",
        ));
    }
    if let Some(context) = context {
        context.add_ignored_properties(ignored);
    }
    Ok(())
}

/// A JSON value whose objects, at every depth, name each property once. RFC 8259 leaves
/// duplicates to the parser, and serde_json keeps the last silently: a client that sends
/// `{"Action":"Block","Action":"Allow"}` would get whichever we happened to pick. We refuse it
/// (`InvalidRequestBody` naming the property) rather than guess.
struct UniqueKeys(serde_json::Value);

impl<'de> serde::Deserialize<'de> for UniqueKeys {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(UniqueKeysVisitor).map(UniqueKeys)
    }
}

struct UniqueKeysVisitor;

impl<'de> serde::de::Visitor<'de> for UniqueKeysVisitor {
    type Value = serde_json::Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(v.into())
    }

    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(v.into())
    }

    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(v.into())
    }

    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(serde_json::Value::Null, serde_json::Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(v.into())
    }

    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(v.into())
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(serde_json::Value::Null)
    }

    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(serde_json::Value::Null)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::new();
        while let Some(UniqueKeys(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(serde_json::Value::Array(items))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut object = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let UniqueKeys(value) = map.next_value()?;
            if object.contains_key(&key) {
                return Err(serde::de::Error::custom(format_args!(
                    "property '{key}' appears more than once; send each property once"
                )));
            }
            object.insert(key, value);
        }
        Ok(serde_json::Value::Object(object))
    }
}

fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// The authenticated caller, put in place by the authentication layer.
pub struct Caller(pub Principal);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        parts
            .extensions
            .get::<Principal>()
            .cloned()
            .map(Caller)
            .ok_or_else(|| ApiError::internal("route served without the authentication layer"))
    }
}

/// A single path parameter, percent-decoded; a bad encoding is `BadRequest`, not a framework body.
pub struct PathParam(pub String);

impl<S: Send + Sync> FromRequestParts<S> for PathParam {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<String>::from_request_parts(parts, state)
            .await
            .map(|p| PathParam(p.0))
            .map_err(|e| ApiError::bad_request(format!("Invalid path: {e}"), "path parameter"))
    }
}

/// The scheme and authority the client called, for absolute URLs in responses.
#[derive(Debug, Clone)]
pub struct Origin(pub String);

/// Which listener a request arrived on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Http,
    Https,
}

impl<S: Send + Sync> FromRequestParts<S> for Origin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let scheme = match parts.extensions.get::<Scheme>() {
            Some(Scheme::Https) => "https",
            _ => "http",
        };
        let host = parts
            .headers
            .get(axum::http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(str::to_string)
            .or_else(|| parts.uri.authority().map(|a| a.to_string()))
            .unwrap_or_else(|| "localhost".to_string());
        Ok(Origin(format!("{scheme}://{host}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use palisade_error::ErrorCode;

    crate::request_body! {
        pub struct Sample {
            required "Comment" comment: String,
            optional "IsolationType" isolation_type: Option<String>,
        }
    }

    fn code(body: &str) -> (ErrorCode, String) {
        let e = parse_body::<Sample>(body.as_bytes()).err().expect("an error");
        (e.code, e.message)
    }

    fn parsed(body: &str) -> ParsedBody<Sample> {
        match parse_body::<Sample>(body.as_bytes()) {
            Ok(parsed) => parsed,
            Err(e) => panic!("{body}: {}", e.message),
        }
    }

    fn ignored(body: &str) -> Vec<String> {
        parsed(body).ignored
    }

    #[test]
    fn body_rules_in_order() {
        let ok = parsed(r#"{"Comment":"x","IsolationType":"Full"}"#).value;
        assert_eq!((ok.comment.as_str(), ok.isolation_type.as_deref()), ("x", Some("Full")));
        assert_eq!(code("").0, ErrorCode::InvalidRequestBody);
        assert_eq!(code("{").0, ErrorCode::InvalidRequestBody);
        assert_eq!(code("[]").0, ErrorCode::InvalidRequestBody);
        let (c, m) = code(r#"{"comment":"x"}"#);
        assert_eq!(c, ErrorCode::MissingRequiredParameter);
        assert!(m.contains("Comment") && m.contains("'comment'"), "{m}");
        let (c, m) = code(r#"{"Comment":"x","isolationType":"Full"}"#);
        assert_eq!(c, ErrorCode::InvalidRequestBody);
        assert!(m.contains("did you mean 'IsolationType'"), "{m}");
        assert_eq!(ignored(r#"{"Comment":"x","Bogus":1,"Other":null}"#), ["Bogus", "Other"]);
        assert!(ignored(r#"{"Comment":"x","IsolationType":null}"#).is_empty());
        assert_eq!(code(r#"{}"#).0, ErrorCode::MissingRequiredParameter);
        assert_eq!(code(r#"{"Comment":null}"#).0, ErrorCode::MissingRequiredParameter);
        let (c, m) = code(r#"{"Comment":5}"#);
        assert_eq!(c, ErrorCode::InvalidRequestBody);
        assert!(m.contains("'Comment'"), "{m}");
        let (c, m) = code(r#"{"Comment":"x","Comment":"y"}"#);
        assert_eq!(c, ErrorCode::InvalidRequestBody);
        assert!(m.contains("'Comment' appears more than once"), "{m}");
        let (_, m) = code(r#"{"Comment":"x","IsolationType":{"a":1,"a":2}}"#);
        assert!(m.contains("'a' appears more than once"), "{m}");
        assert_eq!(
            parsed(r#"{"Comment":"x","Bogus":[{"a":1},{"a":2}]}"#).ignored,
            ["Bogus"]
        );
    }
}
