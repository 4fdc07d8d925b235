//! `/api/files`, `/api/ips`, `/api/domains` (`shared/reference/mde-api.md` §6–§8): entity lookups,
//! related alerts and machines, and statistics derived from stored alerts and machines. The docs
//! document no URL lookups, so there are none.

use crate::api::{entity_response, list_response};
use crate::extract::{Caller, Origin, PathParam};
use crate::routing::Routes;
use crate::state::AppState;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use palisade_error::ApiError;
use palisade_model::schemas::{ALERTS, MACHINES};

/// The `@odata.context` suffixes of the statistics answers, as documented.
const FILE_STATS: &str = "microsoft.windowsDefenderATP.api.InOrgFileStats";
const IP_STATS: &str = "microsoft.windowsDefenderATP.api.InOrgIPStats";
const DOMAIN_STATS: &str = "microsoft.windowsDefenderATP.api.InOrgDomainStats";

pub fn router() -> Routes {
    Routes::new()
        .get("/api/files/{id}", file)
        .get("/api/files/{id}/stats", file_stats)
        .get("/api/files/{id}/alerts", file_alerts)
        .get("/api/files/{id}/machines", file_machines)
        .get("/api/ips/{ip}/stats", ip_stats)
        .get("/api/ips/{ip}/alerts", ip_alerts)
        .get("/api/domains/{domain}/stats", domain_stats)
        .get("/api/domains/{domain}/alerts", domain_alerts)
        .get("/api/domains/{domain}/machines", domain_machines)
}

/// The statistics routes' one query parameter, `lookBackHours` (its name in any case: the pages
/// themselves write `lookbackhours` too). Any other parameter is refused rather than ignored, so a
/// misspelt one does not silently fall back to 30 days.
fn lookback_param(uri: &Uri) -> Result<Option<String>, ApiError> {
    let mut value = None;
    for (name, v) in form_urlencoded::parse(uri.query().unwrap_or("").as_bytes()) {
        if name.eq_ignore_ascii_case("lookBackHours") {
            if value.is_some() {
                return Err(ApiError::invalid_input(
                    "lookBackHours given more than once",
                    "repeated lookBackHours",
                ));
            }
            value = Some(v.into_owned());
        } else {
            return Err(ApiError::invalid_input(
                format!("query parameter '{name}'; this API takes only lookBackHours"),
                "unknown statistics query parameter",
            ));
        }
    }
    Ok(value)
}

pub async fn file(
    State(state): State<AppState>,
    Caller(caller): Caller,
    origin: Origin,
    PathParam(id): PathParam,
) -> Result<Response, ApiError> {
    let file = state.run(move |core| core.get_file(&caller, &id)).await?;
    Ok(entity_response(StatusCode::OK, &origin, "Files/$entity", &file))
}

pub async fn file_stats(
    State(state): State<AppState>,
    Caller(caller): Caller,
    origin: Origin,
    PathParam(id): PathParam,
    uri: Uri,
) -> Result<Response, ApiError> {
    let lookback = lookback_param(&uri)?;
    let stats = state
        .run(move |core| core.file_stats(&caller, &id, lookback.as_deref()))
        .await?;
    Ok(entity_response(StatusCode::OK, &origin, FILE_STATS, &stats))
}

pub async fn file_alerts(
    State(state): State<AppState>,
    Caller(caller): Caller,
    origin: Origin,
    PathParam(id): PathParam,
    uri: Uri,
) -> Result<Response, ApiError> {
    list_response(&state, &origin, &uri, &ALERTS, move |core, query, page_size| {
        core.list_file_alerts(&caller, &id, query, page_size)
    })
    .await
}

pub async fn file_machines(
    State(state): State<AppState>,
    Caller(caller): Caller,
    origin: Origin,
    PathParam(id): PathParam,
    uri: Uri,
) -> Result<Response, ApiError> {
    list_response(&state, &origin, &uri, &MACHINES, move |core, query, page_size| {
        core.list_file_machines(&caller, &id, query, page_size)
    })
    .await
}

pub async fn ip_stats(
    State(state): State<AppState>,
    Caller(caller): Caller,
    origin: Origin,
    PathParam(ip): PathParam,
    uri: Uri,
) -> Result<Response, ApiError> {
    let lookback = lookback_param(&uri)?;
    let stats = state
        .run(move |core| core.ip_stats(&caller, &ip, lookback.as_deref()))
        .await?;
    Ok(entity_response(StatusCode::OK, &origin, IP_STATS, &stats))
}

pub async fn ip_alerts(
    State(state): State<AppState>,
    Caller(caller): Caller,
    origin: Origin,
    PathParam(ip): PathParam,
    uri: Uri,
) -> Result<Response, ApiError> {
    list_response(&state, &origin, &uri, &ALERTS, move |core, query, page_size| {
        core.list_ip_alerts(&caller, &ip, query, page_size)
    })
    .await
}

pub async fn domain_stats(
    State(state): State<AppState>,
    Caller(caller): Caller,
    origin: Origin,
    PathParam(domain): PathParam,
    uri: Uri,
) -> Result<Response, ApiError> {
    let lookback = lookback_param(&uri)?;
    let stats = state
        .run(move |core| core.domain_stats(&caller, &domain, lookback.as_deref()))
        .await?;
    Ok(entity_response(StatusCode::OK, &origin, DOMAIN_STATS, &stats))
}

pub async fn domain_alerts(
    State(state): State<AppState>,
    Caller(caller): Caller,
    origin: Origin,
    PathParam(domain): PathParam,
    uri: Uri,
) -> Result<Response, ApiError> {
    list_response(&state, &origin, &uri, &ALERTS, move |core, query, page_size| {
        core.list_domain_alerts(&caller, &domain, query, page_size)
    })
    .await
}

pub async fn domain_machines(
    State(state): State<AppState>,
    Caller(caller): Caller,
    origin: Origin,
    PathParam(domain): PathParam,
    uri: Uri,
) -> Result<Response, ApiError> {
    list_response(&state, &origin, &uri, &MACHINES, move |core, query, page_size| {
        core.list_domain_machines(&caller, &domain, query, page_size)
    })
    .await
}
