//! Machines (`shared/reference/mde-api.md` §2): read operations and the simple updates.

use crate::listing::{narrowed, text_eq, text_in, Page};
use crate::{Core, DomainResult};
use chrono::{DateTime, TimeDelta, Utc};
use palisade_auth::Principal;
use palisade_error::ApiError;
use palisade_model::entities::{DeviceValue, HealthStatus, Machine};
use palisade_model::schemas::{MACHINES, MACHINE_TABLE, USERS, USER_TABLE};
use palisade_odata::{CmpOp, Expr, LambdaKind, Literal, Operand, Query, StrFunc};
use palisade_store::StoreError;
use std::net::IpAddr;

const READ_ROLES: &[&str] = &["Machine.Read.All", "Machine.ReadWrite.All"];
const WRITE_ROLES: &[&str] = &["Machine.ReadWrite.All"];
const LOGON_USER_ROLES: &[&str] = &["User.Read.All"];
/// Most machines one `AddOrRemoveTagForMultipleMachines` call may name.
pub const MAX_TAGGED_MACHINES: usize = 500;
/// How far back `findbyip` may look (its page: "within the past 30 days").
pub const FIND_BY_IP_LOOKBACK_DAYS: i64 = 30;

/// The two ways to find machines by IP: the current `findbyip` (±15 minutes around the timestamp)
/// and the legacy `find` (±16 minutes, 404 when nothing matches).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FindByIp {
    Current,
    Legacy,
}

impl FindByIp {
    fn window(self) -> TimeDelta {
        match self {
            FindByIp::Current => TimeDelta::minutes(15),
            FindByIp::Legacy => TimeDelta::minutes(16),
        }
    }
}

/// `Add` (true) or `Remove` (false), the `Action` of the tag endpoints.
fn parse_tag_action(action: &str) -> Result<bool, ApiError> {
    match action {
        a if a.eq_ignore_ascii_case("Add") => Ok(true),
        a if a.eq_ignore_ascii_case("Remove") => Ok(false),
        other => Err(ApiError::invalid_input(
            format!("Action '{other}'; allowed values are: Add, Remove"),
            "tag action enum",
        )),
    }
}

fn apply_tag(machine: &mut Machine, value: &str, add: bool) {
    if add {
        if !machine.machine_tags.iter().any(|t| t == value) {
            machine.machine_tags.push(value.to_string());
        }
    } else {
        machine.machine_tags.retain(|t| t != value);
    }
}
/// Longest tag accepted; the portal documents 200 characters for registry-set tags.
pub const MAX_TAG_LENGTH: usize = 200;

impl Core {
    /// `GET /api/machines` with OData options. The List machines page documents a 404 when the
    /// tenant has no machines at all; a filter that matches nothing is an empty page.
    pub fn list_machines(&self, caller: &Principal, query: &Query, page_size: u32) -> DomainResult<Page> {
        caller.require_any(READ_ROLES)?;
        // Offboarding changes a machine's health when it completes on the emulator clock.
        self.settle_actions(&caller.tenant_id)?;
        let page = self.list_page(MACHINE_TABLE, &caller.tenant_id, query, page_size)?;
        if page.docs.is_empty() && query.filter.is_none() && query.skip == 0 && query.top != Some(0) {
            return Err(ApiError::new(
                palisade_error::ErrorCode::NotFound,
                "No recent machines were found in this tenant",
                "list machines on an empty tenant (documented 404)",
            )
            .into());
        }
        Ok(page)
    }

    /// `GET /api/machines/$count`.
    pub fn count_machines(&self, caller: &Principal, query: &Query) -> DomainResult<u64> {
        caller.require_any(READ_ROLES)?;
        // Offboarding changes a machine's health when it completes on the emulator clock.
        self.settle_actions(&caller.tenant_id)?;
        self.count(MACHINE_TABLE, &caller.tenant_id, query)
    }

    /// `GET /api/machines/{id}`: by id or computer name.
    pub fn get_machine(&self, caller: &Principal, id: &str) -> DomainResult<Machine> {
        caller.require_any(READ_ROLES)?;
        // Offboarding changes a machine's health when it completes on the emulator clock.
        self.settle_actions(&caller.tenant_id)?;
        self.find_machine(caller, id)
    }

    /// By machine id, or by computer DNS name (case-insensitive), as the Get machine page allows.
    pub(crate) fn find_machine(&self, caller: &Principal, id: &str) -> DomainResult<Machine> {
        let tenant = &caller.tenant_id;
        let doc = match self
            .store
            .find_doc(MACHINE_TABLE, tenant, "id", &id.to_ascii_lowercase(), false)?
        {
            Some(doc) => Some(doc),
            None => self
                .store
                .find_doc(MACHINE_TABLE, tenant, "computer_dns_name", id, true)?,
        };
        let doc = doc.ok_or_else(|| ApiError::resource_not_found("Machine", id))?;
        Ok(serde_json::from_str(&doc).map_err(StoreError::from)?)
    }

    pub(crate) fn save_machine(&self, caller: &Principal, machine: &Machine) -> DomainResult<()> {
        let doc = serde_json::to_value(machine).map_err(StoreError::from)?;
        self.store.upsert_docs(MACHINE_TABLE, &caller.tenant_id, &[doc])?;
        // A changed machine reports a new DeviceInfo snapshot (advanced hunting).
        self.record_hunting_entities(&caller.tenant_id, std::slice::from_ref(machine), &[], self.clock.now())
    }

    /// `POST /api/machines/{id}/tags` with `Value` and `Action` (`Add` | `Remove`).
    pub fn tag_machine(&self, caller: &Principal, id: &str, value: &str, action: &str) -> DomainResult<Machine> {
        caller.require_any(WRITE_ROLES)?;
        let add = parse_tag_action(action)?;
        validate_tag(value)?;
        let mut machine = self.find_machine(caller, id)?;
        apply_tag(&mut machine, value, add);
        self.save_machine(caller, &machine)?;
        Ok(machine)
    }

    /// `POST /api/machines/AddOrRemoveTagForMultipleMachines`: one tag on up to 500 machines. All
    /// or nothing: an unknown machine id fails the call before any machine changes.
    pub fn tag_machines(
        &self,
        caller: &Principal,
        ids: &[String],
        value: &str,
        action: &str,
    ) -> DomainResult<Vec<Machine>> {
        caller.require_any(WRITE_ROLES)?;
        let add = parse_tag_action(action)?;
        validate_tag(value)?;
        if ids.is_empty() {
            return Err(
                ApiError::invalid_input("MachineIds []; name at least one machine", "empty machine list").into(),
            );
        }
        if ids.len() > MAX_TAGGED_MACHINES {
            return Err(ApiError::batch_too_large(ids.len(), MAX_TAGGED_MACHINES).into());
        }
        let mut machines = Vec::with_capacity(ids.len());
        for id in ids {
            let mut machine = self.find_machine(caller, id)?;
            apply_tag(&mut machine, value, add);
            if !machines.iter().any(|m: &Machine| m.id == machine.id) {
                machines.push(machine);
            }
        }
        let docs = crate::to_docs(&machines)?;
        self.store.upsert_docs(MACHINE_TABLE, &caller.tenant_id, &docs)?;
        self.record_hunting_entities(&caller.tenant_id, &machines, &[], self.clock.now())?;
        Ok(machines)
    }

    /// `PATCH /api/machines/{id}`: `machineTags` replaces the whole tag set (the page contradicts
    /// itself between "appends" and "replaces"; replacing is the reading that lets a client remove
    /// tags), `deviceValue` sets the value. Omitted properties keep their values.
    pub fn update_machine(
        &self,
        caller: &Principal,
        id: &str,
        tags: Option<Vec<String>>,
        device_value: Option<&str>,
    ) -> DomainResult<Machine> {
        caller.require_any(WRITE_ROLES)?;
        // `null` is absent under the body policy, so `{"deviceValue":null}` names nothing to change.
        // Answering 200 with the machine unchanged would let a client believe it cleared the value:
        // refused loudly instead (the page does not say what null does).
        if tags.is_none() && device_value.is_none() {
            return Err(ApiError::invalid_request_body(
                "the body sets neither machineTags nor deviceValue (null counts as absent); nothing to update",
                "empty machine update",
            )
            .into());
        }
        let device_value = device_value
            .map(|v| DeviceValue::parse_input("deviceValue", v))
            .transpose()?;
        if let Some(tags) = &tags {
            for tag in tags {
                validate_tag(tag)?;
            }
        }
        let mut machine = self.find_machine(caller, id)?;
        if let Some(tags) = tags {
            let mut unique: Vec<String> = Vec::with_capacity(tags.len());
            for tag in tags {
                if !unique.contains(&tag) {
                    unique.push(tag);
                }
            }
            machine.machine_tags = unique;
        }
        if let Some(value) = device_value {
            machine.device_value = Some(value);
        }
        self.save_machine(caller, &machine)?;
        Ok(machine)
    }

    /// `GET /api/machines/findbytag?tag=...&useStartsWithFilter=...`, under the client's OData options.
    pub fn find_machines_by_tag(
        &self,
        caller: &Principal,
        query: &Query,
        tag: &str,
        starts_with: bool,
        page_size: u32,
    ) -> DomainResult<Page> {
        caller.require_any(READ_ROLES)?;
        let tags = MACHINES
            .property("machineTags")
            .ok_or_else(|| ApiError::internal("Machine schema lacks machineTags"))?;
        let body = if starts_with {
            Expr::StrFn {
                func: StrFunc::StartsWith,
                arg: Operand::LambdaVar,
                pattern: tag.to_string(),
            }
        } else {
            Expr::Compare {
                left: Operand::LambdaVar,
                op: CmpOp::Eq,
                right: Literal::Text(tag.to_string()),
            }
        };
        let lambda = Expr::Lambda {
            collection: tags,
            kind: LambdaKind::Any,
            var: "t".into(),
            body: Some(Box::new(body)),
        };
        self.list_page(MACHINE_TABLE, &caller.tenant_id, &narrowed(query, lambda), page_size)
    }

    /// `findbyip(ip=...,timestamp=...)` and the legacy `find(timestamp=...,key=...)`: machines that
    /// had `ip` within the window around `timestamp`. The emulator keeps no address history, so a
    /// machine "had" its current addresses from its first report until its last one (until now
    /// while it is Active).
    pub fn find_machines_by_ip(
        &self,
        caller: &Principal,
        ip: &str,
        timestamp_text: &str,
        form: FindByIp,
    ) -> DomainResult<Vec<Machine>> {
        caller.require_any(READ_ROLES)?;
        // Devices report internal addresses, so any well-formed address may be looked up.
        let parsed: IpAddr = crate::mde::validate::ip_address(ip)?;
        let timestamp = palisade_odata::parse_datetime(timestamp_text)
            .ok()
            .and_then(DateTime::<Utc>::from_timestamp_micros)
            .ok_or_else(|| {
                ApiError::invalid_input(
                    format!(
                        "timestamp '{timestamp_text}'; expected an ISO-8601 date-time such as 2024-01-31T08:00:00Z"
                    ),
                    "findbyip timestamp",
                )
            })?;
        let now = self.clock.now();
        if timestamp < now - TimeDelta::days(FIND_BY_IP_LOOKBACK_DAYS) || timestamp > now + form.window() {
            return Err(ApiError::bad_request(
                format!("The timestamp {timestamp_text} must be within the past {FIND_BY_IP_LOOKBACK_DAYS} days"),
                "findbyip timestamp window",
            )
            .into());
        }
        let query = narrowed(
            &Query::default(),
            text_eq(&MACHINES, "lastIpAddress", &parsed.to_string()),
        );
        let page = self.list_page(
            MACHINE_TABLE,
            &caller.tenant_id,
            &query,
            palisade_model::schemas::MDE_MAX_PAGE,
        )?;
        let mut found = Vec::new();
        for doc in page.docs {
            let machine: Machine = serde_json::from_str(&doc).map_err(StoreError::from)?;
            let last = if machine.health_status == HealthStatus::Active {
                now
            } else {
                machine.last_seen.0
            };
            if timestamp >= machine.first_seen.0 - form.window() && timestamp <= last + form.window() {
                found.push(machine);
            }
        }
        if found.is_empty() && form == FindByIp::Legacy {
            return Err(ApiError::not_found(format!("No machine had IP address {ip} around {timestamp_text}")).into());
        }
        Ok(found)
    }

    /// `GET /api/machines/{id}/logonusers`: the accounts that logged on to the machine.
    pub fn logon_users(&self, caller: &Principal, id: &str, query: &Query, page_size: u32) -> DomainResult<Page> {
        caller.require_any(LOGON_USER_ROLES)?;
        let machine = self.find_machine(caller, id)?;
        let user_ids = self.store.linked(
            &caller.tenant_id,
            palisade_model::links::MACHINE_USERS,
            &machine.id,
            u64::from(page_size),
        )?;
        if user_ids.is_empty() {
            return Ok(Page::empty(query));
        }
        let query = narrowed(query, text_in(&USERS, "id", user_ids));
        self.list_page(USER_TABLE, &caller.tenant_id, &query, page_size)
    }

    /// `POST /api/machines/{id}/setDeviceValue` with `DeviceValue` (`Normal` | `Low` | `High`).
    pub fn set_device_value(&self, caller: &Principal, id: &str, value: &str) -> DomainResult<Machine> {
        caller.require_any(WRITE_ROLES)?;
        let parsed = DeviceValue::parse(value).ok_or_else(|| {
            ApiError::invalid_input(
                format!(
                    "DeviceValue '{value}'; allowed values are: {}",
                    DeviceValue::VALUES.join(", ")
                ),
                "device value enum",
            )
        })?;
        let mut machine = self.find_machine(caller, id)?;
        machine.device_value = Some(parsed);
        self.save_machine(caller, &machine)?;
        Ok(machine)
    }
}

fn validate_tag(value: &str) -> Result<(), ApiError> {
    if value.trim().is_empty() {
        return Err(ApiError::invalid_input(
            "Value ''; a tag must not be empty",
            "tag value",
        ));
    }
    if value.chars().count() > MAX_TAG_LENGTH {
        return Err(ApiError::invalid_input(
            format!("Value '{value}'; a tag is at most {MAX_TAG_LENGTH} characters"),
            "tag length",
        ));
    }
    Ok(())
}
