//! Relations between entities (`links`), keys compared exactly.

use crate::SqliteStore;
use palisade_store::{LinkStore, StoreError};
use rusqlite::params;

impl LinkStore for SqliteStore {
    fn add_links(&self, tenant_id: &str, kind: &str, pairs: &[(String, String)]) -> Result<(), StoreError> {
        self.write(|c| {
            let tx = c.transaction()?;
            {
                let mut stmt = tx.prepare_cached(
                    "INSERT OR IGNORE INTO links (tenant_id, kind, from_key, to_key) VALUES (?1, ?2, ?3, ?4)",
                )?;
                for (from, to) in pairs {
                    stmt.execute([tenant_id, kind, from, to])?;
                }
            }
            tx.commit()?;
            Ok(())
        })
    }

    fn linked(&self, tenant_id: &str, kind: &str, from_key: &str, limit: u64) -> Result<Vec<String>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT to_key FROM links WHERE tenant_id = ?1 AND kind = ?2 AND from_key = ?3 ORDER BY to_key LIMIT ?4",
            )?;
            let rows = stmt.query_map(params![tenant_id, kind, from_key, limit], |r| r.get::<_, String>(0))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    fn all_links(&self, tenant_id: &str, kind: &str) -> Result<Vec<(String, String)>, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT from_key, to_key FROM links WHERE tenant_id = ?1 AND kind = ?2 ORDER BY from_key, to_key",
            )?;
            let rows = stmt.query_map([tenant_id, kind], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }
}
