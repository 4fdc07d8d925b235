//! The one place where errors of the layers below become the contract's [`ApiError`].

use palisade_auth::AuthError;
use palisade_core::CoreError;
use palisade_error::ApiError;

/// Domain errors: documented failures pass through; store failures become `InternalServerError`
/// whose cause (kept in the journal) is the underlying error.
pub fn from_core(error: CoreError) -> ApiError {
    match error {
        CoreError::Rule(api) => api,
        CoreError::Store(store) => ApiError::internal(format!("store: {store}")),
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
