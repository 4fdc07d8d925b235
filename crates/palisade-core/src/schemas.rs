//! The OData schema of each entity set: which properties exist, their types, which may be filtered
//! and sorted (the documented lists of `shared/reference/mde-api.md` §1.5 are the floor), and the
//! store column behind each. The store creates exactly these columns (see `store::sqlite`).

use crate::entities::{DeviceValue, ExposureLevel, HealthStatus, OnboardingStatus, RiskScore};
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
    Property {
        name: "machineTags",
        ty: PropType::StringCollection,
        filterable: true,
        sortable: false,
        column: None,
        json_key: "machineTags",
    },
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

#[cfg(test)]
mod tests {
    #[test]
    fn schemas_are_well_formed() {
        super::MACHINES.check().unwrap();
    }
}
