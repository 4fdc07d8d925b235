//! Named leases (`LockStore`): taking a lock is one upsert that only replaces a row held by the
//! same holder or whose lease ran out, so two processes cannot both take it. And the bytes stored
//! with entities (`BlobStore`), in a `content` column of the entity's own table (only tables that
//! have one, the live-response library's, accept blobs).

use crate::docs::{key_expr, key_param};
use crate::PostgresStore;
use palisade_model::schemas::EntityTable;
use palisade_store::{BlobStore, LockStore, StoreError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Takes the lock when it is free, already the holder's, or expired; answers the row then.
const TAKE: &str = "INSERT INTO locks AS l (name, holder, expires_ms) VALUES ($1, $2, $3) \
    ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_ms = excluded.expires_ms \
    WHERE l.holder = excluded.holder OR l.expires_ms <= $4 \
    RETURNING holder";

fn unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

impl LockStore for PostgresStore {
    fn try_lock(&self, name: &str, holder: &str, lease: Duration) -> Result<bool, StoreError> {
        let now = unix_ms();
        let expires = now.saturating_add(i64::try_from(lease.as_millis()).unwrap_or(i64::MAX));
        self.write(|c| {
            let statement = c.statement(TAKE)?;
            Ok(c.client
                .query_opt(&statement, &[&name, &holder, &expires, &now])?
                .is_some())
        })
    }

    fn unlock(&self, name: &str, holder: &str) -> Result<(), StoreError> {
        self.write(|c| {
            let statement = c.statement("DELETE FROM locks WHERE name = $1 AND holder = $2")?;
            c.client.execute(&statement, &[&name, &holder])?;
            Ok(())
        })
    }
}

impl BlobStore for PostgresStore {
    fn upsert_doc_with_blob(
        &self,
        table: EntityTable,
        tenant_id: &str,
        doc: &serde_json::Value,
        blob: &[u8],
    ) -> Result<(), StoreError> {
        let key = palisade_odata::column_values(table.schema, doc)
            .into_iter()
            .find_map(|(column, value)| match value {
                palisade_odata::SqlValue::Text(key) if column == table.schema.key_column => Some(key),
                _ => None,
            })
            .ok_or_else(|| StoreError::Backend(format!("{} document without its key", table.table)))?;
        let upsert = self.upsert_sql(table);
        let params = self.upsert_params(table, tenant_id, std::slice::from_ref(doc))?;
        let set_blob = format!(
            "UPDATE {} SET content = $3 WHERE tenant_id = $1 AND {} = {}",
            table.table,
            key_expr(table),
            key_param(table, 2)
        );
        self.write(|c| {
            let upsert = c.statement(&upsert)?;
            let set_blob = c.statement(&set_blob)?;
            let mut tx = c.client.transaction()?;
            tx.execute(&upsert, &params.refs())?;
            tx.execute(&set_blob, &[&tenant_id, &key, &blob])?;
            tx.commit()?;
            Ok(())
        })
    }

    fn get_blob(&self, table: EntityTable, tenant_id: &str, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let sql = format!(
            "SELECT content FROM {} WHERE tenant_id = $1 AND {} = {}",
            table.table,
            key_expr(table),
            key_param(table, 2)
        );
        let found: Option<Option<Vec<u8>>> = self.read(|c| {
            let statement = c.statement(&sql)?;
            Ok(c.client.query_opt(&statement, &[&tenant_id, &key])?.map(|r| r.get(0)))
        })?;
        Ok(found.flatten())
    }
}
