//! `/api/machines` (`shared/reference/mde-api.md` §2). Thin: extract, call the domain, shape the answer.

use super::{odata_response, Collection, Entity};
use crate::extract::{Caller, JsonBody, Origin, PathParam};
use crate::request_body;
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use palisade_error::ApiError;

pub async fn list(State(state): State<AppState>, Caller(caller): Caller, origin: Origin) -> Result<Response, ApiError> {
    let machines = state.run(move |core| core.list_machines(&caller)).await?;
    if machines.is_empty() {
        // Documented oddity of List machines: 404 when the tenant has no recent machines.
        return Err(ApiError::new(
            palisade_error::ErrorCode::NotFound,
            "No recent machines were found in this tenant",
            "list machines on an empty tenant (documented 404)",
        ));
    }
    Ok(odata_response(
        StatusCode::OK,
        &Collection::new(&origin, "Machines", &machines),
    ))
}

pub async fn get(
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
