//! Palisade's embedded store: one SQLite file in WAL mode, one writer connection and a bounded set
//! of readers, implementing every `palisade-store` trait. Only this crate writes SQLite's SQL.
//!
//! Tour, by concern: `pool` opens connections and lends them; `migrations` holds the schema; `docs`
//! the entity tables, their paging SQL and query plans; `tenants` tenants and apps; `links`
//! relations; `observations` the lookups' rows and statistics; `journal` the error journal; `meta`
//! small values, sequences and upkeep; `rate_windows` the shared rate-limit windows (one upsert
//! per window; `examples/rate_window_cost.rs` measures it); `locks` named leases and the blobs
//! stored with entities; `bulk` bulk loads (secondary indexes dropped and rebuilt, crash-safe);
//! `hunting` the advanced-hunting tables (one SQL table each, scans and aggregates rendered by
//! `palisade_kql::sql`); `error` maps SQLite's errors onto the neutral `StoreError`
//! (busy → `Unavailable`, unique or primary-key violations → `Conflict`, the rest → `Backend`).
//! `tests/conformance.rs` runs `palisade_store::conformance` against this backend.

mod bulk;
mod docs;
mod error;
mod hunting;
mod journal;
mod links;
mod locks;
mod meta;
mod migrations;
mod observations;
mod pool;
mod rate_windows;

pub use pool::max_readers;
mod tenants;

use palisade_store::StoreError;
use rusqlite::Connection;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// How long opening the store retries while another process holds the file's locks.
pub const OPEN_RETRY: std::time::Duration = std::time::Duration::from_secs(20);

/// The SQLite backend. Cheap to share behind an `Arc`; every method takes `&self`.
pub struct SqliteStore {
    path: PathBuf,
    /// `(table, column)` of every index shaped `(tenant_id, column, key)`: an equality on `column`
    /// reads its rows already in key order.
    key_ordered_indexes: HashSet<(String, String)>,
    writer: Mutex<Connection>,
    readers: pool::Readers,
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and runs pending migrations.
    ///
    /// Processes started at the same moment on one new file meet SQLite's locks while one of them
    /// switches the file to WAL or migrates it, and some of those waits do not go through the
    /// busy timeout: opening retries for up to [`OPEN_RETRY`] while the file is busy or locked.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let started = std::time::Instant::now();
        let mut pause = std::time::Duration::from_millis(5);
        loop {
            match Self::open_file(path).map_err(StoreError::from) {
                Err(StoreError::Unavailable(_)) if started.elapsed() < OPEN_RETRY => {
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(std::time::Duration::from_millis(200));
                }
                other => return other,
            }
        }
    }

    fn open_file(path: &Path) -> error::Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut writer = pool::connect(path)?;
        writer.pragma_update(None, "cache_size", -pool::WRITER_CACHE_KIB)?;
        migrations::migrate(&mut writer)?;
        bulk::restore_indexes(&mut writer)?;
        writer.execute_batch("PRAGMA optimize=0x10002;")?;
        let key_ordered_indexes = docs::key_ordered_indexes(&writer)?;
        Ok(SqliteStore {
            path: path.to_path_buf(),
            key_ordered_indexes,
            writer: Mutex::new(writer),
            readers: pool::Readers::new(pool::max_readers()),
        })
    }
}

/// Decodes a stored document.
fn decode<T: serde::de::DeserializeOwned>(doc: String) -> Result<T, StoreError> {
    Ok(serde_json::from_str(&doc)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use palisade_model::tenant::Tenant;
    use palisade_store::prelude::*;

    #[test]
    fn migrations_are_idempotent_and_data_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.db");
        {
            let store = SqliteStore::open(&path).unwrap();
            let tenant = Tenant::new("t1", "T", "t1.example");
            store.insert_tenant(&tenant).unwrap();
            assert!(matches!(store.insert_tenant(&tenant), Err(StoreError::Conflict(_))));
            assert_eq!(store.init_meta("k", "first").unwrap(), "first");
        }
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(store.find_tenant("T1.EXAMPLE").unwrap().unwrap().id, "t1");
        assert_eq!(
            store.init_meta("k", "second").unwrap(),
            "first",
            "init_meta keeps the first value"
        );
    }

    #[test]
    fn entity_tables_have_exactly_their_schema_columns() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("p.db")).unwrap();
        // Every entity table of the store, as more families arrive.
        for table in palisade_model::schemas::ENTITY_TABLES.iter().copied() {
            let mut columns: Vec<String> = store
                .read(|c| {
                    let mut stmt = c.prepare(&format!("SELECT name FROM pragma_table_info('{}')", table.table))?;
                    let names = stmt.query_map([], |r| r.get(0))?.collect::<Result<Vec<String>, _>>()?;
                    Ok(names)
                })
                .unwrap();
            // `content`: the bytes a BlobStore keeps with the entity, not a query column.
            columns.retain(|c| c != "tenant_id" && c != "doc" && c != "content");
            let mut expected: Vec<String> = table
                .schema
                .properties
                .iter()
                .filter_map(|p| p.column.map(str::to_string))
                .collect();
            columns.sort();
            expected.sort();
            assert_eq!(columns, expected, "{}", table.table);
        }
    }
}
