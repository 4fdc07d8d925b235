//! The live-response library file entity (`shared/reference/mde-api.md` §11), in the property order
//! of the List library files example. `parametersDescription` appears only on files that take
//! parameters, as in that example.

use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

/// A file of a tenant's live-response library.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LibraryFile {
    pub file_name: String,
    pub sha256: String,
    pub description: Option<String>,
    pub creation_time: Timestamp,
    pub last_updated_time: Timestamp,
    pub created_by: String,
    pub has_parameters: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters_description: Option<String>,
}
