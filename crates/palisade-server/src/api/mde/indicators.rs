//! `/api/indicators` (`shared/reference/mde-api.md` §5): list, submit-or-update, import, delete and
//! batch delete. Thin: extract, call the domain, shape the answer.

use crate::api::{count_response, entity_response, list_response, odata_query, odata_response};
use crate::extract::{apply_body_policy, json_body, parse_body, Caller, JsonBody, Origin, PathParam, RequestBody};
use crate::layers::journal::RequestContext;
use crate::request_body;
use crate::routing::Routes;
use crate::state::AppState;
use axum::extract::Request;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use palisade_domain::mde::indicators::IndicatorSubmission;
use palisade_error::ApiError;
use palisade_model::schemas::INDICATORS;
use serde_json::json;
use std::sync::Arc;

pub fn router() -> Routes {
    Routes::new()
        .get("/api/indicators", list)
        .post("/api/indicators", submit)
        .get("/api/indicators/$count", count)
        .post("/api/indicators/import", import)
        .post("/api/indicators/BatchDelete", batch_delete)
        .delete("/api/indicators/{id}", delete_one)
}

pub async fn list(
    State(state): State<AppState>,
    Caller(caller): Caller,
    origin: Origin,
    uri: Uri,
) -> Result<Response, ApiError> {
    list_response(&state, &origin, &uri, &INDICATORS, move |core, query, page_size| {
        core.list_indicators(&caller, query, page_size)
    })
    .await
}

pub async fn count(State(state): State<AppState>, Caller(caller): Caller, uri: Uri) -> Result<Response, ApiError> {
    let query = odata_query(&uri, &INDICATORS)?;
    let count = state.run(move |core| core.count_indicators(&caller, &query)).await?;
    Ok(count_response(count))
}

request_body! {
    /// An indicator as submitted: the body of `POST /api/indicators` and each element of an
    /// import's `Indicators` (camelCase, as the pages' examples write it).
    pub struct SubmitRequest {
        required "indicatorValue" indicator_value: String,
        required "indicatorType" indicator_type: String,
        required "action" action: String,
        optional "application" application: Option<String>,
        required "title" title: String,
        required "description" description: String,
        optional "expirationTime" expiration_time: Option<String>,
        optional "severity" severity: Option<String>,
        optional "recommendedActions" recommended_actions: Option<String>,
        optional "rbacGroupNames" rbac_group_names: Option<serde_json::Value>,
        optional "educateUrl" educate_url: Option<String>,
        optional "generateAlert" generate_alert: Option<serde_json::Value>,
        optional "externalID" external_id: Option<String>,
    }
}

impl From<SubmitRequest> for IndicatorSubmission {
    fn from(body: SubmitRequest) -> Self {
        IndicatorSubmission {
            indicator_value: body.indicator_value,
            indicator_type: body.indicator_type,
            action: body.action,
            application: body.application,
            title: body.title,
            description: body.description,
            expiration_time: body.expiration_time,
            severity: body.severity,
            recommended_actions: body.recommended_actions,
            rbac_group_names: body.rbac_group_names,
            educate_url: body.educate_url,
            generate_alert: body.generate_alert,
            external_id: body.external_id,
        }
    }
}

/// Answers 200 (not 201) with the created or updated indicator, as documented.
pub async fn submit(
    State(state): State<AppState>,
    Caller(caller): Caller,
    origin: Origin,
    JsonBody(body): JsonBody<SubmitRequest>,
) -> Result<Response, ApiError> {
    let submission = IndicatorSubmission::from(body);
    let indicator = state
        .run(move |core| core.submit_indicator(&caller, &submission))
        .await?;
    Ok(entity_response(
        StatusCode::OK,
        &origin,
        "Indicators/$entity",
        &indicator,
    ))
}

request_body! {
    /// Body of `POST /api/indicators/import`; elements are checked one by one, so one bad element
    /// is reported in its result instead of failing the call.
    pub struct ImportRequest {
        required "Indicators" indicators: Vec<serde_json::Value>,
    }
}

pub async fn import(
    State(state): State<AppState>,
    Caller(caller): Caller,
    request: Request,
) -> Result<Response, ApiError> {
    let context = request.extensions().get::<Arc<RequestContext>>().cloned();
    let body: ImportRequest = json_body(&state, request).await?;
    let mut ignored = Vec::new();
    let items: Vec<Result<IndicatorSubmission, ApiError>> = body
        .indicators
        .iter()
        .enumerate()
        .map(|(index, item)| {
            let bytes = serde_json::to_vec(item).map_err(|e| ApiError::internal(e.to_string()))?;
            let parsed = parse_body::<SubmitRequest>(&bytes)?;
            ignored.extend(parsed.ignored.iter().map(|name| format!("Indicators[{index}].{name}")));
            Ok(IndicatorSubmission::from(parsed.value))
        })
        .collect();
    // The elements' undocumented properties meet the same policy as the top level's.
    apply_body_policy(
        &state,
        context.as_deref(),
        Some(&caller),
        ignored,
        SubmitRequest::PROPERTIES,
    )
    .await?;
    let results = state.run(move |core| core.import_indicators(&caller, items)).await?;
    Ok(odata_response(StatusCode::OK, &json!({ "value": results })))
}

/// Answers 204, as documented.
pub async fn delete_one(
    State(state): State<AppState>,
    Caller(caller): Caller,
    PathParam(id): PathParam,
) -> Result<Response, ApiError> {
    state.run(move |core| core.delete_indicator(&caller, &id)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

request_body! {
    /// Body of `POST /api/indicators/BatchDelete`.
    pub struct BatchDeleteRequest {
        required "IndicatorIds" indicator_ids: Vec<String>,
    }
}

/// Answers 204, as documented.
pub async fn batch_delete(
    State(state): State<AppState>,
    Caller(caller): Caller,
    JsonBody(body): JsonBody<BatchDeleteRequest>,
) -> Result<Response, ApiError> {
    let ids = body.indicator_ids;
    state
        .run(move |core| core.batch_delete_indicators(&caller, &ids))
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
