//! The MachineAction entity (`shared/reference/mde-api.md` §4.3), in the key order of real responses.

use crate::api_enum;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

api_enum!(
    /// `type`.
    ActionType {
        RunAntiVirusScan, Offboard, LiveResponse, CollectInvestigationPackage, Isolate, Unisolate,
        StopAndQuarantineFile, RestrictCodeExecution, UnrestrictCodeExecution
    }
);
api_enum!(
    /// `status`.
    ActionStatus { Pending, InProgress, Succeeded, Failed, TimeOut, Cancelled }
);

impl ActionStatus {
    /// Succeeded, Failed, TimeOut and Cancelled never change again.
    pub fn is_final(self) -> bool {
        !matches!(self, ActionStatus::Pending | ActionStatus::InProgress)
    }
}

/// `relatedFileInfo` of stop-and-quarantine actions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RelatedFileInfo {
    pub file_identifier: String,
    pub file_identifier_type: String,
}

/// One `{key, value}` parameter of a live-response command.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommandParam {
    pub key: String,
    pub value: String,
}

/// A live-response command as submitted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveResponseCommand {
    #[serde(rename = "type")]
    pub kind: String,
    pub params: Vec<CommandParam>,
}

/// A live-response command's progress inside the action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CommandStatus {
    pub index: u32,
    pub start_time: Option<Timestamp>,
    pub end_time: Option<Timestamp>,
    /// `Created`, `Completed` or `Failed`.
    pub command_status: String,
    pub errors: Vec<String>,
    pub command: LiveResponseCommand,
}

/// A response action on a machine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MachineAction {
    /// A lower-case GUID.
    pub id: String,
    #[serde(rename = "type")]
    pub kind: ActionType,
    pub title: Option<String>,
    pub requestor: String,
    pub requestor_comment: Option<String>,
    pub status: ActionStatus,
    pub machine_id: String,
    pub computer_dns_name: String,
    pub creation_date_time_utc: Timestamp,
    pub last_update_date_time_utc: Timestamp,
    pub cancellation_requestor: Option<String>,
    pub cancellation_comment: Option<String>,
    pub cancellation_date_time_utc: Option<Timestamp>,
    pub error_h_result: i64,
    /// `Full`/`Selective`/`UnManagedDevice` for isolation, `Quick`/`Full` for scans.
    pub scope: Option<String>,
    pub external_id: Option<String>,
    pub request_source: String,
    pub related_file_info: Option<RelatedFileInfo>,
    pub commands: Vec<CommandStatus>,
    pub troubleshoot_info: Option<serde_json::Value>,
}
