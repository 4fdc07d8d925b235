//! Tenants: creation (whose uniqueness the store's constraints decide), lookup, listing and
//! deletion, and the demo tenant that first start creates.

use crate::control::apps::{new_client_secret, validate_roles};
use crate::control::demo;
use crate::{Core, DomainResult, DEMO_SEEDED_META};
use palisade_error::ApiError;
use palisade_model::tenant::{AppRegistration, Tenant, DEMO_TENANT_ID, DEV_CLIENT_ID, DEV_CLIENT_SECRET};
use palisade_store::prelude::*;

/// A new tenant as `POST /_palisade/tenants` and `palisade tenants create` ask for it; what is left
/// out gets a default.
#[derive(Debug, Clone, Default)]
pub struct NewTenant {
    /// A GUID (any case; stored in lower case); a fresh one when `None`.
    pub tenant_id: Option<String>,
    /// `Tenant <first 8 of the id>` when `None`.
    pub display_name: Option<String>,
    /// `tenant-<first 8 of the id>.onmicrosoft.com` when `None`.
    pub domain: Option<String>,
    /// The roles of the tenant's one app; every application role when `None`.
    pub roles: Option<Vec<String>>,
    /// Whether to seed the demo population.
    pub demo_data: bool,
}

impl Core {
    /// Creates a tenant with one app registration (named "Palisade app"), optionally seeded with
    /// the demo data. A taken id or domain is `BadRequest`: the store's uniqueness constraints
    /// decide, so two concurrent creations (or two processes) cannot both succeed.
    pub fn add_tenant(&self, request: NewTenant) -> DomainResult<(Tenant, AppRegistration)> {
        let tenant_id = match request.tenant_id.as_deref() {
            Some(id) => uuid::Uuid::parse_str(id)
                .map_err(|_| ApiError::invalid_input(format!("tenantId '{id}'; expected a GUID"), "tenant id"))?
                .to_string(),
            None => uuid::Uuid::new_v4().to_string(),
        };
        // The domain is what sign-in authorities name instead of the id: an empty or malformed one
        // would make a tenant no authority can reach. Validated as the indicator domains are, and
        // kept as sent.
        if let Some(domain) = request.domain.as_deref() {
            crate::mde::validate::domain_name(domain)?;
        }
        let short = &tenant_id[..8];
        let tenant = Tenant::new(
            tenant_id.clone(),
            request.display_name.unwrap_or_else(|| format!("Tenant {short}")),
            request
                .domain
                .unwrap_or_else(|| format!("tenant-{short}.onmicrosoft.com")),
        );
        let roles = match request.roles {
            Some(roles) => validate_roles(&roles, &self.app_roles())?,
            None => self.app_roles().iter().map(|r| r.to_string()).collect(),
        };
        let app = AppRegistration {
            client_id: uuid::Uuid::new_v4().to_string(),
            tenant_id,
            display_name: "Palisade app".into(),
            client_secret: new_client_secret(),
            roles,
        };
        if !self.insert_tenant(&tenant, &app, request.demo_data)? {
            return Err(ApiError::bad_request(
                format!(
                    "A tenant with id {} or domain {} already exists",
                    tenant.id, tenant.domain
                ),
                "tenant uniqueness",
            )
            .into());
        }
        Ok((tenant, app))
    }

    /// Inserts a tenant with its app and optionally the demo data; `false` (and nothing written)
    /// when the store refused the tenant because its id or domain is taken.
    fn insert_tenant(&self, tenant: &Tenant, app: &AppRegistration, demo_data: bool) -> DomainResult<bool> {
        match self.store.insert_tenant(tenant) {
            Ok(()) => {}
            Err(StoreError::Conflict(_)) => return Ok(false),
            Err(e) => return Err(e.into()),
        }
        self.store.upsert_app(app)?;
        if demo_data {
            let data = demo::tenant_data(&tenant.id, self.clock.now());
            self.store_demo_data(&tenant.id, &data)?;
        }
        Ok(true)
    }

    /// Creates the demo tenant with its development app and data, unless it exists (a second
    /// process initialising the same data directory may have got there first).
    pub(crate) fn install_demo_tenant(&self) -> DomainResult<()> {
        let (tenant, app) = demo_registration(&self.app_roles());
        self.insert_tenant(&tenant, &app, true)?;
        Ok(())
    }

    /// On first start only: the demo tenant.
    pub(crate) fn ensure_demo_tenant(&self) -> DomainResult<()> {
        if self.store.get_meta(DEMO_SEEDED_META)?.is_some() {
            return Ok(());
        }
        // Processes starting at once on an empty store: one installs, the others wait for it and
        // then find the marker.
        let _section = self.exclusive("first-start")?;
        if self.store.get_meta(DEMO_SEEDED_META)?.is_some() {
            return Ok(());
        }
        self.install_demo_tenant()?;
        self.store.init_meta(DEMO_SEEDED_META, "1")?;
        Ok(())
    }

    /// A tenant by id or domain, if there is one (sign-in URLs accept both).
    pub fn find_tenant(&self, id_or_domain: &str) -> DomainResult<Option<Tenant>> {
        Ok(self.store.find_tenant(id_or_domain)?)
    }

    /// Every tenant.
    pub fn list_tenants(&self) -> DomainResult<Vec<Tenant>> {
        Ok(self.store.list_tenants()?)
    }

    /// One tenant by id (or domain), or `ResourceNotFound`.
    pub fn tenant(&self, id: &str) -> DomainResult<Tenant> {
        self.store
            .find_tenant(id)?
            .ok_or_else(|| ApiError::resource_not_found("Tenant", id).into())
    }

    /// Deletes a tenant and everything it owns; tokens of its apps stop working at once.
    pub fn delete_tenant(&self, id: &str) -> DomainResult<()> {
        let tenant = self.tenant(id)?;
        self.store.delete_tenant(&tenant.id)?;
        self.registrations.forget_all();
        // A tenant recreated under this id must not inherit the deleted one's cached switch.
        self.rate_limits.forget_tenants();
        Ok(())
    }
}

/// The demo tenant and its development app, as first start creates them.
/// The development app holds every role in `roles` ([`Core::app_roles`]).
pub(crate) fn demo_registration(roles: &[&str]) -> (Tenant, AppRegistration) {
    (
        Tenant::new(DEMO_TENANT_ID, "Palisade Demo", "palisade-demo.onmicrosoft.com"),
        AppRegistration {
            client_id: DEV_CLIENT_ID.into(),
            tenant_id: DEMO_TENANT_ID.into(),
            display_name: "Palisade development app".into(),
            client_secret: DEV_CLIENT_SECRET.into(),
            roles: roles.iter().map(|r| r.to_string()).collect(),
        },
    )
}
