//! Machine actions (`shared/reference/mde-api.md` §4): `/api/machineactions` and the action verbs under
//! `/api/machines/{id}/`, `startInvestigation` (§10), and the unauthenticated, signed download links
//! the package URI and live-response result calls hand out ([`downloads_router`]).
//!
//! Verb handlers check the caller's role before reading the body, so a caller without the role
//! learns that first, whatever it sent.

use crate::api::{count_response, entity_response, list_response, odata_query, odata_response};
use crate::extract::{json_body, Caller, Origin, PathParam, RequestBody};
use crate::request_body;
use crate::routing::Routes;
use crate::state::AppState;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use palisade_auth::Principal;
use palisade_domain::mde::actions::{action_roles, ActionDetails, ActionRequest, DownloadKind, INVESTIGATE_ROLES};
use palisade_error::ApiError;
use palisade_model::entities::ActionType;
use palisade_model::schemas::MACHINE_ACTIONS;
use serde_json::json;

pub fn router() -> Routes {
    Routes::new()
        .get("/api/machineactions", list)
        .get("/api/machineactions/$count", count)
        .get("/api/machineactions/{id}", get_one)
        .post("/api/machineactions/{id}/cancel", cancel)
        // getPackageUri and GetLiveResponseResultDownloadLink(index=N): the second keeps its
        // argument inside the segment, so the segment is matched here rather than by the router.
        .get("/api/machineactions/{id}/{call}", function_call)
        .post("/api/machines/{id}/isolate", isolate)
        .post("/api/machines/{id}/unisolate", unisolate)
        .post("/api/machines/{id}/restrictCodeExecution", restrict)
        .post("/api/machines/{id}/unrestrictCodeExecution", unrestrict)
        .post("/api/machines/{id}/runAntiVirusScan", scan)
        .post("/api/machines/{id}/collectInvestigationPackage", collect)
        .post("/api/machines/{id}/offboard", offboard)
        .post("/api/machines/{id}/StopAndQuarantineFile", stop_and_quarantine)
        .post("/api/machines/{id}/runliveresponse", live_response)
        .post("/api/machines/{id}/startInvestigation", start_investigation)
}

/// Download links: no token (they are signed and expire, like the real SAS URIs). Merged into the
/// open part of the admin router.
pub fn downloads_router() -> Routes {
    Routes::new()
        .get("/_palisade/downloads/{tenant}/{action}/package", download_package)
        .get(
            "/_palisade/downloads/{tenant}/{action}/results/{index}",
            download_result,
        )
}

pub async fn list(
    State(state): State<AppState>,
    Caller(caller): Caller,
    origin: Origin,
    uri: Uri,
) -> Result<Response, ApiError> {
    list_response(
        &state,
        &origin,
        &uri,
        &MACHINE_ACTIONS,
        move |core, query, page_size| core.list_actions(&caller, query, page_size),
    )
    .await
}

pub async fn count(State(state): State<AppState>, Caller(caller): Caller, uri: Uri) -> Result<Response, ApiError> {
    let query = odata_query(&uri, &MACHINE_ACTIONS)?;
    let count = state.run(move |core| core.count_actions(&caller, &query)).await?;
    Ok(count_response(count))
}

pub async fn get_one(
    State(state): State<AppState>,
    Caller(caller): Caller,
    origin: Origin,
    PathParam(id): PathParam,
) -> Result<Response, ApiError> {
    let action = state.read_inline(move |core| core.get_action(&caller, &id)).await?;
    Ok(entity_response(
        StatusCode::OK,
        &origin,
        "MachineActions/$entity",
        &action,
    ))
}

// Every action body also takes the MachineAction properties a caller may set: `ExternalId` (the
// docs: an id "the customer can submit in the request"), `RequestSource` and `Title`. Published
// clients send them, `null` when unset; they are stored on the action (cancel and
// startInvestigation accept and ignore them, as their results have no place for them).

request_body! {
    /// Body of cancel and of the verbs that take only a comment.
    pub struct CommentRequest {
        required "Comment" comment: String,
        optional "ExternalId" external_id: Option<String>,
        optional "RequestSource" request_source: Option<String>,
        optional "Title" title: Option<String>,
    }
}

request_body! {
    /// Body of `isolate`; `IsolationType` defaults to Full.
    pub struct IsolateRequest {
        required "Comment" comment: String,
        optional "IsolationType" isolation_type: Option<String>,
        optional "ExternalId" external_id: Option<String>,
        optional "RequestSource" request_source: Option<String>,
        optional "Title" title: Option<String>,
    }
}

request_body! {
    /// Body of `runAntiVirusScan`.
    pub struct ScanRequest {
        required "Comment" comment: String,
        required "ScanType" scan_type: String,
        optional "ExternalId" external_id: Option<String>,
        optional "RequestSource" request_source: Option<String>,
        optional "Title" title: Option<String>,
    }
}

request_body! {
    /// Body of `StopAndQuarantineFile`.
    pub struct QuarantineRequest {
        required "Comment" comment: String,
        required "Sha1" sha1: String,
        optional "ExternalId" external_id: Option<String>,
        optional "RequestSource" request_source: Option<String>,
        optional "Title" title: Option<String>,
    }
}

request_body! {
    /// Body of `runliveresponse`; commands are checked one by one in the domain, which names the
    /// index of a bad one.
    pub struct LiveResponseRequest {
        required "Comment" comment: String,
        required "Commands" commands: Vec<serde_json::Value>,
        optional "ExternalId" external_id: Option<String>,
        optional "RequestSource" request_source: Option<String>,
        optional "Title" title: Option<String>,
    }
}

/// Role first, then the body.
async fn body_after_role<T: RequestBody>(
    state: &AppState,
    caller: &Principal,
    roles: &[&str],
    request: Request,
) -> Result<T, ApiError> {
    caller.require_any(roles)?;
    json_body(state, request).await
}

async fn act(
    state: AppState,
    caller: Principal,
    origin: Origin,
    machine: String,
    details: ActionDetails,
    action: ActionRequest,
) -> Result<Response, ApiError> {
    let created = state
        .run(move |core| core.request_action(&caller, &machine, &details, action))
        .await?;
    Ok(entity_response(
        StatusCode::CREATED,
        &origin,
        "MachineActions/$entity",
        &created,
    ))
}

/// The properties every action body shares, moved out of `$body`.
macro_rules! action_details {
    ($body:ident) => {
        ActionDetails {
            comment: $body.comment,
            external_id: $body.external_id,
            request_source: $body.request_source,
            title: $body.title,
        }
    };
}

/// A verb whose body is only `Comment`.
macro_rules! comment_verb {
    ($name:ident, $kind:ident) => {
        pub async fn $name(
            State(state): State<AppState>,
            Caller(caller): Caller,
            origin: Origin,
            PathParam(id): PathParam,
            request: Request,
        ) -> Result<Response, ApiError> {
            let body: CommentRequest =
                body_after_role(&state, &caller, action_roles(ActionType::$kind), request).await?;
            let details = action_details!(body);
            act(state, caller, origin, id, details, ActionRequest::$kind).await
        }
    };
}

comment_verb!(unisolate, Unisolate);
comment_verb!(restrict, RestrictCodeExecution);
comment_verb!(unrestrict, UnrestrictCodeExecution);
comment_verb!(collect, CollectInvestigationPackage);
comment_verb!(offboard, Offboard);

pub async fn isolate(
    State(state): State<AppState>,
    Caller(caller): Caller,
    origin: Origin,
    PathParam(id): PathParam,
    request: Request,
) -> Result<Response, ApiError> {
    let body: IsolateRequest = body_after_role(&state, &caller, action_roles(ActionType::Isolate), request).await?;
    let action = ActionRequest::Isolate {
        isolation_type: body.isolation_type,
    };
    act(state, caller, origin, id, action_details!(body), action).await
}

pub async fn scan(
    State(state): State<AppState>,
    Caller(caller): Caller,
    origin: Origin,
    PathParam(id): PathParam,
    request: Request,
) -> Result<Response, ApiError> {
    let body: ScanRequest =
        body_after_role(&state, &caller, action_roles(ActionType::RunAntiVirusScan), request).await?;
    let action = ActionRequest::RunAntiVirusScan {
        scan_type: body.scan_type,
    };
    act(state, caller, origin, id, action_details!(body), action).await
}

pub async fn stop_and_quarantine(
    State(state): State<AppState>,
    Caller(caller): Caller,
    origin: Origin,
    PathParam(id): PathParam,
    request: Request,
) -> Result<Response, ApiError> {
    let body: QuarantineRequest = body_after_role(
        &state,
        &caller,
        action_roles(ActionType::StopAndQuarantineFile),
        request,
    )
    .await?;
    let action = ActionRequest::StopAndQuarantineFile { sha1: body.sha1 };
    act(state, caller, origin, id, action_details!(body), action).await
}

pub async fn live_response(
    State(state): State<AppState>,
    Caller(caller): Caller,
    origin: Origin,
    PathParam(id): PathParam,
    request: Request,
) -> Result<Response, ApiError> {
    let body: LiveResponseRequest =
        body_after_role(&state, &caller, action_roles(ActionType::LiveResponse), request).await?;
    let action = ActionRequest::LiveResponse {
        commands: body.commands,
    };
    act(state, caller, origin, id, action_details!(body), action).await
}

pub async fn start_investigation(
    State(state): State<AppState>,
    Caller(caller): Caller,
    origin: Origin,
    PathParam(id): PathParam,
    request: Request,
) -> Result<Response, ApiError> {
    // The comment has no place in the Investigation entity; it is required, then not kept.
    let _body: CommentRequest = body_after_role(&state, &caller, INVESTIGATE_ROLES, request).await?;
    let investigation = state.run(move |core| core.start_investigation(&caller, &id)).await?;
    Ok(entity_response(
        StatusCode::CREATED,
        &origin,
        "Investigations/$entity",
        &investigation,
    ))
}

pub async fn cancel(
    State(state): State<AppState>,
    Caller(caller): Caller,
    origin: Origin,
    PathParam(id): PathParam,
    request: Request,
) -> Result<Response, ApiError> {
    let body: CommentRequest =
        body_after_role(&state, &caller, palisade_domain::mde::actions::CANCEL_ROLES, request).await?;
    let action = state
        .run(move |core| core.cancel_action(&caller, &id, &body.comment))
        .await?;
    Ok(entity_response(
        StatusCode::OK,
        &origin,
        "MachineActions/$entity",
        &action,
    ))
}

/// Several path parameters, with the rejection kept so it becomes an error envelope.
pub type PathParams = Result<Path<Vec<String>>, axum::extract::rejection::PathRejection>;

/// The route's `N` path parameters, percent-decoded; a bad encoding is `BadRequest`.
pub fn path_params<const N: usize>(result: PathParams) -> Result<[String; N], ApiError> {
    let Path(values) = result.map_err(|e| ApiError::bad_request(format!("Invalid path: {e}"), "path parameter"))?;
    values
        .try_into()
        .map_err(|_| ApiError::internal("route declared with a different number of path parameters"))
}

const RESULT_LINK: &str = "GetLiveResponseResultDownloadLink";

pub async fn function_call(
    State(state): State<AppState>,
    Caller(caller): Caller,
    origin: Origin,
    uri: Uri,
    params: PathParams,
) -> Result<Response, ApiError> {
    let [id, call] = path_params::<2>(params)?;
    let link = if call == "getPackageUri" {
        state.run(move |core| core.package_link(&caller, &id)).await?
    } else if let Some(args) = call
        .strip_prefix(RESULT_LINK)
        .and_then(|rest| rest.strip_prefix('('))
        .and_then(|rest| rest.strip_suffix(')'))
    {
        let Some(index) = args.trim().strip_prefix("index=") else {
            return Err(ApiError::invalid_input(
                format!("{RESULT_LINK} arguments '({args})'; expected (index=N)"),
                "live response result arguments",
            ));
        };
        let index = index.to_string();
        state
            .run(move |core| core.live_response_result_link(&caller, &id, &index))
            .await?
    } else {
        return Err(ApiError::not_found(format!("No API route matches GET {}", uri.path())));
    };
    Ok(odata_response(
        StatusCode::OK,
        &json!({
            "@odata.context": format!("{}/api/$metadata#Edm.String", origin.0),
            "value": format!("{}{link}", origin.0),
        }),
    ))
}

/// `se` and `sig` of a download link's query.
fn link_query(uri: &Uri) -> (String, String) {
    let (mut expires, mut signature) = (String::new(), String::new());
    for (key, value) in form_urlencoded::parse(uri.query().unwrap_or("").as_bytes()) {
        match key.as_ref() {
            "se" => expires = value.into_owned(),
            "sig" => signature = value.into_owned(),
            _ => {}
        }
    }
    (expires, signature)
}

async fn serve_download(
    state: AppState,
    uri: Uri,
    tenant: String,
    action: String,
    what: DownloadKind,
) -> Result<Response, ApiError> {
    let (expires, signature) = link_query(&uri);
    let file = state
        .run(move |core| core.download(&tenant, &action, what, &expires, &signature))
        .await?;
    let mut response = (StatusCode::OK, file.bytes).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(file.content_type));
    let disposition = format!("attachment; filename=\"{}\"", file.file_name.replace(['"', '\\'], "_"));
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

pub async fn download_package(
    State(state): State<AppState>,
    uri: Uri,
    params: PathParams,
) -> Result<Response, ApiError> {
    let [tenant, action] = path_params::<2>(params)?;
    serve_download(state, uri, tenant, action, DownloadKind::Package).await
}

pub async fn download_result(
    State(state): State<AppState>,
    uri: Uri,
    params: PathParams,
) -> Result<Response, ApiError> {
    let [tenant, action, index] = path_params::<3>(params)?;
    let index = index
        .parse()
        .map_err(|_| ApiError::resource_not_found("Live response result", &index))?;
    serve_download(state, uri, tenant, action, DownloadKind::Result(index)).await
}
