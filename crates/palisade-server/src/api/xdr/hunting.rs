//! Advanced hunting (`shared/reference/xdr-api-and-auth.md` §2.7): `POST /api/advancedhunting/run`
//! (Defender XDR, `AdvancedHunting.Read.All`) and `POST /api/advancedqueries/run` (Defender for
//! Endpoint, `AdvancedQuery.Read.All`), body `{"Query": "..."}`, answering `Stats`, `Schema` and
//! `Results` (`palisade_kql::QueryResult::to_defender_json`). The domain runs the query
//! ([`palisade_domain::Core::run_hunting`]); this module reads the body and renders the answer.
//!
//! The role is checked before the body is read, so a caller without it learns that first.

use crate::extract::{json_body, Caller};
use crate::request_body;
use crate::routing::Routes;
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use palisade_domain::xdr::hunting::{MDE_HUNTING_ROLES, XDR_HUNTING_ROLES};
use palisade_error::ApiError;

pub fn router() -> Routes {
    Routes::new()
        .post("/api/advancedhunting/run", run_xdr)
        .post("/api/advancedqueries/run", run_mde)
}

request_body! {
    /// Body of both hunting routes.
    pub struct HuntingRequest {
        required "Query" query: String,
    }
}

pub async fn run_xdr(
    State(state): State<AppState>,
    Caller(caller): Caller,
    request: Request,
) -> Result<Response, ApiError> {
    run(state, caller, XDR_HUNTING_ROLES, request).await
}

pub async fn run_mde(
    State(state): State<AppState>,
    Caller(caller): Caller,
    request: Request,
) -> Result<Response, ApiError> {
    run(state, caller, MDE_HUNTING_ROLES, request).await
}

async fn run(
    state: AppState,
    caller: palisade_auth::Principal,
    roles: &'static [&'static str],
    request: Request,
) -> Result<Response, ApiError> {
    caller.require_any(roles)?;
    let body: HuntingRequest = json_body(&state, request).await?;
    let result = state
        .run(move |core| core.run_hunting(&caller, roles, &body.query))
        .await?;
    let bytes = serde_json::to_vec(&result.to_defender_json())
        .map_err(|e| ApiError::internal(format!("hunting result serialisation: {e}")))?;
    let mut response = (StatusCode::OK, bytes).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    Ok(response)
}
