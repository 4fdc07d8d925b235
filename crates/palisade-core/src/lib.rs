//! Palisade's domain, free of HTTP: the entities of the emulated APIs, the rules each operation
//! enforces (roles, validation, state), tenants and app registrations, sign-in, the clock, and the
//! store that keeps it all.
//!
//! Tour: [`Core`] is the entry point the server holds; [`machines`] and [`signin`] are operations;
//! [`store`] is the persistence seam; [`entities`] the API's shapes; [`demo`] the seeded tenant.

pub mod clock;
pub mod demo;
pub mod entities;
pub mod journal;
pub mod listing;
pub mod machines;
pub mod schemas;
pub mod signin;
pub mod store;
pub mod tenant;
pub mod time;

use clock::Clock;
use palisade_auth::{SigningKey, TokenVerifier, ALL_APP_ROLES};
use palisade_error::ApiError;
use std::sync::Arc;
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

/// Everything an operation needs: the store, the clock and the signing key.
pub struct Core {
    pub store: Arc<dyn Store>,
    pub clock: Arc<Clock>,
    pub signing_key: Arc<SigningKey>,
    pub verifier: TokenVerifier,
}

const SIGNING_KEY_META: &str = "signing_key_pem";
const DEMO_SEEDED_META: &str = "demo_seeded";

impl Core {
    /// Opens the domain over a store, initialising it on first start: the signing key, the demo
    /// tenant with its development app and demo data.
    pub fn open(store: Arc<dyn Store>, clock: Arc<Clock>) -> CoreResult<Core> {
        let signing_key = Arc::new(load_or_create_key(store.as_ref())?);
        let verifier = TokenVerifier::new(signing_key.clone());
        let core = Core {
            store,
            clock,
            signing_key,
            verifier,
        };
        core.ensure_demo_tenant()?;
        Ok(core)
    }

    fn ensure_demo_tenant(&self) -> CoreResult<()> {
        if self.store.get_meta(DEMO_SEEDED_META)?.is_some() {
            return Ok(());
        }
        self.create_tenant(
            Tenant {
                id: DEMO_TENANT_ID.into(),
                display_name: "Palisade Demo".into(),
                domain: "palisade-demo.onmicrosoft.com".into(),
            },
            AppRegistration {
                client_id: DEV_CLIENT_ID.into(),
                tenant_id: DEMO_TENANT_ID.into(),
                display_name: "Palisade development app".into(),
                client_secret: DEV_CLIENT_SECRET.into(),
                roles: ALL_APP_ROLES.iter().map(|r| r.to_string()).collect(),
            },
            true,
        )?;
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
            let machines = demo::machines(&tenant.id, self.clock.now());
            let docs = machines
                .iter()
                .map(serde_json::to_value)
                .collect::<Result<Vec<_>, _>>()
                .map_err(StoreError::from)?;
            self.store.upsert_docs(schemas::MACHINE_TABLE, &tenant.id, &docs)?;
        }
        Ok(())
    }
}

impl Core {
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
        let docs = machines
            .iter()
            .map(serde_json::to_value)
            .collect::<Result<Vec<_>, _>>()
            .map_err(StoreError::from)?;
        Ok(self.store.upsert_docs(schemas::MACHINE_TABLE, tenant_id, &docs)?)
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
