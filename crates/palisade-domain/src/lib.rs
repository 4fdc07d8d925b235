//! Palisade's domain, free of HTTP: the entities of the emulated APIs, the rules each operation
//! enforces (roles, validation, state), tenants and app registrations, sign-in, the clock, and the
//! store that keeps it all.
//!
//! Tour: [`Core`] is the entry point the server holds; [`machines`] and [`signin`] are operations;
//! [`store`] is the persistence seam; [`entities`] the API's shapes; [`demo`] the seeded tenant.

pub mod actions;
pub mod alerts;
pub mod clock;
pub mod data;
pub mod demo;
pub mod entities;
pub mod faults;
pub mod features;
pub mod indicators;
pub mod investigations;
pub mod journal;
pub mod library;
pub mod links;
pub mod listing;
pub mod lookups;
pub mod machines;
pub mod ratelimit;
pub mod schemas;
pub mod signin;
pub mod store;
pub mod support;
pub mod tenant;
pub mod time;
pub mod users;
pub mod validate;

use chrono::TimeDelta;
use clock::Clock;
use palisade_auth::{SigningKey, TokenVerifier, ALL_APP_ROLES};
use palisade_error::ApiError;
use std::sync::{Arc, Mutex};
use store::{Store, StoreError};
use tenant::{AppRegistration, Tenant, DEMO_TENANT_ID, DEV_CLIENT_ID, DEV_CLIENT_SECRET};

/// The one error type of the domain layer.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// A documented failure of an operation, already shaped by the error contract.
    #[error("{0}")]
    Rule(#[from] ApiError),
    /// The store failed: the client sees `InternalServerError`, the journal keeps this.
    #[error("store failure: {0}")]
    Store(#[from] StoreError),
}

pub type CoreResult<T> = Result<T, CoreError>;

/// The domain's settings (part of the server's one configuration struct).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    pub action_pace: ActionPace,
    /// Most live-response sessions running at once in a tenant (`None`: the documented 25); lower
    /// it to reach the limit with a small population.
    pub max_live_response_sessions: Option<usize>,
    /// Where the live-response library keeps its files (`<data dir>/library`); `None` leaves
    /// uploads and deletes unavailable (`InternalServerError`), as in store-only uses.
    pub library_dir: Option<std::path::PathBuf>,
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
    pub store: Arc<dyn Store>,
    pub clock: Arc<Clock>,
    pub signing_key: Arc<SigningKey>,
    pub verifier: TokenVerifier,
    pub settings: Settings,
    /// Serialises the check-then-write of state-changing operations (machine actions), so two
    /// concurrent isolate calls cannot both pass the "already pending" check.
    pub(crate) state_lock: Mutex<()>,
    /// Apps recently confirmed registered (see [`Core::app_is_registered`]).
    pub(crate) registrations: tenant::RegistrationCache,
    /// Fault-injection rules (in memory; see [`faults`]).
    pub faults: faults::FaultRules,
    /// Rate-limit counters and the tenants' switches (see [`ratelimit`]).
    pub rate_limits: ratelimit::RateLimiter,
    /// Serialises library uploads and deletes (exists-check, file write, metadata write).
    pub(crate) library_lock: Mutex<()>,
}

const SIGNING_KEY_META: &str = "signing_key_pem";
const DEMO_SEEDED_META: &str = "demo_seeded";

impl Core {
    /// Opens the domain over a store, initialising it on first start: the signing key, the demo
    /// tenant with its development app and demo data.
    pub fn open(store: Arc<dyn Store>, clock: Arc<Clock>, settings: Settings) -> CoreResult<Core> {
        let signing_key = Arc::new(load_or_create_key(store.as_ref())?);
        let verifier = TokenVerifier::new(signing_key.clone());
        let core = Core {
            store,
            clock,
            signing_key,
            verifier,
            settings,
            state_lock: Mutex::new(()),
            registrations: tenant::RegistrationCache::default(),
            faults: faults::FaultRules::default(),
            rate_limits: ratelimit::RateLimiter::default(),
            library_lock: Mutex::new(()),
        };
        core.backfill_observations()?;
        core.ensure_demo_tenant()?;
        Ok(core)
    }

    fn ensure_demo_tenant(&self) -> CoreResult<()> {
        if self.store.get_meta(DEMO_SEEDED_META)?.is_some() {
            return Ok(());
        }
        let (tenant, app) = demo_registration();
        self.create_tenant(tenant, app, true)?;
        self.store.init_meta(DEMO_SEEDED_META, "1")?;
        Ok(())
    }

    /// Creates a tenant with one app registration, optionally seeded with the demo data.
    pub fn create_tenant(&self, tenant: Tenant, app: AppRegistration, demo_data: bool) -> CoreResult<()> {
        match self.store.insert_tenant(&tenant) {
            Ok(()) => {}
            // A second process initialising the same data directory got there first.
            Err(StoreError::Conflict(_)) if tenant.id == DEMO_TENANT_ID => return Ok(()),
            Err(e) => return Err(e.into()),
        }
        self.store.upsert_app(&app)?;
        if demo_data {
            let data = demo::tenant_data(&tenant.id, self.clock.now());
            self.store_demo_data(&tenant.id, &data)?;
        }
        Ok(())
    }
}

/// The demo tenant and its development app, as first start creates them.
pub(crate) fn demo_registration() -> (Tenant, AppRegistration) {
    (
        Tenant::new(DEMO_TENANT_ID, "Palisade Demo", "palisade-demo.onmicrosoft.com"),
        AppRegistration {
            client_id: DEV_CLIENT_ID.into(),
            tenant_id: DEMO_TENANT_ID.into(),
            display_name: "Palisade development app".into(),
            client_secret: DEV_CLIENT_SECRET.into(),
            roles: ALL_APP_ROLES.iter().map(|r| r.to_string()).collect(),
        },
    )
}

/// Serialises entities for the store.
pub(crate) fn to_docs<T: serde::Serialize>(entities: &[T]) -> Result<Vec<serde_json::Value>, StoreError> {
    entities
        .iter()
        .map(serde_json::to_value)
        .collect::<Result<Vec<_>, _>>()
        .map_err(StoreError::from)
}

impl Core {
    /// Stores generated data: every entity family and the relations between them.
    pub fn store_demo_data(&self, tenant_id: &str, data: &demo::DemoData) -> CoreResult<()> {
        self.store
            .upsert_docs(schemas::MACHINE_TABLE, tenant_id, &to_docs(&data.machines)?)?;
        self.store
            .upsert_docs(schemas::USER_TABLE, tenant_id, &to_docs(&data.users)?)?;
        self.store
            .upsert_docs(schemas::ALERT_TABLE, tenant_id, &to_docs(&data.alerts)?)?;
        self.index_alerts(tenant_id, &data.alerts)?;
        self.store
            .upsert_docs(schemas::INVESTIGATION_TABLE, tenant_id, &to_docs(&data.investigations)?)?;
        for (kind, pairs) in &data.links {
            self.store.add_links(tenant_id, kind, pairs)?;
        }
        Ok(())
    }

    /// Adds machines `first..first+count` of a generated population to a tenant (`palisade seed`).
    pub fn seed_machines(
        &self,
        tenant_id: &str,
        generation: &demo::Generation<'_>,
        first: u64,
        count: u64,
    ) -> CoreResult<()> {
        if self.store.find_tenant(tenant_id)?.is_none() {
            return Err(ApiError::resource_not_found("Tenant", tenant_id).into());
        }
        let machines = demo::generate_machines(generation, self.clock.now(), first, count);
        Ok(self
            .store
            .upsert_docs(schemas::MACHINE_TABLE, tenant_id, &to_docs(&machines)?)?)
    }

    /// Adds alerts `first..first+count` of a generated population (`palisade seed --alerts`).
    pub fn seed_alerts(
        &self,
        tenant_id: &str,
        generation: &demo::Generation<'_>,
        population: demo::AlertPopulation,
        first: u64,
        count: u64,
    ) -> CoreResult<()> {
        if self.store.find_tenant(tenant_id)?.is_none() {
            return Err(ApiError::resource_not_found("Tenant", tenant_id).into());
        }
        let alerts = demo::generate_alerts(generation, tenant_id, self.clock.now(), population, first, count);
        let links: Vec<(String, String)> = alerts
            .iter()
            .filter_map(|a| {
                a.related_user
                    .as_ref()
                    .map(|u| (links::user_key(&u.user_name), a.id.clone()))
            })
            .collect();
        self.store
            .upsert_docs(schemas::ALERT_TABLE, tenant_id, &to_docs(&alerts)?)?;
        self.index_alerts(tenant_id, &alerts)?;
        Ok(self.store.add_links(tenant_id, links::USER_ALERTS, &links)?)
    }
}

fn load_or_create_key(store: &dyn Store) -> CoreResult<SigningKey> {
    let key_error = |e: palisade_auth::AuthError| CoreError::Rule(ApiError::internal(e.to_string()));
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
