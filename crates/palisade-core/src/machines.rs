//! Machines (`shared/reference/mde-api.md` §2): read operations and the simple updates.

use crate::entities::{DeviceValue, Machine};
use crate::{Core, CoreResult};
use palisade_auth::Principal;
use palisade_error::ApiError;

const READ_ROLES: &[&str] = &["Machine.Read.All", "Machine.ReadWrite.All"];
const WRITE_ROLES: &[&str] = &["Machine.ReadWrite.All"];
/// Longest tag accepted; the portal documents 200 characters for registry-set tags.
pub const MAX_TAG_LENGTH: usize = 200;

impl Core {
    /// `GET /api/machines`.
    pub fn list_machines(&self, caller: &Principal) -> CoreResult<Vec<Machine>> {
        caller.require_any(READ_ROLES)?;
        Ok(self.store.list_machines(&caller.tenant_id)?)
    }

    /// `GET /api/machines/{id}`: by id or computer name.
    pub fn get_machine(&self, caller: &Principal, id: &str) -> CoreResult<Machine> {
        caller.require_any(READ_ROLES)?;
        self.find_machine(caller, id)
    }

    fn find_machine(&self, caller: &Principal, id: &str) -> CoreResult<Machine> {
        self.store
            .find_machine(&caller.tenant_id, id)?
            .ok_or_else(|| ApiError::resource_not_found("Machine", id).into())
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
        self.store
            .upsert_machines(&caller.tenant_id, std::slice::from_ref(&machine))?;
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
        self.store
            .upsert_machines(&caller.tenant_id, std::slice::from_ref(&machine))?;
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
