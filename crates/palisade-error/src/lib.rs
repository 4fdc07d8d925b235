//! The Defender error contract (`shared/reference/error-contract.md`) as code.
//!
//! - [`ErrorCode`] is the catalogue: every documented code with its HTTP status, in one table.
//! - [`ApiError`] is what every layer finally produces: a code, a client-facing message that names the
//!   offending value, and an internal cause that is journaled but never sent to the client.
//! - [`Envelope`] is the wire body `{"error":{"code","message","target"}}`.
//! - [`entra`] is the second contract, Entra ID's sign-in refusals: [`EntraCode`] the `AADSTS`
//!   catalogue (number, OAuth2 error, status, message shape), [`EntraError`] one constructor per code.
//! - [`graph`] is the third, Microsoft Graph's errors on the Graph security routes: [`GraphCode`]
//!   the catalogue, [`GraphError`] one constructor per code and Graph's body.
//! - With the `axum` feature, [`ApiError`] renders itself as a response: a fresh lower-case UUID
//!   `target` per response, and a [`JournalEntry`] in the response extensions so the server's
//!   journal layer can record it (the only place errors are recorded).

pub mod entra;
pub mod graph;

pub use entra::{EntraCode, EntraError};
pub use graph::{GraphCode, GraphError};

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! error_codes {
    ($( $(#[$doc:meta])* $name:ident => $status:literal, $shape:literal; )*) => {
        /// Every error code the emulator can answer with, spelled exactly as on the wire.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode { $( $(#[$doc])* $name, )* }

        impl ErrorCode {
            /// Every code, in catalogue order.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$name,)*];

            /// The code as it appears in the envelope (PascalCase).
            pub const fn as_str(self) -> &'static str {
                match self { $(ErrorCode::$name => stringify!($name),)* }
            }

            /// The HTTP status this code is always answered with.
            pub const fn status(self) -> u16 {
                match self { $(ErrorCode::$name => $status,)* }
            }

            /// The documented message shape (variable parts in angle brackets); for docs and tooling.
            pub const fn message_shape(self) -> &'static str {
                match self { $(ErrorCode::$name => $shape,)* }
            }

            /// Parses a wire code (exact spelling).
            pub fn parse(code: &str) -> Option<ErrorCode> {
                match code { $(stringify!($name) => Some(ErrorCode::$name),)* _ => None }
            }
        }
    };
}

error_codes! {
    /// A general bad request.
    BadRequest => 400, "<a general bad-request message>";
    /// Invalid OData query options.
    ODataError => 400, "Invalid OData URI query <what exactly is wrong>";
    /// A value the operation does not accept (enum values, ranges).
    InvalidInput => 400, "Invalid input <the invalid input>";
    /// The body is not JSON, has a wrong type, or has an unknown property.
    InvalidRequestBody => 400, "Invalid request body <what is wrong>";
    InvalidHashValue => 400, "Hash value <hash> is invalid";
    InvalidDomainName => 400, "Domain name <domain> is invalid";
    InvalidIpAddress => 400, "IP address <ip> is invalid";
    InvalidUrl => 400, "URL <url> is invalid";
    MaximumBatchSizeExceeded => 400, "Maximum batch size exceeded. Received: <received>, allowed: <allowed>";
    /// A required body property or query parameter is absent (or given in the wrong case).
    MissingRequiredParameter => 400, "Parameter <name> is missing";
    OsPlatformNotSupported => 400, "OS Platform <platform> is not supported for this action";
    ClientVersionNotSupported => 400, "<requested action> is supported on client version <version> and above";
    /// Another request of the same kind is still running (not in the documented table; see the contract).
    ActiveRequestAlreadyExists => 400, "<the action> is already in progress";
    Unauthorized => 401, "Unauthorized: <why the token was refused>";
    Forbidden => 403, "Missing application roles. API required roles: <roles>";
    DisabledFeature => 403, "Tenant feature <feature> is not enabled";
    DisallowedOperation => 403, "<the disallowed operation and the reason>";
    NotFound => 404, "<a general not-found message>";
    /// **Decision**: a known path called with a method it does not support (HTTP semantics need 405).
    MethodNotAllowed => 405, "The requested resource does not support http method '<method>'";
    /// **Decision**: the body exceeds the configured limit (HTTP semantics need 413).
    PayloadTooLarge => 413, "Request body is larger than <limit> bytes";
    ResourceNotFound => 404, "<resource> <id> was not found";
    /// Rate limited (not in the documented table; see the contract).
    TooManyRequests => 429, "API calls quota exceeded! maximum allowed <n> per <window>";
    InternalServerError => 500, "An unexpected error occurred; quote the target when reporting it";
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ErrorCode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        ErrorCode::parse(&s).ok_or_else(|| serde::de::Error::custom(format!("unknown error code {s}")))
    }
}

/// The one error type every layer converts into before it reaches the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub code: ErrorCode,
    /// Client-facing: names the offending value so a person can fix the call.
    pub message: String,
    /// Internal: which rule or check fired, or the underlying error. Journaled, never sent.
    pub cause: String,
    /// Seconds to wait, for `TooManyRequests`.
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// An error whose cause is the given rule name.
    pub fn new(code: ErrorCode, message: impl Into<String>, cause: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
            cause: cause.into(),
            retry_after: None,
        }
    }

    pub fn bad_request(message: impl Into<String>, cause: impl Into<String>) -> Self {
        Self::new(ErrorCode::BadRequest, message, cause)
    }

    pub fn odata(what: impl fmt::Display) -> Self {
        let what = what.to_string();
        let message = if what.starts_with("Invalid OData URI query") {
            what
        } else {
            format!("Invalid OData URI query: {what}")
        };
        Self::new(ErrorCode::ODataError, message, "odata")
    }

    pub fn invalid_input(what: impl fmt::Display, cause: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidInput, format!("Invalid input {what}"), cause)
    }

    pub fn invalid_request_body(what: impl fmt::Display, cause: impl Into<String>) -> Self {
        Self::new(
            ErrorCode::InvalidRequestBody,
            format!("Invalid request body: {what}"),
            cause,
        )
    }

    pub fn invalid_hash(hash: &str) -> Self {
        Self::new(
            ErrorCode::InvalidHashValue,
            format!("Hash value {hash} is invalid"),
            "hash validation",
        )
    }

    pub fn invalid_domain(domain: &str) -> Self {
        Self::new(
            ErrorCode::InvalidDomainName,
            format!("Domain name {domain} is invalid"),
            "domain validation",
        )
    }

    pub fn invalid_ip(ip: &str) -> Self {
        Self::new(
            ErrorCode::InvalidIpAddress,
            format!("IP address {ip} is invalid"),
            "ip validation",
        )
    }

    pub fn invalid_url(url: &str) -> Self {
        Self::new(ErrorCode::InvalidUrl, format!("URL {url} is invalid"), "url validation")
    }

    pub fn batch_too_large(received: usize, allowed: usize) -> Self {
        Self::new(
            ErrorCode::MaximumBatchSizeExceeded,
            format!("Maximum batch size exceeded. Received: {received}, allowed: {allowed}"),
            "batch size limit",
        )
    }

    pub fn missing_parameter(name: &str, hint: Option<&str>) -> Self {
        let message = match hint {
            Some(hint) => format!("Parameter {name} is missing ({hint})"),
            None => format!("Parameter {name} is missing"),
        };
        Self::new(
            ErrorCode::MissingRequiredParameter,
            message,
            format!("required parameter {name}"),
        )
    }

    pub fn unauthorized(why: impl fmt::Display, cause: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unauthorized, format!("Unauthorized: {why}"), cause)
    }

    /// A valid token without any of the `required` roles.
    pub fn forbidden(required: &[&str], held: &[String]) -> Self {
        let held = if held.is_empty() {
            "(none)".to_string()
        } else {
            held.join(", ")
        };
        Self::new(
            ErrorCode::Forbidden,
            format!(
                "Missing application roles. API required roles: {}. Token roles: {held}",
                required.join(", ")
            ),
            format!("role check: needs one of [{}]", required.join(", ")),
        )
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, message, "no route")
    }

    /// `<kind> <id> was not found`, e.g. "Machine 123 was not found".
    pub fn resource_not_found(kind: &str, id: &str) -> Self {
        Self::new(
            ErrorCode::ResourceNotFound,
            format!("{kind} {id} was not found"),
            format!("{kind} lookup"),
        )
    }

    pub fn internal(cause: impl Into<String>) -> Self {
        Self::new(
            ErrorCode::InternalServerError,
            "An unexpected error occurred. Retrying may help; quote the target when reporting it.",
            cause,
        )
    }

    pub fn too_many_requests(limit: u64, window: &str, retry_after: u64, cause: impl Into<String>) -> Self {
        ApiError {
            retry_after: Some(retry_after),
            ..Self::new(
                ErrorCode::TooManyRequests,
                format!("API calls quota exceeded! maximum allowed {limit} per {window}"),
                cause,
            )
        }
    }

    /// Appends why the value was refused to the message ("Hash value x is invalid: <reason>"), so a
    /// person sees what to fix without reading the docs.
    pub fn because(mut self, reason: impl fmt::Display) -> Self {
        self.message = format!("{}: {reason}", self.message);
        self
    }

    /// Renders the wire body for the given tracking id.
    pub fn envelope(&self, target: &str) -> Envelope {
        Envelope {
            error: ErrorBody {
                code: self.code,
                message: self.message.clone(),
                target: target.to_string(),
            },
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for ApiError {}

/// The wire body of every error response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Envelope {
    pub error: ErrorBody,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorBody {
    pub code: ErrorCode,
    pub message: String,
    pub target: String,
}

/// A fresh tracking id: a lower-case hyphenated UUID, version 7 so that it carries the wall-clock
/// millisecond it was issued at ([`target_issued_at_ms`]): a trace lookup that misses can tell a
/// target still being written by another process from one that will never exist.
pub fn new_target() -> String {
    uuid::Uuid::now_v7().hyphenated().to_string()
}

/// When a target of [`new_target`] was issued (Unix milliseconds, wall clock), or `None` when the
/// text is not a version-7 UUID, so not a target of this program's current version.
pub fn target_issued_at_ms(target: &str) -> Option<u64> {
    let id = uuid::Uuid::parse_str(target).ok()?;
    if id.get_version_num() != 7 {
        return None;
    }
    let (secs, nanos) = id.get_timestamp()?.to_unix();
    Some(secs * 1_000 + u64::from(nanos / 1_000_000))
}

/// What an error response leaves in its extensions for the journal layer.
#[derive(Debug, Clone)]
pub struct JournalEntry {
    pub target: String,
    /// A contract code, or an OAuth2 error (`invalid_client`) for sign-in failures.
    pub code: String,
    pub message: String,
    pub cause: String,
}

#[cfg(feature = "axum")]
mod response {
    use super::*;
    use axum::http::{header, HeaderValue, StatusCode};
    use axum::response::{IntoResponse, Response};

    impl IntoResponse for ApiError {
        fn into_response(self) -> Response {
            let target = new_target();
            let body = serde_json::to_vec(&self.envelope(&target)).unwrap_or_default();
            let status = StatusCode::from_u16(self.code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut response = (status, body).into_response();
            let headers = response.headers_mut();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json; charset=utf-8"),
            );
            if let Some(seconds) = self.retry_after {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
            }
            response.extensions_mut().insert(JournalEntry {
                target,
                code: self.code.as_str().to_string(),
                message: self.message,
                cause: self.cause,
            });
            response
        }
    }
}

#[cfg(test)]
mod tests;
