//! The File entity and the file, IP and domain statistics (`shared/reference/mde-api.md` §6–§8), in
//! the property order of the documented examples.

use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

/// A file (`GET /api/files/{id}`, `GET /api/alerts/{id}/files`). `md5` appears only in some of the
/// docs' examples; it is kept (always null here: no evidence carries an MD5).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct File {
    pub sha1: Option<String>,
    pub sha256: Option<String>,
    pub md5: Option<String>,
    pub global_prevalence: Option<i64>,
    pub global_first_observed: Option<Timestamp>,
    pub global_last_observed: Option<Timestamp>,
    pub size: Option<i64>,
    pub file_type: Option<String>,
    pub is_pe_file: Option<bool>,
    pub file_publisher: Option<String>,
    pub file_product_name: Option<String>,
    pub signer: Option<String>,
    pub issuer: Option<String>,
    pub signer_hash: Option<String>,
    pub is_valid_certificate: Option<bool>,
    pub determination_type: Option<String>,
    pub determination_value: Option<String>,
}

/// The statistics' legacy spellings. The current pages spell the counts `organizationPrevalence`
/// and `globallyPrevalence` (numbers); the pages until 2020 spelled them `orgPrevalence` (a
/// string: `"orgPrevalence": "3"`), and deployed integrations (Cortex XSOAR's Defender pack, for
/// one) still read `orgPrevalence` and `globalPrevalence`. Which spelling the service sends today
/// is not documented, so both are sent: current ones in the documented order, legacy ones after,
/// in the type their pages (or, for `globalPrevalence`, the File entity) gave them.
pub mod legacy {
    /// `orgPrevalence` as the legacy pages wrote it.
    pub fn org_prevalence(count: u64) -> String {
        count.to_string()
    }
}

/// `GET /api/files/{id}/stats` (`InOrgFileStats`): see [`legacy`] for the two spellings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileStats {
    pub sha1: Option<String>,
    pub organization_prevalence: u64,
    pub org_first_seen: Option<Timestamp>,
    pub org_last_seen: Option<Timestamp>,
    pub globally_prevalence: u64,
    pub global_first_observed: Option<Timestamp>,
    pub global_last_observed: Option<Timestamp>,
    pub top_file_names: Vec<String>,
    /// Legacy spelling of `organizationPrevalence` ([`legacy`]).
    #[serde(default)]
    pub org_prevalence: String,
    /// Legacy spelling of `globallyPrevalence` ([`legacy`]).
    #[serde(default)]
    pub global_prevalence: u64,
}

/// `GET /api/ips/{ip}/stats` (`InOrgIPStats`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IpStats {
    pub ip_address: String,
    pub organization_prevalence: u64,
    pub org_first_seen: Option<Timestamp>,
    pub org_last_seen: Option<Timestamp>,
    /// Legacy spelling of `organizationPrevalence` ([`legacy`]).
    #[serde(default)]
    pub org_prevalence: String,
}

/// `GET /api/domains/{domain}/stats` (`InOrgDomainStats`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DomainStats {
    pub host: String,
    pub organization_prevalence: u64,
    pub org_first_seen: Option<Timestamp>,
    pub org_last_seen: Option<Timestamp>,
    /// Legacy spelling of `organizationPrevalence` ([`legacy`]).
    #[serde(default)]
    pub org_prevalence: String,
}
