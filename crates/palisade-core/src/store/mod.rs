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

/// What one alert's evidence observed about one file hash, IP address or domain (see
/// [`crate::lookups`]): the rows behind the lookups and their statistics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    /// `sha1`, `sha256`, `ip` or `domain`.
    pub kind: String,
    /// The canonical value: lower-case hash, IP address as `std::net::IpAddr` prints it, lower-case
    /// ASCII host.
    pub key: String,
    pub alert_id: String,
    pub machine_id: String,
    /// When it was observed, Unix microseconds.
    pub seen: i64,
    /// Files: the name and both hashes as the evidence gave them, and the alert's threat name.
    pub file_name: Option<String>,
    pub sha1: Option<String>,
    pub sha256: Option<String>,
    pub threat_name: Option<String>,
}

/// Entities restricted to those an observation relates to a key: the alerts (`alert_id`) or the
/// machines (`machine_id`) that observed it; `cap` keeps only the first so many in key order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Observed<'a> {
    pub kind: &'a str,
    pub key: &'a str,
    pub via: ObservedVia,
    pub cap: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObservedVia {
    Alert,
    Machine,
}

/// Prevalence of a key: distinct devices, first and last observation (Unix microseconds).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ObservedStats {
    pub devices: u64,
    pub first: Option<i64>,
    pub last: Option<i64>,
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

    /// Deletes the entities with these keys; answers how many existed.
    fn delete_docs(&self, table: EntityTable, tenant_id: &str, keys: &[String]) -> Result<u64, StoreError>;
    /// Reserves `count` consecutive numbers of the named sequence (starting at 1) and answers the
    /// first: numeric ids such as indicator ids, unique even across processes.
    fn next_sequence(&self, name: &str, count: u64) -> Result<u64, StoreError>;
    /// Ids of every tenant.
    fn tenant_ids(&self) -> Result<Vec<String>, StoreError>;

    /// Records observations; one per (kind, key, alert) is kept.
    fn add_observations(&self, tenant_id: &str, rows: &[Observation]) -> Result<(), StoreError>;
    /// The most recent observation of a key, if any.
    fn latest_observation(&self, tenant_id: &str, kind: &str, key: &str) -> Result<Option<Observation>, StoreError>;
    /// Prevalence of a key since `since` (all time when `None`), in one tenant or, when `tenant_id`
    /// is `None`, across all of them. With `machine_addresses`, machines whose `lastIpAddress` or
    /// `lastExternalIpAddress` is the key and that were seen since `since` count too, from their
    /// first sighting (not before `since`) to their last.
    fn observed_stats(
        &self,
        tenant_id: Option<&str>,
        kind: &str,
        key: &str,
        since: Option<i64>,
        machine_addresses: bool,
    ) -> Result<ObservedStats, StoreError>;
    /// The most frequent file names observed for a key since `since`, most frequent first.
    fn top_observed_names(
        &self,
        tenant_id: &str,
        kind: &str,
        key: &str,
        since: i64,
        limit: u64,
    ) -> Result<Vec<String>, StoreError>;
    /// [`Store::query_docs`] restricted to the entities an observation relates to a key.
    fn query_observed_docs(
        &self,
        table: EntityTable,
        tenant_id: &str,
        observed: &Observed<'_>,
        query: &Query,
        offset: u64,
        limit: u64,
    ) -> Result<Vec<String>, StoreError>;
    /// [`Store::count_docs`] restricted the same way.
    fn count_observed_docs(
        &self,
        table: EntityTable,
        tenant_id: &str,
        observed: &Observed<'_>,
        query: &Query,
    ) -> Result<u64, StoreError>;

    /// Refreshes the query planner's statistics, after bulk loads.
    fn analyze(&self) -> Result<(), StoreError>;

    /// Appends to the error journal, dropping the oldest records beyond `capacity`.
    fn record_error(&self, record: &ErrorRecord, capacity: usize) -> Result<(), StoreError>;
    fn find_error(&self, target: &str) -> Result<Option<ErrorRecord>, StoreError>;

    /// Every tenant, in id order.
    fn list_tenants(&self) -> Result<Vec<Tenant>, StoreError>;
    /// Deletes a tenant with everything it owns (apps, entities, links); `false` when unknown.
    fn delete_tenant(&self, tenant_id: &str) -> Result<bool, StoreError>;
    /// A tenant's app registrations, in client-id order.
    fn list_apps(&self, tenant_id: &str) -> Result<Vec<AppRegistration>, StoreError>;
    /// Deletes one app registration of a tenant; `false` when the tenant has no such app.
    fn delete_app(&self, tenant_id: &str, client_id: &str) -> Result<bool, StoreError>;
    /// Deletes every entity and link of a tenant, keeping the tenant, its settings and its apps.
    fn clear_tenant_data(&self, tenant_id: &str) -> Result<(), StoreError>;
    /// Every relation of one kind in a tenant, in key order.
    fn all_links(&self, tenant_id: &str, kind: &str) -> Result<Vec<(String, String)>, StoreError>;
    /// Back to an empty store (tenants, their data, the error journal); meta values (the signing
    /// key) stay.
    fn clear_all(&self) -> Result<(), StoreError>;
}
