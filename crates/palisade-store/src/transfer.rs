//! Moving a whole store into another (`palisade migrate`): meta values (the signing key,
//! sequences), tenants and their apps, every entity table in key-ordered pages (with the bytes
//! kept with entities, the library's files), and the relations between entities, through the traits only, so any backend moves to any other.
//!
//! Not moved: the error journal and rate-limit windows (both transient), and what the caller
//! names in `skip_meta` (markers that make the target rebuild derived rows, such as the lookups'
//! observations, on its first start).

use crate::{Store, StoreError};
use palisade_model::schemas::{EntityTable, ENTITY_TABLES};
use palisade_odata::{parse_query, PropType};

/// Entities per page read from the source and written to the target.
const PAGE: u64 = 1000;

/// Tables whose entities may carry bytes ([`crate::BlobStore`]).
const BLOB_TABLES: &[&str] = &["library_files"];

/// How far a transfer has come, for a progress bar.
#[derive(Debug, Clone, Copy)]
pub struct Progress<'a> {
    /// What is being moved (`tenants`, `alerts`, ...).
    pub what: &'a str,
    pub done: u64,
    pub total: u64,
}

/// What a transfer moved.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Moved {
    pub tenants: u64,
    pub apps: u64,
    pub entities: u64,
    pub links: u64,
    pub meta: u64,
    pub hunting_rows: u64,
}

/// Copies `from` into `to`, which must hold no tenant yet (a target that already serves data is
/// refused rather than merged into). Relation kinds to move are `link_kinds`.
pub fn transfer(
    from: &dyn Store,
    to: &dyn Store,
    skip_meta: &[&str],
    link_kinds: &[&str],
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<Moved, StoreError> {
    if !to.tenant_ids()?.is_empty() {
        return Err(StoreError::Conflict(
            "the target store already has tenants; migrate into an empty one".to_string(),
        ));
    }
    let mut moved = Moved::default();
    // Meta values first, so the target keeps the source's signing key (tokens stay valid).
    for (key, value) in from.all_meta()? {
        if skip_meta.contains(&key.as_str()) {
            continue;
        }
        to.set_meta(&key, &value)?;
        moved.meta += 1;
    }
    let tenants = from.list_tenants()?;
    let total = tenants.len() as u64;
    for (n, tenant) in tenants.iter().enumerate() {
        to.insert_tenant(tenant)?;
        for app in from.list_apps(&tenant.id)? {
            to.upsert_app(&app)?;
            moved.apps += 1;
        }
        moved.tenants += 1;
        progress(Progress {
            what: "tenants",
            done: n as u64 + 1,
            total,
        });
    }
    let everything = palisade_odata::Query::default();
    let blob_tables = BLOB_TABLES;
    for table in ENTITY_TABLES.iter().copied() {
        let mut total = 0;
        for tenant in &tenants {
            total += from.count_docs(table, &tenant.id, &everything)?;
        }
        let mut done = 0;
        for tenant in &tenants {
            let mut after: Option<String> = None;
            loop {
                let query = match &after {
                    Some(last) => after_key(table, last)?,
                    None => everything.clone(),
                };
                let docs = from.query_docs(table, &tenant.id, &query, 0, PAGE)?;
                if docs.is_empty() {
                    break;
                }
                let values = docs
                    .iter()
                    .map(|d| serde_json::from_str::<serde_json::Value>(d))
                    .collect::<Result<Vec<_>, _>>()?;
                to.upsert_docs(table, &tenant.id, &values)?;
                if blob_tables.contains(&table.table) {
                    // Bytes kept with their entity (the library's files) move with it.
                    for value in &values {
                        let Some(key) = key_text(table, value) else { continue };
                        if let Some(blob) = from.get_blob(table, &tenant.id, &key)? {
                            to.upsert_doc_with_blob(table, &tenant.id, value, &blob)?;
                        }
                    }
                }
                after = values.last().and_then(|v| key_text(table, v));
                done += values.len() as u64;
                moved.entities += values.len() as u64;
                progress(Progress {
                    what: table.table,
                    done,
                    total,
                });
                if (values.len() as u64) < PAGE || after.is_none() {
                    break;
                }
            }
        }
    }
    // The advanced-hunting tables, streamed table by table in batches of `PAGE` rows.
    for schema in &palisade_kql::Catalog::defender_hunting_shared().tables {
        let mut done = 0;
        for tenant in &tenants {
            let request = palisade_kql::ScanRequest {
                table: schema.name.clone(),
                columns: schema.columns.iter().map(|(name, _)| name.clone()).collect(),
                predicates: Vec::new(),
                time_window: None,
                limit: None,
                order_by: Vec::new(),
                deadline: None,
            };
            let mut batch: Vec<crate::HuntingRow> = Vec::new();
            let mut failed: Option<StoreError> = None;
            from.scan_hunting(&tenant.id, &request, &mut |row| {
                batch.push(row);
                if batch.len() as u64 >= PAGE {
                    if let Err(e) = to.append_hunting_rows(&tenant.id, &schema.name, &batch) {
                        failed = Some(e);
                        return false;
                    }
                    done += batch.len() as u64;
                    batch.clear();
                }
                true
            })?;
            if let Some(e) = failed {
                return Err(e);
            }
            to.append_hunting_rows(&tenant.id, &schema.name, &batch)?;
            done += batch.len() as u64;
        }
        moved.hunting_rows += done;
        progress(Progress {
            what: "hunting rows",
            done,
            total: done,
        });
    }
    for tenant in &tenants {
        for kind in link_kinds {
            let pairs = from.all_links(&tenant.id, kind)?;
            to.add_links(&tenant.id, kind, &pairs)?;
            moved.links += pairs.len() as u64;
        }
    }
    progress(Progress {
        what: "relations",
        done: moved.links,
        total: moved.links,
    });
    to.analyze()?;
    Ok(moved)
}

/// The key of a document as text (strings as they are, numbers in decimal).
fn key_text(table: EntityTable, doc: &serde_json::Value) -> Option<String> {
    let property = table.schema.key_property()?;
    match doc.get(property.json_key)? {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The query of the documents whose key sorts after `last`, in key order (keyset paging: every
/// page costs the same however deep it is).
fn after_key(table: EntityTable, last: &str) -> Result<palisade_odata::Query, StoreError> {
    let property = table
        .schema
        .key_property()
        .ok_or_else(|| StoreError::Backend(format!("{} has no key property", table.table)))?;
    let literal = match property.ty {
        PropType::Int | PropType::Guid => last.to_string(),
        _ => format!("'{}'", last.replace('\'', "''")),
    };
    let encoded: String = literal
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'\'' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    parse_query(&format!("$filter={} gt {encoded}", property.name), table.schema)
        .map_err(|e| StoreError::Backend(format!("paging {} after {last}: {e}", table.table)))
}
