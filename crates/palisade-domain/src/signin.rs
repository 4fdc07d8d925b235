//! The client-credentials grant as Entra performs it (`shared/reference/xdr-api-and-auth.md` §2.3,
//! §3.4–3.6), with Entra's error codes (`AADSTSnnnn`) for every refusal.

use crate::{Core, DomainError};
use palisade_auth::{audience_for_resource, Claims, TOKEN_LIFETIME_SECS};
use std::fmt;
use subtle::ConstantTimeEq;

/// Which token endpoint was called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `/{tenant}/oauth2/token`, with `resource=`.
    V1,
    /// `/{tenant}/oauth2/v2.0/token`, with `scope=<resource>/.default`.
    V2,
}

/// The form fields of a token request (and Basic credentials, which Entra also accepts). `Debug`
/// redacts the secret and the assertion.
#[derive(Default, Clone)]
pub struct TokenRequest {
    pub grant_type: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub client_assertion: Option<String>,
    pub scope: Option<String>,
    pub resource: Option<String>,
}

/// A token as both endpoints return it; the server renders v1 numbers as strings. `Debug` redacts
/// the token.
#[derive(Clone)]
pub struct IssuedToken {
    pub access_token: String,
    pub expires_in: i64,
    pub expires_on: i64,
    pub not_before: i64,
    pub resource: String,
    pub tenant_id: String,
    pub client_id: String,
}

/// What `Debug` shows instead of a secret that is present.
const REDACTED: &str = "[REDACTED]";

impl fmt::Debug for TokenRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenRequest")
            .field("grant_type", &self.grant_type)
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret.as_ref().map(|_| REDACTED))
            .field("client_assertion", &self.client_assertion.as_ref().map(|_| REDACTED))
            .field("scope", &self.scope)
            .field("resource", &self.resource)
            .finish()
    }
}

impl fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedToken")
            .field("access_token", &REDACTED)
            .field("expires_in", &self.expires_in)
            .field("expires_on", &self.expires_on)
            .field("not_before", &self.not_before)
            .field("resource", &self.resource)
            .field("tenant_id", &self.tenant_id)
            .field("client_id", &self.client_id)
            .finish()
    }
}

/// An Entra refusal (the catalogue and its constructors live in the error crate).
pub use palisade_error::EntraError;

impl Core {
    /// Issues an app token, or says why not, exactly as Entra would.
    pub fn issue_token(
        &self,
        tenant: &str,
        endpoint: Endpoint,
        request: &TokenRequest,
    ) -> Result<IssuedToken, TokenFailure> {
        let grant_type = request
            .grant_type
            .as_deref()
            .ok_or_else(|| EntraError::missing_parameter("grant_type"))?;
        if grant_type != "client_credentials" {
            return Err(EntraError::unsupported_grant_type(grant_type).into());
        }
        let client_id = request
            .client_id
            .as_deref()
            .ok_or_else(|| EntraError::missing_parameter("client_id"))?;
        let app = self.store.find_app(client_id)?;
        // Leniency: `common` and `organizations` resolve to the app's home tenant.
        let tenant_key = match (tenant, &app) {
            ("common" | "organizations", Some(app)) => app.tenant_id.as_str(),
            _ => tenant,
        };
        let Some(tenant_row) = self.store.find_tenant(tenant_key)? else {
            return Err(EntraError::tenant_not_found(tenant).into());
        };
        let with_ids = |e: EntraError| e.for_app(&tenant_row.id, client_id);
        let app = match app {
            Some(app) if app.tenant_id == tenant_row.id => app,
            _ => return Err(with_ids(EntraError::app_not_in_directory(client_id, &tenant_row.id)).into()),
        };
        if request.client_assertion.is_some() && request.client_secret.is_none() {
            return Err(with_ids(EntraError::certificate_credentials_not_emulated()).into());
        }
        let Some(secret) = request.client_secret.as_deref() else {
            return Err(with_ids(EntraError::secret_required()).into());
        };
        // Constant time, so response timing does not tell a guesser how much of the secret was right.
        if !bool::from(secret.as_bytes().ct_eq(app.client_secret.as_bytes())) {
            return Err(with_ids(EntraError::invalid_client_secret(client_id)).into());
        }
        let resource = match endpoint {
            Endpoint::V1 => request
                .resource
                .clone()
                .ok_or_else(|| with_ids(EntraError::missing_parameter("resource")))?,
            Endpoint::V2 => {
                let scope = request
                    .scope
                    .as_deref()
                    .ok_or_else(|| with_ids(EntraError::missing_parameter("scope")))?;
                resource_of_scope(scope).map_err(with_ids)?
            }
        };
        let audience = audience_for_resource(&resource)
            .ok_or_else(|| with_ids(EntraError::resource_not_found(&resource, &tenant_row.id)))?;
        let now = self.clock.unix();
        let claims = Claims::for_app(
            &tenant_row.id,
            &app.client_id,
            app.roles.clone(),
            audience,
            now,
            TOKEN_LIFETIME_SECS,
        );
        let access_token = self
            .signing_key
            .mint(&claims)
            .map_err(|e| DomainError::Rule(palisade_error::ApiError::internal(e.to_string())))?;
        Ok(IssuedToken {
            access_token,
            expires_in: TOKEN_LIFETIME_SECS,
            expires_on: claims.exp,
            not_before: claims.nbf,
            resource: resource.trim_end_matches('/').to_string(),
            tenant_id: tenant_row.id,
            client_id: app.client_id,
        })
    }
}

/// `https://api.security.microsoft.com/.default` → the resource; client credentials need exactly one
/// `/.default` scope.
fn resource_of_scope(scope: &str) -> Result<String, EntraError> {
    let scopes: Vec<&str> = scope.split_whitespace().collect();
    let [single] = scopes.as_slice() else {
        return Err(EntraError::invalid_scope(scope));
    };
    match single.strip_suffix("/.default") {
        Some(resource) if !resource.is_empty() => Ok(resource.to_string()),
        _ => Err(EntraError::scope_without_default(single)),
    }
}

/// Why no token was issued: a refusal in Entra's terms, or a failure of ours.
#[derive(Debug)]
pub enum TokenFailure {
    Refused(EntraError),
    Failed(DomainError),
}

impl From<EntraError> for TokenFailure {
    fn from(e: EntraError) -> Self {
        TokenFailure::Refused(e)
    }
}

impl From<palisade_store::StoreError> for TokenFailure {
    fn from(e: palisade_store::StoreError) -> Self {
        TokenFailure::Failed(e.into())
    }
}

impl From<DomainError> for TokenFailure {
    fn from(e: DomainError) -> Self {
        TokenFailure::Failed(e)
    }
}

#[cfg(test)]
mod tests {
    use super::TokenRequest;
    use palisade_model::tenant::AppRegistration;

    #[test]
    fn debug_output_hides_secrets() {
        let request = TokenRequest {
            client_id: Some("app".into()),
            client_secret: Some("hunter2-client".into()),
            client_assertion: Some("hunter2-assertion".into()),
            ..TokenRequest::default()
        };
        let app = AppRegistration {
            client_id: "app".into(),
            tenant_id: "t".into(),
            display_name: "App".into(),
            client_secret: "hunter2-app".into(),
            roles: Vec::new(),
        };
        for shown in [format!("{request:?}"), format!("{app:?}")] {
            assert!(!shown.contains("hunter2"), "{shown}");
            assert!(shown.contains("[REDACTED]") && shown.contains("app"), "{shown}");
        }
    }
}
