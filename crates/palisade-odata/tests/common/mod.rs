//! Schemas shared by the integration tests.
#![allow(dead_code)]

pub mod corpus;

use palisade_odata::{EntitySchema, PropType, Property};

const fn prop(name: &'static str, ty: PropType, column: Option<&'static str>) -> Property {
    Property {
        name,
        ty,
        filterable: true,
        sortable: column.is_some(),
        column,
        json_key: name,
    }
}

pub const RISK: &[&str] = &["None", "Informational", "Low", "Medium", "High"];

/// A Defender-like Machine schema.
pub static MACHINE_PROPS: &[Property] = &[
    prop("id", PropType::String, Some("id")),
    prop("computerDnsName", PropType::String, Some("computer_dns_name")),
    prop("firstSeen", PropType::DateTime, Some("first_seen")),
    prop("lastSeen", PropType::DateTime, Some("last_seen")),
    prop("osPlatform", PropType::String, Some("os_platform")),
    prop("version", PropType::String, Some("version")),
    prop("lastIpAddress", PropType::String, Some("last_ip_address")),
    prop(
        "healthStatus",
        PropType::Enum(&[
            "Active",
            "Inactive",
            "ImpairedCommunication",
            "NoSensorData",
            "NoSensorDataImpairedCommunication",
            "Unknown",
        ]),
        Some("health_status"),
    ),
    prop("rbacGroupId", PropType::Int, Some("rbac_group_id")),
    prop("riskScore", PropType::Enum(RISK), Some("risk_score")),
    prop(
        "exposureLevel",
        PropType::Enum(&["None", "Low", "Medium", "High"]),
        Some("exposure_level"),
    ),
    prop("aadDeviceId", PropType::Guid, Some("aad_device_id")),
    prop("isAadJoined", PropType::Bool, Some("is_aad_joined")),
    prop("machineTags", PropType::StringCollection, None),
    Property {
        name: "ipAddresses",
        ty: PropType::Object,
        filterable: false,
        sortable: false,
        column: None,
        json_key: "ipAddresses",
    },
    Property {
        name: "osBuild",
        ty: PropType::Int,
        filterable: false,
        sortable: false,
        column: None,
        json_key: "osBuild",
    },
];

pub static MACHINE: EntitySchema = EntitySchema {
    entity: "Machine",
    set: "Machines",
    properties: MACHINE_PROPS,
    expandable: &[],
    max_top: 10000,
    key_column: "id",
};

pub static ALERT_PROPS: &[Property] = &[
    prop("id", PropType::String, Some("id")),
    prop(
        "severity",
        PropType::Enum(&["UnSpecified", "Informational", "Low", "Medium", "High"]),
        Some("severity"),
    ),
    prop("alertCreationTime", PropType::DateTime, Some("alert_creation_time")),
];

pub static ALERT: EntitySchema = EntitySchema {
    entity: "Alert",
    set: "Alerts",
    properties: ALERT_PROPS,
    expandable: &["evidence"],
    max_top: 10000,
    key_column: "id",
};

/// Small schema for the differential property test: every type, all nullable.
pub static ITEM_PROPS: &[Property] = &[
    prop("id", PropType::String, Some("id")),
    prop("name", PropType::String, Some("name")),
    prop("score", PropType::Int, Some("score")),
    prop("active", PropType::Bool, Some("active")),
    prop("seen", PropType::DateTime, Some("seen")),
    prop("level", PropType::Enum(&["Low", "Medium", "High"]), Some("level")),
    prop("owner", PropType::Guid, Some("owner")),
    prop("tags", PropType::StringCollection, None),
];

pub static ITEMS: EntitySchema = EntitySchema {
    entity: "Item",
    set: "Items",
    properties: ITEM_PROPS,
    expandable: &[],
    max_top: 100,
    key_column: "id",
};

/// Percent-encodes the characters that would change meaning in a query string.
pub fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '%' => out.push_str("%25"),
            '&' => out.push_str("%26"),
            '+' => out.push_str("%2B"),
            '#' => out.push_str("%23"),
            '=' => out.push_str("%3D"),
            _ => out.push(c),
        }
    }
    out
}
