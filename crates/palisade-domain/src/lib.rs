//! Palisade's domain: the operations of the emulated APIs and the rules each enforces (roles,
//! validation, tenant features, device support, current state), free of HTTP and of SQL. It keeps
//! its data through the `palisade-store` traits and its shapes in `palisade-model`.
//!
//! Tour: [`Core`] is the entry point the server holds, and [`DomainError`] its one error type.
//! Operations are grouped by API family: [`mde`] (Defender for Endpoint: machines, actions,
//! alerts, indicators, investigations, users, lookups, the live-response library, device support
//! and value validation), [`xdr`] (Defender XDR: advanced hunting and its tables), [`control`] (the emulator's own
//! controls: tenants, apps, data load/export, demo data, faults, features, rate limits, the clock,
//! the error journal), [`graph`] (Microsoft Graph's security API over the same data) and [`signin`]
//! (Entra-style token issuance). [`listing`] pages entity lists. [`family`] holds each family's
//! descriptor (tables, data kinds, rate limits, roles, path words), from which the data loader, the
//! rate limiter and the server's registries read.

pub mod control;
pub mod exclusive;
pub mod family;
pub mod graph;
pub mod listing;
pub mod mde;
pub mod signin;
pub mod xdr;

use chrono::TimeDelta;
use control::clock::Clock;
use control::{apps, faults, ratelimit};
use palisade_auth::{SigningKey, TokenVerifier};
use palisade_error::ApiError;
use palisade_store::{MetaStore, Store, StoreError};
use std::sync::Arc;

/// The one error type of the domain layer.
#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    /// A documented failure of an operation, already shaped by the error contract.
    #[error("{0}")]
    Rule(#[from] ApiError),
    /// The store failed: the client sees `InternalServerError`, the journal keeps this.
    #[error("store failure: {0}")]
    Store(#[from] StoreError),
}

pub type DomainResult<T> = Result<T, DomainError>;

/// The domain's settings (part of the server's one configuration struct).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    pub action_pace: ActionPace,
    /// Most live-response sessions running at once in a tenant (`None`: the documented 25); lower
    /// it to reach the limit with a small population.
    pub max_live_response_sessions: Option<usize>,
    /// Advanced hunting's limits (rows, timeout, result size, look-back).
    pub hunting: xdr::hunting::HuntingSettings,
    /// Families beyond the built-in [`family::FAMILIES`] (a test's toy family): their tables are
    /// created at open, and every registry reads them.
    pub extra_families: Vec<&'static family::Family>,
}

/// How fast machine actions progress on the emulator's clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActionPace {
    /// Pending → InProgress: the device picks the action up.
    pub pickup: TimeDelta,
    /// InProgress → Succeeded (or Failed).
    pub run: TimeDelta,
    /// A device that never checks in leaves its action Pending until this much time has passed,
    /// then TimeOut (the docs: isolation and live response are retried for up to three days).
    pub offline_timeout: TimeDelta,
}

impl Default for ActionPace {
    fn default() -> Self {
        ActionPace {
            pickup: TimeDelta::seconds(10),
            run: TimeDelta::seconds(50),
            offline_timeout: TimeDelta::days(3),
        }
    }
}

/// Everything an operation needs: the store, the clock, the signing key and the settings.
pub struct Core {
    /// Only the domain reaches the store: handlers and the CLI call operations.
    pub(crate) store: Arc<dyn Store>,
    pub clock: Arc<Clock>,
    pub signing_key: Arc<SigningKey>,
    pub verifier: TokenVerifier,
    pub settings: Settings,
    /// Wakes this process's waiters for a store lock when one of its sections ends (see
    /// [`exclusive`]).
    pub(crate) releases: Arc<exclusive::Releases>,
    /// Apps recently confirmed registered (see [`Core::app_is_registered`]).
    pub(crate) registrations: apps::RegistrationCache,
    /// This process's copy of the shared fault-injection rules (see [`faults`]).
    pub faults: Arc<faults::FaultRules>,
    /// Rate-limit counters and the tenants' switches (see [`ratelimit`]). Counted per process;
    /// the windows are to move into the store (an atomic "count this call" operation).
    pub rate_limits: ratelimit::RateLimiter,
    /// The error journal's queue and group-commit writer (see [`journal`](control::journal)).
    pub(crate) journal: control::journal::JournalQueue,
    /// Keeps [`Core::clock`] on the setting shared through the store (see [`clock`](control::clock)).
    _clock_sync: control::clock::ClockSync,
}

const SIGNING_KEY_META: &str = "signing_key_pem";
pub(crate) const DEMO_SEEDED_META: &str = "demo_seeded";

impl Core {
    /// Opens the domain over a store, initialising it on first start: the signing key, the demo
    /// tenant with its development app and demo data.
    pub fn open(store: Arc<dyn Store>, clock: Arc<Clock>, settings: Settings) -> DomainResult<Core> {
        let signing_key = Arc::new(load_or_create_key(store.as_ref())?);
        let verifier = TokenVerifier::new(signing_key.clone());
        clock.sync_from(store.as_ref())?;
        let faults = Arc::new(faults::FaultRules::default());
        let releases: Arc<exclusive::Releases> = Arc::default();
        faults.refresh(store.as_ref())?;
        let core = Core {
            store: store.clone(),
            clock: clock.clone(),
            signing_key,
            verifier,
            settings,
            releases: releases.clone(),
            registrations: apps::RegistrationCache::default(),
            faults: faults.clone(),
            rate_limits: ratelimit::RateLimiter::default(),
            journal: control::journal::JournalQueue::start(store.clone()),
            _clock_sync: control::clock::ClockSync::start(store.clone(), clock.clone(), faults, releases),
        };
        for family in &core.settings.extra_families {
            for table in family.tables {
                core.store.ensure_table(*table)?;
            }
        }
        core.backfill_observations()?;
        core.ensure_demo_tenant()?;
        Ok(core)
    }
}

impl Core {
    /// The built-in families, then the added ones (see [`family`]).
    pub fn families(&self) -> impl Iterator<Item = &'static family::Family> + Clone + '_ {
        family::all(&self.settings.extra_families)
    }

    /// Where the store's calls may run (the server's dispatch asks; see `palisade_store`).
    pub fn execution(&self) -> palisade_store::Execution {
        self.store.execution()
    }

    /// The store backend's name (`sqlite`, `postgres`), for the health report.
    pub fn store_backend(&self) -> &'static str {
        self.store.backend()
    }

    /// One round trip to the store (the health report times it).
    pub fn ping_store(&self) -> DomainResult<()> {
        Ok(self.store.ping()?)
    }
}

/// Serialises entities for the store.
pub(crate) fn to_docs<T: serde::Serialize>(entities: &[T]) -> Result<Vec<serde_json::Value>, StoreError> {
    entities
        .iter()
        .map(serde_json::to_value)
        .collect::<Result<Vec<_>, _>>()
        .map_err(StoreError::from)
}

/// The signing key: the stored one, or a fresh one stored first-writer-wins (needs only [`MetaStore`]).
fn load_or_create_key(store: &(impl MetaStore + ?Sized)) -> DomainResult<SigningKey> {
    let key_error = |e: palisade_auth::AuthError| DomainError::Rule(ApiError::internal(e.to_string()));
    if let Some(pem) = store.get_meta(SIGNING_KEY_META)? {
        return SigningKey::from_pem(&pem).map_err(key_error);
    }
    let fresh = SigningKey::generate().map_err(key_error)?;
    // If another process stored a key meanwhile, theirs wins and we use it.
    let kept = store.init_meta(SIGNING_KEY_META, fresh.private_pem())?;
    if kept == fresh.private_pem() {
        Ok(fresh)
    } else {
        SigningKey::from_pem(&kept).map_err(key_error)
    }
}
