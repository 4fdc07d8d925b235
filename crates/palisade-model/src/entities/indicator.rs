//! The Indicator entity (`shared/reference/mde-api.md` §5.3), properties in the documented order.

use crate::api_enum;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

api_enum!(
    /// `indicatorType`.
    IndicatorType { FileSha1, FileSha256, FileMd5, CertificateThumbprint, IpAddress, DomainName, Url }
);
api_enum!(
    /// `action`. `Alert` and `AlertAndBlock` are the legacy actions the pages still list.
    IndicatorAction { Warn, Block, Audit, Alert, AlertAndBlock, BlockAndRemediate, Allowed }
);
api_enum!(
    /// `severity`.
    IndicatorSeverity { Informational, Low, Medium, High }
);
api_enum!(
    /// `sourceType`: `User` from the portal, `AadApp` from the API (always the latter here).
    IndicatorSourceType { User, AadApp }
);

impl IndicatorType {
    /// File hashes and certificates, the indicator families of the "Allow or block file" feature.
    pub fn is_file(self) -> bool {
        matches!(
            self,
            IndicatorType::FileSha1 | IndicatorType::FileSha256 | IndicatorType::FileMd5
        )
    }

    /// IP addresses, domains and URLs, gated by "Custom network indicators".
    pub fn is_network(self) -> bool {
        matches!(
            self,
            IndicatorType::IpAddress | IndicatorType::DomainName | IndicatorType::Url
        )
    }
}

/// A custom indicator of compromise.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Indicator {
    pub id: String,
    pub indicator_value: String,
    pub indicator_type: IndicatorType,
    pub application: Option<String>,
    pub action: IndicatorAction,
    #[serde(rename = "externalID")]
    pub external_id: Option<String>,
    pub source_type: IndicatorSourceType,
    pub created_by_source: Option<String>,
    pub created_by: String,
    /// Filterable on the list page though absent from the entity table; the app's display name.
    pub created_by_display_name: Option<String>,
    pub last_updated_by: Option<String>,
    pub creation_time_date_time_utc: Timestamp,
    pub expiration_time: Option<Timestamp>,
    pub last_update_time: Timestamp,
    pub severity: Option<IndicatorSeverity>,
    pub title: String,
    pub description: String,
    pub recommended_actions: Option<String>,
    pub rbac_group_names: Vec<String>,
    pub rbac_group_ids: Vec<String>,
    pub generate_alert: bool,
    /// Accepted on submit (Block/Warn URL indicators), so kept and shown rather than dropped.
    pub educate_url: Option<String>,
}
