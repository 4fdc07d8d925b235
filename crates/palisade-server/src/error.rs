//! The one place where errors of the layers below become the contract's [`ApiError`].

use palisade_auth::AuthError;
use palisade_domain::DomainError;
use palisade_error::ApiError;
use palisade_store::StoreError;

/// Domain errors: documented failures pass through; store failures (a backend error, a corrupt
/// document, no free connection within the backend's timeout: `StoreError::Unavailable`) become
/// `InternalServerError` whose cause, kept in the journal under its target, is the underlying
/// error.
pub fn from_domain(error: DomainError) -> ApiError {
    match error {
        DomainError::Rule(api) => api,
        DomainError::Store(StoreError::Unavailable(why)) => ApiError::internal(format!("store unavailable: {why}")),
        DomainError::Store(store) => ApiError::internal(format!("store: {store}")),
    }
}

/// Token refusals: always `401 Unauthorized`, the message saying which check failed.
pub fn from_auth(error: AuthError) -> ApiError {
    match error {
        AuthError::Key(_) => ApiError::internal(format!("signing key: {error}")),
        other => ApiError::unauthorized(&other, other.check()),
    }
}

/// Query-option errors: `ODataError`, the engine's message already pinpointing the problem.
pub fn from_odata(error: palisade_odata::ODataError) -> ApiError {
    ApiError::odata(error.to_string())
}

/// The message of a panic payload (a `&str` or `String` in practice).
pub fn describe_panic(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-string payload".to_string()
    }
}
