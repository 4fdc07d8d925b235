//! Bulk loads (`palisade seed`): a million alerts inserted one by one into a table with ten
//! indexes spend their time keeping the secondary indexes in order (each insert lands on a random
//! page of each). A bulk load drops the secondary indexes of the tables it fills and builds them
//! again at the end, in one sorted pass each, and does not sync the file until then.
//!
//! Crash safety: the dropped indexes' definitions are saved in `meta` in the same transaction that
//! drops them, and every open of the store builds any that are still pending, so a load that dies
//! half-way leaves a store that is slower until its next open, never one without its indexes.
//! Unique indexes are never dropped: upserts rely on them.

use crate::error::Result;
use crate::SqliteStore;
use palisade_store::StoreError;
use rusqlite::{params, Connection, OptionalExtension};

/// The writer's page cache during a bulk load: the primary keys still take random inserts
/// (observations are keyed by what was observed), and a page evicted is a page read again.
const BULK_CACHE_KIB: i64 = 512 * 1024;

/// The `meta` key holding the definitions of the indexes a bulk load dropped.
const PENDING_INDEXES: &str = "bulk_load:dropped_indexes";

impl SqliteStore {
    /// Drops the secondary indexes of `tables` and stops syncing until
    /// [`finish_bulk_load`](Self::finish_bulk_load).
    pub fn begin_bulk_load(&self, tables: &[&str]) -> Result<(), StoreError> {
        self.write(|c| {
            let tx = c.transaction()?;
            let mut dropped: Vec<(String, String)> = Vec::new();
            {
                let mut stmt = tx.prepare(
                    "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ?1 \
                     AND sql IS NOT NULL AND sql NOT LIKE 'CREATE UNIQUE%'",
                )?;
                for table in tables {
                    let rows = stmt.query_map([table], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
                    for row in rows {
                        dropped.push(row?);
                    }
                }
            }
            let mut pending = pending_indexes(&tx)?;
            pending.extend(dropped.iter().map(|(_, sql)| sql.clone()));
            tx.execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                params![PENDING_INDEXES, serde_json::to_string(&pending)?],
            )?;
            for (name, _) in &dropped {
                // Names come from sqlite_master, quoted as identifiers.
                tx.execute_batch(&format!("DROP INDEX \"{}\";", name.replace('"', "\"\"")))?;
            }
            tx.commit()?;
            // A crash of the machine (not of the process) mid-load may lose the load; it is redone.
            c.pragma_update(None, "synchronous", "OFF")?;
            c.pragma_update(None, "cache_size", -BULK_CACHE_KIB)?;
            Ok(())
        })
    }

    /// Builds the indexes a bulk load dropped and syncs as usual again.
    pub fn finish_bulk_load(&self) -> Result<(), StoreError> {
        self.write(|c| {
            restore_indexes(c)?;
            c.pragma_update(None, "synchronous", "NORMAL")?;
            c.pragma_update(None, "cache_size", -crate::pool::WRITER_CACHE_KIB)?;
            Ok(())
        })
    }
}

fn pending_indexes(c: &Connection) -> Result<Vec<String>> {
    let saved: Option<String> = c
        .query_row("SELECT value FROM meta WHERE key = ?1", [PENDING_INDEXES], |r| r.get(0))
        .optional()?;
    Ok(match saved {
        Some(json) => serde_json::from_str(&json)?,
        None => Vec::new(),
    })
}

/// Builds the indexes an unfinished bulk load left dropped (every open calls it).
pub(crate) fn restore_indexes(c: &mut Connection) -> Result<()> {
    let pending = pending_indexes(c)?;
    if pending.is_empty() {
        return Ok(());
    }
    let tx = c.transaction()?;
    for sql in &pending {
        let sql = sql
            .replacen("CREATE INDEX ", "CREATE INDEX IF NOT EXISTS ", 1)
            .replacen(
                "CREATE INDEX IF NOT EXISTS IF NOT EXISTS ",
                "CREATE INDEX IF NOT EXISTS ",
                1,
            );
        tx.execute_batch(&sql)?;
    }
    tx.execute("DELETE FROM meta WHERE key = ?1", [PENDING_INDEXES])?;
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index_names(store: &SqliteStore) -> Vec<String> {
        store
            .read(|c| {
                let mut stmt = c.prepare(
                    "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'alerts' ORDER BY name",
                )?;
                let names = stmt
                    .query_map([], |r| r.get(0))?
                    .collect::<rusqlite::Result<Vec<String>>>()?;
                Ok(names)
            })
            .unwrap()
    }

    #[test]
    fn a_bulk_load_drops_secondary_indexes_and_gets_them_back_even_when_interrupted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.db");
        let all = {
            let store = SqliteStore::open(&path).unwrap();
            let all = index_names(&store);
            assert!(all.len() > 5, "{all:?}");
            store.begin_bulk_load(&["alerts"]).unwrap();
            assert_eq!(index_names(&store), ["alerts_key"], "only the unique key stays");
            store.finish_bulk_load().unwrap();
            assert_eq!(index_names(&store), all);
            // Interrupted: begun, never finished (the process died).
            store.begin_bulk_load(&["alerts"]).unwrap();
            all
        };
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(index_names(&store), all, "the next open builds what the load dropped");
        store.finish_bulk_load().unwrap();
        assert_eq!(index_names(&store), all);
    }
}
