//! The Machine entity (`shared/reference/mde-api.md` §2.3), in the property order of real responses.

use crate::api_enum;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

api_enum!(
    /// `healthStatus`.
    HealthStatus { Active, Inactive, ImpairedCommunication, NoSensorData, NoSensorDataImpairedCommunication, Unknown }
);
api_enum!(
    /// `riskScore`.
    RiskScore { None, Informational, Low, Medium, High }
);
api_enum!(
    /// `exposureLevel`.
    ExposureLevel { None, Low, Medium, High }
);
api_enum!(
    /// `deviceValue`.
    DeviceValue { Normal, Low, High }
);
api_enum!(
    /// `onboardingStatus` (real responses capitalise `Onboarded`).
    OnboardingStatus { Onboarded, CanBeOnboarded, Unsupported, InsufficientInfo }
);

/// One network interface of a machine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IpAddress {
    pub ip_address: String,
    pub mac_address: Option<String>,
    #[serde(rename = "type")]
    pub kind: String,
    pub operational_status: String,
}

/// A device known to Defender for Endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Machine {
    /// 40 lower-case hex characters.
    pub id: String,
    pub merged_into_machine_id: Option<String>,
    pub is_potential_duplication: bool,
    pub is_excluded: bool,
    pub exclusion_reason: Option<String>,
    pub computer_dns_name: String,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    pub os_platform: String,
    pub os_version: Option<String>,
    pub os_processor: String,
    pub version: Option<String>,
    pub last_ip_address: Option<String>,
    pub last_external_ip_address: Option<String>,
    pub agent_version: Option<String>,
    pub os_build: Option<i64>,
    pub health_status: HealthStatus,
    pub device_value: Option<DeviceValue>,
    pub rbac_group_id: i64,
    pub rbac_group_name: Option<String>,
    pub risk_score: Option<RiskScore>,
    pub exposure_level: Option<ExposureLevel>,
    pub is_aad_joined: bool,
    pub aad_device_id: Option<String>,
    pub machine_tags: Vec<String>,
    pub defender_av_status: Option<String>,
    pub onboarding_status: OnboardingStatus,
    pub os_architecture: Option<String>,
    pub managed_by: Option<String>,
    pub managed_by_status: Option<String>,
    pub ip_addresses: Vec<IpAddress>,
    pub vm_metadata: Option<serde_json::Value>,
}
