//! `/api/incidents` (`shared/reference/xdr-api-and-auth.md` §2.6): list, get, update. Thin:
//! extract, call `palisade_domain::xdr::incidents`, render the XDR shape.

use crate::api::{entity_response, next_link, odata_query, odata_response};
use crate::extract::{Caller, JsonBody, Origin, PathParam};
use crate::request_body;
use crate::routing::Routes;
use crate::state::AppState;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use palisade_domain::xdr::incidents::{IncidentApi, IncidentPatch};
use palisade_error::ApiError;
use palisade_model::schemas::{INCIDENTS, INCIDENT_MAX_PAGE};
use serde_json::{Map, Value};

pub fn router() -> Routes {
    Routes::new()
        .get("/api/incidents", list)
        .get("/api/incidents/{id}", get_one)
        .patch("/api/incidents/{id}", update)
}

fn rendered(value: impl serde::Serialize) -> Result<Value, ApiError> {
    serde_json::to_value(value).map_err(|e| ApiError::internal(format!("incident serialisation: {e}")))
}

/// `GET /api/incidents`: at most 100 per page (the documented maximum, also without `$top`),
/// most recent first, `@odata.nextLink` on the caller's origin while more remain.
pub async fn list(
    State(state): State<AppState>,
    Caller(caller): Caller,
    origin: Origin,
    uri: Uri,
) -> Result<Response, ApiError> {
    let query = odata_query(&uri, &INCIDENTS)?;
    let page_size = state.config.page_size.min(INCIDENT_MAX_PAGE);
    let run_query = query.clone();
    let tenant = caller.tenant_id.clone();
    let page = state
        .run(move |core| core.list_incidents(&caller, IncidentApi::Xdr, &run_query, page_size))
        .await?;
    let mut body = Map::new();
    body.insert(
        "@odata.context".into(),
        Value::String(format!("{}/api/$metadata#Incidents", origin.0)),
    );
    if let Some(count) = page.count {
        body.insert("@odata.count".into(), count.into());
    }
    let mut value = Vec::with_capacity(page.incidents.len());
    for incident in &page.incidents {
        let entity = rendered(incident.to_xdr(&tenant))?;
        value.push(match &query.select {
            Some(_) => query.apply_select(&INCIDENTS, &entity),
            None => entity,
        });
    }
    body.insert("value".into(), Value::Array(value));
    if let Some(skip) = page.next_skip {
        body.insert("@odata.nextLink".into(), Value::String(next_link(&origin, &uri, skip)));
    }
    Ok(odata_response(StatusCode::OK, &body))
}

pub async fn get_one(
    State(state): State<AppState>,
    Caller(caller): Caller,
    origin: Origin,
    PathParam(id): PathParam,
) -> Result<Response, ApiError> {
    let tenant = caller.tenant_id.clone();
    let incident = state
        .read_inline(move |core| core.get_incident(&caller, IncidentApi::Xdr, &id))
        .await?;
    Ok(entity_response(
        StatusCode::OK,
        &origin,
        "Incidents/$entity",
        &incident.to_xdr(&tenant),
    ))
}

request_body! {
    /// Body of `PATCH /api/incidents/{id}`, exact case as the page writes it; `comment` is
    /// singular (the page's "comments" is the property it appends to).
    pub struct UpdateRequest {
        optional "status" status: Option<String>,
        optional "assignedTo" assigned_to: Option<String>,
        optional "classification" classification: Option<String>,
        optional "determination" determination: Option<String>,
        optional "tags" tags: Option<Vec<String>>,
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
    let patch = IncidentPatch {
        status: body.status,
        assigned_to: body.assigned_to,
        classification: body.classification,
        determination: body.determination,
        tags: body.tags,
        comment: body.comment,
        description: None,
    };
    let tenant = caller.tenant_id.clone();
    let incident = state
        .run(move |core| core.update_incident(&caller, IncidentApi::Xdr, &id, &patch))
        .await?;
    Ok(entity_response(
        StatusCode::OK,
        &origin,
        "Incidents/$entity",
        &incident.to_xdr(&tenant),
    ))
}
