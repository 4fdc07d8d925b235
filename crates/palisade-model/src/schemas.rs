//! The OData schema of each entity set: which properties exist, their types, which may be filtered
//! and sorted (the documented lists of `shared/reference/mde-api.md` §1.5 are the floor), and the
//! store column behind each. The store creates exactly these columns (see `store::sqlite`).

use crate::entities::{
    ActionStatus, ActionType, AlertSeverity, AlertStatus, Classification, Determination, DeviceValue, ExposureLevel,
    HealthStatus, IncidentClassification, IncidentDetermination, IncidentSeverity, IncidentStatus, IndicatorAction,
    IndicatorSeverity, IndicatorSourceType, IndicatorType, InvestigationState, OnboardingStatus, RiskScore,
};
use palisade_odata::{EntitySchema, PropType, Property};

/// The largest `$top`, and the page size, of MDE collections.
pub const MDE_MAX_PAGE: u32 = 10_000;

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

const fn collection(name: &'static str) -> Property {
    Property {
        name,
        ty: PropType::StringCollection,
        filterable: true,
        sortable: false,
        column: None,
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

pub static MACHINE_PROPERTIES: &[Property] = &[
    column("id", PropType::String, "id"),
    plain("mergedIntoMachineId", PropType::String),
    plain("isPotentialDuplication", PropType::Bool),
    plain("isExcluded", PropType::Bool),
    plain("exclusionReason", PropType::String),
    column("computerDnsName", PropType::String, "computer_dns_name"),
    column("firstSeen", PropType::DateTime, "first_seen"),
    column("lastSeen", PropType::DateTime, "last_seen"),
    column("osPlatform", PropType::String, "os_platform"),
    plain("osVersion", PropType::String),
    plain("osProcessor", PropType::String),
    column("version", PropType::String, "version"),
    column("lastIpAddress", PropType::String, "last_ip_address"),
    column("lastExternalIpAddress", PropType::String, "last_external_ip_address"),
    column("agentVersion", PropType::String, "agent_version"),
    column("osBuild", PropType::Int, "os_build"),
    column("healthStatus", PropType::Enum(HealthStatus::VALUES), "health_status"),
    column("deviceValue", PropType::Enum(DeviceValue::VALUES), "device_value"),
    column("rbacGroupId", PropType::Int, "rbac_group_id"),
    column("rbacGroupName", PropType::String, "rbac_group_name"),
    column("riskScore", PropType::Enum(RiskScore::VALUES), "risk_score"),
    column("exposureLevel", PropType::Enum(ExposureLevel::VALUES), "exposure_level"),
    column("isAadJoined", PropType::Bool, "is_aad_joined"),
    column("aadDeviceId", PropType::Guid, "aad_device_id"),
    collection("machineTags"),
    plain("defenderAvStatus", PropType::String),
    column(
        "onboardingStatus",
        PropType::Enum(OnboardingStatus::VALUES),
        "onboarding_status",
    ),
    plain("osArchitecture", PropType::String),
    plain("managedBy", PropType::String),
    plain("managedByStatus", PropType::String),
    plain("ipAddresses", PropType::Object),
    plain("vmMetadata", PropType::Object),
];

pub static MACHINES: EntitySchema = EntitySchema {
    entity: "Machine",
    set: "Machines",
    properties: MACHINE_PROPERTIES,
    expandable: &[],
    max_top: MDE_MAX_PAGE,
    key_column: "id",
};

/// Alerts; the documented filter list (§1.5) plus the machine, the dates and the triage fields.
pub static ALERT_PROPERTIES: &[Property] = &[
    column("id", PropType::String, "id"),
    column("incidentId", PropType::Int, "incident_id"),
    column("investigationId", PropType::Int, "investigation_id"),
    column("assignedTo", PropType::String, "assigned_to"),
    column("severity", PropType::Enum(AlertSeverity::VALUES), "severity"),
    column("status", PropType::Enum(AlertStatus::VALUES), "status"),
    column(
        "classification",
        PropType::Enum(Classification::VALUES),
        "classification",
    ),
    column("determination", PropType::Enum(Determination::VALUES), "determination"),
    column(
        "investigationState",
        PropType::Enum(InvestigationState::VALUES),
        "investigation_state",
    ),
    column("detectionSource", PropType::String, "detection_source"),
    column("detectorId", PropType::Guid, "detector_id"),
    column("category", PropType::String, "category"),
    column("threatFamilyName", PropType::String, "threat_family_name"),
    column("title", PropType::String, "title"),
    plain("description", PropType::String),
    column("alertCreationTime", PropType::DateTime, "alert_creation_time"),
    column("firstEventTime", PropType::DateTime, "first_event_time"),
    column("lastEventTime", PropType::DateTime, "last_event_time"),
    column("lastUpdateTime", PropType::DateTime, "last_update_time"),
    column("resolvedTime", PropType::DateTime, "resolved_time"),
    column("machineId", PropType::String, "machine_id"),
    column("computerDnsName", PropType::String, "computer_dns_name"),
    column("rbacGroupName", PropType::String, "rbac_group_name"),
    column("aadTenantId", PropType::Guid, "aad_tenant_id"),
    column("threatName", PropType::String, "threat_name"),
    collection("mitreTechniques"),
    plain("relatedUser", PropType::Object),
    plain("comments", PropType::Object),
    plain("evidence", PropType::Object),
];

pub static ALERTS: EntitySchema = EntitySchema {
    entity: "Alert",
    set: "Alerts",
    properties: ALERT_PROPERTIES,
    expandable: &["evidence"],
    max_top: MDE_MAX_PAGE,
    key_column: "id",
};

/// Machine actions; the documented filter list plus the machine name, dates, scope and external id.
pub static MACHINE_ACTION_PROPERTIES: &[Property] = &[
    column("id", PropType::Guid, "id"),
    column("type", PropType::Enum(ActionType::VALUES), "type"),
    column("title", PropType::String, "title"),
    column("requestor", PropType::String, "requestor"),
    plain("requestorComment", PropType::String),
    column("status", PropType::Enum(ActionStatus::VALUES), "status"),
    column("machineId", PropType::String, "machine_id"),
    column("computerDnsName", PropType::String, "computer_dns_name"),
    column("creationDateTimeUtc", PropType::DateTime, "creation_date_time_utc"),
    column("lastUpdateDateTimeUtc", PropType::DateTime, "last_update_date_time_utc"),
    column("cancellationRequestor", PropType::String, "cancellation_requestor"),
    plain("cancellationComment", PropType::String),
    column(
        "cancellationDateTimeUtc",
        PropType::DateTime,
        "cancellation_date_time_utc",
    ),
    plain("errorHResult", PropType::Int),
    column("scope", PropType::String, "scope"),
    column("externalId", PropType::String, "external_id"),
    column("requestSource", PropType::String, "request_source"),
    plain("relatedFileInfo", PropType::Object),
    plain("commands", PropType::Object),
    plain("troubleshootInfo", PropType::Object),
];

pub static MACHINE_ACTIONS: EntitySchema = EntitySchema {
    entity: "MachineAction",
    set: "MachineActions",
    properties: MACHINE_ACTION_PROPERTIES,
    expandable: &[],
    max_top: MDE_MAX_PAGE,
    key_column: "id",
};

pub static INVESTIGATION_PROPERTIES: &[Property] = &[
    column("id", PropType::String, "id"),
    column("startTime", PropType::DateTime, "start_time"),
    column("endTime", PropType::DateTime, "end_time"),
    column("cancelledBy", PropType::String, "cancelled_by"),
    column("state", PropType::Enum(InvestigationState::VALUES), "state"),
    plain("statusDetails", PropType::String),
    column("machineId", PropType::String, "machine_id"),
    column("computerDnsName", PropType::String, "computer_dns_name"),
    column("triggeringAlertId", PropType::String, "triggering_alert_id"),
];

pub static INVESTIGATIONS: EntitySchema = EntitySchema {
    entity: "Investigation",
    set: "Investigations",
    properties: INVESTIGATION_PROPERTIES,
    expandable: &[],
    max_top: MDE_MAX_PAGE,
    key_column: "id",
};

pub static USER_PROPERTIES: &[Property] = &[
    column("id", PropType::String, "id"),
    column("accountName", PropType::String, "account_name"),
    column("accountDomain", PropType::String, "account_domain"),
    column("accountSid", PropType::String, "account_sid"),
    column("firstSeen", PropType::DateTime, "first_seen"),
    column("lastSeen", PropType::DateTime, "last_seen"),
    plain("mostPrevalentMachineId", PropType::String),
    plain("leastPrevalentMachineId", PropType::String),
    plain("logonTypes", PropType::String),
    plain("logOnMachinesCount", PropType::Int),
    column("isDomainAdmin", PropType::Bool, "is_domain_admin"),
    plain("isOnlyNetworkUser", PropType::Bool),
];

pub static USERS: EntitySchema = EntitySchema {
    entity: "User",
    set: "Users",
    properties: USER_PROPERTIES,
    expandable: &[],
    max_top: MDE_MAX_PAGE,
    key_column: "id",
};

/// Indicators; the documented filter list (§1.5) plus the external id, source and update time.
pub static INDICATOR_PROPERTIES: &[Property] = &[
    column("id", PropType::String, "id"),
    column("indicatorValue", PropType::String, "indicator_value"),
    column("indicatorType", PropType::Enum(IndicatorType::VALUES), "indicator_type"),
    column("application", PropType::String, "application"),
    column("action", PropType::Enum(IndicatorAction::VALUES), "action"),
    column("externalID", PropType::String, "external_id"),
    column("sourceType", PropType::Enum(IndicatorSourceType::VALUES), "source_type"),
    column("createdBySource", PropType::String, "created_by_source"),
    column("createdBy", PropType::String, "created_by"),
    column("createdByDisplayName", PropType::String, "created_by_display_name"),
    column("lastUpdatedBy", PropType::String, "last_updated_by"),
    column("creationTimeDateTimeUtc", PropType::DateTime, "creation_time"),
    column("expirationTime", PropType::DateTime, "expiration_time"),
    column("lastUpdateTime", PropType::DateTime, "last_update_time"),
    column("severity", PropType::Enum(IndicatorSeverity::VALUES), "severity"),
    column("title", PropType::String, "title"),
    plain("description", PropType::String),
    plain("recommendedActions", PropType::String),
    collection("rbacGroupNames"),
    collection("rbacGroupIds"),
    column("generateAlert", PropType::Bool, "generate_alert"),
    plain("educateUrl", PropType::String),
];

pub static INDICATORS: EntitySchema = EntitySchema {
    entity: "Indicator",
    set: "Indicators",
    properties: INDICATOR_PROPERTIES,
    expandable: &[],
    max_top: MDE_MAX_PAGE,
    key_column: "id",
};

/// Live-response library files; keyed by name, which the store compares case-insensitively.
pub static LIBRARY_FILE_PROPERTIES: &[Property] = &[
    column("fileName", PropType::String, "file_name"),
    column("sha256", PropType::String, "sha256"),
    column("description", PropType::String, "description"),
    column("creationTime", PropType::DateTime, "creation_time"),
    column("lastUpdatedTime", PropType::DateTime, "last_updated_time"),
    column("createdBy", PropType::String, "created_by"),
    column("hasParameters", PropType::Bool, "has_parameters"),
    plain("parametersDescription", PropType::String),
];

pub static LIBRARY_FILES: EntitySchema = EntitySchema {
    entity: "LibraryFile",
    set: "LibraryFiles",
    properties: LIBRARY_FILE_PROPERTIES,
    expandable: &[],
    max_top: MDE_MAX_PAGE,
    key_column: "file_name",
};

/// The largest `$top`, and the page size, of the incidents list (`api-list-incidents.md`).
pub const INCIDENT_MAX_PAGE: u32 = 100;

/// A property the store keeps a column of (for other APIs over the same table, such as Graph's
/// incidents) that this API does not let clients filter or sort on.
const fn stored(name: &'static str, ty: PropType, column: &'static str) -> Property {
    Property {
        name,
        ty,
        filterable: false,
        sortable: false,
        column: Some(column),
        json_key: name,
    }
}

/// Incidents as stored ([`crate::entities::IncidentRecord`]). `$filter` takes exactly the four
/// documented properties; `$orderby` takes them and `incidentId` (undocumented, harmless).
pub static INCIDENT_PROPERTIES: &[Property] = &[
    Property {
        filterable: false,
        ..column("incidentId", PropType::Int, "incident_id")
    },
    stored("redirectIncidentId", PropType::Int, "redirect_incident_id"),
    stored("incidentName", PropType::String, "incident_name"),
    column("createdTime", PropType::DateTime, "created_time"),
    column("lastUpdateTime", PropType::DateTime, "last_update_time"),
    column("assignedTo", PropType::String, "assigned_to"),
    stored(
        "classification",
        PropType::Enum(IncidentClassification::VALUES),
        "classification",
    ),
    stored(
        "determination",
        PropType::Enum(IncidentDetermination::VALUES),
        "determination",
    ),
    column("status", PropType::Enum(IncidentStatus::VALUES), "status"),
    stored("severity", PropType::Enum(IncidentSeverity::VALUES), "severity"),
    plain("tags", PropType::Object),
    plain("comments", PropType::Object),
    // Rendered, not stored: listed so `$select` may name them.
    plain("incidentUri", PropType::String),
    plain("alerts", PropType::Object),
];

pub static INCIDENTS: EntitySchema = EntitySchema {
    entity: "Incident",
    set: "Incidents",
    properties: INCIDENT_PROPERTIES,
    expandable: &[],
    max_top: INCIDENT_MAX_PAGE,
    key_column: "incident_id",
};

/// An entity set as the store keeps it: its table and its schema.
#[derive(Debug, Clone, Copy)]
pub struct EntityTable {
    pub table: &'static str,
    pub schema: &'static EntitySchema,
}

pub const MACHINE_TABLE: EntityTable = EntityTable {
    table: "machines",
    schema: &MACHINES,
};

pub const ALERT_TABLE: EntityTable = EntityTable {
    table: "alerts",
    schema: &ALERTS,
};

pub const MACHINE_ACTION_TABLE: EntityTable = EntityTable {
    table: "machine_actions",
    schema: &MACHINE_ACTIONS,
};

pub const INVESTIGATION_TABLE: EntityTable = EntityTable {
    table: "investigations",
    schema: &INVESTIGATIONS,
};

pub const USER_TABLE: EntityTable = EntityTable {
    table: "users",
    schema: &USERS,
};

pub const INDICATOR_TABLE: EntityTable = EntityTable {
    table: "indicators",
    schema: &INDICATORS,
};

pub const LIBRARY_FILE_TABLE: EntityTable = EntityTable {
    table: "library_files",
    schema: &LIBRARY_FILES,
};

pub const INCIDENT_TABLE: EntityTable = EntityTable {
    table: "incidents",
    schema: &INCIDENTS,
};

/// Every entity table of the store.
pub const ENTITY_TABLES: &[EntityTable] = &[
    MACHINE_TABLE,
    ALERT_TABLE,
    MACHINE_ACTION_TABLE,
    INVESTIGATION_TABLE,
    USER_TABLE,
    INDICATOR_TABLE,
    LIBRARY_FILE_TABLE,
    INCIDENT_TABLE,
];

#[cfg(test)]
mod tests {
    #[test]
    fn schemas_are_well_formed() {
        for table in super::ENTITY_TABLES {
            table.schema.check().unwrap_or_else(|e| panic!("{}: {e}", table.table));
        }
    }
}
