//! `/security/runHuntingQuery` (Graph's `security-security-runhuntingquery.md`), also under its
//! namespace-qualified name `/security/microsoft.graph.security.runHuntingQuery`, which is what the
//! Graph SDKs call. Body `{"Query", "Timespan"}` (names in any case: the SDKs send `query`);
//! answers Graph's `huntingQueryResults`, `{"schema":[{"name","type"}],"results":[…]}`. The query
//! runs through the same domain operation as `POST /api/advancedhunting/run`.

use super::{context, graph_response};
use crate::extract::{AnyCaseJsonBody, Caller, Origin};
use crate::request_body;
use crate::routing::Routes;
use crate::state::AppState;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use palisade_error::ApiError;
use serde_json::{json, Value};

pub fn router() -> Routes {
    Routes::new()
        .post("/v1.0/security/runHuntingQuery", run)
        .post("/v1.0/security/microsoft.graph.security.runHuntingQuery", run)
        .post("/beta/security/runHuntingQuery", run)
        .post("/beta/security/microsoft.graph.security.runHuntingQuery", run)
}

request_body! {
    /// Body of `runHuntingQuery`.
    pub struct RunHuntingQueryRequest {
        required "Query" query: String,
        optional "Timespan" timespan: Option<String>,
    }
}

pub async fn run(
    State(state): State<AppState>,
    Caller(caller): Caller,
    origin: Origin,
    uri: Uri,
    AnyCaseJsonBody(body): AnyCaseJsonBody<RunHuntingQueryRequest>,
) -> Result<Response, ApiError> {
    let result = state
        .run(move |core| core.graph_run_hunting(&caller, &body.query, body.timespan.as_deref()))
        .await?;
    let schema: Vec<Value> = result
        .columns
        .iter()
        .map(|(name, ty)| json!({"name": name, "type": ty.api_name()}))
        .collect();
    Ok(graph_response(
        StatusCode::OK,
        &json!({
            "@odata.context": context(&origin, &uri, "microsoft.graph.security.huntingQueryResults"),
            "schema": schema,
            "results": result.results_json(),
        }),
    ))
}
