//! Users (`shared/reference/mde-api.md` §9): the alerts and machines related to an account. `{id}`
//! is the bare account name (not the UPN, not `domain\name`), matched case-insensitively; an
//! unknown account is an empty collection, as documented.

use crate::listing::{narrowed, text_in, Page};
use crate::{Core, DomainResult};
use palisade_auth::Principal;
use palisade_model::links::{user_key, USER_ALERTS, USER_MACHINES};
use palisade_model::schemas::{ALERTS, ALERT_TABLE, MACHINES, MACHINE_TABLE};
use palisade_odata::Query;

/// Most related entities one lookup considers (far above any demo or seeded account's count).
const MAX_RELATED: u64 = 10_000;

/// The current docs list only `Machine.ReadWrite.All` for user-related machines (the old docs
/// also allowed `Machine.Read.All`); we follow the current page.
const USER_MACHINES_ROLES: &[&str] = &["Machine.ReadWrite.All"];

impl Core {
    /// `GET /api/users/{id}/alerts` with the client's OData options.
    pub fn list_user_alerts(
        &self,
        caller: &Principal,
        account: &str,
        query: &Query,
        page_size: u32,
    ) -> DomainResult<Page> {
        caller.require_any(crate::mde::alerts::READ_ROLES)?;
        let ids = self
            .store
            .linked(&caller.tenant_id, USER_ALERTS, &user_key(account), MAX_RELATED)?;
        if ids.is_empty() {
            return Ok(Page::empty(query));
        }
        let query = narrowed(query, text_in(&ALERTS, "id", ids));
        self.list_page(ALERT_TABLE, &caller.tenant_id, &query, page_size)
    }

    /// `GET /api/users/{id}/machines` with the client's OData options.
    pub fn list_user_machines(
        &self,
        caller: &Principal,
        account: &str,
        query: &Query,
        page_size: u32,
    ) -> DomainResult<Page> {
        caller.require_any(USER_MACHINES_ROLES)?;
        let ids = self
            .store
            .linked(&caller.tenant_id, USER_MACHINES, &user_key(account), MAX_RELATED)?;
        if ids.is_empty() {
            return Ok(Page::empty(query));
        }
        let query = narrowed(query, text_in(&MACHINES, "id", ids));
        self.list_page(MACHINE_TABLE, &caller.tenant_id, &query, page_size)
    }
}
