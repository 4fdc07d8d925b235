//! `/api/machines` (`shared/reference/mde-api.md` §2). Thin: extract, call the domain, shape the answer.

use super::{count_response, odata_query, odata_response, page_response, Entity};
use crate::extract::{Caller, JsonBody, Origin, PathParam};
use crate::request_body;
use crate::state::AppState;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use palisade_core::schemas::MACHINES;
use palisade_error::ApiError;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/machines", get(list))
        .route("/api/machines/$count", get(count))
        .route("/api/machines/{id}", get(get_one))
        .route("/api/machines/{id}/tags", post(tag))
        .route("/api/machines/{id}/setDeviceValue", post(set_device_value))
}

pub async fn list(
    State(state): State<AppState>,
    Caller(caller): Caller,
    origin: Origin,
    uri: Uri,
) -> Result<Response, ApiError> {
    let query = odata_query(&uri, &MACHINES)?;
    let page_size = state.config.page_size;
    let run_query = query.clone();
    let page = state
        .run(move |core| core.list_machines(&caller, &run_query, page_size))
        .await?;
    Ok(page_response(&origin, &uri, &MACHINES, &query, page))
}

pub async fn count(State(state): State<AppState>, Caller(caller): Caller, uri: Uri) -> Result<Response, ApiError> {
    let query = odata_query(&uri, &MACHINES)?;
    let count = state.run(move |core| core.count_machines(&caller, &query)).await?;
    Ok(count_response(count))
}

pub async fn get_one(
    State(state): State<AppState>,
    Caller(caller): Caller,
    origin: Origin,
    PathParam(id): PathParam,
) -> Result<Response, ApiError> {
    let machine = state.run(move |core| core.get_machine(&caller, &id)).await?;
    Ok(odata_response(
        StatusCode::OK,
        &Entity::new(&origin, "Machines/$entity", &machine),
    ))
}

request_body! {
    /// Body of `POST /api/machines/{id}/tags`.
    pub struct TagRequest {
        required "Value" value: String,
        required "Action" action: String,
    }
}

pub async fn tag(
    State(state): State<AppState>,
    Caller(caller): Caller,
    origin: Origin,
    PathParam(id): PathParam,
    JsonBody(body): JsonBody<TagRequest>,
) -> Result<Response, ApiError> {
    let machine = state
        .run(move |core| core.tag_machine(&caller, &id, &body.value, &body.action))
        .await?;
    Ok(odata_response(
        StatusCode::OK,
        &Entity::new(&origin, "Machines/$entity", &machine),
    ))
}

request_body! {
    /// Body of `POST /api/machines/{id}/setDeviceValue`.
    pub struct DeviceValueRequest {
        required "DeviceValue" device_value: String,
    }
}

pub async fn set_device_value(
    State(state): State<AppState>,
    Caller(caller): Caller,
    origin: Origin,
    PathParam(id): PathParam,
    JsonBody(body): JsonBody<DeviceValueRequest>,
) -> Result<Response, ApiError> {
    let machine = state
        .run(move |core| core.set_device_value(&caller, &id, &body.device_value))
        .await?;
    Ok(odata_response(
        StatusCode::OK,
        &Entity::new(&origin, "Machines/$entity", &machine),
    ))
}
