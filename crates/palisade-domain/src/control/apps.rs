//! App registrations: registering, listing, rotating secrets, changing roles, deleting, and the
//! per-request check that a token's app still exists (with its short-lived cache).

use crate::{Core, DomainResult};
use palisade_error::ApiError;
use palisade_model::tenant::AppRegistration;
use serde::Serialize;

/// How long a positive "this app is registered" answer is trusted before the store is asked again.
/// Deletions through [`Core`] take effect at once (they forget the entry); the window only matters
/// for another process (the CLI) deleting an app under a running server.
const REGISTRATION_CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(2);

/// Registered `(tenant id, client id)` pairs recently confirmed by the store, so the per-request
/// check that a token's app still exists costs a hash lookup, not a query.
#[derive(Debug, Default)]
pub(crate) struct RegistrationCache {
    confirmed: std::sync::RwLock<std::collections::HashMap<(String, String), std::time::Instant>>,
}

impl RegistrationCache {
    fn is_fresh(&self, tenant_id: &str, client_id: &str) -> bool {
        let Ok(confirmed) = self.confirmed.read() else {
            return false;
        };
        confirmed
            .get(&(tenant_id.to_string(), client_id.to_string()))
            .is_some_and(|at| at.elapsed() < REGISTRATION_CACHE_TTL)
    }

    fn confirm(&self, tenant_id: &str, client_id: &str) {
        if let Ok(mut confirmed) = self.confirmed.write() {
            // Bounded by the number of registered apps in practice; start afresh if it ever grows.
            if confirmed.len() > 10_000 {
                confirmed.clear();
            }
            confirmed.insert(
                (tenant_id.to_string(), client_id.to_string()),
                std::time::Instant::now(),
            );
        }
    }

    pub(crate) fn forget_all(&self) {
        if let Ok(mut confirmed) = self.confirmed.write() {
            confirmed.clear();
        }
    }
}

/// An app registration as the admin API lists it: everything but the secret, which is shown only
/// when it is created or rotated (as Entra shows a secret's value once).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AppView {
    pub client_id: String,
    pub tenant_id: String,
    pub display_name: String,
    pub roles: Vec<String>,
}

impl From<&AppRegistration> for AppView {
    fn from(app: &AppRegistration) -> Self {
        AppView {
            client_id: app.client_id.clone(),
            tenant_id: app.tenant_id.clone(),
            display_name: app.display_name.clone(),
            roles: app.roles.clone(),
        }
    }
}

/// Checks requested application roles against the roles the emulated APIs define (`known`:
/// [`Core::app_roles`]; exact spelling, as in an app manifest); duplicates are dropped, order is
/// kept.
pub fn validate_roles(roles: &[String], known: &[&str]) -> Result<Vec<String>, palisade_error::ApiError> {
    let mut kept: Vec<String> = Vec::with_capacity(roles.len());
    for role in roles {
        if !known.contains(&role.as_str()) {
            return Err(palisade_error::ApiError::invalid_input(
                format!("role '{role}'; known application roles are: {}", known.join(", ")),
                "app role validation",
            ));
        }
        if !kept.contains(role) {
            kept.push(role.clone());
        }
    }
    Ok(kept)
}

/// A new random client secret, in the spirit of Entra's (40 characters, no look-alike concerns).
pub fn new_client_secret() -> String {
    format!("palisade~{}", uuid::Uuid::new_v4().simple())
}

impl Core {
    /// Every application role an app may hold: [`palisade_auth::ALL_APP_ROLES`] (the built-in
    /// families' roles, as a test holds them), then those of added families.
    pub fn app_roles(&self) -> Vec<&'static str> {
        let mut roles = palisade_auth::ALL_APP_ROLES.to_vec();
        for role in self.settings.extra_families.iter().flat_map(|f| f.roles.iter()) {
            if !roles.contains(role) {
                roles.push(role);
            }
        }
        roles
    }

    /// Registers a new app in a tenant with the given roles (none is allowed: a role-less app).
    pub fn register_app(&self, tenant_id: &str, display_name: &str, roles: &[String]) -> DomainResult<AppRegistration> {
        let tenant = self.tenant(tenant_id)?;
        let app = AppRegistration {
            client_id: uuid::Uuid::new_v4().to_string(),
            tenant_id: tenant.id,
            display_name: display_name.to_string(),
            client_secret: new_client_secret(),
            roles: validate_roles(roles, &self.app_roles())?,
        };
        self.store.upsert_app(&app)?;
        Ok(app)
    }

    /// A tenant's apps.
    pub fn list_apps(&self, tenant_id: &str) -> DomainResult<Vec<AppRegistration>> {
        let tenant = self.tenant(tenant_id)?;
        Ok(self.store.list_apps(&tenant.id)?)
    }

    /// One app of a tenant, or `ResourceNotFound` naming it.
    pub fn app(&self, tenant_id: &str, client_id: &str) -> DomainResult<AppRegistration> {
        let tenant = self.tenant(tenant_id)?;
        match self.store.find_app(client_id)? {
            Some(app) if app.tenant_id == tenant.id => Ok(app),
            _ => Err(ApiError::resource_not_found("App", client_id).into()),
        }
    }

    /// Deletes an app; its tokens stop working at once.
    pub fn delete_app(&self, tenant_id: &str, client_id: &str) -> DomainResult<()> {
        let app = self.app(tenant_id, client_id)?;
        self.store.delete_app(&app.tenant_id, &app.client_id)?;
        self.registrations.forget_all();
        Ok(())
    }

    /// Replaces an app's secret: the old one stops working at once (one secret per app). Tokens
    /// already issued stay valid until they expire, as with Entra.
    pub fn rotate_secret(&self, tenant_id: &str, client_id: &str) -> DomainResult<AppRegistration> {
        let mut app = self.app(tenant_id, client_id)?;
        app.client_secret = new_client_secret();
        self.store.upsert_app(&app)?;
        Ok(app)
    }

    /// Changes an app's roles (and optionally its name). Tokens already issued keep the roles they
    /// carry until they expire, as with Entra; new tokens carry the new roles.
    pub fn update_app(
        &self,
        tenant_id: &str,
        client_id: &str,
        display_name: Option<String>,
        roles: Option<&[String]>,
    ) -> DomainResult<AppRegistration> {
        let mut app = self.app(tenant_id, client_id)?;
        if let Some(roles) = roles {
            app.roles = validate_roles(roles, &self.app_roles())?;
        }
        if let Some(name) = display_name {
            app.display_name = name;
        }
        self.store.upsert_app(&app)?;
        Ok(app)
    }

    /// Whether the app was confirmed registered moments ago (no store access: callable on async
    /// threads; on `false`, ask [`Core::app_is_registered`]).
    pub fn registration_confirmed(&self, tenant_id: &str, client_id: &str) -> bool {
        self.registrations.is_fresh(tenant_id, client_id)
    }

    /// Whether a token's app is still registered in the token's tenant (deleted apps and tenants
    /// lose their tokens at once).
    pub fn app_is_registered(&self, tenant_id: &str, client_id: &str) -> DomainResult<bool> {
        if self.registrations.is_fresh(tenant_id, client_id) {
            return Ok(true);
        }
        let registered = self
            .store
            .find_app(client_id)?
            .is_some_and(|app| app.tenant_id.eq_ignore_ascii_case(tenant_id));
        if registered {
            self.registrations.confirm(tenant_id, client_id);
        }
        Ok(registered)
    }
}
