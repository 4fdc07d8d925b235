//! Shared state of every handler, and running domain operations off the async threads.

use crate::config::Config;
use crate::error::from_domain;
use palisade_domain::{Core, DomainResult};
use palisade_error::ApiError;
use std::sync::Arc;

#[derive(Clone)]
pub struct AppState {
    pub core: Arc<Core>,
    pub config: Arc<Config>,
    /// Every request, bounded, in memory (`GET /_palisade/requests`).
    pub requests: Arc<crate::layers::requests::RequestJournal>,
    /// Prometheus counters and histograms (`GET /metrics`).
    pub metrics: Arc<crate::layers::metrics::Metrics>,
}

impl AppState {
    /// Runs a domain operation on the blocking pool (the store is synchronous). A panic inside it
    /// becomes `InternalServerError` with the panic message as the journaled cause.
    pub async fn run<T, F>(&self, operation: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&Core) -> DomainResult<T> + Send + 'static,
    {
        let core = self.core.clone();
        match tokio::task::spawn_blocking(move || operation(&core)).await {
            Ok(result) => result.map_err(from_domain),
            Err(join) => Err(ApiError::internal(format!(
                "operation panicked: {}",
                panic_message(join)
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
