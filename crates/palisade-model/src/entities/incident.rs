//! Defender XDR incidents (`shared/reference/xdr-api-and-auth.md` §2.6; `api-incident.md`,
//! `api-list-incidents.md`, `api-update-incidents.md`): the stored record ([`IncidentRecord`],
//! what Palisade keeps of an incident besides its alerts) and the API's rendering of an incident
//! with its alerts, devices and entities ([`XdrIncident`]), built from the record and the MDE
//! alerts and machines it groups, so both APIs read one truth.
//!
//! The record's serde names are its stored form (the incident table's query columns are read from
//! them); another API (Graph's `security/incidents`) renders the same record its own way.

use crate::api_enum;
use crate::entities::{Alert, Evidence, Machine};
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

api_enum!(
    /// `status`.
    IncidentStatus { Active, InProgress, Resolved, Redirected }
);
api_enum!(
    /// `severity`: the highest severity of the incident's alerts.
    IncidentSeverity { UnSpecified, Informational, Low, Medium, High }
);
api_enum!(
    /// `classification`; `Unknown` until someone triages the incident.
    IncidentClassification { Unknown, TruePositive, InformationalExpectedActivity, FalsePositive }
);
api_enum!(
    /// `determination`: every spelling the pages use (the entity page, the update page, the list
    /// page's table, and the retired `Apt`/`SecurityPersonnel`), each kept as sent; `NotAvailable`
    /// until triaged. [`IncidentDetermination::fits`] pairs them with classifications.
    IncidentDetermination {
        NotAvailable, MultiStagedAttack, MaliciousUserActivity, CompromisedUser, CompromisedAccount, Malware,
        Phishing, UnwantedSoftware, Apt, SecurityTesting, LineOfBusinessApplication, ConfirmedUserActivity,
        ConfirmedActivity, SecurityPersonnel, Clean, NotMalicious, InsufficientData, NoEnoughDataToValidate,
        NotEnoughDataToValidate, Other
    }
);

impl IncidentDetermination {
    /// The determinations the pages list under `classification` (all spellings). `Other` fits
    /// every classification; only `NotAvailable` fits `Unknown`.
    pub fn for_classification(classification: IncidentClassification) -> &'static [IncidentDetermination] {
        use IncidentDetermination::*;
        match classification {
            IncidentClassification::Unknown => &[NotAvailable],
            IncidentClassification::TruePositive => &[
                MultiStagedAttack,
                MaliciousUserActivity,
                CompromisedUser,
                CompromisedAccount,
                Malware,
                Phishing,
                UnwantedSoftware,
                Apt,
                Other,
            ],
            IncidentClassification::InformationalExpectedActivity => &[
                SecurityTesting,
                LineOfBusinessApplication,
                ConfirmedUserActivity,
                ConfirmedActivity,
                SecurityPersonnel,
                Other,
            ],
            IncidentClassification::FalsePositive => &[
                Clean,
                NotMalicious,
                InsufficientData,
                NoEnoughDataToValidate,
                NotEnoughDataToValidate,
                Other,
            ],
        }
    }

    /// Whether the pages list this determination under `classification`.
    pub fn fits(self, classification: IncidentClassification) -> bool {
        self == IncidentDetermination::NotAvailable || Self::for_classification(classification).contains(&self)
    }
}

/// One entry of `comments`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IncidentComment {
    pub comment: String,
    pub created_by: String,
    pub created_time: Timestamp,
}

/// What Palisade stores of an incident: everything but its alerts, which stay MDE alerts naming
/// the incident by `incidentId` (read live when the incident is answered). The data loader takes
/// and the exporter gives incidents in this shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IncidentRecord {
    pub incident_id: i64,
    #[serde(default)]
    pub redirect_incident_id: Option<i64>,
    pub incident_name: String,
    pub created_time: Timestamp,
    pub last_update_time: Timestamp,
    #[serde(default)]
    pub assigned_to: Option<String>,
    #[serde(default = "unknown_classification")]
    pub classification: IncidentClassification,
    #[serde(default = "not_available")]
    pub determination: IncidentDetermination,
    pub status: IncidentStatus,
    pub severity: IncidentSeverity,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub comments: Vec<IncidentComment>,
    /// Graph's `description` (settable through Graph only; the XDR API has no such property).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

fn unknown_classification() -> IncidentClassification {
    IncidentClassification::Unknown
}

fn not_available() -> IncidentDetermination {
    IncidentDetermination::NotAvailable
}

/// The portal link real responses carry in `incidentUri`.
pub fn incident_uri(incident_id: i64, tenant_id: &str) -> String {
    format!("https://security.microsoft.com/incidents/{incident_id}?tid={tenant_id}")
}

/// An incident as `GET /api/incidents` answers it, in the property order of real responses.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct XdrIncident {
    pub incident_id: i64,
    pub incident_uri: String,
    pub redirect_incident_id: Option<i64>,
    pub incident_name: String,
    pub created_time: Timestamp,
    pub last_update_time: Timestamp,
    pub assigned_to: Option<String>,
    pub classification: IncidentClassification,
    pub determination: IncidentDetermination,
    pub status: IncidentStatus,
    pub severity: IncidentSeverity,
    pub tags: Vec<String>,
    pub comments: Vec<IncidentComment>,
    pub alerts: Vec<XdrAlert>,
}

/// An element of an incident's `alerts`: the MDE alert in the XDR shape.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct XdrAlert {
    pub alert_id: String,
    pub provider_alert_id: String,
    pub incident_id: Option<i64>,
    pub service_source: &'static str,
    pub creation_time: Timestamp,
    pub last_updated_time: Timestamp,
    pub resolved_time: Option<Timestamp>,
    pub first_activity: Option<Timestamp>,
    pub last_activity: Option<Timestamp>,
    pub title: String,
    pub description: String,
    pub category: String,
    pub status: String,
    pub severity: String,
    pub investigation_id: Option<i64>,
    pub investigation_state: Option<String>,
    pub classification: Option<String>,
    pub determination: Option<String>,
    pub detection_source: String,
    pub detector_id: Option<String>,
    pub assigned_to: Option<String>,
    pub actor_name: Option<String>,
    pub threat_family_name: Option<String>,
    pub mitre_techniques: Vec<String>,
    pub devices: Vec<XdrDevice>,
    pub entities: Vec<XdrEntity>,
}

/// An element of an alert's `devices` (the examples' `mdatpDeviceId`, not the table's `DeviceId`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct XdrDevice {
    pub mdatp_device_id: String,
    pub aad_device_id: Option<String>,
    pub device_dns_name: String,
    pub os_platform: String,
    pub version: Option<String>,
    pub os_processor: String,
    pub os_build: Option<i64>,
    pub health_status: String,
    pub risk_score: Option<String>,
    pub rbac_group_name: Option<String>,
    pub rbac_group_id: i64,
    pub first_seen: Timestamp,
    pub tags: Vec<String>,
    pub defender_av_status: Option<String>,
    pub onboarding_status: String,
    pub vm_metadata: Option<serde_json::Value>,
}

/// An element of an alert's `entities`: every key of the list page's example, unused ones null.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct XdrEntity {
    pub entity_type: String,
    pub sha1: Option<String>,
    pub sha256: Option<String>,
    pub file_name: Option<String>,
    pub file_path: Option<String>,
    pub process_id: Option<i64>,
    pub process_command_line: Option<String>,
    pub process_creation_time: Option<Timestamp>,
    pub parent_process_id: Option<i64>,
    pub parent_process_creation_time: Option<Timestamp>,
    pub ip_address: Option<String>,
    pub url: Option<String>,
    pub account_name: Option<String>,
    pub domain_name: Option<String>,
    pub user_sid: Option<String>,
    pub aad_user_id: Option<String>,
    pub user_principal_name: Option<String>,
    pub mailbox_display_name: Option<String>,
    pub mailbox_address: Option<String>,
    pub cluster_by: Option<String>,
    pub sender: Option<String>,
    pub recipient: Option<String>,
    pub subject: Option<String>,
    pub delivery_action: Option<String>,
    pub security_group_id: Option<String>,
    pub security_group_name: Option<String>,
    pub registry_hive: Option<String>,
    pub registry_key: Option<String>,
    pub registry_value_type: Option<String>,
    pub registry_value: Option<String>,
    pub device_id: Option<String>,
}

impl XdrIncident {
    /// The incident as the XDR API answers it: the record, its alerts (in the order given) with
    /// each alert's machine (from `machines`, when still known) and evidence.
    pub fn render(record: &IncidentRecord, tenant_id: &str, alerts: &[Alert], machines: &[Machine]) -> XdrIncident {
        XdrIncident {
            incident_id: record.incident_id,
            incident_uri: incident_uri(record.incident_id, tenant_id),
            redirect_incident_id: record.redirect_incident_id,
            incident_name: record.incident_name.clone(),
            created_time: record.created_time,
            last_update_time: record.last_update_time,
            assigned_to: record.assigned_to.clone(),
            classification: record.classification,
            determination: record.determination,
            status: record.status,
            severity: record.severity,
            tags: record.tags.clone(),
            comments: record.comments.clone(),
            alerts: alerts
                .iter()
                .map(|alert| XdrAlert::render(alert, machines.iter().find(|m| m.id == alert.machine_id)))
                .collect(),
        }
    }
}

impl XdrAlert {
    pub fn render(alert: &Alert, machine: Option<&Machine>) -> XdrAlert {
        XdrAlert {
            alert_id: alert.id.clone(),
            provider_alert_id: alert.id.clone(),
            incident_id: alert.incident_id,
            service_source: "MicrosoftDefenderForEndpoint",
            creation_time: alert.alert_creation_time,
            last_updated_time: alert.last_update_time,
            resolved_time: alert.resolved_time,
            first_activity: alert.first_event_time,
            last_activity: alert.last_event_time,
            title: alert.title.clone(),
            description: alert.description.clone(),
            category: alert.category.clone(),
            status: alert.status.to_string(),
            severity: alert.severity.to_string(),
            investigation_id: alert.investigation_id,
            investigation_state: alert.investigation_state.map(|s| s.to_string()),
            classification: alert.classification.map(|c| c.to_string()),
            determination: alert.determination.map(|d| d.to_string()),
            detection_source: alert.detection_source.clone(),
            detector_id: alert.detector_id.clone(),
            assigned_to: alert.assigned_to.clone(),
            actor_name: None,
            threat_family_name: alert.threat_family_name.clone(),
            mitre_techniques: alert.mitre_techniques.clone(),
            devices: machine.map(XdrDevice::render).into_iter().collect(),
            entities: alert
                .evidence
                .iter()
                .map(|e| XdrEntity::render(e, &alert.machine_id))
                .collect(),
        }
    }
}

impl XdrDevice {
    pub fn render(machine: &Machine) -> XdrDevice {
        XdrDevice {
            mdatp_device_id: machine.id.clone(),
            aad_device_id: machine.aad_device_id.clone(),
            device_dns_name: machine.computer_dns_name.clone(),
            os_platform: machine.os_platform.clone(),
            version: machine.version.clone(),
            os_processor: machine.os_processor.clone(),
            os_build: machine.os_build,
            health_status: machine.health_status.to_string(),
            risk_score: machine.risk_score.map(|r| r.to_string()),
            rbac_group_name: machine.rbac_group_name.clone(),
            rbac_group_id: machine.rbac_group_id,
            first_seen: machine.first_seen,
            tags: machine.machine_tags.clone(),
            defender_av_status: machine.defender_av_status.clone(),
            onboarding_status: machine.onboarding_status.to_string(),
            vm_metadata: machine.vm_metadata.clone(),
        }
    }
}

impl XdrEntity {
    /// An MDE evidence item as an XDR entity; `deviceId` is the alert's machine, as every
    /// evidence of an MDE alert was observed there.
    pub fn render(evidence: &Evidence, machine_id: &str) -> XdrEntity {
        XdrEntity {
            entity_type: evidence.entity_type.clone(),
            sha1: evidence.sha1.clone(),
            sha256: evidence.sha256.clone(),
            file_name: evidence.file_name.clone(),
            file_path: evidence.file_path.clone(),
            process_id: evidence.process_id,
            process_command_line: evidence.process_command_line.clone(),
            process_creation_time: evidence.process_creation_time,
            parent_process_id: evidence.parent_process_id,
            parent_process_creation_time: evidence.parent_process_creation_time,
            ip_address: evidence.ip_address.clone(),
            url: evidence.url.clone(),
            account_name: evidence.account_name.clone(),
            domain_name: evidence.domain_name.clone(),
            user_sid: evidence.user_sid.clone(),
            aad_user_id: evidence.aad_user_id.clone(),
            user_principal_name: evidence.user_principal_name.clone(),
            registry_hive: evidence.registry_hive.clone(),
            registry_key: evidence.registry_key.clone(),
            registry_value_type: evidence.registry_value_type.clone(),
            registry_value: evidence.registry_value.clone(),
            device_id: Some(machine_id.to_string()),
            ..XdrEntity::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn determinations_pair_with_their_classifications() {
        use IncidentClassification as C;
        use IncidentDetermination as D;
        assert!(D::Malware.fits(C::TruePositive));
        assert!(!D::Malware.fits(C::FalsePositive));
        assert!(D::ConfirmedActivity.fits(C::InformationalExpectedActivity));
        assert!(D::NoEnoughDataToValidate.fits(C::FalsePositive));
        assert!(!D::Clean.fits(C::Unknown));
        assert!(D::Other.fits(C::FalsePositive) && D::NotAvailable.fits(C::TruePositive));
    }
}
