//! Named leases (`LockStore`): taking a lock is one upsert that only replaces a row held by the
//! same holder or whose lease ran out, so two processes cannot both take it. And the bytes stored
//! with entities (`BlobStore`), in a `content` column of the entity's own table (only tables that
//! have one, the live-response library's, accept blobs).

use crate::docs::upsert_rows;
use crate::SqliteStore;
use palisade_model::schemas::EntityTable;
use palisade_odata::SqlValue;
use palisade_store::{BlobStore, LockStore, StoreError};
use rusqlite::{params, OptionalExtension};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Takes the lock when it is free, already the holder's, or expired; answers the row then.
const TAKE: &str = "INSERT INTO locks (name, holder, expires_ms) VALUES (?1, ?2, ?3) \
    ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_ms = excluded.expires_ms \
    WHERE locks.holder = excluded.holder OR locks.expires_ms <= ?4 \
    RETURNING holder";

fn unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

impl LockStore for SqliteStore {
    fn try_lock(&self, name: &str, holder: &str, lease: Duration) -> Result<bool, StoreError> {
        let now = unix_ms();
        let expires = now.saturating_add(i64::try_from(lease.as_millis()).unwrap_or(i64::MAX));
        self.write(|c| {
            Ok(c.prepare_cached(TAKE)?
                .query_row(params![name, holder, expires, now], |r| r.get::<_, String>(0))
                .optional()?
                .is_some())
        })
    }

    fn unlock(&self, name: &str, holder: &str) -> Result<(), StoreError> {
        self.write(|c| {
            c.prepare_cached("DELETE FROM locks WHERE name = ?1 AND holder = ?2")?
                .execute([name, holder])?;
            Ok(())
        })
    }
}

impl BlobStore for SqliteStore {
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
                SqlValue::Text(key) if column == table.schema.key_column => Some(key),
                _ => None,
            })
            .ok_or_else(|| StoreError::Backend(format!("{} document without its key", table.table)))?;
        let set_blob = format!(
            "UPDATE {} SET content = ?3 WHERE tenant_id = ?1 AND {} = ?2",
            table.table, table.schema.key_column
        );
        self.write(|c| {
            let tx = c.transaction()?;
            upsert_rows(&tx, table, tenant_id, std::slice::from_ref(doc))?;
            tx.prepare_cached(&set_blob)?.execute(params![tenant_id, key, blob])?;
            tx.commit()?;
            Ok(())
        })
    }

    fn get_blob(&self, table: EntityTable, tenant_id: &str, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let sql = format!(
            "SELECT content FROM {} WHERE tenant_id = ?1 AND {} = ?2",
            table.table, table.schema.key_column
        );
        let found: Option<Option<Vec<u8>>> = self.read(|c| {
            Ok(c.prepare_cached(&sql)?
                .query_row([tenant_id, key], |r| r.get(0))
                .optional()?)
        })?;
        Ok(found.flatten())
    }
}
