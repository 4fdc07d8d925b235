//! Persistence behind one seam: handlers and domain rules call [`Store`]; only implementations
//! of it write SQL. SQLite ([`sqlite::SqliteStore`]) is the default; a PostgreSQL implementation can
//! be added beside it without touching anything above this trait.
//!
//! Methods are synchronous: the server runs them on the blocking pool, which suits both the embedded
//! SQLite and a synchronous PostgreSQL client. Every entity method is scoped by tenant id.

pub mod sqlite;

use crate::entities::Machine;
use crate::journal::ErrorRecord;
use crate::tenant::{AppRegistration, Tenant};

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
}

pub trait Store: Send + Sync + 'static {
    /// Small named values: the signing key, first-start markers.
    fn get_meta(&self, key: &str) -> Result<Option<String>, StoreError>;
    /// Stores `value` under `key` unless one is already there; returns the value now stored, so
    /// that two processes initialising one data directory agree on it.
    fn init_meta(&self, key: &str, value: &str) -> Result<String, StoreError>;

    fn insert_tenant(&self, tenant: &Tenant) -> Result<(), StoreError>;
    /// Looks a tenant up by id or by domain (case-insensitive), as sign-in URLs accept both.
    fn find_tenant(&self, id_or_domain: &str) -> Result<Option<Tenant>, StoreError>;
    fn upsert_app(&self, app: &AppRegistration) -> Result<(), StoreError>;
    fn find_app(&self, client_id: &str) -> Result<Option<AppRegistration>, StoreError>;

    fn upsert_machines(&self, tenant_id: &str, machines: &[Machine]) -> Result<(), StoreError>;
    fn list_machines(&self, tenant_id: &str) -> Result<Vec<Machine>, StoreError>;
    /// By machine id, or by computer DNS name (case-insensitive) as `GET /api/machines/{id}` allows.
    fn find_machine(&self, tenant_id: &str, id_or_name: &str) -> Result<Option<Machine>, StoreError>;

    /// Appends to the error journal, dropping the oldest records beyond `capacity`.
    fn record_error(&self, record: &ErrorRecord, capacity: usize) -> Result<(), StoreError>;
    fn find_error(&self, target: &str) -> Result<Option<ErrorRecord>, StoreError>;
}
