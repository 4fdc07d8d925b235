//! Small named values, sequences (kept in `meta` as `sequence:<name>`), and upkeep.

use crate::SqliteStore;
use palisade_store::{Execution, MetaStore, SequenceStore, StoreError};
use rusqlite::{params, OptionalExtension};

impl MetaStore for SqliteStore {
    /// A local file and a bounded set of readers whose free ones are lent without waiting (see
    /// `pool`): point reads may run on the calling async worker. The server still sends long work
    /// (pages, counts, writes, loads) to its bounded blocking pool.
    fn execution(&self) -> Execution {
        Execution::Inline
    }

    fn get_meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.read(|c| {
            Ok(c.prepare_cached("SELECT value FROM meta WHERE key = ?1")?
                .query_row([key], |r| r.get(0))
                .optional()?)
        })
    }

    fn init_meta(&self, key: &str, value: &str) -> Result<String, StoreError> {
        self.write(|c| {
            c.execute("INSERT OR IGNORE INTO meta (key, value) VALUES (?1, ?2)", [key, value])?;
            Ok(c.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))?)
        })
    }

    fn set_meta(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.write(|c| {
            c.prepare_cached(
                "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            )?
            .execute([key, value])?;
            Ok(())
        })
    }

    fn analyze(&self) -> Result<(), StoreError> {
        self.write(|c| Ok(c.execute_batch("ANALYZE;")?))
    }

    fn all_meta(&self) -> Result<Vec<(String, String)>, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare("SELECT key, value FROM meta ORDER BY key")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    fn backend(&self) -> &'static str {
        "sqlite"
    }
}

impl SequenceStore for SqliteStore {
    fn next_sequence(&self, name: &str, count: u64) -> Result<u64, StoreError> {
        let count = i64::try_from(count).unwrap_or(i64::MAX);
        let last: i64 = self.write(|c| {
            Ok(c.prepare_cached(
                "INSERT INTO meta (key, value) VALUES (?1, ?2) \
                 ON CONFLICT (key) DO UPDATE SET value = CAST(value AS INTEGER) + ?2 RETURNING CAST(value AS INTEGER)",
            )?
            .query_row(params![format!("sequence:{name}"), count], |r| r.get(0))?)
        })?;
        Ok((last - count + 1).max(1) as u64)
    }
}
