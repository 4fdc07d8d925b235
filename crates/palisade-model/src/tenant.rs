//! Tenants and the app registrations that sign in to them, with the settings kept on a tenant.

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
    pub rate_limits: RateLimitSettings,
}

impl Tenant {
    /// A tenant with every feature on.
    pub fn new(id: impl Into<String>, display_name: impl Into<String>, domain: impl Into<String>) -> Self {
        Tenant {
            id: id.into(),
            display_name: display_name.into(),
            domain: domain.into(),
            features: TenantFeatures::default(),
            rate_limits: RateLimitSettings::default(),
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

/// A tenant's rate-limit setting, kept with the tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RateLimitSettings {
    /// On by default, for fidelity.
    pub enabled: bool,
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        RateLimitSettings { enabled: true }
    }
}
