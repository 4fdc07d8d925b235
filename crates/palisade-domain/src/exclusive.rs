//! Check-then-write sections shared by every process on the store: a section holds a named
//! [`LockStore`](palisade_store::LockStore) lock from its checks to its writes, so two callers
//! (in this process or another one on the same store) cannot both pass an "already pending"
//! check, and a read-modify-write cannot lose another's change.
//!
//! Waiting: a taker retries [`LockStore::try_lock`](palisade_store::LockStore::try_lock) with a
//! backoff of 1 ms doubling to [`MAX_BACKOFF`]; a release in this process wakes this process's
//! waiters at once, a release in another one is seen at the next retry. A taker that waits longer
//! than [`MAX_WAIT`] gives up with `StoreError::Unavailable` (a traceable `InternalServerError`).
//! A lock is a lease of [`LEASE`], renewed every [`RENEW_AFTER`] while its section runs (by the
//! thread that follows the shared clock, see [`ClockSync`](crate::control::clock::ClockSync)): a
//! process killed inside a section blocks that section for at most one lease, and a slow section
//! keeps its lock. Only a store that stalls a whole lease long (so that no renewal lands) can let
//! a second holder in.

use crate::{Core, DomainResult};
use palisade_store::{Store, StoreError};
use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// How long a lock lasts unless released or renewed: what a killed holder costs the others.
pub const LEASE: Duration = Duration::from_secs(3);
/// A held lock is renewed once it is this old.
pub const RENEW_AFTER: Duration = Duration::from_secs(1);
/// Longest wait for a lock before the operation fails.
pub const MAX_WAIT: Duration = Duration::from_secs(30);
/// Longest pause between two attempts (how late a release by another process may be noticed).
pub const MAX_BACKOFF: Duration = Duration::from_millis(8);

/// Wakes this process's waiters when one of its sections ends, and knows the locks held here
/// (holder → name and when its lease was last renewed), to renew them.
#[derive(Default)]
pub(crate) struct Releases {
    generation: Mutex<u64>,
    released: Condvar,
    held: Mutex<HashMap<String, (String, Instant)>>,
}

impl Releases {
    fn generation(&self) -> u64 {
        *self.generation.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn held(&self) -> std::sync::MutexGuard<'_, HashMap<String, (String, Instant)>> {
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Renews the leases of this process's held locks that are older than [`RENEW_AFTER`].
    pub(crate) fn renew(&self, store: &dyn Store) {
        let due: Vec<(String, String)> = self
            .held()
            .iter()
            .filter(|(_, (_, renewed))| renewed.elapsed() >= RENEW_AFTER)
            .map(|(holder, (name, _))| (holder.clone(), name.clone()))
            .collect();
        for (holder, name) in due {
            match store.try_lock(&name, &holder, LEASE) {
                Ok(true) => {
                    if let Some(entry) = self.held().get_mut(&holder) {
                        entry.1 = Instant::now();
                    }
                }
                // Released meanwhile (then it is no longer held), or lost to an expiry.
                Ok(false) if self.held().contains_key(&holder) => {
                    tracing::error!(lock = %name, "a held lock's lease expired before its renewal; another holder may have it");
                }
                Ok(false) => {}
                Err(e) => tracing::warn!(lock = %name, error = %e, "lock lease not renewed"),
            }
        }
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
        self.releases.held().remove(&self.holder);
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
                self.releases
                    .held()
                    .insert(holder.clone(), (name.to_string(), Instant::now()));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::clock::Clock;
    use palisade_store_sqlite::SqliteStore;

    /// Two cores on one store file, as two processes would be.
    fn two_cores(path: &std::path::Path) -> (Arc<dyn Store>, Core, Core) {
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(path).unwrap());
        let other: Arc<dyn Store> = Arc::new(SqliteStore::open(path).unwrap());
        let a = Core::open(store.clone(), Arc::new(Clock::new()), crate::Settings::default()).unwrap();
        let b = Core::open(other, Arc::new(Clock::new()), crate::Settings::default()).unwrap();
        (store, a, b)
    }

    #[test]
    fn a_section_outlasting_its_lease_keeps_its_lock_and_the_next_taker_waits_for_the_release() {
        let dir = tempfile::tempdir().unwrap();
        let (store, a, b) = two_cores(&dir.path().join("p.db"));
        let section = a.exclusive("long").unwrap();
        std::thread::sleep(LEASE + Duration::from_millis(700));
        assert!(
            !store.try_lock("long", "someone-else", LEASE).unwrap(),
            "renewed while held: not free after one lease"
        );
        let started = Instant::now();
        std::thread::scope(|scope| {
            let waiter = scope.spawn(|| b.exclusive("long").map(|_| started.elapsed()));
            std::thread::sleep(Duration::from_millis(200));
            drop(section);
            let waited = waiter.join().unwrap().unwrap();
            assert!(
                waited >= Duration::from_millis(200),
                "took it only after the release: {waited:?}"
            );
            assert!(waited < Duration::from_secs(2), "soon after the release: {waited:?}");
        });
    }

    #[test]
    fn a_lock_left_by_a_dead_holder_frees_after_one_lease() {
        let dir = tempfile::tempdir().unwrap();
        let (store, a, _b) = two_cores(&dir.path().join("p.db"));
        // A holder that never releases nor renews, as a killed process.
        assert!(store.try_lock("tenant-state:t", "killed-process", LEASE).unwrap());
        let started = Instant::now();
        let _section = a.exclusive("tenant-state:t").unwrap();
        let waited = started.elapsed();
        assert!(waited >= LEASE - Duration::from_millis(100), "{waited:?}");
        assert!(waited < LEASE + Duration::from_secs(1), "{waited:?}");
    }
}
