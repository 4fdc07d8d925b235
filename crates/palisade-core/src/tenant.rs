//! Tenants and the app registrations that sign in to them.

use serde::{Deserialize, Serialize};

/// The tenant created on first start, with the demo data.
pub const DEMO_TENANT_ID: &str = "9a115ade-7e4a-4000-8000-000000000001";
/// The development app of the demo tenant: holds every role. Documented in the README.
pub const DEV_CLIENT_ID: &str = "9a115ade-c11e-4000-8000-000000000001";
pub const DEV_CLIENT_SECRET: &str = "palisade-dev-secret";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Tenant {
    pub id: String,
    pub display_name: String,
    /// The tenant's primary domain, usable instead of its id in sign-in URLs.
    pub domain: String,
    /// Settings that gate operations (`DisabledFeature` when off).
    #[serde(default)]
    pub features: TenantFeatures,
    /// Whether the documented rate limits apply to the tenant's calls (on unless switched off).
    #[serde(default)]
    pub rate_limits: crate::ratelimit::RateLimitSettings,
}

impl Tenant {
    /// A tenant with every feature on.
    pub fn new(id: impl Into<String>, display_name: impl Into<String>, domain: impl Into<String>) -> Self {
        Tenant {
            id: id.into(),
            display_name: display_name.into(),
            domain: domain.into(),
            features: TenantFeatures::default(),
            rate_limits: crate::ratelimit::RateLimitSettings::default(),
        }
    }
}

/// The tenant's advanced features (Defender portal: Settings > Endpoints > Advanced features).
/// All on by default, as in a fully licensed tenant; switch them off to exercise `DisabledFeature`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TenantFeatures {
    /// Live response sessions (`runliveresponse`).
    pub live_response: bool,
    /// Automated investigation and remediation (`startInvestigation`).
    pub automated_investigation: bool,
    /// Custom network indicators (IP, domain and URL indicators).
    pub custom_network_indicators: bool,
    /// Allow or block file (file hash indicators).
    pub allow_or_block_file: bool,
    /// Palisade's own switch, not a portal feature: refuse undocumented body properties
    /// (`InvalidRequestBody`) for this tenant's calls instead of ignoring and recording them.
    pub strict_bodies: bool,
}

impl Default for TenantFeatures {
    fn default() -> Self {
        TenantFeatures {
            live_response: true,
            automated_investigation: true,
            custom_network_indicators: true,
            allow_or_block_file: true,
            strict_bodies: false,
        }
    }
}

impl TenantFeatures {
    /// `(wire name, portal name, value)` of each feature, for messages and the admin API.
    pub fn describe(&self) -> [(&'static str, &'static str, bool); 5] {
        [
            ("liveResponse", "Live response", self.live_response),
            (
                "automatedInvestigation",
                "Automated investigation",
                self.automated_investigation,
            ),
            (
                "customNetworkIndicators",
                "Custom network indicators",
                self.custom_network_indicators,
            ),
            ("allowOrBlockFile", "Allow or block file", self.allow_or_block_file),
            ("strictBodies", "Strict request bodies (Palisade)", self.strict_bodies),
        ]
    }
}

/// An app registration: a client id and secret, and the application roles it was granted.
///
/// The secret is kept in clear: this is a local emulator, and `palisade credentials` prints it
/// (through `Serialize`). `Debug` redacts it, so a log line or a panic message does not.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppRegistration {
    pub client_id: String,
    pub tenant_id: String,
    pub display_name: String,
    pub client_secret: String,
    pub roles: Vec<String>,
}

impl std::fmt::Debug for AppRegistration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppRegistration")
            .field("client_id", &self.client_id)
            .field("tenant_id", &self.tenant_id)
            .field("display_name", &self.display_name)
            .field("client_secret", &"[REDACTED]")
            .field("roles", &self.roles)
            .finish()
    }
}

impl TenantFeatures {
    /// Sets one feature by its wire name; `false` when the name is unknown.
    pub fn set(&mut self, wire_name: &str, on: bool) -> bool {
        let slot = match wire_name {
            "liveResponse" => &mut self.live_response,
            "automatedInvestigation" => &mut self.automated_investigation,
            "customNetworkIndicators" => &mut self.custom_network_indicators,
            "allowOrBlockFile" => &mut self.allow_or_block_file,
            "strictBodies" => &mut self.strict_bodies,
            _ => return false,
        };
        *slot = on;
        true
    }
}

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

/// Checks requested application roles against the roles the emulated APIs define (exact spelling,
/// as in an app manifest); duplicates are dropped, order is kept.
pub fn validate_roles(roles: &[String]) -> Result<Vec<String>, palisade_error::ApiError> {
    let mut kept: Vec<String> = Vec::with_capacity(roles.len());
    for role in roles {
        if !palisade_auth::ALL_APP_ROLES.contains(&role.as_str()) {
            return Err(palisade_error::ApiError::invalid_input(
                format!(
                    "role '{role}'; known application roles are: {}",
                    palisade_auth::ALL_APP_ROLES.join(", ")
                ),
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

use crate::{Core, CoreResult};
use palisade_error::ApiError;

impl Core {
    /// Every tenant.
    pub fn list_tenants(&self) -> CoreResult<Vec<Tenant>> {
        Ok(self.store.list_tenants()?)
    }

    /// One tenant by id (or domain), or `ResourceNotFound`.
    pub fn tenant(&self, id: &str) -> CoreResult<Tenant> {
        self.store
            .find_tenant(id)?
            .ok_or_else(|| ApiError::resource_not_found("Tenant", id).into())
    }

    /// Deletes a tenant and everything it owns; tokens of its apps stop working at once.
    pub fn delete_tenant(&self, id: &str) -> CoreResult<()> {
        let tenant = self.tenant(id)?;
        self.store.delete_tenant(&tenant.id)?;
        self.remove_library_files(Some(&tenant.id))?;
        self.registrations.forget_all();
        // A tenant recreated under this id must not inherit the deleted one's cached switch.
        self.rate_limits.forget_tenants();
        Ok(())
    }

    /// Registers a new app in a tenant with the given roles (none is allowed: a role-less app).
    pub fn register_app(&self, tenant_id: &str, display_name: &str, roles: &[String]) -> CoreResult<AppRegistration> {
        let tenant = self.tenant(tenant_id)?;
        let app = AppRegistration {
            client_id: uuid::Uuid::new_v4().to_string(),
            tenant_id: tenant.id,
            display_name: display_name.to_string(),
            client_secret: new_client_secret(),
            roles: validate_roles(roles)?,
        };
        self.store.upsert_app(&app)?;
        Ok(app)
    }

    /// A tenant's apps.
    pub fn list_apps(&self, tenant_id: &str) -> CoreResult<Vec<AppRegistration>> {
        let tenant = self.tenant(tenant_id)?;
        Ok(self.store.list_apps(&tenant.id)?)
    }

    /// One app of a tenant, or `ResourceNotFound` naming it.
    pub fn app(&self, tenant_id: &str, client_id: &str) -> CoreResult<AppRegistration> {
        let tenant = self.tenant(tenant_id)?;
        match self.store.find_app(client_id)? {
            Some(app) if app.tenant_id == tenant.id => Ok(app),
            _ => Err(ApiError::resource_not_found("App", client_id).into()),
        }
    }

    /// Deletes an app; its tokens stop working at once.
    pub fn delete_app(&self, tenant_id: &str, client_id: &str) -> CoreResult<()> {
        let app = self.app(tenant_id, client_id)?;
        self.store.delete_app(&app.tenant_id, &app.client_id)?;
        self.registrations.forget_all();
        Ok(())
    }

    /// Replaces an app's secret: the old one stops working at once (one secret per app). Tokens
    /// already issued stay valid until they expire, as with Entra.
    pub fn rotate_secret(&self, tenant_id: &str, client_id: &str) -> CoreResult<AppRegistration> {
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
    ) -> CoreResult<AppRegistration> {
        let mut app = self.app(tenant_id, client_id)?;
        if let Some(roles) = roles {
            app.roles = validate_roles(roles)?;
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
    pub fn app_is_registered(&self, tenant_id: &str, client_id: &str) -> CoreResult<bool> {
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
