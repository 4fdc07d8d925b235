//! Relations between entities (`links`), keys compared exactly.

use crate::PostgresStore;
use palisade_store::{LinkStore, StoreError};

impl LinkStore for PostgresStore {
    fn add_links(&self, tenant_id: &str, kind: &str, pairs: &[(String, String)]) -> Result<(), StoreError> {
        if pairs.is_empty() {
            return Ok(());
        }
        self.write(|c| {
            let statement = c.statement(
                "INSERT INTO links (tenant_id, kind, from_key, to_key) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            )?;
            let mut tx = c.client.transaction()?;
            for (from, to) in pairs {
                tx.execute(&statement, &[&tenant_id, &kind, from, to])?;
            }
            tx.commit()?;
            Ok(())
        })
    }

    fn linked(&self, tenant_id: &str, kind: &str, from_key: &str, limit: u64) -> Result<Vec<String>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(|c| {
            let statement = c.statement(
                "SELECT to_key FROM links WHERE tenant_id = $1 AND kind = $2 AND from_key = $3 ORDER BY to_key LIMIT $4",
            )?;
            Ok(c.client
                .query(&statement, &[&tenant_id, &kind, &from_key, &limit])?
                .iter()
                .map(|r| r.get(0))
                .collect())
        })
    }

    fn all_links(&self, tenant_id: &str, kind: &str) -> Result<Vec<(String, String)>, StoreError> {
        self.read(|c| {
            let statement = c.statement(
                "SELECT from_key, to_key FROM links WHERE tenant_id = $1 AND kind = $2 ORDER BY from_key, to_key",
            )?;
            Ok(c.client
                .query(&statement, &[&tenant_id, &kind])?
                .iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect())
        })
    }
}
