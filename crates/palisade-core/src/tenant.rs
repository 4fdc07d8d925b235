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
}

/// An app registration: a client id and secret, and the application roles it was granted.
///
/// The secret is kept in clear: this is a local emulator, and `palisade credentials` prints it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppRegistration {
    pub client_id: String,
    pub tenant_id: String,
    pub display_name: String,
    pub client_secret: String,
    pub roles: Vec<String>,
}
