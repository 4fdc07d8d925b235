//! Server-driven paging shared by every list endpoint: one page of documents as stored, whether
//! more remain, and the total when `$count=true`.

use crate::{Core, DomainResult};
use palisade_model::schemas::EntityTable;
use palisade_odata::{CmpOp, EntitySchema, Expr, Literal, Operand, Property, Query};

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
    pub fn list_page(&self, table: EntityTable, tenant_id: &str, query: &Query, page_size: u32) -> DomainResult<Page> {
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
            // `$top=0` asks for nothing: a next page at the same `$skip` would loop a client forever.
            next_skip: (more && limit > 0).then_some(offset + limit),
            docs,
            count,
        })
    }

    /// `/$count`: how many entities match the filter.
    pub fn count(&self, table: EntityTable, tenant_id: &str, query: &Query) -> DomainResult<u64> {
        Ok(self.store.count_docs(table, tenant_id, query)?)
    }
}

impl Page {
    /// No entities (a relation with nothing on the other side).
    pub fn empty(query: &Query) -> Page {
        Page {
            docs: Vec::new(),
            count: query.count.then_some(0),
            next_skip: None,
        }
    }
}

/// `query` narrowed to the entities that also satisfy `extra`: how sub-collections such as
/// `/machines/{id}/alerts` reuse the whole OData engine under the client's own options.
pub fn narrowed(query: &Query, extra: Expr) -> Query {
    let mut out = query.clone();
    out.filter = Some(match out.filter.take() {
        None => extra,
        Some(Expr::And(mut terms)) => {
            terms.push(extra);
            Expr::And(terms)
        }
        Some(other) => Expr::And(vec![other, extra]),
    });
    out
}

fn property(schema: &'static EntitySchema, name: &str) -> &'static Property {
    schema
        .property(name)
        .unwrap_or_else(|| panic!("{} has no property {name}", schema.entity))
}

/// `<property> eq '<value>'` on a text property of `schema` (a programming error if absent).
pub fn text_eq(schema: &'static EntitySchema, name: &str, value: &str) -> Expr {
    Expr::Compare {
        left: Operand::Property(property(schema, name)),
        op: CmpOp::Eq,
        right: Literal::Text(value.to_string()),
    }
}

/// `<property> in (...)` on a text property; `values` must not be empty.
pub fn text_in(schema: &'static EntitySchema, name: &str, values: Vec<String>) -> Expr {
    Expr::In {
        left: Operand::Property(property(schema, name)),
        values: values.into_iter().map(Literal::Text).collect(),
    }
}
