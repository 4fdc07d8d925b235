//! Automated investigations (`shared/reference/mde-api.md` §10), read side. Starting one
//! (`POST /api/machines/{id}/startInvestigation`) belongs to the machine actions.

use crate::listing::Page;
use crate::{Core, DomainResult};
use palisade_auth::Principal;
use palisade_error::ApiError;
use palisade_model::entities::Investigation;
use palisade_model::schemas::INVESTIGATION_TABLE;
use palisade_odata::Query;
use palisade_store::StoreError;

impl Core {
    /// `GET /api/investigations` with OData options.
    pub fn list_investigations(&self, caller: &Principal, query: &Query, page_size: u32) -> DomainResult<Page> {
        caller.require_any(crate::mde::alerts::READ_ROLES)?;
        self.list_page(INVESTIGATION_TABLE, &caller.tenant_id, query, page_size)
    }

    /// `GET /api/investigations/$count`.
    pub fn count_investigations(&self, caller: &Principal, query: &Query) -> DomainResult<u64> {
        caller.require_any(crate::mde::alerts::READ_ROLES)?;
        self.count(INVESTIGATION_TABLE, &caller.tenant_id, query)
    }

    /// `GET /api/investigations/{id}`: `{id}` is the investigation id or, as the Get investigation
    /// page allows, the id of the alert that triggered it.
    pub fn get_investigation(&self, caller: &Principal, id: &str) -> DomainResult<Investigation> {
        caller.require_any(crate::mde::alerts::READ_ROLES)?;
        let tenant = &caller.tenant_id;
        let doc = match self.store.find_doc(INVESTIGATION_TABLE, tenant, "id", id, false)? {
            Some(doc) => Some(doc),
            None => self
                .store
                .find_doc(INVESTIGATION_TABLE, tenant, "triggering_alert_id", id, false)?,
        };
        let doc = doc.ok_or_else(|| ApiError::resource_not_found("Investigation", id))?;
        Ok(serde_json::from_str(&doc).map_err(StoreError::from)?)
    }
}
