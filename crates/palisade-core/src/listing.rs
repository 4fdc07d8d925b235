//! Server-driven paging shared by every list endpoint: one page of documents as stored, whether
//! more remain, and the total when `$count=true`.

use crate::schemas::EntityTable;
use crate::{Core, CoreResult};
use palisade_odata::Query;

/// One page of a collection.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    /// The entities, as the API serialises them (raw JSON documents).
    pub docs: Vec<String>,
    /// `@odata.count` when the query asked for it.
    pub count: Option<u64>,
    /// The `$skip` of the next page when more results remain.
    pub next_skip: Option<u64>,
}

impl Core {
    /// Runs `query` for the caller's tenant. The page holds `$top` entities at most, and never
    /// more than `page_size`; when more remain, `next_skip` says where the next page starts.
    pub fn list_page(&self, table: EntityTable, tenant_id: &str, query: &Query, page_size: u32) -> CoreResult<Page> {
        let limit = u64::from(query.top.unwrap_or(u32::MAX).min(page_size));
        let offset = u64::from(query.skip);
        // One extra row tells whether another page exists without a second query.
        let mut docs = self.store.query_docs(table, tenant_id, query, offset, limit + 1)?;
        let more = docs.len() as u64 > limit;
        docs.truncate(limit as usize);
        let count = if query.count {
            Some(self.store.count_docs(table, tenant_id, query)?)
        } else {
            None
        };
        Ok(Page {
            next_skip: more.then_some(offset + limit),
            docs,
            count,
        })
    }

    /// `/$count`: how many entities match the filter.
    pub fn count(&self, table: EntityTable, tenant_id: &str, query: &Query) -> CoreResult<u64> {
        Ok(self.store.count_docs(table, tenant_id, query)?)
    }
}
