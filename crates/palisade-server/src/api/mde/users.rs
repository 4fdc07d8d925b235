//! `/api/users/{id}/...` (`shared/reference/mde-api.md` §9). `{id}` is the bare account name.

use crate::api::list_response;
use crate::extract::{Caller, Origin, PathParam};
use crate::routing::Routes;
use crate::state::AppState;
use axum::extract::State;
use axum::http::Uri;
use axum::response::Response;
use palisade_error::ApiError;
use palisade_model::schemas::{ALERTS, MACHINES};

pub fn router() -> Routes {
    Routes::new()
        .get("/api/users/{id}/alerts", alerts)
        .get("/api/users/{id}/machines", machines)
}

pub async fn alerts(
    State(state): State<AppState>,
    Caller(caller): Caller,
    origin: Origin,
    PathParam(id): PathParam,
    uri: Uri,
) -> Result<Response, ApiError> {
    list_response(&state, &origin, &uri, &ALERTS, move |core, query, page_size| {
        core.list_user_alerts(&caller, &id, query, page_size)
    })
    .await
}

pub async fn machines(
    State(state): State<AppState>,
    Caller(caller): Caller,
    origin: Origin,
    PathParam(id): PathParam,
    uri: Uri,
) -> Result<Response, ApiError> {
    list_response(&state, &origin, &uri, &MACHINES, move |core, query, page_size| {
        core.list_user_machines(&caller, &id, query, page_size)
    })
    .await
}
