//! `/security/alerts_v2` (Graph's `security-list-alerts_v2.md`, `security-alert-get.md`,
//! `security-alert-update.md`, `security-alert-post-comments.md`): the Defender for Endpoint
//! alerts in Graph's shape, with typed evidence and a `deviceEvidence` for the alert's machine.
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
use palisade_domain::graph::{AlertWithDevice, GraphAlertUpdate};
use palisade_error::ApiError;
use palisade_model::graph::{self as shapes, GRAPH_ALERTS};
use serde_json::{json, Value};

pub fn router() -> Routes {
    Routes::new()
        .get("/v1.0/security/alerts_v2", list)
        .get("/v1.0/security/alerts_v2/{id}", get_one)
        .patch("/v1.0/security/alerts_v2/{id}", update)
        .post("/v1.0/security/alerts_v2/{id}/comments", comment)
        .get("/beta/security/alerts_v2", list)
        .get("/beta/security/alerts_v2/{id}", get_one)
        .patch("/beta/security/alerts_v2/{id}", update)
        .post("/beta/security/alerts_v2/{id}/comments", comment)
}

fn render(found: &AlertWithDevice) -> Value {
    shapes::alert(&found.alert, found.machine.as_ref())
}

pub async fn list(
    State(state): State<AppState>,
    Caller(caller): Caller,
    origin: Origin,
    uri: Uri,
) -> Result<Response, ApiError> {
    let query = odata_query(&uri, &GRAPH_ALERTS)?;
    let page_size = state.config.page_size;
    let run_query = query.clone();
    let page = state
        .run(move |core| core.graph_list_alerts(&caller, &run_query, page_size))
        .await?;
    let values = page.items.iter().map(render).collect();
    Ok(collection_response(
        &origin,
        &uri,
        &GRAPH_ALERTS,
        &query,
        values,
        page.count,
        page.next_skip,
    ))
}

pub async fn get_one(
    State(state): State<AppState>,
    Caller(caller): Caller,
    origin: Origin,
    uri: Uri,
    PathParam(id): PathParam,
) -> Result<Response, ApiError> {
    let found = state.run(move |core| core.graph_get_alert(&caller, &id)).await?;
    Ok(entity_response(
        &origin,
        &uri,
        "security/alerts_v2/$entity",
        render(&found),
    ))
}

request_body! {
    /// Body of `PATCH /security/alerts_v2/{id}` (names match without regard to case).
    pub struct UpdateAlertRequest {
        optional "status" status: Option<String>,
        optional "assignedTo" assigned_to: Option<String>,
        optional "classification" classification: Option<String>,
        optional "determination" determination: Option<String>,
    }
}

pub async fn update(
    State(state): State<AppState>,
    Caller(caller): Caller,
    origin: Origin,
    uri: Uri,
    PathParam(id): PathParam,
    AnyCaseJsonBody(body): AnyCaseJsonBody<UpdateAlertRequest>,
) -> Result<Response, ApiError> {
    let update = GraphAlertUpdate {
        status: body.status,
        assigned_to: body.assigned_to,
        classification: body.classification,
        determination: body.determination,
    };
    let found = state
        .run(move |core| core.graph_update_alert(&caller, &id, &update))
        .await?;
    Ok(entity_response(
        &origin,
        &uri,
        "security/alerts_v2/$entity",
        render(&found),
    ))
}

request_body! {
    /// Body of `POST /security/alerts_v2/{id}/comments` (Graph's `alertComment`).
    pub struct CommentRequest {
        required "comment" comment: String,
    }
}

/// Answers every comment of the alert, as the page documents.
pub async fn comment(
    State(state): State<AppState>,
    Caller(caller): Caller,
    origin: Origin,
    uri: Uri,
    PathParam(id): PathParam,
    AnyCaseJsonBody(body): AnyCaseJsonBody<CommentRequest>,
) -> Result<Response, ApiError> {
    let comments = state
        .run(move |core| core.graph_comment_alert(&caller, &id, &body.comment))
        .await?;
    let value: Vec<Value> = comments.iter().map(shapes::comment).collect();
    Ok(graph_response(
        StatusCode::OK,
        &json!({
            "@odata.context": context(&origin, &uri, "Collection(microsoft.graph.security.alertComment)"),
            "value": value,
        }),
    ))
}
