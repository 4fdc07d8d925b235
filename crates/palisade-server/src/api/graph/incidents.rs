//! `/security/incidents` (Graph's `security-list-incidents.md`, `security-incident-get.md`,
//! `security-incident-update.md`, `security-incident-post-comments.md`): the Defender XDR
//! incidents in Graph's shape, `$expand=alerts` giving their alerts as `alerts_v2` renders them.
//! Thin: extract, call the domain's Graph operation, render with `palisade_model::graph`.

use super::{collection_response, context, entity_response, graph_response};
use crate::api::odata_query;
use crate::extract::{AnyCaseJsonBody, Caller, Origin, PathParam};
use crate::request_body;
use crate::routing::Routes;
use crate::state::AppState;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use palisade_domain::graph::GraphIncidentPatch;
use palisade_domain::xdr::incidents::Incident;
use palisade_error::ApiError;
use palisade_model::graph::{self as shapes, GRAPH_INCIDENTS};
use palisade_odata::Query;
use serde_json::{json, Value};

pub fn router() -> Routes {
    Routes::new()
        .get("/v1.0/security/incidents", list)
        .get("/v1.0/security/incidents/{id}", get_one)
        .patch("/v1.0/security/incidents/{id}", update)
        .post("/v1.0/security/incidents/{id}/comments", comment)
        .get("/beta/security/incidents", list)
        .get("/beta/security/incidents/{id}", get_one)
        .patch("/beta/security/incidents/{id}", update)
        .post("/beta/security/incidents/{id}/comments", comment)
}

/// An incident in Graph's shape, its alerts included when `expand` says so.
fn render(incident: &Incident, tenant_id: &str, expand: bool) -> Value {
    let alerts = expand.then(|| {
        incident
            .alerts
            .iter()
            .map(|alert| {
                let machine = incident.machines.iter().find(|m| m.id == alert.machine_id);
                shapes::alert(alert, machine)
            })
            .collect()
    });
    shapes::incident(&incident.record, tenant_id, alerts)
}

fn expands_alerts(query: &Query) -> bool {
    query.expand.contains(&"alerts")
}

pub async fn list(
    State(state): State<AppState>,
    Caller(caller): Caller,
    origin: Origin,
    uri: Uri,
) -> Result<Response, ApiError> {
    let query = odata_query(&uri, &GRAPH_INCIDENTS)?;
    let page_size = state.config.page_size;
    let tenant = caller.tenant_id.clone();
    let run_query = query.clone();
    let page = state
        .run(move |core| core.graph_list_incidents(&caller, &run_query, page_size))
        .await?;
    let expand = expands_alerts(&query);
    let values = page.incidents.iter().map(|i| render(i, &tenant, expand)).collect();
    Ok(collection_response(
        &origin,
        &uri,
        &GRAPH_INCIDENTS,
        &query,
        values,
        page.count,
        page.next_skip,
    ))
}

/// `$expand=alerts` (and `$select`) apply to a single incident too.
pub async fn get_one(
    State(state): State<AppState>,
    Caller(caller): Caller,
    origin: Origin,
    uri: Uri,
    PathParam(id): PathParam,
) -> Result<Response, ApiError> {
    let query = odata_query(&uri, &GRAPH_INCIDENTS)?;
    let tenant = caller.tenant_id.clone();
    let incident = state.run(move |core| core.graph_get_incident(&caller, &id)).await?;
    let mut value = render(&incident, &tenant, expands_alerts(&query));
    if query.select.is_some() {
        value = query.apply_select(&GRAPH_INCIDENTS, &value);
    }
    Ok(entity_response(&origin, &uri, "security/incidents/$entity", value))
}

request_body! {
    /// Body of `PATCH /security/incidents/{id}` (names match without regard to case).
    pub struct UpdateIncidentRequest {
        optional "status" status: Option<String>,
        optional "assignedTo" assigned_to: Option<String>,
        optional "classification" classification: Option<String>,
        optional "determination" determination: Option<String>,
        optional "customTags" custom_tags: Option<Vec<String>>,
        optional "description" description: Option<String>,
    }
}

pub async fn update(
    State(state): State<AppState>,
    Caller(caller): Caller,
    origin: Origin,
    uri: Uri,
    PathParam(id): PathParam,
    AnyCaseJsonBody(body): AnyCaseJsonBody<UpdateIncidentRequest>,
) -> Result<Response, ApiError> {
    let patch = GraphIncidentPatch {
        status: body.status,
        assigned_to: body.assigned_to,
        classification: body.classification,
        determination: body.determination,
        custom_tags: body.custom_tags,
        description: body.description,
    };
    let tenant = caller.tenant_id.clone();
    let incident = state
        .run(move |core| core.graph_update_incident(&caller, &id, &patch))
        .await?;
    Ok(entity_response(
        &origin,
        &uri,
        "security/incidents/$entity",
        render(&incident, &tenant, false),
    ))
}

request_body! {
    /// Body of `POST /security/incidents/{id}/comments` (Graph's `alertComment`).
    pub struct IncidentCommentRequest {
        required "comment" comment: String,
    }
}

/// Answers every comment of the incident, as the page documents.
pub async fn comment(
    State(state): State<AppState>,
    Caller(caller): Caller,
    origin: Origin,
    uri: Uri,
    PathParam(id): PathParam,
    AnyCaseJsonBody(body): AnyCaseJsonBody<IncidentCommentRequest>,
) -> Result<Response, ApiError> {
    let comments = state
        .run(move |core| core.graph_comment_incident(&caller, &id, &body.comment))
        .await?;
    let value: Vec<Value> = comments.iter().map(shapes::incident_comment).collect();
    Ok(graph_response(
        StatusCode::OK,
        &json!({
            "@odata.context": context(&origin, &uri, "Collection(microsoft.graph.security.alertComment)"),
            "value": value,
        }),
    ))
}
