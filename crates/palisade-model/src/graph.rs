//! Microsoft Graph's security shapes (`microsoft.graph.security`, `shared/reference/xdr-api-and-auth.md`
//! §2.9; Graph's `security-alert.md`, `security-alertevidence.md` and the evidence pages) rendered
//! from the entities the Defender APIs keep: one store, two spellings. Graph renames properties
//! (`alertCreationTime` → `createdDateTime`, …), writes ids as strings, writes enum values in
//! lowerCamel (`inProgress`) with `unknown` where Defender has null or `UnSpecified`, and types each
//! evidence item with `@odata.type` (`#microsoft.graph.security.fileEvidence`, …).
//!
//! Graph's OData schema of alerts ([`GRAPH_ALERTS`]) names Graph's properties over the alert
//! table's own columns, so `$filter`/`$orderby` run through the same engine and SQL as
//! `/api/alerts`; enum literals match the stored values case-insensitively (`'inProgress'` is
//! `InProgress`).

use crate::entities::{
    Alert, AlertComment, AlertSeverity, AlertStatus, Classification, Determination, Evidence, IncidentComment,
    IncidentDetermination, IncidentRecord, IncidentSeverity, IncidentStatus, Machine,
};
use crate::schemas::MDE_MAX_PAGE;
use crate::time::Timestamp;
use palisade_odata::{EntitySchema, PropType, Property};
use serde_json::{json, Value};

/// The namespace of the security types, for `@odata.type`.
pub const NAMESPACE: &str = "microsoft.graph.security";

/// A PascalCase API value in Graph's lowerCamel (`InProgress` → `inProgress`).
pub fn lower_camel(value: &str) -> String {
    let mut chars = value.chars();
    match chars.next() {
        Some(first) => first.to_ascii_lowercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

/// `alertStatus`.
pub fn alert_status(status: AlertStatus) -> String {
    lower_camel(status.as_str())
}

/// `alertSeverity`: Defender's `UnSpecified` is Graph's `unknown`.
pub fn alert_severity(severity: AlertSeverity) -> String {
    match severity {
        AlertSeverity::UnSpecified => "unknown".into(),
        other => lower_camel(other.as_str()),
    }
}

/// `alertClassification`: unset is `unknown`.
pub fn classification(value: Option<Classification>) -> String {
    value.map_or_else(|| "unknown".into(), |c| lower_camel(c.as_str()))
}

/// `alertDetermination`: unset is `unknown`.
pub fn determination(value: Option<Determination>) -> String {
    value.map_or_else(|| "unknown".into(), |d| lower_camel(d.as_str()))
}

/// A Graph enum value sent by a client, in the Defender spelling the domain parses: Graph's own
/// names for the same members (`compromisedAccount`, `notEnoughDataToValidate`) are mapped, the
/// rest differ only in case. `Ok(None)` is Graph's `unknown` (unset). `unknownFutureValue` is
/// Graph's sentinel ("don't use") and is refused by the caller's parser.
pub fn defender_value(graph: &str) -> Option<&str> {
    match graph.to_ascii_lowercase().as_str() {
        "unknown" => None,
        "compromisedaccount" => Some("CompromisedUser"),
        "notenoughdatatovalidate" => Some("InsufficientData"),
        _ => Some(graph),
    }
}

fn time(t: &Option<Timestamp>) -> Value {
    t.as_ref().map_or(Value::Null, |t| json!(t))
}

/// The portal links Graph carries (`alertWebUrl`, `incidentWebUrl`).
pub fn alert_web_url(alert_id: &str, tenant_id: &str) -> String {
    format!("https://security.microsoft.com/alerts/{alert_id}?tid={tenant_id}")
}

pub fn incident_web_url(incident_id: i64, tenant_id: &str) -> String {
    format!("https://security.microsoft.com/incidents/{incident_id}?tid={tenant_id}")
}

/// `microsoft.graph.security.alert` from a Defender for Endpoint alert and, when it is known, its
/// machine (for the `deviceEvidence`); `expand_evidence` false leaves `evidence` empty, as lists
/// without `$expand` do on the Defender side (Graph returns evidence on lists and gets alike, so
/// Graph routes pass true).
pub fn alert(alert: &Alert, machine: Option<&Machine>) -> Value {
    let tenant = &alert.aad_tenant_id;
    let incident_web_url = alert.incident_id.map(|id| incident_web_url(id, tenant));
    let mut evidence: Vec<Value> = Vec::with_capacity(alert.evidence.len() + 1);
    if let Some(machine) = machine {
        evidence.push(device_evidence(machine, &alert.alert_creation_time));
    }
    evidence.extend(
        alert
            .evidence
            .iter()
            .filter_map(|e| typed_evidence(e, &alert.machine_id)),
    );
    json!({
        "@odata.type": format!("#{NAMESPACE}.alert"),
        "id": alert.id,
        "providerAlertId": alert.id,
        "incidentId": alert.incident_id.map(|id| id.to_string()),
        "status": alert_status(alert.status),
        "severity": alert_severity(alert.severity),
        "classification": classification(alert.classification),
        "determination": determination(alert.determination),
        "serviceSource": "microsoftDefenderForEndpoint",
        "detectionSource": detection_source(&alert.detection_source),
        "detectorId": alert.detector_id,
        "tenantId": tenant,
        "title": alert.title,
        "description": alert.description,
        "recommendedActions": Value::Null,
        "category": alert.category,
        "assignedTo": alert.assigned_to,
        "alertWebUrl": alert_web_url(&alert.id, tenant),
        "incidentWebUrl": incident_web_url,
        "actorDisplayName": Value::Null,
        "threatDisplayName": alert.threat_name,
        "threatFamilyName": alert.threat_family_name,
        "mitreTechniques": alert.mitre_techniques,
        "createdDateTime": alert.alert_creation_time,
        "lastUpdateDateTime": alert.last_update_time,
        "resolvedDateTime": time(&alert.resolved_time),
        "firstActivityDateTime": time(&alert.first_event_time),
        "lastActivityDateTime": time(&alert.last_event_time),
        "comments": alert.comments.iter().map(comment).collect::<Vec<_>>(),
        "evidence": evidence,
        "systemTags": [],
    })
}

/// `microsoft.graph.security.alertComment`: Graph names the author `createdByDisplayName`.
pub fn comment(comment: &AlertComment) -> Value {
    json!({
        "@odata.type": format!("#{NAMESPACE}.alertComment"),
        "comment": comment.comment,
        "createdByDisplayName": comment.created_by,
        "createdDateTime": comment.created_time,
    })
}

/// Defender's `detectionSource` (`WindowsDefenderAv`, `CustomDetection`, …) as Graph's
/// `detectionSource` enum; values without a Graph member are `unknown`.
pub fn detection_source(source: &str) -> &'static str {
    match source.to_ascii_lowercase().as_str() {
        "windowsdefenderav" | "antivirus" => "antivirus",
        "windowsdefendersmartscreen" | "smartscreen" => "smartScreen",
        "customerti" | "customti" => "customTi",
        "automatedinvestigation" => "automatedInvestigation",
        "customdetection" => "customDetection",
        "windowsdefenderatp" | "edr" | "microsoftdefenderforendpoint" => "microsoftDefenderForEndpoint",
        "microsoftthreatexperts" => "microsoftThreatExperts",
        "mcas" | "cloudappsecurity" => "cloudAppSecurity",
        "officeatp" => "microsoftDefenderForOffice365",
        "manual" => "manual",
        _ => "unknown",
    }
}

fn evidence_base(kind: &str, created: Value) -> serde_json::Map<String, Value> {
    let Value::Object(base) = json!({
        "@odata.type": format!("#{NAMESPACE}.{kind}"),
        "createdDateTime": created,
        "verdict": "unknown",
        "remediationStatus": "none",
        "remediationStatusDetails": Value::Null,
        "roles": [],
        "detailedRoles": [],
        "tags": [],
    }) else {
        unreachable!("json! of an object literal is an object")
    };
    base
}

fn with(mut base: serde_json::Map<String, Value>, extra: Value) -> Value {
    if let Value::Object(extra) = extra {
        base.extend(extra);
    }
    Value::Object(base)
}

/// `deviceEvidence` for the alert's machine, from the machine's current state.
pub fn device_evidence(machine: &Machine, created: &Timestamp) -> Value {
    let mut base = evidence_base("deviceEvidence", json!(created));
    base.insert("roles".into(), json!(["compromised"]));
    base.insert("detailedRoles".into(), json!(["Main device"]));
    base.insert("tags".into(), json!(machine.machine_tags));
    with(
        base,
        json!({
            "firstSeenDateTime": machine.first_seen,
            "mdeDeviceId": machine.id,
            "azureAdDeviceId": machine.aad_device_id,
            "deviceDnsName": machine.computer_dns_name,
            "osPlatform": machine.os_platform,
            "osBuild": machine.os_build,
            "version": machine.version,
            "healthStatus": lower_camel(machine.health_status.as_str()),
            "riskScore": machine.risk_score.map(|r| lower_camel(r.as_str())),
            "rbacGroupId": machine.rbac_group_id,
            "rbacGroupName": machine.rbac_group_name,
            "onboardingStatus": lower_camel(machine.onboarding_status.as_str()),
            "defenderAvStatus": machine.defender_av_status.as_deref().map(lower_camel).unwrap_or_else(|| "unknown".into()),
            "ipInterfaces": machine.ip_addresses.iter().map(|ip| ip.ip_address.clone()).collect::<Vec<_>>(),
            "loggedOnUsers": [],
            "vmMetadata": machine.vm_metadata,
        }),
    )
}

fn file_details(sha1: &Option<String>, sha256: &Option<String>, name: &Option<String>, path: &Option<String>) -> Value {
    json!({
        "sha1": sha1,
        "sha256": sha256,
        "fileName": name,
        "filePath": path,
        "fileSize": Value::Null,
        "filePublisher": Value::Null,
        "signer": Value::Null,
        "issuer": Value::Null,
    })
}

fn user_account(e: &Evidence) -> Value {
    json!({
        "accountName": e.account_name,
        "domainName": e.domain_name,
        "userSid": e.user_sid,
        "azureAdUserId": e.aad_user_id,
        "userPrincipalName": e.user_principal_name,
        "displayName": e.account_name,
    })
}

/// One Defender evidence item in its Graph type, or `None` for a kind Graph types differently
/// than Defender records it (none of the kinds Palisade keeps today).
pub fn typed_evidence(e: &Evidence, machine_id: &str) -> Option<Value> {
    let created = time(&e.evidence_creation_time);
    let detection = e.detection_status.as_deref().map(lower_camel);
    let value = match e.entity_type.to_ascii_lowercase().as_str() {
        "file" => with(
            evidence_base("fileEvidence", created),
            json!({
                "detectionStatus": detection,
                "mdeDeviceId": machine_id,
                "fileDetails": file_details(&e.sha1, &e.sha256, &e.file_name, &e.file_path),
            }),
        ),
        "process" => with(
            evidence_base("processEvidence", created),
            json!({
                "processId": e.process_id,
                "parentProcessId": e.parent_process_id,
                "processCommandLine": e.process_command_line,
                "processCreationDateTime": time(&e.process_creation_time),
                "parentProcessCreationDateTime": time(&e.parent_process_creation_time),
                "detectionStatus": detection,
                "mdeDeviceId": machine_id,
                "imageFile": file_details(&e.sha1, &e.sha256, &e.file_name, &e.file_path),
                "parentProcessImageFile": file_details(&None, &None, &e.parent_process_file_name, &e.parent_process_file_path),
                "userAccount": if e.account_name.is_some() { user_account(e) } else { Value::Null },
            }),
        ),
        "ip" => with(
            evidence_base("ipEvidence", created),
            json!({"ipAddress": e.ip_address, "countryLetterCode": Value::Null}),
        ),
        "url" => with(evidence_base("urlEvidence", created), json!({"url": e.url})),
        "user" => with(
            evidence_base("userEvidence", created),
            json!({"userAccount": user_account(e)}),
        ),
        "registry" if e.registry_value.is_some() => with(
            evidence_base("registryValueEvidence", created),
            json!({
                "mdeDeviceId": machine_id,
                "registryHive": e.registry_hive,
                "registryKey": e.registry_key,
                "registryValue": e.registry_value,
                "registryValueName": Value::Null,
                "registryValueType": e.registry_value_type,
            }),
        ),
        "registry" => with(
            evidence_base("registryKeyEvidence", created),
            json!({"registryHive": e.registry_hive, "registryKey": e.registry_key}),
        ),
        _ => return None,
    };
    Some(value)
}

/// `microsoft.graph.security.incident` from the stored record; `alerts` are the incident's alerts
/// already in Graph's shape when `$expand=alerts` asked for them (the property is absent
/// otherwise, as Graph leaves unexpanded navigation properties out).
pub fn incident(record: &IncidentRecord, tenant_id: &str, alerts: Option<Vec<Value>>) -> Value {
    let mut out = json!({
        "@odata.type": format!("#{NAMESPACE}.incident"),
        "id": record.incident_id.to_string(),
        "incidentWebUrl": incident_web_url(record.incident_id, tenant_id),
        "tenantId": tenant_id,
        "redirectIncidentId": record.redirect_incident_id.map(|id| id.to_string()),
        "displayName": record.incident_name,
        "createdDateTime": record.created_time,
        "lastUpdateDateTime": record.last_update_time,
        "assignedTo": record.assigned_to,
        "classification": lower_camel(record.classification.as_str()),
        "determination": incident_determination(record.determination),
        "status": lower_camel(record.status.as_str()),
        "severity": incident_severity(record.severity),
        "customTags": record.tags,
        "systemTags": [],
        "description": record.description,
        "comments": record.comments.iter().map(incident_comment).collect::<Vec<_>>(),
    });
    if let (Some(alerts), Value::Object(map)) = (alerts, &mut out) {
        map.insert("alerts".into(), Value::Array(alerts));
    }
    out
}

/// An incident's comment as Graph's `alertComment`.
pub fn incident_comment(comment: &IncidentComment) -> Value {
    json!({
        "@odata.type": format!("#{NAMESPACE}.alertComment"),
        "comment": comment.comment,
        "createdByDisplayName": comment.created_by,
        "createdDateTime": comment.created_time,
    })
}

/// `alertDetermination` of an incident: `NotAvailable` is Graph's `unknown`, and the update page's
/// `NoEnoughDataToValidate` is Graph's `notEnoughDataToValidate`.
pub fn incident_determination(value: IncidentDetermination) -> String {
    match value {
        IncidentDetermination::NotAvailable => "unknown".into(),
        IncidentDetermination::NoEnoughDataToValidate => "notEnoughDataToValidate".into(),
        other => lower_camel(other.as_str()),
    }
}

/// `alertSeverity` of an incident.
pub fn incident_severity(value: IncidentSeverity) -> String {
    match value {
        IncidentSeverity::UnSpecified => "unknown".into(),
        other => lower_camel(other.as_str()),
    }
}

const fn column(name: &'static str, ty: PropType, column: &'static str) -> Property {
    Property {
        name,
        ty,
        filterable: true,
        sortable: true,
        column: Some(column),
        json_key: name,
    }
}

const fn plain(name: &'static str, ty: PropType) -> Property {
    Property {
        name,
        ty,
        filterable: false,
        sortable: false,
        column: None,
        json_key: name,
    }
}

/// `alerts_v2`: Graph's names over the alert table's columns. The documented filterable
/// properties (`assignedTo`, `classification`, `determination`, `createdDateTime`,
/// `lastUpdateDateTime`, `severity`, `status`) plus the other dates and the title; `serviceSource`
/// has no column (every alert Palisade keeps is `microsoftDefenderForEndpoint`).
pub static GRAPH_ALERT_PROPERTIES: &[Property] = &[
    column("id", PropType::String, "id"),
    plain("providerAlertId", PropType::String),
    plain("incidentId", PropType::String),
    column("status", PropType::Enum(AlertStatus::VALUES), "status"),
    column("severity", PropType::Enum(AlertSeverity::VALUES), "severity"),
    column(
        "classification",
        PropType::Enum(Classification::VALUES),
        "classification",
    ),
    column("determination", PropType::Enum(Determination::VALUES), "determination"),
    plain("serviceSource", PropType::String),
    plain("detectionSource", PropType::String),
    column("detectorId", PropType::Guid, "detector_id"),
    column("tenantId", PropType::Guid, "aad_tenant_id"),
    column("title", PropType::String, "title"),
    plain("description", PropType::String),
    plain("recommendedActions", PropType::String),
    column("category", PropType::String, "category"),
    column("assignedTo", PropType::String, "assigned_to"),
    plain("alertWebUrl", PropType::String),
    plain("incidentWebUrl", PropType::String),
    plain("actorDisplayName", PropType::String),
    plain("threatDisplayName", PropType::String),
    column("threatFamilyName", PropType::String, "threat_family_name"),
    plain("mitreTechniques", PropType::Object),
    column("createdDateTime", PropType::DateTime, "alert_creation_time"),
    column("lastUpdateDateTime", PropType::DateTime, "last_update_time"),
    column("resolvedDateTime", PropType::DateTime, "resolved_time"),
    column("firstActivityDateTime", PropType::DateTime, "first_event_time"),
    column("lastActivityDateTime", PropType::DateTime, "last_event_time"),
    plain("comments", PropType::Object),
    plain("evidence", PropType::Object),
    plain("systemTags", PropType::Object),
];

pub static GRAPH_ALERTS: EntitySchema = EntitySchema {
    entity: "alert",
    set: "security/alerts_v2",
    properties: GRAPH_ALERT_PROPERTIES,
    expandable: &[],
    max_top: MDE_MAX_PAGE,
    key_column: "id",
};

/// `security/incidents`: Graph's names over the incident table's columns. The documented
/// filterable properties (`assignedTo`, `classification`, `createdDateTime`, `determination`,
/// `lastUpdateDateTime`, `severity`, `status`) plus `displayName`; `$orderby` on the dates.
pub static GRAPH_INCIDENT_PROPERTIES: &[Property] = &[
    Property {
        filterable: false,
        ..column("id", PropType::Int, "incident_id")
    },
    plain("incidentWebUrl", PropType::String),
    plain("tenantId", PropType::String),
    Property {
        sortable: false,
        ..column("redirectIncidentId", PropType::Int, "redirect_incident_id")
    },
    column("displayName", PropType::String, "incident_name"),
    column("createdDateTime", PropType::DateTime, "created_time"),
    column("lastUpdateDateTime", PropType::DateTime, "last_update_time"),
    column("assignedTo", PropType::String, "assigned_to"),
    column(
        "classification",
        PropType::Enum(crate::entities::IncidentClassification::VALUES),
        "classification",
    ),
    column(
        "determination",
        PropType::Enum(IncidentDetermination::VALUES),
        "determination",
    ),
    column("status", PropType::Enum(IncidentStatus::VALUES), "status"),
    column("severity", PropType::Enum(IncidentSeverity::VALUES), "severity"),
    plain("customTags", PropType::Object),
    plain("systemTags", PropType::Object),
    plain("description", PropType::String),
    plain("comments", PropType::Object),
    plain("alerts", PropType::Object),
];

pub static GRAPH_INCIDENTS: EntitySchema = EntitySchema {
    entity: "incident",
    set: "security/incidents",
    properties: GRAPH_INCIDENT_PROPERTIES,
    expandable: &["alerts"],
    max_top: MDE_MAX_PAGE,
    key_column: "incident_id",
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_graph_alert_schema_is_consistent() {
        GRAPH_ALERTS.check().unwrap();
        // Every column named here is a column of the alert table.
        for p in GRAPH_ALERT_PROPERTIES {
            if let Some(column) = p.column {
                assert!(
                    crate::schemas::ALERT_PROPERTIES
                        .iter()
                        .any(|a| a.column == Some(column)),
                    "{} uses {column}, which the alert table lacks",
                    p.name
                );
            }
        }
    }

    #[test]
    fn the_graph_incident_schema_names_incident_table_columns() {
        GRAPH_INCIDENTS.check().unwrap();
        for p in GRAPH_INCIDENT_PROPERTIES {
            if let Some(column) = p.column {
                assert!(
                    crate::schemas::INCIDENT_PROPERTIES
                        .iter()
                        .any(|a| a.column == Some(column)),
                    "{} uses {column}, which the incident table lacks",
                    p.name
                );
            }
        }
    }

    #[test]
    fn enum_values_are_lower_camel_with_unknown_for_unset() {
        assert_eq!(alert_status(AlertStatus::InProgress), "inProgress");
        assert_eq!(alert_severity(AlertSeverity::UnSpecified), "unknown");
        assert_eq!(classification(None), "unknown");
        assert_eq!(
            determination(Some(Determination::MultiStagedAttack)),
            "multiStagedAttack"
        );
        assert_eq!(defender_value("compromisedAccount"), Some("CompromisedUser"));
        assert_eq!(defender_value("UNKNOWN"), None);
    }
}
