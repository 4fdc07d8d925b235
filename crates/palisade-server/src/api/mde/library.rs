//! `/api/libraryfiles` (`shared/reference/mde-api.md` §11): the live-response library. The upload
//! is `multipart/form-data`; reading the form is HTTP work and stays here, the rules (names, flags,
//! size, override) are the domain's (`palisade_domain::mde::library`).

use crate::api::{entity_response, list_response};
use crate::extract::{Caller, Origin, PathParam};
use crate::routing::Routes;
use crate::state::AppState;
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Request, State};
use axum::handler::Handler;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use palisade_domain::mde::library::{file_too_large, LibraryUpload, LIBRARY_ROLES, MAX_FILE_BYTES};
use palisade_error::{ApiError, ErrorCode};
use palisade_model::schemas::LIBRARY_FILES;

/// The upload's own body limit (see [`crate::config::UPLOAD_BODY_LIMIT`]).
pub const UPLOAD_BODY_LIMIT: usize = crate::config::UPLOAD_BODY_LIMIT;

/// The form's part that carries the file. The page's table says `File`, its curl example sends
/// `file`: both are accepted (any case), unlike the text fields, whose names are case-sensitive.
const FILE_PART: &str = "File";
/// The documented text fields, plus `HasParameters` from the page's curl example.
const TEXT_FIELDS: &[&str] = &[
    "Description",
    "ParametersDescription",
    "HasParameters",
    "OverrideIfExists",
];

pub fn router() -> Routes {
    Routes::new()
        .get("/api/libraryfiles", list)
        .on(
            "post",
            "/api/libraryfiles",
            axum::routing::post(upload.layer(DefaultBodyLimit::max(UPLOAD_BODY_LIMIT))),
        )
        .delete("/api/libraryfiles/{name}", remove)
}

pub async fn list(
    State(state): State<AppState>,
    Caller(caller): Caller,
    origin: Origin,
    uri: Uri,
) -> Result<Response, ApiError> {
    list_response(&state, &origin, &uri, &LIBRARY_FILES, move |core, query, page_size| {
        core.list_library_files(&caller, query, page_size)
    })
    .await
}

/// Answers 200 (not 201) with the library file, as documented.
pub async fn upload(
    State(state): State<AppState>,
    Caller(caller): Caller,
    origin: Origin,
    request: Request,
) -> Result<Response, ApiError> {
    // Role before body, as everywhere: a caller without the role is not made to send 20 MB first.
    caller.require_any(LIBRARY_ROLES)?;
    let upload = read_form(request).await?;
    let file = state.run(move |core| core.upload_library_file(&caller, upload)).await?;
    Ok(entity_response(StatusCode::OK, &origin, "LibraryFiles/$entity", &file))
}

/// Answers 204 with no body, as documented.
pub async fn remove(
    State(state): State<AppState>,
    Caller(caller): Caller,
    PathParam(name): PathParam,
) -> Result<Response, ApiError> {
    state.run(move |core| core.delete_library_file(&caller, &name)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// A form that cannot be read: over the route's limit (`PayloadTooLarge`, as for every oversized
/// body) or malformed (`InvalidRequestBody`).
fn form_error(e: axum::extract::multipart::MultipartError) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!("Request body is larger than {UPLOAD_BODY_LIMIT} bytes"),
            "library upload body size limit",
        )
    } else {
        ApiError::invalid_request_body(
            format!("the multipart/form-data body could not be read ({})", e.body_text()),
            "library upload form syntax",
        )
    }
}

/// Reads the upload form: exactly one file part (required), each text field at most once, no
/// field the page does not know. A file over the limit is drained (up to the route's limit) so the
/// client reads the refusal instead of a reset connection.
async fn read_form(request: Request) -> Result<LibraryUpload, ApiError> {
    let mut form = Multipart::from_request(request, &()).await.map_err(|_| {
        ApiError::invalid_request_body(
            format!(
                "expected a multipart/form-data body (with its boundary) carrying the parts: {FILE_PART}, {}",
                TEXT_FIELDS.join(", ")
            ),
            "library upload content type",
        )
    })?;
    let mut upload = LibraryUpload::default();
    let mut file_seen = false;
    // (file name, bytes received) once the file is known to be too large.
    let mut too_large: Option<(String, usize)> = None;
    loop {
        let next = form.next_field().await;
        let mut field = match (next, &too_large) {
            (Ok(Some(field)), _) => field,
            (Ok(None), _) => break,
            (Err(_), Some((name, size))) => return Err(file_too_large(name, *size)),
            (Err(e), None) => return Err(form_error(e)),
        };
        if too_large.is_some() {
            while let Ok(Some(_)) = field.chunk().await {}
            continue;
        }
        let name = field.name().unwrap_or_default().to_string();
        if name.eq_ignore_ascii_case(FILE_PART) {
            if file_seen {
                return Err(ApiError::invalid_request_body(
                    format!("the form has more than one '{FILE_PART}' part; upload one file per request"),
                    "library upload duplicate file",
                ));
            }
            file_seen = true;
            upload.file_name = field.file_name().map(str::to_string).ok_or_else(|| {
                ApiError::invalid_request_body(
                    format!("the '{name}' part has no file name (Content-Disposition filename=...)"),
                    "library upload without file name",
                )
            })?;
            let mut size = 0usize;
            loop {
                match field.chunk().await {
                    Ok(Some(chunk)) => {
                        size += chunk.len();
                        if size <= MAX_FILE_BYTES {
                            upload.content.extend_from_slice(&chunk);
                        }
                    }
                    Ok(None) => break,
                    Err(_) if size > MAX_FILE_BYTES => break,
                    Err(e) => return Err(form_error(e)),
                }
            }
            if size > MAX_FILE_BYTES {
                upload.content = Vec::new();
                too_large = Some((upload.file_name.clone(), size));
            }
        } else if let Some(known) = TEXT_FIELDS.iter().find(|known| **known == name) {
            let text = field.text().await.map_err(form_error)?;
            let slot = match *known {
                "Description" => &mut upload.description,
                "ParametersDescription" => &mut upload.parameters_description,
                "HasParameters" => &mut upload.has_parameters,
                _ => &mut upload.override_if_exists,
            };
            if slot.is_some() {
                return Err(ApiError::invalid_request_body(
                    format!("the form field '{known}' is given more than once"),
                    "library upload duplicate field",
                ));
            }
            *slot = Some(text);
        } else if let Some(meant) = TEXT_FIELDS.iter().find(|known| known.eq_ignore_ascii_case(&name)) {
            return Err(ApiError::invalid_request_body(
                format!("unknown form field '{name}'; did you mean '{meant}'? Field names are case-sensitive"),
                "library upload field casing",
            ));
        } else {
            return Err(ApiError::invalid_request_body(
                format!(
                    "unknown form field '{name}'; known fields are: {FILE_PART}, {}",
                    TEXT_FIELDS.join(", ")
                ),
                "library upload unknown field",
            ));
        }
    }
    if let Some((name, size)) = too_large {
        return Err(file_too_large(&name, size));
    }
    if !file_seen {
        return Err(ApiError::missing_parameter(
            FILE_PART,
            Some("the file goes in a multipart/form-data part"),
        ));
    }
    Ok(upload)
}
