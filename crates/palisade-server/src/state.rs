//! Shared state of every handler, and where domain operations run.
//!
//! Two dispatches, chosen by the handler (the call site says what kind of work it asks for):
//!
//! - [`AppState::read_inline`] for **point reads**: one entity by id, the token's app check, an
//!   error-journal lookup. When the store answers [`Execution::Inline`] (SQLite: a free reader is
//!   lent without a wait) the operation runs on the calling async worker, with no thread hop;
//!   otherwise it goes the blocking way.
//! - [`AppState::run`] for everything else (pages, counts, writes, loads): on the blocking pool,
//!   **bounded** by [`BLOCKING_PERMITS`] operations at a time. A caller waits for a permit at most
//!   [`PERMIT_WAIT`]; past that it gets a traceable `InternalServerError` ("store unavailable"),
//!   the same answer as a store whose connections stayed busy (`StoreError::Unavailable`). The
//!   permits are fewer than the store's readers (`palisade_store_sqlite::max_readers`), so the
//!   blocking work never takes every reader and point reads on the workers find one free.
//!
//! A point read may still write, rarely: reading a machine first settles actions due on the
//! emulator clock (a short write under the state lock, only when actions are open). That wait
//! happens on the async worker; it is bounded by the writer's busy timeout and judged cheaper than
//! a hop on every read.

use crate::config::Config;
use crate::error::from_domain;
use palisade_domain::{Core, DomainResult};
use palisade_error::ApiError;
use palisade_store::Execution;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

/// Domain operations running on the blocking pool at once (see the module docs).
pub const BLOCKING_PERMITS: usize = 8;

/// Longest wait for a blocking permit before answering `InternalServerError`.
pub const PERMIT_WAIT: Duration = Duration::from_secs(5);

#[derive(Clone)]
pub struct AppState {
    pub core: Arc<Core>,
    pub config: Arc<Config>,
    /// Every request, bounded, in memory (`GET /_palisade/requests`).
    pub requests: Arc<crate::layers::requests::RequestJournal>,
    /// Prometheus counters and histograms (`GET /metrics`).
    pub metrics: Arc<crate::layers::metrics::Metrics>,
    /// Permits of the bounded blocking work (see the module docs).
    pub blocking: Arc<Semaphore>,
}

/// The permits of a new server's blocking work.
pub fn blocking_permits() -> Arc<Semaphore> {
    Arc::new(Semaphore::new(BLOCKING_PERMITS))
}

impl AppState {
    /// Runs a domain operation on the bounded blocking pool (the store is synchronous). A panic
    /// inside it becomes `InternalServerError` with the panic message as the journaled cause.
    pub async fn run<T, F>(&self, operation: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&Core) -> DomainResult<T> + Send + 'static,
    {
        let permit = match tokio::time::timeout(PERMIT_WAIT, self.blocking.clone().acquire_owned()).await {
            Ok(Ok(permit)) => permit,
            Ok(Err(_closed)) => return Err(ApiError::internal("store unavailable: the server is stopping")),
            Err(_elapsed) => {
                return Err(ApiError::internal(format!(
                    "store unavailable: all {BLOCKING_PERMITS} blocking permits stayed busy for {PERMIT_WAIT:?}"
                )))
            }
        };
        let core = self.core.clone();
        let joined = tokio::task::spawn_blocking(move || {
            let result = operation(&core);
            drop(permit);
            result
        })
        .await;
        match joined {
            Ok(result) => result.map_err(from_domain),
            Err(join) => Err(ApiError::internal(format!(
                "operation panicked: {}",
                panic_message(join)
            ))),
        }
    }

    /// Runs a point read on the calling async worker when the store allows it (see the module
    /// docs), else as [`run`](Self::run) does.
    pub async fn read_inline<T, F>(&self, operation: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&Core) -> DomainResult<T> + Send + 'static,
    {
        if self.core.execution() != Execution::Inline {
            return self.run(operation).await;
        }
        let core = &self.core;
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| operation(core))) {
            Ok(result) => result.map_err(from_domain),
            Err(payload) => Err(ApiError::internal(format!(
                "operation panicked: {}",
                crate::error::describe_panic(payload.as_ref())
            ))),
        }
    }
}

fn panic_message(join: tokio::task::JoinError) -> String {
    match join.try_into_panic() {
        Ok(payload) => crate::error::describe_panic(payload.as_ref()),
        Err(join) => join.to_string(),
    }
}
