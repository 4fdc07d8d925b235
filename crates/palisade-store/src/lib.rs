//! Palisade's store interface: what the domain may ask of persistence, and nothing about how a
//! backend answers. Only backends (`palisade-store-sqlite`, later `palisade-store-postgres`) write
//! SQL; everything above this crate sees the traits, [`StoreError`] and the model's types.
//!
//! Tour: the narrow traits ([`MetaStore`], [`TenantStore`], [`DocStore`], [`LinkStore`],
//! [`ObservationStore`], [`JournalStore`], [`SequenceStore`], [`RateWindowStore`], [`LockStore`],
//! [`BlobStore`], [`HuntingStore`]) and their sum
//! [`Store`];
//! [`StoreError`], the neutral error; [`Execution`], where a backend's calls should run;
//! [`conformance`], the behaviour every backend must show, as public test functions.
//!
//! # Design
//!
//! The seam serves four jobs at once: the layout (one room per job), the hot path (a point read
//! must not cost a thread hop), PostgreSQL (many processes, an asynchronous driver) and bounded
//! resources (a fixed set of connections, a queue and a timeout). The decisions:
//!
//! 1. **Synchronous, narrow traits.** Every method takes `&self` and every trait is
//!    `Send + Sync`. [`Store`] is the sum of the narrow traits with a blanket impl, so an
//!    `Arc<dyn Store>` still works while a domain module can take only the trait it needs. The
//!    domain stays synchronous and free of async.
//! 2. **Where the thread hop goes.** A store reports its [`Execution`]: `Inline` when a call may
//!    run on the calling async worker (SQLite point reads on a per-thread reader connection cost
//!    no hop), `Blocking` when it waits on a network and must run on the server's bounded blocking
//!    pool. SQLite answers `Inline` (a bounded set of readers whose free ones are lent without
//!    a wait); the server runs the operations it calls point reads (`AppState::read_inline`) on the
//!    async worker when the store answers `Inline`, and everything else on its bounded blocking
//!    pool.
//! 3. **Bounded connections.** A backend owns a fixed-size set of connections; when none is free
//!    within its timeout it answers [`StoreError::Unavailable`], which the server turns into a
//!    traceable `InternalServerError` (the journal keeps the cause).
//! 4. **Shared state through constraints.** State that must be correct across processes is
//!    expressed as atomic store operations backed by constraints (unique indexes,
//!    `INSERT .. ON CONFLICT .. RETURNING`), never as process locks: tenant creation
//!    ([`TenantStore::insert_tenant`] answers [`StoreError::Conflict`] from the unique id and
//!    domain), numeric sequences ([`SequenceStore::next_sequence`]), first-start values
//!    ([`MetaStore::init_meta`]), shared settings ([`MetaStore::set_meta`]: the clock, the fault
//!    rules), rate-limit windows ([`RateWindowStore::count_call`]: one upsert per window, all
//!    windows of a call in one transaction), check-then-write sections ([`LockStore`]: named
//!    leases, one conditional upsert to take one; the domain holds one from an operation's checks
//!    to its write, e.g. "no pending isolation of this machine" then the insert) and the
//!    live-response library's contents ([`BlobStore`]: written with their entity in one
//!    transaction). No backend call takes a driver's type: a backend is free to use advisory
//!    locks, `SELECT .. FOR UPDATE` or a lease table behind [`LockStore`].

pub mod conformance;
pub mod transfer;

pub use palisade_model::journal::ErrorRecord;
pub use palisade_model::observation::{Observation, Observed, ObservedStats, ObservedVia};
use palisade_model::schemas::EntityTable;
use palisade_model::tenant::{AppRegistration, Tenant};
use palisade_odata::Query;

/// Why a store call failed, whatever the backend: backends map their own errors onto these.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The backend failed (its own message, for the journal; the client sees
    /// `InternalServerError`).
    #[error("backend: {0}")]
    Backend(String),
    /// No connection became free within the backend's timeout.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// A stored document does not decode (or an entity does not encode).
    #[error("stored document does not decode: {0}")]
    Corrupt(#[from] serde_json::Error),
    /// The file system under the store failed.
    #[error("store file system: {0}")]
    Io(#[from] std::io::Error),
    /// A uniqueness constraint refused the write.
    #[error("{0}")]
    Conflict(String),
    /// A column named by the caller is not one of the table's schema columns.
    #[error("column {0} is not part of the table's schema")]
    UnknownColumn(String),
}

/// Where a store's calls should run (see the crate docs, decision 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Execution {
    /// Calls are cheap and local: they may run on the calling async worker thread.
    Inline,
    /// Calls may wait (on a network, a lock, a full connection set): run them on the bounded
    /// blocking pool.
    Blocking,
}

/// Small named values (the signing key, first-start markers) and the backend's own upkeep.
pub trait MetaStore: Send + Sync {
    /// Where this backend's calls should run.
    fn execution(&self) -> Execution;
    fn get_meta(&self, key: &str) -> Result<Option<String>, StoreError>;
    /// Stores `value` under `key` unless one is already there; returns the value now stored, so
    /// that two processes initialising one data directory agree on it.
    fn init_meta(&self, key: &str, value: &str) -> Result<String, StoreError>;
    /// Stores `value` under `key`, replacing what was there (shared settings such as the
    /// emulator's clock, which every process reads back).
    fn set_meta(&self, key: &str, value: &str) -> Result<(), StoreError>;
    /// Refreshes the query planner's statistics, after bulk loads.
    fn analyze(&self) -> Result<(), StoreError>;
    /// Every meta value, in key order (moving a store: `transfer`).
    fn all_meta(&self) -> Result<Vec<(String, String)>, StoreError>;
    /// The backend's name (`sqlite`, `postgres`), for the health report.
    fn backend(&self) -> &'static str;
    /// One round trip to the store, for the health report's latency.
    fn ping(&self) -> Result<(), StoreError> {
        self.get_meta("palisade:ping").map(|_| ())
    }
}

/// Tenants and their app registrations.
pub trait TenantStore: Send + Sync {
    /// Inserts a new tenant; [`StoreError::Conflict`] when its id or its domain (compared
    /// case-insensitively) is taken, decided by the store's constraints, not by a prior read.
    fn insert_tenant(&self, tenant: &Tenant) -> Result<(), StoreError>;
    /// Replaces a tenant's settings (its id and domain stay).
    fn update_tenant(&self, tenant: &Tenant) -> Result<(), StoreError>;
    /// Looks a tenant up by id or by domain (case-insensitive), as sign-in URLs accept both.
    fn find_tenant(&self, id_or_domain: &str) -> Result<Option<Tenant>, StoreError>;
    /// Every tenant, in id order.
    fn list_tenants(&self) -> Result<Vec<Tenant>, StoreError>;
    /// Ids of every tenant.
    fn tenant_ids(&self) -> Result<Vec<String>, StoreError>;
    /// Deletes a tenant with everything it owns (apps, entities, links); `false` when unknown.
    fn delete_tenant(&self, tenant_id: &str) -> Result<bool, StoreError>;
    /// Deletes every entity and link of a tenant, keeping the tenant, its settings and its apps.
    fn clear_tenant_data(&self, tenant_id: &str) -> Result<(), StoreError>;
    /// Back to an empty store (tenants, their data, the error journal); meta values (the signing
    /// key) stay.
    fn clear_all(&self) -> Result<(), StoreError>;

    fn upsert_app(&self, app: &AppRegistration) -> Result<(), StoreError>;
    fn find_app(&self, client_id: &str) -> Result<Option<AppRegistration>, StoreError>;
    /// A tenant's app registrations, in client-id order.
    fn list_apps(&self, tenant_id: &str) -> Result<Vec<AppRegistration>, StoreError>;
    /// Deletes one app registration of a tenant; `false` when the tenant has no such app.
    fn delete_app(&self, tenant_id: &str, client_id: &str) -> Result<bool, StoreError>;
}

/// Entity tables: documents as the API serialises them, queried with OData. Every method is scoped
/// by tenant id.
pub trait DocStore: Send + Sync {
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
    /// Deletes the entities with these keys; answers how many existed.
    fn delete_docs(&self, table: EntityTable, tenant_id: &str, keys: &[String]) -> Result<u64, StoreError>;
    /// Creates `table` when the store lacks it: an entity table of a family added at start
    /// (`palisade_domain::family`), outside the store's migrations, with its schema's columns and
    /// a unique key per tenant. Without an override a store knows only its migrated tables and
    /// refuses, so a server with added families fails at start rather than on the first write.
    fn ensure_table(&self, table: EntityTable) -> Result<(), StoreError> {
        Err(StoreError::Backend(format!(
            "this store cannot create the entity table {} of an added family",
            table.table
        )))
    }
}

/// Relations the entities do not carry as queryable properties (see `palisade_model::links`).
pub trait LinkStore: Send + Sync {
    /// Records relations of one kind (`from_key` → `to_key`); existing ones are kept.
    fn add_links(&self, tenant_id: &str, kind: &str, pairs: &[(String, String)]) -> Result<(), StoreError>;
    /// The `to_key`s related to `from_key`, in key order, at most `limit`.
    fn linked(&self, tenant_id: &str, kind: &str, from_key: &str, limit: u64) -> Result<Vec<String>, StoreError>;
    /// Every relation of one kind in a tenant, in key order.
    fn all_links(&self, tenant_id: &str, kind: &str) -> Result<Vec<(String, String)>, StoreError>;
}

/// What alerts' evidence observed (file hashes, IP addresses, domains): the rows behind the
/// lookups and their statistics.
pub trait ObservationStore: Send + Sync {
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
    /// [`DocStore::query_docs`] restricted to the entities an observation relates to a key.
    fn query_observed_docs(
        &self,
        table: EntityTable,
        tenant_id: &str,
        observed: &Observed<'_>,
        query: &Query,
        offset: u64,
        limit: u64,
    ) -> Result<Vec<String>, StoreError>;
    /// [`DocStore::count_docs`] restricted the same way.
    fn count_observed_docs(
        &self,
        table: EntityTable,
        tenant_id: &str,
        observed: &Observed<'_>,
        query: &Query,
    ) -> Result<u64, StoreError>;
}

/// The persistent error journal: what each error response's `target` really was.
pub trait JournalStore: Send + Sync {
    /// Appends to the error journal, dropping the oldest records beyond `capacity`.
    fn record_error(&self, record: &ErrorRecord, capacity: usize) -> Result<(), StoreError>;
    /// Appends several records at once, in order (the domain's group commit): backends write them
    /// in one transaction. The default writes them one by one.
    fn record_errors(&self, records: &[ErrorRecord], capacity: usize) -> Result<(), StoreError> {
        records.iter().try_for_each(|r| self.record_error(r, capacity))
    }
    /// The record of one target (case-insensitively), if it is still kept.
    fn find_error(&self, target: &str) -> Result<Option<ErrorRecord>, StoreError>;
}

/// Named counters shared by every process on the store.
pub trait SequenceStore: Send + Sync {
    /// Reserves `count` consecutive numbers of the named sequence (starting at 1) and answers the
    /// first: numeric ids such as indicator ids, unique even across processes.
    fn next_sequence(&self, name: &str, count: u64) -> Result<u64, StoreError>;
}

/// Named locks shared by every process on the store (decision 4): the check-then-write of a
/// state-changing operation (a machine action's conflict checks and insert, an alert's
/// read-modify-write, the first start's demo tenant) runs while its lock is held, whichever
/// process asks. A lock is a lease: it is free again once released, or once `lease` has passed
/// since it was taken (a holder that crashed does not block the others for longer than that).
/// Waiting is the caller's (retry [`LockStore::try_lock`]); backends answer at once.
pub trait LockStore: Send + Sync {
    /// Takes the lock `name` for `holder` (a value unique to the caller) unless another holder has
    /// it and its lease has not expired; whether it is now `holder`'s. Taking a lock one already
    /// holds renews its lease.
    fn try_lock(&self, name: &str, holder: &str, lease: std::time::Duration) -> Result<bool, StoreError>;
    /// Releases the lock if `holder` still has it (a lock whose lease expired and that another
    /// holder took is left to them).
    fn unlock(&self, name: &str, holder: &str) -> Result<(), StoreError>;
}

/// Bytes stored with an entity (the live-response library's file contents), written with the
/// entity's document in one transaction and deleted with it: by [`DocStore::delete_doc`],
/// [`DocStore::delete_docs`], [`TenantStore::clear_tenant_data`], [`TenantStore::delete_tenant`]
/// and [`TenantStore::clear_all`].
pub trait BlobStore: Send + Sync {
    /// Inserts or replaces one entity (as [`DocStore::upsert_docs`] does) and the bytes it
    /// describes, all or nothing.
    fn upsert_doc_with_blob(
        &self,
        table: EntityTable,
        tenant_id: &str,
        doc: &serde_json::Value,
        blob: &[u8],
    ) -> Result<(), StoreError>;
    /// The bytes stored with the entity whose key column equals `key` (with the column's own
    /// collation), if it has any.
    fn get_blob(&self, table: EntityTable, tenant_id: &str, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
}

/// A whole store: every narrow trait. Implemented for every type that implements them all, so a
/// backend implements the narrow traits only.
pub trait Store:
    MetaStore
    + TenantStore
    + DocStore
    + LinkStore
    + ObservationStore
    + JournalStore
    + SequenceStore
    + RateWindowStore
    + LockStore
    + BlobStore
    + HuntingStore
    + 'static
{
}

impl<T> Store for T where
    T: MetaStore
        + TenantStore
        + DocStore
        + LinkStore
        + ObservationStore
        + JournalStore
        + SequenceStore
        + RateWindowStore
        + LockStore
        + BlobStore
        + HuntingStore
        + 'static
{
}

/// One fixed rate-limit window of a call: its length and how many calls it admits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowLimit {
    pub length_ms: i64,
    pub limit: u32,
}

/// What [`RateWindowStore::count_call`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Counted in every window.
    Admitted,
    /// Counted in none: the window at `window` (an index into the limits given) is full, and the
    /// longest wait among full windows is `retry_after_ms`.
    Refused { window: usize, retry_after_ms: i64 },
}

/// Rate-limit windows shared by every process on the store (decision 4): counting a call is one
/// atomic operation, so two processes behind one database cannot both take the last slot.
/// Windows are fixed and open at the first call counted in them: a window opened at `t` admits
/// `limit` calls during `[t, t + length)`; a window opened after `now_ms` (the emulator's clock was
/// moved back) counts as closed.
pub trait RateWindowStore: Send + Sync {
    /// Counts one call of `key` in each of `windows`, all or none: a call refused by one window is
    /// counted in no window (a client retrying too early does not push the other windows on).
    fn count_call(&self, key: &str, windows: &[WindowLimit], now_ms: i64) -> Result<Admission, StoreError>;
    /// Forgets every window (the admin reset of the counters).
    fn clear_rate_windows(&self) -> Result<(), StoreError>;
}

/// One row of a hunting table: one value per column of the table's schema
/// (`palisade_kql::Catalog::defender_hunting`), in schema order. Strings are never null: an absent
/// string is `""` (Kusto's rule), which backends may rely on.
pub type HuntingRow = Vec<palisade_kql::Value>;

/// The advanced-hunting tables (`DeviceProcessEvents`, `AlertInfo`, ...: the 13 tables of
/// `palisade_kql::Catalog::defender_hunting`), one store table each, scoped by tenant. Requests and
/// values are the KQL engine's own neutral types (no SQL in them: a backend renders them with
/// `palisade_kql::sql` in its dialect), so the domain adapts this trait to the engine's
/// `RowSource` without knowing the backend.
///
/// Contract (the engine's `RowSource` contract, per tenant): a scan may apply any subset of the
/// request's predicates and window (the engine re-checks every row), must apply all of them when
/// it applies the limit, and must stop when the sink says so; an aggregate is answered only when
/// the backend can apply the whole filter exactly (`Ok(None)` otherwise).
pub trait HuntingStore: Send + Sync {
    /// Appends rows to a hunting table; `table` must be one of the 13 (else
    /// [`StoreError::UnknownColumn`] naming it) and each row must have one value per column.
    fn append_hunting_rows(&self, tenant_id: &str, table: &str, rows: &[HuntingRow]) -> Result<(), StoreError>;
    /// Streams the tenant's rows of `request.table`, each with the values of `request.columns` in
    /// order, into `sink` until it answers `false` or the rows end. A scan past
    /// `request.deadline` stops with [`StoreError::Backend`] saying so.
    fn scan_hunting(
        &self,
        tenant_id: &str,
        request: &palisade_kql::ScanRequest,
        sink: &mut dyn FnMut(palisade_kql::Row) -> bool,
    ) -> Result<(), StoreError>;
    /// `summarize` pushed down: the groups of the tenant's rows, or `None` when the backend cannot
    /// apply the request's filter exactly.
    fn aggregate_hunting(
        &self,
        tenant_id: &str,
        request: &palisade_kql::AggregateRequest,
    ) -> Result<Option<Vec<palisade_kql::Row>>, StoreError>;
    /// How many rows of a hunting table a tenant has.
    fn count_hunting_rows(&self, tenant_id: &str, table: &str) -> Result<u64, StoreError>;
}

/// Every trait, for `use palisade_store::prelude::*` where store methods are called.
pub mod prelude {
    pub use super::{
        BlobStore, DocStore, HuntingStore, JournalStore, LinkStore, LockStore, MetaStore, ObservationStore,
        RateWindowStore, SequenceStore, Store, StoreError, TenantStore,
    };
}
