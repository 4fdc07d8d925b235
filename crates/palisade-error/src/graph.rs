//! The Microsoft Graph error contract (`shared/reference/xdr-api-and-auth.md` §4.1, Graph's
//! `concepts/errors.md`): the codes the Graph security routes answer with, each with its HTTP
//! status and message shape, in one table ([`GraphCode`]); one constructor per code on
//! [`GraphError`]; and the one rendering of Graph's body, `{"error":{"code","message",
//! "innerError":{"date","request-id","client-request-id"}}}` ([`GraphError::body`]).
//!
//! Graph's `request-id` plays the part of Defender's `target`: it is the tracking id under which
//! the error journal keeps the failure's cause. The server decides the id, the client's
//! `client-request-id` and the date (they need the clock and the request), so they are arguments.

use crate::ErrorCode;
use serde_json::json;
use std::fmt;

macro_rules! graph_codes {
    ($( $(#[$doc:meta])* $name:ident => $wire:literal, $status:literal, $shape:literal; )*) => {
        /// Every Graph error code the emulator can answer with.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum GraphCode { $( $(#[$doc])* $name, )* }

        impl GraphCode {
            /// Every code, in catalogue order.
            pub const ALL: &'static [GraphCode] = &[$(GraphCode::$name,)*];

            /// The code as Graph spells it in `error.code`.
            pub const fn as_str(self) -> &'static str {
                match self { $(GraphCode::$name => $wire,)* }
            }

            /// The HTTP status Graph answers with it.
            pub const fn status(self) -> u16 {
                match self { $(GraphCode::$name => $status,)* }
            }

            /// The message shape, variable parts in angle brackets.
            pub const fn message_shape(self) -> &'static str {
                match self { $(GraphCode::$name => $shape,)* }
            }

            /// Parses a wire code (exact spelling).
            pub fn parse(code: &str) -> Option<GraphCode> {
                match code { $($wire => Some(GraphCode::$name),)* _ => None }
            }
        }
    };
}

graph_codes! {
    /// A malformed request: bad query options, a bad body, a value the API does not take.
    BadRequest => "badRequest", 400, "<what is wrong with the request>";
    /// No token, or one Graph does not accept (wrong audience, expired, badly signed).
    InvalidAuthenticationToken => "InvalidAuthenticationToken", 401, "<why the access token was refused>";
    /// A valid token without the application permission the operation needs.
    Forbidden => "Forbidden", 403, "Missing application roles. API required roles: <roles>";
    /// Refused for another reason than a missing permission (a tenant feature, the entity's state).
    AccessDenied => "accessDenied", 403, "<why the operation is not allowed>";
    /// An entity or route that does not exist.
    NotFound => "notFound", 404, "<what was not found>";
    /// A known path called with a method it does not support.
    MethodNotAllowed => "methodNotAllowed", 405, "The requested resource does not support http method '<method>'";
    /// The body exceeds the configured limit.
    RequestEntityTooLarge => "requestEntityTooLarge", 413, "Request body is larger than <limit> bytes";
    /// Throttled; `Retry-After` says for how long.
    TooManyRequests => "TooManyRequests", 429, "Too many requests. <which limit, and when it resets>";
    /// A failure of ours; the `request-id` leads to its cause in the error journal.
    GeneralException => "generalException", 500, "An unexpected error occurred; quote the request-id when reporting it. <detail>";
    /// Any other server-side status (an injected outage).
    ServiceNotAvailable => "serviceNotAvailable", 503, "The service is not available. Try the request again after a delay. <detail>";
}

impl fmt::Display for GraphCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A Graph refusal: its code, the status it is answered with (the code's, except for the
/// equivalents of injected failures, which keep the injected status) and the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphError {
    pub code: GraphCode,
    pub status: u16,
    pub message: String,
}

impl fmt::Display for GraphError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for GraphError {}

impl GraphError {
    fn new(code: GraphCode, message: impl Into<String>) -> GraphError {
        GraphError {
            code,
            status: code.status(),
            message: message.into(),
        }
    }

    pub fn bad_request(what: impl fmt::Display) -> GraphError {
        Self::new(GraphCode::BadRequest, what.to_string())
    }

    pub fn invalid_authentication_token(why: impl fmt::Display) -> GraphError {
        Self::new(GraphCode::InvalidAuthenticationToken, why.to_string())
    }

    /// A valid token without any of the `required` permissions (Graph's text, as the security
    /// API passes it through from the Defender service behind it).
    pub fn forbidden(required: &[&str], held: &[String]) -> GraphError {
        let held = if held.is_empty() {
            "(none)".to_string()
        } else {
            held.join(", ")
        };
        Self::new(
            GraphCode::Forbidden,
            format!(
                "Missing application roles. API required roles: {}. Token roles: {held}",
                required.join(", ")
            ),
        )
    }

    pub fn access_denied(why: impl fmt::Display) -> GraphError {
        Self::new(GraphCode::AccessDenied, why.to_string())
    }

    pub fn not_found(what: impl fmt::Display) -> GraphError {
        Self::new(GraphCode::NotFound, what.to_string())
    }

    pub fn method_not_allowed(method: &str) -> GraphError {
        Self::new(
            GraphCode::MethodNotAllowed,
            format!("The requested resource does not support http method '{method}'"),
        )
    }

    pub fn request_entity_too_large(limit: usize) -> GraphError {
        Self::new(
            GraphCode::RequestEntityTooLarge,
            format!("Request body is larger than {limit} bytes"),
        )
    }

    pub fn too_many_requests(why: impl fmt::Display) -> GraphError {
        Self::new(GraphCode::TooManyRequests, format!("Too many requests. {why}"))
    }

    pub fn general_exception(detail: impl fmt::Display) -> GraphError {
        Self::new(
            GraphCode::GeneralException,
            format!("An unexpected error occurred; quote the request-id when reporting it. {detail}"),
        )
    }

    pub fn service_not_available(detail: impl fmt::Display) -> GraphError {
        Self::new(
            GraphCode::ServiceNotAvailable,
            format!("The service is not available. Try the request again after a delay. {detail}"),
        )
    }

    /// The Graph error a Defender-contract error becomes on a Graph route: every layer below the
    /// Graph routes (the domain, OData, bodies, rate limits, fault rules, the guards) speaks the
    /// Defender contract, and this table is the one translation. The message is kept (it names
    /// the bad value); the status stays the Defender one, so an injected fault keeps the status
    /// its rule asked for.
    pub fn equivalent_of(code: ErrorCode, message: &str) -> GraphError {
        use ErrorCode as C;
        let graph = match code {
            C::Unauthorized => Self::invalid_authentication_token(message),
            C::Forbidden => GraphError {
                message: message.to_string(),
                ..Self::new(GraphCode::Forbidden, "")
            },
            C::DisabledFeature | C::DisallowedOperation => Self::access_denied(message),
            C::NotFound | C::ResourceNotFound => Self::not_found(message),
            C::MethodNotAllowed => GraphError {
                message: message.to_string(),
                ..Self::new(GraphCode::MethodNotAllowed, "")
            },
            C::PayloadTooLarge => GraphError {
                message: message.to_string(),
                ..Self::new(GraphCode::RequestEntityTooLarge, "")
            },
            C::TooManyRequests => Self::too_many_requests(message),
            C::InternalServerError => Self::general_exception(message),
            _ if code.status() >= 500 => Self::service_not_available(message),
            _ => Self::bad_request(message),
        };
        GraphError {
            status: code.status(),
            ..graph
        }
    }

    /// Graph's wire body. `date` is Graph's `innerError.date` (UTC, no offset, as Graph writes it).
    pub fn body(&self, request_id: &str, client_request_id: &str, date: &str) -> serde_json::Value {
        json!({
            "error": {
                "code": self.code.as_str(),
                "message": self.message,
                "innerError": {
                    "date": date,
                    "request-id": request_id,
                    "client-request-id": client_request_id,
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether `message` has the shape: the literal parts in order, anything for `<...>` parts.
    fn fits(shape: &str, message: &str) -> bool {
        let mut rest = message;
        for (n, part) in shape.split('<').enumerate() {
            let literal = if n == 0 {
                part
            } else {
                match part.split_once('>') {
                    Some((_, literal)) => literal,
                    None => return false,
                }
            };
            if n == 0 {
                match rest.strip_prefix(literal) {
                    Some(after) => rest = after,
                    None => return false,
                }
            } else {
                match rest.find(literal) {
                    Some(at) => rest = &rest[at + literal.len()..],
                    None => return false,
                }
            }
        }
        true
    }

    #[test]
    fn every_constructor_answers_its_codes_shape_and_status() {
        let made = [
            GraphError::bad_request("Invalid filter clause"),
            GraphError::invalid_authentication_token("Access token is empty."),
            GraphError::forbidden(&["SecurityIncident.Read.All"], &[]),
            GraphError::access_denied("Tenant feature x is not enabled"),
            GraphError::not_found("Incident 7 was not found"),
            GraphError::method_not_allowed("PUT"),
            GraphError::request_entity_too_large(10),
            GraphError::too_many_requests("maximum allowed 50 per 00:01:00"),
            GraphError::general_exception("store: disk full"),
            GraphError::service_not_available("injected"),
        ];
        for error in &made {
            let code = error.code;
            assert_eq!(error.status, code.status(), "{code:?}");
            assert!(
                fits(code.message_shape(), &error.message),
                "{code:?}: '{}' does not fit '{}'",
                error.message,
                code.message_shape()
            );
            assert_eq!(GraphCode::parse(code.as_str()), Some(code));
        }
        for code in GraphCode::ALL {
            assert!(made.iter().any(|e| e.code == *code), "{code:?} has no constructor here");
        }
    }

    #[test]
    fn every_defender_code_has_a_graph_equivalent_with_its_status() {
        for code in ErrorCode::ALL {
            let graph = GraphError::equivalent_of(*code, "why");
            assert_eq!(graph.status, code.status(), "{code:?}");
            assert!(graph.message.contains("why"), "{code:?}");
        }
        assert_eq!(
            GraphError::equivalent_of(ErrorCode::Unauthorized, "x").code,
            GraphCode::InvalidAuthenticationToken
        );
        assert_eq!(
            GraphError::equivalent_of(ErrorCode::ODataError, "x").code,
            GraphCode::BadRequest
        );
        assert_eq!(
            GraphError::equivalent_of(ErrorCode::ResourceNotFound, "x").code,
            GraphCode::NotFound
        );
    }

    #[test]
    fn the_body_has_graphs_shape() {
        let body = GraphError::not_found("gone").body("r-1", "c-1", "2026-01-01T00:00:00");
        assert_eq!(
            body,
            json!({"error": {"code": "notFound", "message": "gone",
                "innerError": {"date": "2026-01-01T00:00:00", "request-id": "r-1", "client-request-id": "c-1"}}})
        );
    }
}
