//! `/api/investigations` (`shared/reference/mde-api.md` §10). `startInvestigation` lives with the
//! machine actions.

use crate::api::{count_response, entity_response, list_response, odata_query};
use crate::extract::{Caller, Origin, PathParam};
use crate::routing::Routes;
use crate::state::AppState;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use palisade_error::ApiError;
use palisade_model::schemas::INVESTIGATIONS;

pub fn router() -> Routes {
    Routes::new()
        .get("/api/investigations", list)
        .get("/api/investigations/$count", count)
        .get("/api/investigations/{id}", get_one)
}

pub async fn list(
    State(state): State<AppState>,
    Caller(caller): Caller,
    origin: Origin,
    uri: Uri,
) -> Result<Response, ApiError> {
    list_response(&state, &origin, &uri, &INVESTIGATIONS, move |core, query, page_size| {
        core.list_investigations(&caller, query, page_size)
    })
    .await
}

pub async fn count(State(state): State<AppState>, Caller(caller): Caller, uri: Uri) -> Result<Response, ApiError> {
    let query = odata_query(&uri, &INVESTIGATIONS)?;
    let count = state
        .run(move |core| core.count_investigations(&caller, &query))
        .await?;
    Ok(count_response(count))
}

/// `{id}`: the investigation id or the id of the alert that triggered it.
pub async fn get_one(
    State(state): State<AppState>,
    Caller(caller): Caller,
    origin: Origin,
    PathParam(id): PathParam,
) -> Result<Response, ApiError> {
    let investigation = state
        .read_inline(move |core| core.get_investigation(&caller, &id))
        .await?;
    Ok(entity_response(
        StatusCode::OK,
        &origin,
        "Investigations/$entity",
        &investigation,
    ))
}
