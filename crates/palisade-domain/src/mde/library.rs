//! The live-response library (`shared/reference/mde-api.md` §11): the scripts and files a tenant
//! may push to devices with `PutFile` and run with `RunScript`.
//!
//! Metadata (the documented entity) and the file's bytes live in the store together
//! ([`BlobStore`](palisade_store::BlobStore)): written in one transaction, deleted together, seen
//! by every process on the store. Names are unique per tenant regardless of ASCII case (as on the
//! Windows devices the library serves) and are refused when they could name anything but one file
//! on a device: path separators, `..`, control characters, the characters Windows forbids, leading
//! or trailing spaces, a trailing dot.

use crate::listing::Page;
use crate::{Core, DomainResult};
use palisade_auth::Principal;
use palisade_error::{ApiError, ErrorCode};
use palisade_model::entities::{CommandStatus, LibraryFile};
use palisade_model::schemas::LIBRARY_FILE_TABLE;
use palisade_model::time::Timestamp;
use palisade_odata::Query;
use palisade_store::StoreError;
use sha2::{Digest, Sha256};

/// Every library operation needs this role (list, upload, delete: the three pages agree).
pub const LIBRARY_ROLES: &[&str] = &["Library.Manage"];
/// The upload page: "File max size limitation is 20MB".
pub const MAX_FILE_BYTES: usize = 20 * 1024 * 1024;
/// Longest file name accepted, in characters (the usual file-system limit).
pub const MAX_NAME_CHARS: usize = 255;
/// Characters Windows refuses in file names (besides the separators and control characters).
const FORBIDDEN_NAME_CHARS: &[char] = &['/', '\\', ':', '*', '?', '"', '<', '>', '|'];

/// An upload as the form carried it: the file, and the text fields exactly as sent (`None` when
/// absent). Flags are parsed here so that every client error is named in one place.
#[derive(Debug, Clone, Default)]
pub struct LibraryUpload {
    pub file_name: String,
    pub content: Vec<u8>,
    pub description: Option<String>,
    pub parameters_description: Option<String>,
    /// Not in the page's parameter table but in its curl example; honoured when sent.
    pub has_parameters: Option<String>,
    pub override_if_exists: Option<String>,
}

/// `InvalidInput` for a file over [`MAX_FILE_BYTES`]; `size` is what was received (the server
/// stops counting somewhere past the limit).
pub fn file_too_large(file_name: &str, size: usize) -> ApiError {
    ApiError::invalid_input(
        format!(
            "File '{file_name}' of {size} bytes; the live response library accepts files of at most 20 MB ({MAX_FILE_BYTES} bytes)"
        ),
        "library file size limit",
    )
}

/// Checks that `name` can only ever name one file inside a tenant's library directory.
pub fn validate_file_name(name: &str) -> Result<(), ApiError> {
    let refuse = |why: &str| {
        ApiError::invalid_input(
            format!("file name '{}'; {why}", name.escape_debug()),
            "library file name",
        )
    };
    if name.is_empty() {
        return Err(refuse("a file name is required"));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(refuse(&format!("a file name is at most {MAX_NAME_CHARS} characters")));
    }
    if name.chars().any(char::is_control) {
        return Err(refuse("control characters are not allowed"));
    }
    if let Some(c) = name.chars().find(|c| FORBIDDEN_NAME_CHARS.contains(c)) {
        return Err(refuse(&format!(
            "'{c}' is not allowed (no paths: a library file is named by its name alone)"
        )));
    }
    if name.contains("..") {
        return Err(refuse("'..' is not allowed"));
    }
    if name.starts_with(' ') || name.ends_with(' ') || name.ends_with('.') {
        return Err(refuse(
            "a file name may not start or end with a space, nor end with a dot",
        ));
    }
    Ok(())
}

/// A form flag: `true`/`false` in any case; empty or absent is `None` (the page gives the empty
/// string as `OverrideIfExists`'s default).
fn parse_flag(field: &str, value: Option<&str>) -> Result<Option<bool>, ApiError> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) if v.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(v) if v.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(v) => Err(ApiError::invalid_input(
            format!("{field} '{v}'; allowed values are: true, false"),
            "library form flag",
        )),
    }
}

impl Core {
    /// `GET /api/libraryfiles` with OData options, in file-name order.
    pub fn list_library_files(&self, caller: &Principal, query: &Query, page_size: u32) -> DomainResult<Page> {
        caller.require_any(LIBRARY_ROLES)?;
        self.list_page(LIBRARY_FILE_TABLE, &caller.tenant_id, query, page_size)
    }

    /// `POST /api/libraryfiles`. A name already in the library (in any case) is refused unless
    /// `OverrideIfExists` is true; an override keeps the original `creationTime` and `createdBy`
    /// and takes the new name's spelling.
    pub fn upload_library_file(&self, caller: &Principal, upload: LibraryUpload) -> DomainResult<LibraryFile> {
        caller.require_any(LIBRARY_ROLES)?;
        validate_file_name(&upload.file_name)?;
        if upload.content.len() > MAX_FILE_BYTES {
            return Err(file_too_large(&upload.file_name, upload.content.len()).into());
        }
        let override_if_exists = parse_flag("OverrideIfExists", upload.override_if_exists.as_deref())?.unwrap_or(false);
        let parameters_description = upload.parameters_description.unwrap_or_default();
        // Without the flag, a file takes parameters when their description says something.
        let has_parameters = parse_flag("HasParameters", upload.has_parameters.as_deref())?
            .unwrap_or(!parameters_description.trim().is_empty());
        let _section = self.tenant_section(&caller.tenant_id)?;
        let existing = self.find_library_file(&caller.tenant_id, &upload.file_name)?;
        if let (Some(existing), false) = (&existing, override_if_exists) {
            return Err(ApiError::bad_request(
                format!(
                    "File {} already exists in the live response library; send OverrideIfExists=true to replace it",
                    existing.file_name
                ),
                "library file exists without OverrideIfExists",
            )
            .into());
        }
        let now = Timestamp(self.clock.now());
        let file = LibraryFile {
            file_name: upload.file_name.clone(),
            sha256: format!("{:x}", Sha256::digest(&upload.content)),
            description: upload.description.filter(|d| !d.is_empty()),
            creation_time: existing.as_ref().map_or(now, |e| e.creation_time),
            last_updated_time: now,
            created_by: existing
                .as_ref()
                .map_or_else(|| caller.app_id.clone(), |e| e.created_by.clone()),
            has_parameters,
            parameters_description: has_parameters.then_some(parameters_description),
        };
        let doc = serde_json::to_value(&file).map_err(StoreError::from)?;
        // The key column compares case-insensitively, so an override in another case replaces
        // the row (and its bytes) rather than adding one.
        self.store
            .upsert_doc_with_blob(LIBRARY_FILE_TABLE, &caller.tenant_id, &doc, &upload.content)?;
        tracing::info!(tenant = %caller.tenant_id, file = %file.file_name, bytes = upload.content.len(), "library file stored");
        Ok(file)
    }

    /// `DELETE /api/libraryfiles/{fileName}`: 404 when the library has no such file.
    pub fn delete_library_file(&self, caller: &Principal, name: &str) -> DomainResult<()> {
        caller.require_any(LIBRARY_ROLES)?;
        validate_file_name(name)?;
        // The bytes go with the entry.
        if !self.store.delete_doc(LIBRARY_FILE_TABLE, &caller.tenant_id, name)? {
            return Err(ApiError::new(
                ErrorCode::ResourceNotFound,
                format!("Library file {name} was not found"),
                "library file lookup",
            )
            .into());
        }
        Ok(())
    }

    /// The tenant's library entry named `name` (in any case).
    pub(crate) fn find_library_file(&self, tenant_id: &str, name: &str) -> DomainResult<Option<LibraryFile>> {
        let doc = self
            .store
            .find_doc(LIBRARY_FILE_TABLE, tenant_id, "file_name", name, true)?;
        Ok(doc
            .map(|d| serde_json::from_str(&d))
            .transpose()
            .map_err(StoreError::from)?)
    }

    /// Live response: every `PutFile`/`RunScript` must name a file of the tenant's library. The
    /// run-live-response page says they come "from the library" without naming the failure; an
    /// unknown file is `ResourceNotFound`, naming the file and the command.
    pub(crate) fn require_library_files(&self, tenant_id: &str, commands: &[CommandStatus]) -> DomainResult<()> {
        for command in commands {
            let key = match command.command.kind.as_str() {
                "PutFile" => "FileName",
                "RunScript" => "ScriptName",
                _ => continue,
            };
            let Some(name) = command.command.params.iter().find(|p| p.key == key).map(|p| &p.value) else {
                continue;
            };
            if self.find_library_file(tenant_id, name)?.is_none() {
                return Err(ApiError::new(
                    ErrorCode::ResourceNotFound,
                    format!(
                        "Library file {name} was not found: Commands[{}] ({} {key}) must name a file of the live response library",
                        command.index, command.command.kind
                    ),
                    "live response command names a file missing from the library",
                )
                .into());
            }
        }
        Ok(())
    }

    /// The bytes of a library file, for the admin API (`None`: no such file in the tenant's
    /// library).
    pub fn library_file_content(&self, tenant_id: &str, name: &str) -> DomainResult<Option<(LibraryFile, Vec<u8>)>> {
        let Some(file) = self.find_library_file(tenant_id, name)? else {
            return Ok(None);
        };
        let bytes = self
            .store
            .get_blob(LIBRARY_FILE_TABLE, tenant_id, &file.file_name)?
            .unwrap_or_default();
        Ok(Some((file, bytes)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_could_leave_the_library_are_refused() {
        for bad in [
            "", "../x.ps1", "..", "a/b.ps1", "a\\b.ps1", "C:x.ps1", "x.ps1\0", "x\n.ps1", "a..b", " x.ps1", "x.ps1.",
            "x?.ps1",
        ] {
            let e = validate_file_name(bad).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidInput, "{bad:?}");
        }
        assert!(validate_file_name(&"a".repeat(256)).is_err());
        for good in [
            "script1.ps1",
            "memdump.exe",
            "Get Info (v2).sh",
            "ünïcode.py",
            &"a".repeat(255),
        ] {
            validate_file_name(good).unwrap_or_else(|e| panic!("{good}: {e:?}"));
        }
    }

    #[test]
    fn flags_parse_leniently_but_refuse_other_words() {
        assert_eq!(parse_flag("F", None).unwrap(), None);
        assert_eq!(parse_flag("F", Some("")).unwrap(), None);
        assert_eq!(parse_flag("F", Some("TRUE")).unwrap(), Some(true));
        assert_eq!(parse_flag("F", Some("false")).unwrap(), Some(false));
        let e = parse_flag("OverrideIfExists", Some("yes")).unwrap_err();
        assert!(e.message.contains("OverrideIfExists 'yes'"), "{}", e.message);
    }
}
