//! The Alert entity and its evidence (`shared/reference/mde-api.md` §3.4), in the property order
//! of real responses (`get-alerts.md` examples). `evidence` is last on purpose: list responses
//! without `$expand=evidence` cut it to `[]` without re-serialising the document.

use crate::api_enum;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

api_enum!(
    /// `severity`.
    AlertSeverity { UnSpecified, Informational, Low, Medium, High }
);
api_enum!(
    /// `status`.
    AlertStatus { Unknown, New, InProgress, Resolved }
);
api_enum!(
    /// `classification` (current values).
    Classification { TruePositive, InformationalExpectedActivity, FalsePositive }
);
api_enum!(
    /// `determination`: the union of the values documented for each classification, including the
    /// update-alert page's alternative spellings (`ConfirmedActivity`, `NotMalicious`). The service
    /// does not enforce the pairing with classification (its own example pairs FalsePositive with
    /// Malware), so neither do we.
    Determination {
        MultiStagedAttack, MaliciousUserActivity, CompromisedUser, Malware, Phishing, UnwantedSoftware,
        SecurityTesting, LineOfBusinessApplication, ConfirmedUserActivity, ConfirmedActivity, Clean,
        NotMalicious, InsufficientData, Other
    }
);
api_enum!(
    /// `investigationState` of alerts and `state` of investigations.
    InvestigationState {
        Unknown, Terminated, SuccessfullyRemediated, Benign, Failed, PartiallyRemediated, Running,
        PendingApproval, PendingResource, PartiallyInvestigated, TerminatedByUser, TerminatedBySystem,
        Queued, InnerFailure, PreexistingAlert, UnsupportedOs, UnsupportedAlertType, SuppressedAlert
    }
);
api_enum!(
    /// `category` (the values Create alert by reference accepts).
    AlertCategory {
        General, CommandAndControl, Collection, CredentialAccess, DefenseEvasion, Discovery, Exfiltration,
        Exploit, Execution, InitialAccess, LateralMovement, Malware, Persistence, PrivilegeEscalation,
        Ransomware, SuspiciousActivity
    }
);

/// `relatedUser`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RelatedUser {
    pub user_name: String,
    pub domain_name: String,
}

/// One entry of `comments`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertComment {
    pub comment: String,
    pub created_by: String,
    pub created_time: Timestamp,
}

/// One evidence item: every key is always present, unused ones null.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Evidence {
    pub entity_type: String,
    pub evidence_creation_time: Option<Timestamp>,
    pub sha1: Option<String>,
    pub sha256: Option<String>,
    pub file_name: Option<String>,
    pub file_path: Option<String>,
    pub process_id: Option<i64>,
    pub process_command_line: Option<String>,
    pub process_creation_time: Option<Timestamp>,
    pub parent_process_id: Option<i64>,
    pub parent_process_creation_time: Option<Timestamp>,
    pub parent_process_file_name: Option<String>,
    pub parent_process_file_path: Option<String>,
    pub ip_address: Option<String>,
    pub url: Option<String>,
    pub registry_key: Option<String>,
    pub registry_hive: Option<String>,
    pub registry_value_type: Option<String>,
    pub registry_value: Option<String>,
    pub account_name: Option<String>,
    pub domain_name: Option<String>,
    pub user_sid: Option<String>,
    pub aad_user_id: Option<String>,
    pub user_principal_name: Option<String>,
    pub detection_status: Option<String>,
}

/// A Defender for Endpoint alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Alert {
    /// e.g. `da637472900382838869_1364969609`.
    pub id: String,
    pub incident_id: Option<i64>,
    pub investigation_id: Option<i64>,
    pub assigned_to: Option<String>,
    pub severity: AlertSeverity,
    pub status: AlertStatus,
    pub classification: Option<Classification>,
    pub determination: Option<Determination>,
    pub investigation_state: Option<InvestigationState>,
    pub detection_source: String,
    pub detector_id: Option<String>,
    pub category: String,
    pub threat_family_name: Option<String>,
    pub title: String,
    pub description: String,
    pub alert_creation_time: Timestamp,
    pub first_event_time: Option<Timestamp>,
    pub last_event_time: Option<Timestamp>,
    pub last_update_time: Timestamp,
    pub resolved_time: Option<Timestamp>,
    pub machine_id: String,
    pub computer_dns_name: String,
    pub rbac_group_name: Option<String>,
    pub aad_tenant_id: String,
    pub threat_name: Option<String>,
    pub mitre_techniques: Vec<String>,
    pub related_user: Option<RelatedUser>,
    pub comments: Vec<AlertComment>,
    /// Kept last (see the module documentation).
    pub evidence: Vec<Evidence>,
}
