//! Persistence behind one seam: handlers and domain rules call [`Store`]; only implementations
//! of it write SQL. SQLite ([`sqlite::SqliteStore`]) is the default; a PostgreSQL implementation can
//! be added beside it without touching anything above this trait.
//!
//! Methods are synchronous: the server runs them on the blocking pool, which suits both the embedded
//! SQLite and a synchronous PostgreSQL client. Every entity method is scoped by tenant id.

pub mod sqlite;

use crate::journal::ErrorRecord;
use crate::schemas::EntityTable;
use crate::tenant::{AppRegistration, Tenant};
use palisade_odata::Query;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("stored document does not decode: {0}")]
    Corrupt(#[from] serde_json::Error),
    #[error("store file system: {0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Conflict(String),
    #[error("column {0} is not part of the table's schema")]
    UnknownColumn(String),
}

pub trait Store: Send + Sync + 'static {
    /// Small named values: the signing key, first-start markers.
    fn get_meta(&self, key: &str) -> Result<Option<String>, StoreError>;
    /// Stores `value` under `key` unless one is already there; returns the value now stored, so
    /// that two processes initialising one data directory agree on it.
    fn init_meta(&self, key: &str, value: &str) -> Result<String, StoreError>;

    fn insert_tenant(&self, tenant: &Tenant) -> Result<(), StoreError>;
    /// Replaces a tenant's settings (its id and domain stay).
    fn update_tenant(&self, tenant: &Tenant) -> Result<(), StoreError>;
    /// Looks a tenant up by id or by domain (case-insensitive), as sign-in URLs accept both.
    fn find_tenant(&self, id_or_domain: &str) -> Result<Option<Tenant>, StoreError>;
    fn upsert_app(&self, app: &AppRegistration) -> Result<(), StoreError>;
    fn find_app(&self, client_id: &str) -> Result<Option<AppRegistration>, StoreError>;

    /// Inserts or replaces entities (as the API serialises them) and their query columns.
    fn upsert_docs(&self, table: EntityTable, tenant_id: &str, docs: &[serde_json::Value]) -> Result<(), StoreError>;
    /// The documents matching the query's filter, in its order, from `offset`, at most `limit`.
    fn query_docs(
        &self,
        table: EntityTable,
        tenant_id: &str,
        query: &Query,
        offset: u64,
        limit: u64,
    ) -> Result<Vec<String>, StoreError>;
    /// How many documents match the query's filter.
    fn count_docs(&self, table: EntityTable, tenant_id: &str, query: &Query) -> Result<u64, StoreError>;
    /// The first document (in key order) whose `column` equals `value`; case-insensitively when
    /// `ignore_case`. `column` must be one of the table's schema columns.
    fn find_doc(
        &self,
        table: EntityTable,
        tenant_id: &str,
        column: &str,
        value: &str,
        ignore_case: bool,
    ) -> Result<Option<String>, StoreError>;

    /// Deletes the document whose key column equals `key` (with the column's own collation);
    /// whether one was there.
    fn delete_doc(&self, table: EntityTable, tenant_id: &str, key: &str) -> Result<bool, StoreError>;

    /// Records relations of one kind (`from_key` → `to_key`); existing ones are kept.
    fn add_links(&self, tenant_id: &str, kind: &str, pairs: &[(String, String)]) -> Result<(), StoreError>;
    /// The `to_key`s related to `from_key`, in key order, at most `limit`.
    fn linked(&self, tenant_id: &str, kind: &str, from_key: &str, limit: u64) -> Result<Vec<String>, StoreError>;

    /// Refreshes the query planner's statistics, after bulk loads.
    fn analyze(&self) -> Result<(), StoreError>;

    /// Appends to the error journal, dropping the oldest records beyond `capacity`.
    fn record_error(&self, record: &ErrorRecord, capacity: usize) -> Result<(), StoreError>;
    fn find_error(&self, target: &str) -> Result<Option<ErrorRecord>, StoreError>;
}
