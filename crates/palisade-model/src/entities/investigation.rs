//! The Investigation entity (`shared/reference/mde-api.md` §10) and the User entity (§2.3, §9).

use crate::entities::InvestigationState;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

/// An automated investigation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Investigation {
    /// Numeric, as a string (`"63004"`).
    pub id: String,
    pub start_time: Timestamp,
    pub end_time: Option<Timestamp>,
    pub cancelled_by: Option<String>,
    pub state: InvestigationState,
    pub status_details: Option<String>,
    pub machine_id: String,
    pub computer_dns_name: String,
    pub triggering_alert_id: Option<String>,
}

/// A user account seen on machines. `id` is `domain\name`; the users routes take the bare name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub id: String,
    pub account_name: String,
    pub account_domain: String,
    pub account_sid: Option<String>,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    pub most_prevalent_machine_id: Option<String>,
    pub least_prevalent_machine_id: Option<String>,
    pub logon_types: String,
    pub log_on_machines_count: i64,
    pub is_domain_admin: bool,
    pub is_only_network_user: bool,
}
