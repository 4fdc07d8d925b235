//! `/api/alerts` (`shared/reference/mde-api.md` §3) and `/api/machines/{id}/alerts` (§2.1).
//! Thin: extract, call the domain, shape the answer.

use crate::api::{count_response, entity_response, list_response, odata_query, odata_response};
use crate::extract::{Caller, JsonBody, Origin, PathParam};
use crate::request_body;
use crate::routing::Routes;
use crate::state::AppState;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use palisade_domain::mde::alerts::{AlertReference, AlertUpdate};
use palisade_error::ApiError;
use palisade_model::schemas::ALERTS;
use serde_json::json;

pub fn router() -> Routes {
    Routes::new()
        .get("/api/alerts", list)
        .get("/api/alerts/$count", count)
        .post("/api/alerts/batchUpdate", batch_update)
        .post("/api/alerts/CreateAlertByReference", create_by_reference)
        .get("/api/alerts/{id}", get_one)
        .patch("/api/alerts/{id}", update)
        .get("/api/alerts/{id}/domains", domains)
        .get("/api/alerts/{id}/files", files)
        .get("/api/alerts/{id}/ips", ips)
        .get("/api/alerts/{id}/machine", machine)
        .get("/api/alerts/{id}/user", user)
        .get("/api/machines/{id}/alerts", machine_alerts)
        .get("/api/machines/{id}/alerts/$count", count_machine_alerts)
}

pub async fn list(
    State(state): State<AppState>,
    Caller(caller): Caller,
    origin: Origin,
    uri: Uri,
) -> Result<Response, ApiError> {
    list_response(&state, &origin, &uri, &ALERTS, move |core, query, page_size| {
        core.list_alerts(&caller, query, page_size)
    })
    .await
}

pub async fn count(State(state): State<AppState>, Caller(caller): Caller, uri: Uri) -> Result<Response, ApiError> {
    let query = odata_query(&uri, &ALERTS)?;
    let count = state.run(move |core| core.count_alerts(&caller, &query)).await?;
    Ok(count_response(count))
}

pub async fn get_one(
    State(state): State<AppState>,
    Caller(caller): Caller,
    origin: Origin,
    PathParam(id): PathParam,
) -> Result<Response, ApiError> {
    let alert = state.read_inline(move |core| core.get_alert(&caller, &id)).await?;
    Ok(entity_response(StatusCode::OK, &origin, "Alerts/$entity", &alert))
}

request_body! {
    /// Body of `PATCH /api/alerts/{id}`: camelCase, as the page's example writes it (its property
    /// table's PascalCase is not accepted).
    pub struct UpdateRequest {
        optional "status" status: Option<String>,
        optional "assignedTo" assigned_to: Option<String>,
        optional "classification" classification: Option<String>,
        optional "determination" determination: Option<String>,
        optional "comment" comment: Option<String>,
    }
}

pub async fn update(
    State(state): State<AppState>,
    Caller(caller): Caller,
    origin: Origin,
    PathParam(id): PathParam,
    JsonBody(body): JsonBody<UpdateRequest>,
) -> Result<Response, ApiError> {
    let update = AlertUpdate {
        status: body.status,
        assigned_to: body.assigned_to,
        classification: body.classification,
        determination: body.determination,
        comment: body.comment,
    };
    let alert = state.run(move |core| core.update_alert(&caller, &id, &update)).await?;
    Ok(entity_response(StatusCode::OK, &origin, "Alerts/$entity", &alert))
}

request_body! {
    /// Body of `POST /api/alerts/batchUpdate`.
    pub struct BatchUpdateRequest {
        required "alertIds" alert_ids: Vec<String>,
        optional "status" status: Option<String>,
        optional "assignedTo" assigned_to: Option<String>,
        optional "classification" classification: Option<String>,
        optional "determination" determination: Option<String>,
        optional "comment" comment: Option<String>,
    }
}

/// Answers 200 with an empty body, as documented.
pub async fn batch_update(
    State(state): State<AppState>,
    Caller(caller): Caller,
    JsonBody(body): JsonBody<BatchUpdateRequest>,
) -> Result<Response, ApiError> {
    let update = AlertUpdate {
        status: body.status,
        assigned_to: body.assigned_to,
        classification: body.classification,
        determination: body.determination,
        comment: body.comment,
    };
    let ids = body.alert_ids;
    state
        .run(move |core| core.batch_update_alerts(&caller, &ids, &update))
        .await?;
    Ok(StatusCode::OK.into_response())
}

request_body! {
    /// Body of `POST /api/alerts/CreateAlertByReference`: every property required.
    pub struct CreateByReferenceRequest {
        required "eventTime" event_time: String,
        required "reportId" report_id: String,
        required "machineId" machine_id: String,
        required "severity" severity: String,
        required "title" title: String,
        required "description" description: String,
        required "recommendedAction" recommended_action: String,
        required "category" category: String,
    }
}

/// Answers 200 (not 201) with the alert, as documented.
pub async fn create_by_reference(
    State(state): State<AppState>,
    Caller(caller): Caller,
    origin: Origin,
    JsonBody(body): JsonBody<CreateByReferenceRequest>,
) -> Result<Response, ApiError> {
    let reference = AlertReference {
        event_time: body.event_time,
        report_id: body.report_id,
        machine_id: body.machine_id,
        severity: body.severity,
        title: body.title,
        description: body.description,
        recommended_action: body.recommended_action,
        category: body.category,
    };
    let alert = state
        .run(move |core| core.create_alert_by_reference(&caller, &reference))
        .await?;
    Ok(entity_response(StatusCode::OK, &origin, "Alerts/$entity", &alert))
}

/// A related-entity collection: `@odata.context` then `value`.
fn collection(origin: &Origin, set: &str, value: serde_json::Value) -> Response {
    odata_response(
        StatusCode::OK,
        &json!({"@odata.context": format!("{}/api/$metadata#{set}", origin.0), "value": value}),
    )
}

pub async fn domains(
    State(state): State<AppState>,
    Caller(caller): Caller,
    origin: Origin,
    PathParam(id): PathParam,
) -> Result<Response, ApiError> {
    let hosts = state.run(move |core| core.alert_domains(&caller, &id)).await?;
    let value: Vec<_> = hosts.into_iter().map(|host| json!({"host": host})).collect();
    Ok(collection(&origin, "Domains", json!(value)))
}

pub async fn ips(
    State(state): State<AppState>,
    Caller(caller): Caller,
    origin: Origin,
    PathParam(id): PathParam,
) -> Result<Response, ApiError> {
    let ips = state.run(move |core| core.alert_ips(&caller, &id)).await?;
    let value: Vec<_> = ips.into_iter().map(|ip| json!({"id": ip})).collect();
    Ok(collection(&origin, "Ips", json!(value)))
}

pub async fn files(
    State(state): State<AppState>,
    Caller(caller): Caller,
    origin: Origin,
    PathParam(id): PathParam,
) -> Result<Response, ApiError> {
    let files = state.run(move |core| core.alert_files(&caller, &id)).await?;
    let value = serde_json::to_value(files).map_err(|e| ApiError::internal(format!("files serialisation: {e}")))?;
    Ok(collection(&origin, "Files", value))
}

pub async fn machine(
    State(state): State<AppState>,
    Caller(caller): Caller,
    origin: Origin,
    PathParam(id): PathParam,
) -> Result<Response, ApiError> {
    let machine = state.run(move |core| core.alert_machine(&caller, &id)).await?;
    Ok(entity_response(StatusCode::OK, &origin, "Machines/$entity", &machine))
}

pub async fn user(
    State(state): State<AppState>,
    Caller(caller): Caller,
    origin: Origin,
    PathParam(id): PathParam,
) -> Result<Response, ApiError> {
    let user = state.run(move |core| core.alert_user(&caller, &id)).await?;
    Ok(entity_response(StatusCode::OK, &origin, "Users/$entity", &user))
}

pub async fn machine_alerts(
    State(state): State<AppState>,
    Caller(caller): Caller,
    origin: Origin,
    PathParam(id): PathParam,
    uri: Uri,
) -> Result<Response, ApiError> {
    list_response(&state, &origin, &uri, &ALERTS, move |core, query, page_size| {
        core.list_machine_alerts(&caller, &id, query, page_size)
    })
    .await
}

pub async fn count_machine_alerts(
    State(state): State<AppState>,
    Caller(caller): Caller,
    PathParam(id): PathParam,
    uri: Uri,
) -> Result<Response, ApiError> {
    let query = odata_query(&uri, &ALERTS)?;
    let count = state
        .run(move |core| core.count_machine_alerts(&caller, &id, &query))
        .await?;
    Ok(count_response(count))
}
