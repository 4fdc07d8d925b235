//! Palisade's shared store: one PostgreSQL database that any number of Palisade processes use at
//! once, implementing every `palisade-store` trait. Only this crate writes PostgreSQL's SQL.
//!
//! Tour, by concern: `pool` opens connections and lends a bounded set of them (with their
//! prepared statements); `tls` makes TLS connections with rustls; `migrations` holds the schema
//! (`migrations/*.sql`) and applies it under an advisory lock; `params` binds the OData layer's
//! values; `docs` the entity tables and their paging SQL; `tenants` tenants and apps; `links`
//! relations; `locks` named leases and the blobs stored with entities; `observations` the lookups' rows and statistics; `journal` the error journal; `meta`
//! small values, sequences and upkeep; `rate_windows` the shared rate-limit windows; `hunting` the
//! advanced-hunting tables (scans streamed through a portal); `error` maps
//! PostgreSQL's errors onto the neutral `StoreError` (lost connections, timeouts and busy servers
//! → `Unavailable`, unique violations → `Conflict`, the rest → `Backend`).
//! `tests/conformance.rs` runs `palisade_store::conformance` against this backend.
//!
//! Every value keeps its precision: documents are stored as the API serialised them (text, so
//! seven fractional digits of a timestamp and the order of properties survive), and date-time
//! query columns are Unix microseconds, as in SQLite, rather than `timestamptz`.

mod docs;
mod error;
mod hunting;
mod journal;
mod links;
mod locks;
mod meta;
mod migrations;
mod observations;
mod params;
mod pool;
mod rate_windows;
mod tenants;
pub mod throwaway;
mod tls;

use palisade_store::StoreError;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

/// How the store connects and how long it waits.
#[derive(Debug, Clone)]
pub struct Options {
    /// Most connections open at once.
    pub pool_size: usize,
    /// Longest wait for a free connection before a call answers `Unavailable`.
    pub pool_wait: Duration,
    /// Longest any statement may run (including its lock waits); PostgreSQL cancels it then.
    pub statement_timeout: Duration,
    /// Longest a new connection may take to open.
    pub connect_timeout: Duration,
    /// CA certificates (PEM) that verify the database server; with it, connections use TLS.
    /// Without it, `sslmode=require` in the URL encrypts without verifying (as libpq does).
    pub ca_file: Option<PathBuf>,
}

impl Default for Options {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Options {
            pool_size: 8 + 2 * cores,
            pool_wait: Duration::from_secs(5),
            statement_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
            ca_file: None,
        }
    }
}

/// The PostgreSQL backend. Cheap to share behind an `Arc`; every method takes `&self`.
pub struct PostgresStore {
    pool: pool::Pool,
}

/// Whether `location` names a PostgreSQL database (`postgres://` or `postgresql://`).
pub fn is_postgres_url(location: &str) -> bool {
    let lower = location.trim().to_ascii_lowercase();
    lower.starts_with("postgres://") || lower.starts_with("postgresql://")
}

impl PostgresStore {
    /// Connects to the database named by `url` (`postgres://user:password@host:port/db`, or
    /// libpq's `key=value` form) and runs pending migrations, however many processes do so at
    /// the same moment.
    pub fn open(url: &str, options: Options) -> Result<Self, StoreError> {
        let mut config =
            postgres::Config::from_str(url).map_err(|e| StoreError::Backend(format!("invalid PostgreSQL URL: {e}")))?;
        if config.get_application_name().is_none() {
            config.application_name("palisade");
        }
        config.connect_timeout(options.connect_timeout);
        // A server that stops answering (a cut network) fails the call instead of hanging it.
        config.keepalives(true);
        config.keepalives_idle(Duration::from_secs(30));
        config.tcp_user_timeout(options.statement_timeout + Duration::from_secs(5));
        let timeout = format!("-c statement_timeout={}", options.statement_timeout.as_millis());
        let given = config.get_options().map(str::to_string);
        config.options(&match given {
            Some(given) => format!("{given} {timeout}"),
            None => timeout,
        });
        let tls = tls::Connector::new(&config, options.ca_file.as_deref()).map_err(StoreError::Backend)?;
        let pool = pool::Pool::new(config, tls, options);
        let mut conn = pool.connect()?;
        migrations::migrate(&mut conn).map_err(StoreError::from)?;
        Ok(PostgresStore { pool })
    }

    /// The options the store was opened with.
    pub fn options(&self) -> &Options {
        self.pool.options()
    }

    /// Runs `f` on a pooled connection (reads: the same set serves both).
    pub(crate) fn read<T>(&self, f: impl FnMut(&mut pool::Conn) -> error::Result<T>) -> Result<T, StoreError> {
        self.pool.run(f)
    }

    /// Runs `f` on a pooled connection; writes take their own transactions where they need one.
    pub(crate) fn write<T>(&self, f: impl FnMut(&mut pool::Conn) -> error::Result<T>) -> Result<T, StoreError> {
        self.pool.run(f)
    }
}

/// Decodes a stored document.
fn decode<T: serde::de::DeserializeOwned>(doc: String) -> Result<T, StoreError> {
    Ok(serde_json::from_str(&doc)?)
}
