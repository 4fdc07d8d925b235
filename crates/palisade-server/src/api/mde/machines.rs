//! `/api/machines` (`shared/reference/mde-api.md` §2). Thin: extract, call the domain, shape the answer.

use crate::api::{count_response, entity_response, list_response, odata_query, odata_response, page_response};
use crate::extract::{Caller, JsonBody, Origin, PathParam};
use crate::request_body;
use crate::routing::Routes;
use crate::state::AppState;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use palisade_domain::mde::machines::FindByIp;
use palisade_error::ApiError;
use palisade_model::schemas::{MACHINES, USERS};

pub fn router() -> Routes {
    Routes::new()
        .get("/api/machines", list)
        .get("/api/machines/$count", count)
        .get("/api/machines/findbytag", find_by_tag)
        .post("/api/machines/AddOrRemoveTagForMultipleMachines", tag_many)
        .get("/api/machines/{id}", get_one)
        .patch("/api/machines/{id}", update)
        .get("/api/machines/{id}/logonusers", logon_users)
        .post("/api/machines/{id}/tags", tag)
        .post("/api/machines/{id}/setDeviceValue", set_device_value)
}

pub async fn list(
    State(state): State<AppState>,
    Caller(caller): Caller,
    origin: Origin,
    uri: Uri,
) -> Result<Response, ApiError> {
    list_response(&state, &origin, &uri, &MACHINES, move |core, query, page_size| {
        core.list_machines(&caller, query, page_size)
    })
    .await
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
    // `findbyip(...)` and `find(...)` are function calls in the position of a machine id.
    for (name, form) in [("findbyip(", FindByIp::Current), ("find(", FindByIp::Legacy)] {
        if let Some(args) = id.strip_prefix(name) {
            return find_by_ip(state, caller, origin, form, args).await;
        }
    }
    let machine = state.read_inline(move |core| core.get_machine(&caller, &id)).await?;
    Ok(entity_response(StatusCode::OK, &origin, "Machines/$entity", &machine))
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
    Ok(entity_response(StatusCode::OK, &origin, "Machines/$entity", &machine))
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
    Ok(entity_response(StatusCode::OK, &origin, "Machines/$entity", &machine))
}

/// The arguments of a function-call segment (`ip='10.0.0.1',timestamp=2024-01-01T00:00:00Z)`,
/// after the opening parenthesis), as (name, value) with quotes removed (`''` escapes a quote).
fn call_arguments(args: &str) -> Result<Vec<(String, String)>, ApiError> {
    let malformed = |why: &str| {
        ApiError::bad_request(
            format!("Malformed function call arguments '({args}': {why}"),
            "function call syntax",
        )
    };
    let inner = args
        .strip_suffix(')')
        .ok_or_else(|| malformed("expected a closing ')'"))?;
    let mut out = Vec::new();
    let mut chars = inner.chars().peekable();
    while chars.peek().is_some() {
        let name: String = chars.by_ref().take_while(|c| *c != '=').collect();
        let name = name.trim().to_string();
        if name.is_empty() {
            return Err(malformed("expected name=value"));
        }
        let mut value = String::new();
        while chars.peek() == Some(&' ') {
            chars.next();
        }
        if chars.peek() == Some(&'\'') {
            chars.next();
            loop {
                match chars.next() {
                    Some('\'') if chars.peek() == Some(&'\'') => {
                        chars.next();
                        value.push('\'');
                    }
                    Some('\'') => break,
                    Some(c) => value.push(c),
                    None => return Err(malformed("unterminated quoted value")),
                }
            }
            while chars.peek() == Some(&' ') {
                chars.next();
            }
            match chars.next() {
                None | Some(',') => {}
                Some(c) => return Err(malformed(&format!("unexpected '{c}' after a quoted value"))),
            }
        } else {
            value = chars
                .by_ref()
                .take_while(|c| *c != ',')
                .collect::<String>()
                .trim()
                .to_string();
        }
        out.push((name, value));
    }
    Ok(out)
}

fn argument<'a>(args: &'a [(String, String)], name: &str) -> Result<&'a str, ApiError> {
    args.iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
        .ok_or_else(|| ApiError::missing_parameter(name, None))
}

async fn find_by_ip(
    state: AppState,
    caller: palisade_auth::Principal,
    origin: Origin,
    form: FindByIp,
    args: &str,
) -> Result<Response, ApiError> {
    let args = call_arguments(args)?;
    let ip = argument(&args, if form == FindByIp::Current { "ip" } else { "key" })?.to_string();
    let timestamp = argument(&args, "timestamp")?.to_string();
    let machines = state
        .run(move |core| core.find_machines_by_ip(&caller, &ip, &timestamp, form))
        .await?;
    Ok(odata_response(
        StatusCode::OK,
        &serde_json::json!({
            "@odata.context": format!("{}/api/$metadata#Machines", origin.0),
            "value": machines,
        }),
    ))
}

/// `GET /api/machines/findbytag?tag=...&useStartsWithFilter=true|false`.
pub async fn find_by_tag(
    State(state): State<AppState>,
    Caller(caller): Caller,
    origin: Origin,
    uri: Uri,
) -> Result<Response, ApiError> {
    let query = odata_query(&uri, &MACHINES)?;
    let param = |name: &str| {
        query
            .other_params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let tag = param("tag").ok_or_else(|| ApiError::missing_parameter("tag", None))?;
    let starts_with = match param("useStartsWithFilter") {
        None => false,
        Some(v) if v.eq_ignore_ascii_case("true") => true,
        Some(v) if v.eq_ignore_ascii_case("false") => false,
        Some(v) => {
            return Err(ApiError::invalid_input(
                format!("useStartsWithFilter '{v}'; expected true or false"),
                "findbytag flag",
            ))
        }
    };
    let page_size = state.config.page_size;
    let run_query = query.clone();
    let page = state
        .run(move |core| core.find_machines_by_tag(&caller, &run_query, &tag, starts_with, page_size))
        .await?;
    Ok(page_response(&origin, &uri, &MACHINES, &query, page))
}

/// `GET /api/machines/{id}/logonusers`.
pub async fn logon_users(
    State(state): State<AppState>,
    Caller(caller): Caller,
    origin: Origin,
    PathParam(id): PathParam,
    uri: Uri,
) -> Result<Response, ApiError> {
    list_response(&state, &origin, &uri, &USERS, move |core, query, page_size| {
        core.logon_users(&caller, &id, query, page_size)
    })
    .await
}

request_body! {
    /// Body of `POST /api/machines/AddOrRemoveTagForMultipleMachines`.
    pub struct MultiTagRequest {
        required "Value" value: String,
        required "Action" action: String,
        required "MachineIds" machine_ids: Vec<String>,
    }
}

pub async fn tag_many(
    State(state): State<AppState>,
    Caller(caller): Caller,
    origin: Origin,
    JsonBody(body): JsonBody<MultiTagRequest>,
) -> Result<Response, ApiError> {
    let machines = state
        .run(move |core| core.tag_machines(&caller, &body.machine_ids, &body.value, &body.action))
        .await?;
    Ok(odata_response(
        StatusCode::OK,
        &serde_json::json!({
            "@odata.context": format!("{}/api/$metadata#Machines", origin.0),
            "value": machines,
        }),
    ))
}

request_body! {
    /// Body of `PATCH /api/machines/{id}` (camelCase, unlike the action bodies).
    pub struct UpdateMachineRequest {
        optional "machineTags" machine_tags: Option<Vec<String>>,
        optional "deviceValue" device_value: Option<String>,
    }
}

pub async fn update(
    State(state): State<AppState>,
    Caller(caller): Caller,
    origin: Origin,
    PathParam(id): PathParam,
    JsonBody(body): JsonBody<UpdateMachineRequest>,
) -> Result<Response, ApiError> {
    let machine = state
        .run(move |core| core.update_machine(&caller, &id, body.machine_tags, body.device_value.as_deref()))
        .await?;
    Ok(entity_response(StatusCode::OK, &origin, "Machines/$entity", &machine))
}

#[cfg(test)]
mod tests {
    use super::call_arguments;

    #[test]
    fn function_call_arguments() {
        let args = call_arguments("ip='10.0.0.1',timestamp=2024-01-01T00:00:00Z)").unwrap();
        assert_eq!(
            args,
            vec![
                ("ip".to_string(), "10.0.0.1".to_string()),
                ("timestamp".to_string(), "2024-01-01T00:00:00Z".to_string())
            ]
        );
        let quoted = call_arguments("key='it''s', timestamp = 2024-01-01Z)").unwrap();
        assert_eq!(quoted[0].1, "it's");
        assert_eq!(quoted[1], ("timestamp".to_string(), "2024-01-01Z".to_string()));
        assert!(call_arguments("ip='10.0.0.1'").is_err(), "no closing parenthesis");
        assert!(call_arguments("ip='10.0.0.1)").is_err(), "unterminated quote");
        assert!(call_arguments("='x')").is_err());
        assert_eq!(call_arguments(")").unwrap(), vec![]);
    }
}
