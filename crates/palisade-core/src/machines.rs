//! Machines (`shared/reference/mde-api.md` §2): read operations and the simple updates.

use crate::entities::{DeviceValue, Machine};
use crate::listing::Page;
use crate::schemas::MACHINE_TABLE;
use crate::store::StoreError;
use crate::{Core, CoreResult};
use palisade_auth::Principal;
use palisade_error::ApiError;
use palisade_odata::Query;

const READ_ROLES: &[&str] = &["Machine.Read.All", "Machine.ReadWrite.All"];
const WRITE_ROLES: &[&str] = &["Machine.ReadWrite.All"];
/// Longest tag accepted; the portal documents 200 characters for registry-set tags.
pub const MAX_TAG_LENGTH: usize = 200;

impl Core {
    /// `GET /api/machines` with OData options. The List machines page documents a 404 when the
    /// tenant has no machines at all; a filter that matches nothing is an empty page.
    pub fn list_machines(&self, caller: &Principal, query: &Query, page_size: u32) -> CoreResult<Page> {
        caller.require_any(READ_ROLES)?;
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
    pub fn count_machines(&self, caller: &Principal, query: &Query) -> CoreResult<u64> {
        caller.require_any(READ_ROLES)?;
        self.count(MACHINE_TABLE, &caller.tenant_id, query)
    }

    /// `GET /api/machines/{id}`: by id or computer name.
    pub fn get_machine(&self, caller: &Principal, id: &str) -> CoreResult<Machine> {
        caller.require_any(READ_ROLES)?;
        self.find_machine(caller, id)
    }

    /// By machine id, or by computer DNS name (case-insensitive), as the Get machine page allows.
    pub(crate) fn find_machine(&self, caller: &Principal, id: &str) -> CoreResult<Machine> {
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

    pub(crate) fn save_machine(&self, caller: &Principal, machine: &Machine) -> CoreResult<()> {
        let doc = serde_json::to_value(machine).map_err(StoreError::from)?;
        Ok(self.store.upsert_docs(MACHINE_TABLE, &caller.tenant_id, &[doc])?)
    }

    /// `POST /api/machines/{id}/tags` with `Value` and `Action` (`Add` | `Remove`).
    pub fn tag_machine(&self, caller: &Principal, id: &str, value: &str, action: &str) -> CoreResult<Machine> {
        caller.require_any(WRITE_ROLES)?;
        let add = match action {
            a if a.eq_ignore_ascii_case("Add") => true,
            a if a.eq_ignore_ascii_case("Remove") => false,
            other => {
                return Err(ApiError::invalid_input(
                    format!("Action '{other}'; allowed values are: Add, Remove"),
                    "tag action enum",
                )
                .into())
            }
        };
        validate_tag(value)?;
        let mut machine = self.find_machine(caller, id)?;
        if add {
            if !machine.machine_tags.iter().any(|t| t == value) {
                machine.machine_tags.push(value.to_string());
            }
        } else {
            machine.machine_tags.retain(|t| t != value);
        }
        self.save_machine(caller, &machine)?;
        Ok(machine)
    }

    /// `POST /api/machines/{id}/setDeviceValue` with `DeviceValue` (`Normal` | `Low` | `High`).
    pub fn set_device_value(&self, caller: &Principal, id: &str, value: &str) -> CoreResult<Machine> {
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
