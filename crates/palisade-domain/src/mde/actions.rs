//! Machine actions (`shared/reference/mde-api.md` §4) and starting an automated investigation (§10).
//!
//! Every verb applies its rules in one order: role → body (in the server) → enum values → machine
//! exists → machine offboarded → tenant feature → OS platform → client version → (live response)
//! library files → state conflicts.
//!
//! A machine's isolation, code-execution restriction and offboarding are *derived* from its
//! succeeded actions (the latest succeeded action of a group decides), never stored beside them, so
//! they cannot disagree.
//!
//! Lifecycle, lazily on the emulator clock: nothing runs in the background; before any read or
//! write of actions, [`Core::settle_actions`] moves each unfinished action to where it should be at
//! `clock.now()`, stamping `lastUpdateDateTimeUtc` with the scheduled transition instant (not "now"),
//! so the result does not depend on when somebody looked:
//! - `Pending` until creation + `pickup`, then `InProgress`, then `Succeeded` at + `pickup` + `run`;
//! - on a device that does not report (`Inactive`, `NoSensorData`, `NoSensorDataImpairedCommunication`)
//!   the action stays `Pending` and becomes `TimeOut` at creation + `offline_timeout` (the docs:
//!   isolation and live response are retried for up to three days);
//! - on an `ImpairedCommunication` device it is picked up but ends `Failed` at completion time, with
//!   `errorHResult` E_FAIL;
//! - the device's health is read when settling, so a device going offline stalls its actions;
//! - a succeeded `Offboard` turns the machine's `healthStatus` to `Inactive`.

use crate::listing::{narrowed, text_eq, text_in, Page};
use crate::mde::support::{self, Capability};
use crate::{Core, DomainResult};
use chrono::{DateTime, TimeDelta, Utc};
use hmac::{Hmac, Mac};
use palisade_auth::Principal;
use palisade_error::{ApiError, ErrorCode};
use palisade_model::api_enum;
use palisade_model::entities::{
    ActionStatus, ActionType, CommandParam, CommandStatus, HealthStatus, Investigation, InvestigationState,
    LiveResponseCommand, Machine, MachineAction, RelatedFileInfo,
};
use palisade_model::schemas::{INVESTIGATION_TABLE, MACHINE_ACTIONS, MACHINE_ACTION_TABLE, MACHINE_TABLE};
use palisade_model::time::{format_api_time, Timestamp};
use palisade_odata::Query;
use palisade_store::StoreError;
use serde::Serialize;
use serde_json::Value;
use sha2::Sha256;
use std::collections::HashMap;

/// List, get, package URI and live-response result links.
pub const READ_ROLES: &[&str] = &["Machine.Read.All", "Machine.ReadWrite.All"];
/// Cancel: any one of the seven action permissions.
pub const CANCEL_ROLES: &[&str] = &[
    "Machine.CollectForensics",
    "Machine.Isolate",
    "Machine.RestrictExecution",
    "Machine.Scan",
    "Machine.Offboard",
    "Machine.StopAndQuarantine",
    "Machine.LiveResponse",
];
/// `startInvestigation`.
pub const INVESTIGATE_ROLES: &[&str] = &["Alert.ReadWrite.All"];
/// The docs: download links (SAS URIs) are valid for 30 minutes.
pub const LINK_LIFETIME: TimeDelta = TimeDelta::minutes(30);
/// What a failed action reports (E_FAIL).
const FAILED_HRESULT: i64 = -2_147_467_259;
/// Demo investigations are numbered from here.
const FIRST_INVESTIGATION_ID: u64 = 5000;

api_enum!(
    /// `IsolationType` of isolate.
    IsolationType { Full, Selective, UnManagedDevice }
);
api_enum!(
    /// `ScanType` of runAntiVirusScan.
    ScanType { Quick, Full }
);

/// The application role each verb needs.
pub fn action_roles(kind: ActionType) -> &'static [&'static str] {
    match kind {
        ActionType::Isolate | ActionType::Unisolate => &["Machine.Isolate"],
        ActionType::RestrictCodeExecution | ActionType::UnrestrictCodeExecution => &["Machine.RestrictExecution"],
        ActionType::RunAntiVirusScan => &["Machine.Scan"],
        ActionType::CollectInvestigationPackage => &["Machine.CollectForensics"],
        ActionType::Offboard => &["Machine.Offboard"],
        ActionType::StopAndQuarantineFile => &["Machine.StopAndQuarantine"],
        ActionType::LiveResponse => &["Machine.LiveResponse"],
    }
}

/// Actions that exclude each other while one is pending: undoing and doing are one group.
fn group(kind: ActionType) -> &'static [ActionType] {
    use ActionType::*;
    match kind {
        Isolate | Unisolate => &[Isolate, Unisolate],
        RestrictCodeExecution | UnrestrictCodeExecution => &[RestrictCodeExecution, UnrestrictCodeExecution],
        RunAntiVirusScan => &[RunAntiVirusScan],
        CollectInvestigationPackage => &[CollectInvestigationPackage],
        Offboard => &[Offboard],
        StopAndQuarantineFile => &[StopAndQuarantineFile],
        LiveResponse => &[LiveResponse],
    }
}

/// What every action request carries beside its verb: the required comment and the MachineAction
/// properties a caller may set (absent when the body has them `null`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActionDetails {
    pub comment: String,
    /// `externalId`: the caller's own correlation id, answered back as sent.
    pub external_id: Option<String>,
    /// `requestSource`: `PublicApi` unless the caller names another.
    pub request_source: Option<String>,
    pub title: Option<String>,
}

/// A verb with its body's verb-specific properties, as sent (validated by [`Core::request_action`]).
#[derive(Debug, Clone)]
pub enum ActionRequest {
    Isolate {
        isolation_type: Option<String>,
    },
    Unisolate,
    RestrictCodeExecution,
    UnrestrictCodeExecution,
    RunAntiVirusScan {
        scan_type: String,
    },
    CollectInvestigationPackage,
    Offboard,
    StopAndQuarantineFile {
        sha1: String,
    },
    /// Commands stay raw JSON so that a malformed one is reported with its index.
    LiveResponse {
        commands: Vec<Value>,
    },
}

impl ActionRequest {
    pub fn kind(&self) -> ActionType {
        match self {
            ActionRequest::Isolate { .. } => ActionType::Isolate,
            ActionRequest::Unisolate => ActionType::Unisolate,
            ActionRequest::RestrictCodeExecution => ActionType::RestrictCodeExecution,
            ActionRequest::UnrestrictCodeExecution => ActionType::UnrestrictCodeExecution,
            ActionRequest::RunAntiVirusScan { .. } => ActionType::RunAntiVirusScan,
            ActionRequest::CollectInvestigationPackage => ActionType::CollectInvestigationPackage,
            ActionRequest::Offboard => ActionType::Offboard,
            ActionRequest::StopAndQuarantineFile { .. } => ActionType::StopAndQuarantineFile,
            ActionRequest::LiveResponse { .. } => ActionType::LiveResponse,
        }
    }
}

/// The verb-specific parts of a new action, once its values are known to be valid.
struct Validated {
    scope: Option<String>,
    related_file_info: Option<RelatedFileInfo>,
    commands: Vec<CommandStatus>,
}

/// `Comment` is required on every action (`isolate-machine.md` and its siblings; offboard's page
/// documents the 400): an empty or blank one is as missing as an absent one, since it says nothing
/// to the analyst reading the action log.
fn require_comment(comment: &str) -> Result<(), ApiError> {
    if comment.trim().is_empty() {
        return Err(ApiError::missing_parameter("Comment", Some("it is empty")));
    }
    Ok(())
}

fn validate(request: ActionRequest) -> Result<Validated, ApiError> {
    let mut out = Validated {
        scope: None,
        related_file_info: None,
        commands: Vec::new(),
    };
    match request {
        ActionRequest::Isolate { isolation_type } => {
            let parsed = match isolation_type {
                Some(value) => IsolationType::parse_input("IsolationType", &value)?,
                None => IsolationType::Full,
            };
            out.scope = Some(parsed.as_str().to_string());
        }
        ActionRequest::RunAntiVirusScan { scan_type } => {
            out.scope = Some(ScanType::parse_input("ScanType", &scan_type)?.as_str().to_string());
        }
        ActionRequest::StopAndQuarantineFile { sha1 } => {
            crate::mde::validate::sha1(&sha1)?;
            out.related_file_info = Some(RelatedFileInfo {
                file_identifier: sha1,
                file_identifier_type: "Sha1".into(),
            });
        }
        ActionRequest::LiveResponse { commands } => out.commands = validate_commands(&commands)?,
        _ => {}
    }
    Ok(out)
}

/// Live-response command types and their parameters `(key, required)`.
const COMMAND_TYPES: &[(&str, &[(&str, bool)])] = &[
    ("PutFile", &[("FileName", true)]),
    ("RunScript", &[("ScriptName", true), ("Args", false)]),
    ("GetFile", &[("Path", true)]),
];

/// Checks each command's shape, type and parameters, naming the command's index in every refusal.
/// Whether `FileName`/`ScriptName` are in the tenant's library is checked later, once the machine
/// is known to be able to run live response (see [`Core::require_library_files`]).
fn validate_commands(commands: &[Value]) -> Result<Vec<CommandStatus>, ApiError> {
    if commands.is_empty() {
        return Err(ApiError::invalid_input(
            "Commands []; at least one command (PutFile, RunScript or GetFile) is required",
            "live response: no commands",
        ));
    }
    let bad = |what: String| ApiError::invalid_input(what, "live response command shape");
    let mut out = Vec::with_capacity(commands.len());
    for (i, command) in commands.iter().enumerate() {
        let at = format!("Commands[{i}]");
        let object = command
            .as_object()
            .ok_or_else(|| bad(format!("{at} {command}; expected an object with 'type' and 'params'")))?;
        if let Some(key) = object.keys().find(|k| *k != "type" && *k != "params") {
            return Err(bad(format!(
                "{at}: unknown property '{key}'; a command has 'type' and 'params'"
            )));
        }
        let kind = match object.get("type") {
            None | Some(Value::Null) => return Err(ApiError::missing_parameter(&format!("{at}.type"), None)),
            Some(Value::String(kind)) => kind,
            Some(other) => return Err(bad(format!("{at}.type {other}; expected a string"))),
        };
        let allowed = || COMMAND_TYPES.iter().map(|(t, _)| *t).collect::<Vec<_>>().join(", ");
        let (kind, keys) = COMMAND_TYPES
            .iter()
            .find(|(t, _)| t.eq_ignore_ascii_case(kind))
            .ok_or_else(|| bad(format!("{at}.type '{kind}'; allowed values are: {}", allowed())))?;
        let params = match object.get("params") {
            None | Some(Value::Null) => return Err(ApiError::missing_parameter(&format!("{at}.params"), None)),
            Some(Value::Array(params)) => params,
            Some(other) => return Err(bad(format!("{at}.params {other}; expected an array of {{key, value}}"))),
        };
        let known = || keys.iter().map(|(k, _)| *k).collect::<Vec<_>>().join(", ");
        let mut checked: Vec<CommandParam> = Vec::new();
        for (j, param) in params.iter().enumerate() {
            let (Some(key), Some(value)) = (
                param.get("key").and_then(Value::as_str),
                param.get("value").and_then(Value::as_str),
            ) else {
                return Err(bad(format!(
                    "{at}.params[{j}] {param}; expected {{\"key\": string, \"value\": string}}"
                )));
            };
            if param.as_object().is_some_and(|o| o.len() != 2) {
                return Err(bad(format!(
                    "{at}.params[{j}] {param}; only 'key' and 'value' are allowed"
                )));
            }
            let Some((key, _)) = keys.iter().find(|(k, _)| *k == key) else {
                return Err(bad(format!("{at}.params[{j}].key '{key}'; {kind} takes: {}", known())));
            };
            if checked.iter().any(|p| p.key == *key) {
                return Err(bad(format!("{at}.params[{j}].key '{key}' is given twice")));
            }
            if value.trim().is_empty() && *key != "Args" {
                return Err(bad(format!("{at}.params[{j}] {key} ''; a value is required")));
            }
            checked.push(CommandParam {
                key: key.to_string(),
                value: value.to_string(),
            });
        }
        for (key, required) in keys.iter() {
            if *required && !checked.iter().any(|p| p.key == *key) {
                return Err(ApiError::missing_parameter(key, Some(&format!("in {at} ({kind})"))));
            }
        }
        out.push(CommandStatus {
            index: i as u32,
            start_time: None,
            end_time: None,
            command_status: "Created".into(),
            errors: Vec::new(),
            command: LiveResponseCommand {
                kind: kind.to_string(),
                params: checked,
            },
        });
    }
    Ok(out)
}

/// What a machine's succeeded actions make of it (the admin API shows it).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceState {
    pub machine_id: String,
    /// The scope of the isolation in force, `None` when the machine is not isolated.
    pub isolation: Option<String>,
    pub code_execution_restricted: bool,
    pub offboarded: bool,
    /// Ids of the machine's Pending or InProgress actions.
    pub pending_actions: Vec<String>,
}

impl DeviceState {
    /// The latest succeeded action of each group decides: latest in the order the actions were
    /// requested, not by their timestamps, which go back with the emulator clock (see
    /// [`request_order`]).
    fn derive(machine_id: &str, actions: &[MachineAction]) -> DeviceState {
        let mut succeeded: Vec<&MachineAction> =
            actions.iter().filter(|a| a.status == ActionStatus::Succeeded).collect();
        succeeded.sort_by_key(|a| request_order(a));
        let latest = |kinds: &[ActionType]| succeeded.iter().rev().find(|a| kinds.contains(&a.kind)).copied();
        let isolation = latest(group(ActionType::Isolate))
            .filter(|a| a.kind == ActionType::Isolate)
            .map(|a| a.scope.clone().unwrap_or_else(|| "Full".into()));
        let restricted = latest(group(ActionType::RestrictCodeExecution))
            .is_some_and(|a| a.kind == ActionType::RestrictCodeExecution);
        DeviceState {
            machine_id: machine_id.to_string(),
            isolation,
            code_execution_restricted: restricted,
            offboarded: latest(&[ActionType::Offboard]).is_some(),
            pending_actions: actions
                .iter()
                .filter(|a| !a.status.is_final())
                .map(|a| a.id.clone())
                .collect(),
        }
    }
}

/// Where an action stands in the order actions were requested. Action ids are UUIDv7: their leading
/// bits are the wall-clock millisecond of the request and a counter, monotonic within a process, so
/// their order is the order in which things happened even after `POST /_palisade/clock` moved the
/// emulator's time back (its timestamps then re-live earlier minutes, and nothing un-happens).
/// Actions of a group (isolate/unisolate, ...) cannot run at once, so request order is completion
/// order. Ids of other versions (stores from before this rule, or loaded data) come first, in
/// timestamp order.
fn request_order(action: &MachineAction) -> (bool, String, Timestamp, Timestamp) {
    let v7 = uuid::Uuid::parse_str(&action.id).is_ok_and(|id| id.get_version_num() == 7);
    let key = if v7 {
        action.id.to_ascii_lowercase()
    } else {
        String::new()
    };
    (v7, key, action.last_update_date_time_utc, action.creation_date_time_utc)
}

/// A file behind a download link.
#[derive(Debug, Clone, PartialEq)]
pub struct Download {
    pub content_type: &'static str,
    pub file_name: String,
    pub bytes: Vec<u8>,
}

/// What a download link points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DownloadKind {
    Package,
    Result(u32),
}

impl DownloadKind {
    fn path_part(self) -> String {
        match self {
            DownloadKind::Package => "package".into(),
            DownloadKind::Result(index) => format!("results/{index}"),
        }
    }
}

/// The MAC behind download-link signatures (RFC 2104 HMAC with SHA-256). It replaces SHA-256 over
/// key‖message, which is open to length extension, and a `!=` comparison, which is not constant time.
type LinkMac = Hmac<Sha256>;
/// Bytes of the tag a link carries (hex-encoded, so twice as many characters): 128 bits.
const SIGNATURE_BYTES: usize = 16;

/// The link's `sig`: the tag's first [`SIGNATURE_BYTES`] bytes, in lower-case hex.
fn finalize_signature(mac: LinkMac) -> String {
    mac.finalize().into_bytes()[..SIGNATURE_BYTES]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Whether `signature` is the link's tag, compared in constant time (`Mac::verify_truncated_left`)
/// so response timing tells nothing about how much of a forged signature was right. Only the full
/// 32 hexadecimal characters are accepted; a shorter prefix never is.
fn check_signature(mac: LinkMac, signature: &str) -> bool {
    // Lower-case hex only, as links are issued: the same text as the old `!=` comparison accepted.
    if signature.len() != 2 * SIGNATURE_BYTES || !signature.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return false;
    }
    let tag: Option<Vec<u8>> = (0..SIGNATURE_BYTES)
        .map(|i| u8::from_str_radix(&signature[2 * i..2 * i + 2], 16).ok())
        .collect();
    tag.is_some_and(|tag| mac.verify_truncated_left(&tag).is_ok())
}

fn decode<T: serde::de::DeserializeOwned>(doc: &str) -> Result<T, StoreError> {
    Ok(serde_json::from_str(doc)?)
}

fn encode<T: Serialize>(entity: &T) -> Result<Value, StoreError> {
    Ok(serde_json::to_value(entity)?)
}

impl Core {
    /// Brings the tenant's unfinished actions up to `clock.now()` (see the module doc). The
    /// machines routes may call it too, so a machine's health reflects a finished offboarding.
    pub fn settle_actions(&self, tenant_id: &str) -> DomainResult<()> {
        // Most reads find nothing to settle: look without the lock first, so reads of tenants
        // without open actions never wait on another tenant's writes.
        if self
            .store
            .count_docs(MACHINE_ACTION_TABLE, tenant_id, &open_actions())?
            == 0
        {
            return Ok(());
        }
        let _section = self.tenant_section(tenant_id)?;
        self.settle_locked(tenant_id)
    }

    fn settle_locked(&self, tenant_id: &str) -> DomainResult<()> {
        let open = open_actions();
        let docs = self
            .store
            .query_docs(MACHINE_ACTION_TABLE, tenant_id, &open, 0, u64::MAX)?;
        if docs.is_empty() {
            return Ok(());
        }
        let now = self.clock.now();
        let pace = self.settings.action_pace;
        let mut machines: HashMap<String, Option<Machine>> = HashMap::new();
        let mut changed = Vec::new();
        for doc in docs {
            let mut action: MachineAction = decode(&doc)?;
            if !machines.contains_key(&action.machine_id) {
                let machine = self
                    .store
                    .find_doc(MACHINE_TABLE, tenant_id, "id", &action.machine_id, false)?
                    .map(|doc| decode::<Machine>(&doc))
                    .transpose()?;
                machines.insert(action.machine_id.clone(), machine);
            }
            let health = machines
                .get(&action.machine_id)
                .and_then(|m| m.as_ref())
                .map_or(HealthStatus::Inactive, |m| m.health_status);
            let before = action.clone();
            advance(&mut action, health, now, pace);
            if action == before {
                continue;
            }
            if action.kind == ActionType::Offboard && action.status == ActionStatus::Succeeded {
                if let Some(Some(machine)) = machines.get_mut(&action.machine_id) {
                    machine.health_status = HealthStatus::Inactive;
                    self.store
                        .upsert_docs(MACHINE_TABLE, tenant_id, &[encode(&*machine)?])?;
                }
            }
            changed.push(encode(&action)?);
        }
        if !changed.is_empty() {
            self.store.upsert_docs(MACHINE_ACTION_TABLE, tenant_id, &changed)?;
        }
        Ok(())
    }

    /// Every action of one machine, settled.
    fn actions_of(&self, tenant_id: &str, machine_id: &str) -> DomainResult<Vec<MachineAction>> {
        let query = narrowed(&Query::default(), text_eq(&MACHINE_ACTIONS, "machineId", machine_id));
        self.store
            .query_docs(MACHINE_ACTION_TABLE, tenant_id, &query, 0, u64::MAX)?
            .iter()
            .map(|doc| Ok(decode(doc)?))
            .collect()
    }

    fn find_action(&self, tenant_id: &str, id: &str) -> DomainResult<MachineAction> {
        let doc = self
            .store
            .find_doc(MACHINE_ACTION_TABLE, tenant_id, "id", &id.to_ascii_lowercase(), false)?
            .ok_or_else(|| ApiError::resource_not_found("MachineAction", id))?;
        Ok(decode(&doc)?)
    }

    fn save_action(&self, tenant_id: &str, action: &MachineAction) -> DomainResult<()> {
        Ok(self
            .store
            .upsert_docs(MACHINE_ACTION_TABLE, tenant_id, &[encode(action)?])?)
    }

    /// `GET /api/machineactions` with OData options.
    pub fn list_actions(&self, caller: &Principal, query: &Query, page_size: u32) -> DomainResult<Page> {
        caller.require_any(READ_ROLES)?;
        self.settle_actions(&caller.tenant_id)?;
        self.list_page(MACHINE_ACTION_TABLE, &caller.tenant_id, query, page_size)
    }

    /// `GET /api/machineactions/$count`.
    pub fn count_actions(&self, caller: &Principal, query: &Query) -> DomainResult<u64> {
        caller.require_any(READ_ROLES)?;
        self.settle_actions(&caller.tenant_id)?;
        self.count(MACHINE_ACTION_TABLE, &caller.tenant_id, query)
    }

    /// `GET /api/machineactions/{id}`.
    pub fn get_action(&self, caller: &Principal, id: &str) -> DomainResult<MachineAction> {
        caller.require_any(READ_ROLES)?;
        self.settle_actions(&caller.tenant_id)?;
        self.find_action(&caller.tenant_id, id)
    }

    /// A response-action verb on `machine_ref` (id or computer name). Returns the new action,
    /// `Pending`.
    pub fn request_action(
        &self,
        caller: &Principal,
        machine_ref: &str,
        details: &ActionDetails,
        request: ActionRequest,
    ) -> DomainResult<MachineAction> {
        let kind = request.kind();
        caller.require_any(action_roles(kind))?;
        require_comment(&details.comment)?;
        let valid = validate(request)?;
        let tenant = &caller.tenant_id;
        // Held from the conflict checks to the insert: two concurrent duplicates cannot both pass,
        // whichever processes on the store they reach.
        let _section = self.tenant_section(tenant)?;
        self.settle_locked(tenant)?;
        let machine = self.find_machine(caller, machine_ref)?;
        let actions = self.actions_of(tenant, &machine.id)?;
        let state = DeviceState::derive(&machine.id, &actions);
        refuse_offboarded(&machine, &state, kind.as_str())?;
        if kind == ActionType::LiveResponse {
            self.require_feature(tenant, "liveResponse")?;
        }
        let capability = match kind {
            ActionType::Isolate => isolation_capability(valid.scope.as_deref()),
            // Release mirrors the isolation in force (Full when there is none: refused below anyway).
            ActionType::Unisolate => isolation_capability(state.isolation.as_deref()),
            ActionType::RestrictCodeExecution | ActionType::UnrestrictCodeExecution => Capability::RestrictExecution,
            ActionType::RunAntiVirusScan => Capability::AntivirusScan,
            ActionType::CollectInvestigationPackage => Capability::CollectPackage,
            ActionType::Offboard => Capability::Offboard,
            ActionType::StopAndQuarantineFile => Capability::StopAndQuarantine,
            ActionType::LiveResponse => Capability::LiveResponse,
        };
        support::check(capability, kind.as_str(), &machine)?;
        if kind == ActionType::LiveResponse {
            self.require_library_files(tenant, &valid.commands)?;
        }
        check_conflicts(kind, &machine, &actions, &state)?;
        if kind == ActionType::LiveResponse {
            self.check_live_response_sessions(tenant)?;
        }
        let now = Timestamp(self.clock.now());
        let action = MachineAction {
            // v7: its order is the order of requests (see `request_order`).
            id: uuid::Uuid::now_v7().hyphenated().to_string(),
            kind,
            title: details.title.clone(),
            requestor: caller.app_id.clone(),
            requestor_comment: Some(details.comment.clone()),
            status: ActionStatus::Pending,
            machine_id: machine.id.clone(),
            computer_dns_name: machine.computer_dns_name.clone(),
            creation_date_time_utc: now,
            last_update_date_time_utc: now,
            cancellation_requestor: None,
            cancellation_comment: None,
            cancellation_date_time_utc: None,
            error_h_result: 0,
            scope: valid.scope,
            external_id: details.external_id.clone(),
            request_source: details.request_source.clone().unwrap_or_else(|| "PublicApi".into()),
            related_file_info: valid.related_file_info,
            commands: valid.commands,
            troubleshoot_info: None,
        };
        self.save_action(tenant, &action)?;
        Ok(action)
    }

    /// `POST /api/machineactions/{id}/cancel`: only while the action is Pending or InProgress.
    pub fn cancel_action(&self, caller: &Principal, id: &str, comment: &str) -> DomainResult<MachineAction> {
        caller.require_any(CANCEL_ROLES)?;
        require_comment(comment)?;
        let _section = self.tenant_section(&caller.tenant_id)?;
        self.settle_locked(&caller.tenant_id)?;
        let mut action = self.find_action(&caller.tenant_id, id)?;
        if action.status.is_final() {
            return Err(ApiError::bad_request(
                format!(
                    "MachineAction {} cannot be cancelled: its status is {}; only Pending or InProgress actions can be",
                    action.id, action.status
                ),
                "cancel of a final action",
            )
            .into());
        }
        let now = Timestamp(self.clock.now());
        action.status = ActionStatus::Cancelled;
        action.cancellation_requestor = Some(caller.app_id.clone());
        action.cancellation_comment = Some(comment.to_string());
        action.cancellation_date_time_utc = Some(now);
        action.last_update_date_time_utc = now;
        self.save_action(&caller.tenant_id, &action)?;
        Ok(action)
    }

    /// `GET /api/machineactions/{id}/getPackageUri`: the path (and query) of a download link.
    pub fn package_link(&self, caller: &Principal, id: &str) -> DomainResult<String> {
        caller.require_any(READ_ROLES)?;
        let action = self.get_finished(caller, id, ActionType::CollectInvestigationPackage)?;
        Ok(self.sign_link(&caller.tenant_id, &action.id, DownloadKind::Package))
    }

    /// `GET /api/machineactions/{id}/GetLiveResponseResultDownloadLink(index=N)`; `index` is the
    /// text between `index=` and `)` as sent.
    pub fn live_response_result_link(&self, caller: &Principal, id: &str, index: &str) -> DomainResult<String> {
        caller.require_any(READ_ROLES)?;
        let parsed: u32 = index.trim().parse().map_err(|_| {
            ApiError::invalid_input(
                format!("index '{index}'; expected a command index (0, 1, ...)"),
                "live response result index",
            )
        })?;
        let action = self.get_finished(caller, id, ActionType::LiveResponse)?;
        let command = action.commands.iter().find(|c| c.index == parsed).ok_or_else(|| {
            ApiError::invalid_input(
                format!(
                    "index {parsed}; MachineAction {} has {} command(s), indexes 0 to {}",
                    action.id,
                    action.commands.len(),
                    action.commands.len().saturating_sub(1)
                ),
                "live response result index range",
            )
        })?;
        if command.command.kind == "PutFile" {
            return Err(ApiError::invalid_input(
                format!(
                    "index {parsed}; command {parsed} of MachineAction {} is PutFile, which has no result",
                    action.id
                ),
                "live response result of PutFile",
            )
            .into());
        }
        Ok(self.sign_link(&caller.tenant_id, &action.id, DownloadKind::Result(parsed)))
    }

    /// The action, which must be a Succeeded action of `kind`; otherwise `ResourceNotFound` saying why.
    fn get_finished(&self, caller: &Principal, id: &str, kind: ActionType) -> DomainResult<MachineAction> {
        let action = self.get_action_unchecked(caller, id)?;
        let why = if action.kind != kind {
            format!("it is a {} action, not {kind}", action.kind)
        } else if action.status != ActionStatus::Succeeded {
            format!("its status is {}; results exist once it has Succeeded", action.status)
        } else {
            return Ok(action);
        };
        Err(ApiError::new(
            ErrorCode::ResourceNotFound,
            format!("The result of MachineAction {} was not found: {why}", action.id),
            format!("{kind} result lookup"),
        )
        .into())
    }

    fn get_action_unchecked(&self, caller: &Principal, id: &str) -> DomainResult<MachineAction> {
        self.settle_actions(&caller.tenant_id)?;
        self.find_action(&caller.tenant_id, id)
    }

    /// HMAC-SHA256 of the link's parts, keyed with the emulator's signing key, ready for
    /// [`finalize_signature`] or [`check_signature`].
    fn link_mac(&self, tenant_id: &str, action_id: &str, what: DownloadKind, expires: i64) -> LinkMac {
        let mut mac =
            LinkMac::new_from_slice(self.signing_key.private_pem().as_bytes()).expect("HMAC takes a key of any length");
        mac.update(format!("{tenant_id}|{action_id}|{}|{expires}", what.path_part()).as_bytes());
        mac
    }

    fn link_signature(&self, tenant_id: &str, action_id: &str, what: DownloadKind, expires: i64) -> String {
        finalize_signature(self.link_mac(tenant_id, action_id, what, expires))
    }

    /// `/_palisade/downloads/{tenant}/{action}/{package|results/N}?se=<unix expiry>&sig=<signature>`:
    /// signed like a SAS URI so it needs no token, and valid for [`LINK_LIFETIME`].
    fn sign_link(&self, tenant_id: &str, action_id: &str, what: DownloadKind) -> String {
        let expires = (self.clock.now() + LINK_LIFETIME).timestamp();
        format!(
            "/_palisade/downloads/{tenant_id}/{action_id}/{}?se={expires}&sig={}",
            what.path_part(),
            self.link_signature(tenant_id, action_id, what, expires)
        )
    }

    /// Serves a download link: `ResourceNotFound` when the signature is wrong or the link expired
    /// (on the emulator clock).
    pub fn download(
        &self,
        tenant_id: &str,
        action_id: &str,
        what: DownloadKind,
        expires: &str,
        signature: &str,
    ) -> DomainResult<Download> {
        let not_found = |why: String| ApiError::new(ErrorCode::ResourceNotFound, why, "download link check");
        let expiry: i64 = expires
            .parse()
            .map_err(|_| not_found(format!("Download link is not valid: se '{expires}' is not a Unix time")))?;
        if !check_signature(self.link_mac(tenant_id, action_id, what, expiry), signature) {
            return Err(not_found(format!(
                "Download link for MachineAction {action_id} is not valid: its signature does not match"
            ))
            .into());
        }
        let now = self.clock.now();
        if now.timestamp() > expiry {
            let at = DateTime::<Utc>::from_timestamp(expiry, 0).unwrap_or(now);
            return Err(not_found(format!(
                "Download link for MachineAction {action_id} expired at {}; request a new one",
                format_api_time(&at)
            ))
            .into());
        }
        let action = self.find_action(tenant_id, action_id)?;
        Ok(match what {
            DownloadKind::Package => Download {
                content_type: "application/zip",
                file_name: format!("{}.zip", action.id),
                bytes: package::investigation_package(&action),
            },
            DownloadKind::Result(index) => {
                let command =
                    action.commands.iter().find(|c| c.index == index).ok_or_else(|| {
                        not_found(format!("Command {index} of MachineAction {action_id} was not found"))
                    })?;
                live_response_result(&action, command)
            }
        })
    }

    /// The admin view of a machine's derived state.
    pub fn device_state(&self, tenant_id: &str, machine_ref: &str) -> DomainResult<DeviceState> {
        self.features(tenant_id)?; // ResourceNotFound for an unknown tenant
        let admin = Principal {
            tenant_id: tenant_id.to_string(),
            app_id: "palisade-admin".into(),
            roles: Vec::new(),
            api: palisade_auth::Api::Defender,
        };
        let _section = self.tenant_section(tenant_id)?;
        self.settle_locked(tenant_id)?;
        let machine = self.find_machine(&admin, machine_ref)?;
        let actions = self.actions_of(tenant_id, &machine.id)?;
        Ok(DeviceState::derive(&machine.id, &actions))
    }

    /// `POST /api/machines/{id}/startInvestigation`: a Running automated investigation.
    pub fn start_investigation(&self, caller: &Principal, machine_ref: &str) -> DomainResult<Investigation> {
        caller.require_any(INVESTIGATE_ROLES)?;
        let tenant = &caller.tenant_id;
        let _section = self.tenant_section(tenant)?;
        self.settle_locked(tenant)?;
        let machine = self.find_machine(caller, machine_ref)?;
        let actions = self.actions_of(tenant, &machine.id)?;
        refuse_offboarded(
            &machine,
            &DeviceState::derive(&machine.id, &actions),
            "startInvestigation",
        )?;
        self.require_feature(tenant, "automatedInvestigation")?;
        support::check(Capability::StartInvestigation, "startInvestigation", &machine)?;
        let highest = self
            .store
            .query_docs(INVESTIGATION_TABLE, tenant, &Query::default(), 0, u64::MAX)?
            .iter()
            .map(|doc| decode::<Value>(doc))
            .collect::<Result<Vec<_>, _>>()?
            .iter()
            .filter_map(|inv| inv["id"].as_str().and_then(|id| id.parse::<u64>().ok()))
            .max();
        let investigation = Investigation {
            id: highest.map_or(FIRST_INVESTIGATION_ID, |h| h + 1).to_string(),
            start_time: Timestamp(self.clock.now()),
            end_time: None,
            cancelled_by: None,
            state: InvestigationState::Running,
            status_details: None,
            machine_id: machine.id.clone(),
            computer_dns_name: machine.computer_dns_name.clone(),
            triggering_alert_id: None,
        };
        self.store
            .upsert_docs(INVESTIGATION_TABLE, tenant, &[encode(&investigation)?])?;
        Ok(investigation)
    }
}

fn isolation_capability(scope: Option<&str>) -> Capability {
    match scope.and_then(IsolationType::parse) {
        Some(IsolationType::Selective) => Capability::IsolateSelective,
        Some(IsolationType::UnManagedDevice) => Capability::IsolateUnmanaged,
        _ => Capability::IsolateFull,
    }
}

fn refuse_offboarded(machine: &Machine, state: &DeviceState, action: &str) -> Result<(), ApiError> {
    if !state.offboarded {
        return Ok(());
    }
    Err(ApiError::new(
        ErrorCode::DisallowedOperation,
        format!(
            "{action} is not allowed: machine {} ({}) has been offboarded",
            machine.id, machine.computer_dns_name
        ),
        "action on an offboarded machine",
    ))
}

/// A pending action of the same group, then the derived state (already isolated, not isolated...).
fn check_conflicts(
    kind: ActionType,
    machine: &Machine,
    actions: &[MachineAction],
    state: &DeviceState,
) -> Result<(), ApiError> {
    if let Some(pending) = actions
        .iter()
        .find(|a| !a.status.is_final() && group(kind).contains(&a.kind))
    {
        let what = format!(
            "MachineAction {} ({}) on machine {} is {}",
            pending.id, pending.kind, machine.id, pending.status
        );
        return Err(match kind {
            ActionType::Isolate | ActionType::LiveResponse => ApiError::new(
                ErrorCode::ActiveRequestAlreadyExists,
                format!("{kind} is already in progress: {what}"),
                "pending action of the same kind",
            ),
            _ => ApiError::bad_request(
                format!("Action is already in progress: {what}"),
                "pending action of the same kind",
            ),
        });
    }
    let refuse = |why: String| Err(ApiError::bad_request(why, "machine state conflict"));
    match kind {
        ActionType::Isolate if state.isolation.is_some() => refuse(format!(
            "Machine {} is already isolated ({})",
            machine.id,
            state.isolation.as_deref().unwrap_or("Full")
        )),
        ActionType::Unisolate if state.isolation.is_none() => refuse(format!("Machine {} is not isolated", machine.id)),
        ActionType::RestrictCodeExecution if state.code_execution_restricted => refuse(format!(
            "Machine {} is already restricted from running code",
            machine.id
        )),
        ActionType::UnrestrictCodeExecution if !state.code_execution_restricted => {
            refuse(format!("Machine {} is not restricted from running code", machine.id))
        }
        _ => Ok(()),
    }
}

/// Where an unfinished action should be at `now` (see the module doc). Never moves backwards.
fn advance(action: &mut MachineAction, health: HealthStatus, now: DateTime<Utc>, pace: crate::ActionPace) {
    let rank = |s: ActionStatus| match s {
        ActionStatus::Pending => 0,
        ActionStatus::InProgress => 1,
        _ => 2,
    };
    let created = action.creation_date_time_utc.0;
    let picked = created + pace.pickup;
    let done = picked + pace.run;
    let offline = matches!(
        health,
        HealthStatus::Inactive | HealthStatus::NoSensorData | HealthStatus::NoSensorDataImpairedCommunication
    );
    let (status, at) = if offline {
        let timeout = created + pace.offline_timeout;
        if now >= timeout {
            (ActionStatus::TimeOut, timeout)
        } else {
            (ActionStatus::Pending, created)
        }
    } else if now >= done {
        match health {
            HealthStatus::ImpairedCommunication => (ActionStatus::Failed, done),
            _ => (ActionStatus::Succeeded, done),
        }
    } else if now >= picked {
        (ActionStatus::InProgress, picked)
    } else {
        (ActionStatus::Pending, created)
    };
    if rank(status) > rank(action.status) {
        action.status = status;
        action.last_update_date_time_utc = Timestamp(at);
        if status == ActionStatus::Failed {
            action.error_h_result = FAILED_HRESULT;
        }
    }
    if matches!(
        action.status,
        ActionStatus::InProgress | ActionStatus::Succeeded | ActionStatus::Failed
    ) {
        progress_commands(action, picked, pace.run, now.min(done));
    }
}

/// Live-response commands run one after another, sharing the run time equally.
fn progress_commands(action: &mut MachineAction, picked: DateTime<Utc>, run: TimeDelta, now: DateTime<Utc>) {
    let n = action.commands.len() as i32;
    if n == 0 {
        return;
    }
    let slice = run / n;
    let failed = action.status == ActionStatus::Failed;
    for (i, command) in action.commands.iter_mut().enumerate() {
        let start = picked + slice * i as i32;
        let end = if i as i32 == n - 1 { picked + run } else { start + slice };
        if now < start {
            continue;
        }
        command.start_time = Some(Timestamp(start));
        if failed {
            command.end_time = Some(Timestamp(end));
            command.command_status = "Failed".into();
            command.errors = vec!["The device did not respond (ImpairedCommunication)".into()];
        } else if now >= end {
            command.end_time = Some(Timestamp(end));
            command.command_status = "Completed".into();
        }
    }
}

fn live_response_result(action: &MachineAction, command: &CommandStatus) -> Download {
    let param = |key: &str| {
        command
            .command
            .params
            .iter()
            .find(|p| p.key == key)
            .map(|p| p.value.clone())
            .unwrap_or_default()
    };
    if command.command.kind == "RunScript" {
        let script = param("ScriptName");
        let body = serde_json::json!({
            "script_name": script,
            "exit_code": 0,
            "script_output": format!(
                "Palisade ran {script} {} on {}\n",
                param("Args"),
                action.computer_dns_name
            ),
            "script_errors": "",
        });
        Download {
            content_type: "application/json",
            file_name: format!("{script}.json"),
            bytes: body.to_string().into_bytes(),
        }
    } else {
        let path = param("Path");
        let name = path.rsplit(['\\', '/']).next().unwrap_or("file").to_string();
        Download {
            content_type: "application/octet-stream",
            file_name: if name.is_empty() { "file".into() } else { name },
            bytes: format!(
                "Emulated content of {path} collected from {} by MachineAction {}\n",
                action.computer_dns_name, action.id
            )
            .into_bytes(),
        }
    }
}

/// A minimal investigation package: a ZIP archive of stored (uncompressed) text files, written
/// with the `zip` crate (no compression features) and dated 1980-01-01 00:00 so the bytes are
/// deterministic.
mod package {
    use palisade_model::entities::MachineAction;
    use std::io::{Cursor, Write};
    use zip::write::SimpleFileOptions;
    use zip::{CompressionMethod, DateTime, ZipWriter};

    pub fn investigation_package(action: &MachineAction) -> Vec<u8> {
        let summary = format!(
            "Investigation package collected by Palisade\r\nMachine: {} ({})\r\nMachineAction: {}\r\nRequested by: {}\r\n",
            action.computer_dns_name, action.machine_id, action.id, action.requestor
        );
        zip(&[
            ("Summary.txt", summary.as_bytes()),
            (
                "Processes/processes.csv",
                b"ProcessName,ProcessId,CommandLine\r\nexplorer.exe,4120,C:\\Windows\\explorer.exe\r\n",
            ),
            (
                "Network connections/ActiveNetConnections.txt",
                b"Proto  Local Address          Foreign Address        State\r\n",
            ),
        ])
    }

    /// The files, stored, in order.
    pub fn zip(files: &[(&str, &[u8])]) -> Vec<u8> {
        let options = SimpleFileOptions::default()
            .compression_method(CompressionMethod::Stored)
            .last_modified_time(DateTime::default());
        let mut writer = ZipWriter::new(Cursor::new(Vec::new()));
        for (name, data) in files {
            // Writing to memory cannot fail, and the names and sizes are ours and small.
            writer.start_file(*name, options).expect("a ZIP entry in memory");
            writer.write_all(data).expect("writing to memory");
        }
        writer.finish().expect("a ZIP archive in memory").into_inner()
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use std::io::Read;

        #[test]
        fn archives_open_with_their_files_in_order() {
            let bytes = zip(&[("a.txt", b"hello"), ("dir/b.csv", b"x,y\r\n")]);
            assert_eq!(&bytes[..4], b"PK\x03\x04");
            let mut archive = zip::ZipArchive::new(Cursor::new(&bytes)).unwrap();
            assert_eq!(archive.len(), 2);
            let mut first = archive.by_index(0).unwrap();
            assert_eq!(first.name(), "a.txt");
            assert_eq!(first.compression(), CompressionMethod::Stored);
            let mut text = String::new();
            first.read_to_string(&mut text).unwrap(); // checks the CRC too
            assert_eq!(text, "hello");
            drop(first);
            assert_eq!(archive.by_index(1).unwrap().name(), "dir/b.csv");
        }

        #[test]
        fn archives_are_deterministic() {
            let files: &[(&str, &[u8])] = &[("a.txt", b"hello")];
            assert_eq!(zip(files), zip(files));
            let mut archive = zip::ZipArchive::new(Cursor::new(zip(files))).unwrap();
            let modified = archive.by_index(0).unwrap().last_modified().unwrap();
            assert_eq!((modified.year(), modified.month(), modified.day()), (1980, 1, 1));
        }
    }
}

/// The query for actions that may still move: Pending or InProgress.
fn open_actions() -> Query {
    narrowed(
        &Query::default(),
        text_in(
            &MACHINE_ACTIONS,
            "status",
            vec![ActionStatus::Pending.to_string(), ActionStatus::InProgress.to_string()],
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_validated_with_their_index() {
        let ok = validate_commands(&[
            serde_json::json!({"type": "PutFile", "params": [{"key": "FileName", "value": "a.ps1"}]}),
            serde_json::json!({"type": "RunScript", "params": [{"key": "ScriptName", "value": "a.ps1"}, {"key": "Args", "value": "-x"}]}),
            serde_json::json!({"type": "GetFile", "params": [{"key": "Path", "value": "C:\\a.txt"}]}),
        ])
        .unwrap();
        assert_eq!(ok.len(), 3);
        assert_eq!(ok[2].index, 2);
        let err = |v: Value| validate_commands(&[v]).unwrap_err();
        let e = err(serde_json::json!({"type": "Reboot", "params": []}));
        assert_eq!(e.code, ErrorCode::InvalidInput);
        assert!(e.message.contains("Commands[0].type 'Reboot'"), "{}", e.message);
        let e = err(serde_json::json!({"type": "RunScript", "params": []}));
        assert_eq!(e.code, ErrorCode::MissingRequiredParameter);
        assert!(
            e.message.contains("ScriptName") && e.message.contains("Commands[0]"),
            "{}",
            e.message
        );
        assert_eq!(
            err(serde_json::json!({"params": []})).code,
            ErrorCode::MissingRequiredParameter
        );
        assert_eq!(err(serde_json::json!("RunScript")).code, ErrorCode::InvalidInput);
        assert_eq!(
            err(serde_json::json!({"type": "GetFile", "params": [{"key": "Path"}]})).code,
            ErrorCode::InvalidInput
        );
        assert_eq!(
            err(serde_json::json!({"type": "GetFile", "params": [{"key": "File", "value": "x"}]})).code,
            ErrorCode::InvalidInput
        );
        assert_eq!(validate_commands(&[]).unwrap_err().code, ErrorCode::InvalidInput);
    }

    #[test]
    fn link_signatures_verify_only_in_full_and_as_issued() {
        let mac = || {
            let mut mac = LinkMac::new_from_slice(b"key").unwrap();
            mac.update(b"t|a|package|1700000000");
            mac
        };
        let signature = finalize_signature(mac());
        assert_eq!(signature.len(), 32);
        assert!(check_signature(mac(), &signature));
        let flipped = format!(
            "{}{}",
            if signature.starts_with('0') { '1' } else { '0' },
            &signature[1..]
        );
        assert!(!check_signature(mac(), &flipped));
        assert!(!check_signature(mac(), &signature[..30]), "a prefix");
        assert!(!check_signature(mac(), &signature.to_uppercase()) || !signature.contains(char::is_alphabetic));
        assert!(!check_signature(mac(), ""));
        let mut other = LinkMac::new_from_slice(b"another key").unwrap();
        other.update(b"t|a|package|1700000000");
        assert!(!check_signature(other, &signature));
    }

    #[test]
    fn sha1_must_be_forty_hex_characters() {
        let sq = |s: &str| validate(ActionRequest::StopAndQuarantineFile { sha1: s.into() });
        assert!(sq(&"aB".repeat(20)).is_ok());
        assert_eq!(sq("abc").err().unwrap().code, ErrorCode::InvalidHashValue);
        assert_eq!(sq(&"g".repeat(40)).err().unwrap().code, ErrorCode::InvalidHashValue);
        assert_eq!(sq(&"é".repeat(20)).err().unwrap().code, ErrorCode::InvalidHashValue);
    }
}
