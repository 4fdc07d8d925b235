//! Check-then-write sections shared by every process on the store: a section holds a named
//! [`LockStore`](palisade_store::LockStore) lock from its checks to its writes, so two callers
//! (in this process or another one on the same store) cannot both pass an "already pending"
//! check, and a read-modify-write cannot lose another's change.
//!
//! Waiting: a taker retries [`LockStore::try_lock`](palisade_store::LockStore::try_lock) with a
//! backoff of 1 ms doubling to [`MAX_BACKOFF`]; a release in this process wakes this process's
//! waiters at once, a release in another one is seen at the next retry. A taker that waits longer
//! than [`MAX_WAIT`] gives up with `StoreError::Unavailable` (a traceable `InternalServerError`).
//! A lock is a lease of [`LEASE`]: a process that dies inside a section blocks that section for
//! at most that long.

use crate::{Core, DomainResult};
use palisade_store::{Store, StoreError};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// How long a lock lasts unless released: far beyond any section's work (milliseconds).
pub const LEASE: Duration = Duration::from_secs(60);
/// Longest wait for a lock before the operation fails.
pub const MAX_WAIT: Duration = Duration::from_secs(30);
/// Longest pause between two attempts (how late a release by another process may be noticed).
pub const MAX_BACKOFF: Duration = Duration::from_millis(8);

/// Wakes this process's waiters when one of its sections ends.
#[derive(Default)]
pub(crate) struct Releases {
    generation: Mutex<u64>,
    released: Condvar,
}

impl Releases {
    fn generation(&self) -> u64 {
        *self.generation.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn notify(&self) {
        *self.generation.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        self.released.notify_all();
    }

    /// Sleeps up to `pause`, or less if a section of this process ends after `seen`.
    fn wait(&self, seen: u64, pause: Duration) {
        let generation = self.generation.lock().unwrap_or_else(|e| e.into_inner());
        let _ = self
            .released
            .wait_timeout_while(generation, pause, |g| *g == seen)
            .map_err(|e| e.into_inner());
    }
}

/// A held section: the lock is released when it drops.
pub(crate) struct Exclusive {
    store: Arc<dyn Store>,
    releases: Arc<Releases>,
    name: String,
    holder: String,
}

impl Drop for Exclusive {
    fn drop(&mut self) {
        if let Err(e) = self.store.unlock(&self.name, &self.holder) {
            // The lease frees it anyway; the next taker waits at most that long.
            tracing::warn!(lock = %self.name, error = %e, "lock not released; it frees when its lease ends");
        }
        self.releases.notify();
    }
}

impl Core {
    /// Takes the named lock, waiting for it (see the module doc).
    pub(crate) fn exclusive(&self, name: &str) -> DomainResult<Exclusive> {
        let holder = uuid::Uuid::new_v4().simple().to_string();
        let started = Instant::now();
        let mut pause = Duration::from_millis(1);
        loop {
            let seen = self.releases.generation();
            if self.store.try_lock(name, &holder, LEASE)? {
                return Ok(Exclusive {
                    store: self.store.clone(),
                    releases: self.releases.clone(),
                    name: name.to_string(),
                    holder,
                });
            }
            if started.elapsed() >= MAX_WAIT {
                return Err(StoreError::Unavailable(format!("lock {name} stayed taken for {MAX_WAIT:?}")).into());
            }
            self.releases.wait(seen, pause);
            pause = (pause * 2).min(MAX_BACKOFF);
        }
    }

    /// The section guarding a tenant's state-changing operations (machine actions, alerts,
    /// indicators, the library).
    pub(crate) fn tenant_section(&self, tenant_id: &str) -> DomainResult<Exclusive> {
        self.exclusive(&format!("tenant-state:{}", tenant_id.to_ascii_lowercase()))
    }
}
