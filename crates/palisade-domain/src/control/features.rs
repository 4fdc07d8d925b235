//! Tenant features: reading them for the rules that depend on them, and switching them.

use crate::{Core, DomainResult};
use palisade_error::{ApiError, ErrorCode};
use palisade_model::tenant::TenantFeatures;

impl Core {
    /// The tenant's features (`ResourceNotFound` for an unknown tenant).
    pub fn features(&self, tenant_id: &str) -> DomainResult<TenantFeatures> {
        let tenant = self
            .store
            .find_tenant(tenant_id)?
            .ok_or_else(|| ApiError::resource_not_found("Tenant", tenant_id))?;
        Ok(tenant.features)
    }

    /// `DisabledFeature` naming the feature when the tenant has it switched off.
    pub fn require_feature(&self, tenant_id: &str, wire_name: &str) -> DomainResult<()> {
        let features = self.features(tenant_id)?;
        let (_, portal_name, on) = features
            .describe()
            .into_iter()
            .find(|(name, _, _)| *name == wire_name)
            .ok_or_else(|| ApiError::internal(format!("unknown tenant feature {wire_name}")))?;
        if on {
            return Ok(());
        }
        Err(ApiError::new(
            ErrorCode::DisabledFeature,
            format!("Tenant feature '{portal_name}' is not enabled for this tenant"),
            format!("tenant feature {wire_name} is off"),
        )
        .into())
    }

    /// Switches features by wire name; unknown names are `InvalidInput` listing the known ones.
    pub fn set_features(&self, tenant_id: &str, changes: &[(String, bool)]) -> DomainResult<TenantFeatures> {
        let mut tenant = self
            .store
            .find_tenant(tenant_id)?
            .ok_or_else(|| ApiError::resource_not_found("Tenant", tenant_id))?;
        for (name, on) in changes {
            if !tenant.features.set(name, *on) {
                let known: Vec<&str> = tenant.features.describe().iter().map(|(n, _, _)| *n).collect();
                return Err(ApiError::invalid_input(
                    format!("feature '{name}'; known features are: {}", known.join(", ")),
                    "tenant feature name",
                )
                .into());
            }
        }
        self.store.update_tenant(&tenant)?;
        Ok(tenant.features)
    }
}
