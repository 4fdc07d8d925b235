//! Sign-in tokens as Entra issues them to client-credentials apps, and their verification.
//!
//! Follows `shared/reference/xdr-api-and-auth.md` §2.3–2.4: RS256 JWTs in the v1 format that
//! first-party resources (WindowsDefenderATP, Microsoft Threat Protection) receive from both token
//! endpoints: `iss = https://sts.windows.net/{tid}/`, `aud` = the resource URI asked for, `appid`,
//! `roles`, `iat`/`nbf`/`exp`.
//!
//! Verification pins the algorithm to RS256 and the key to ours (so `alg: none` and HS256-with-
//! the-public-key forgeries fail), then checks audience, issuer and the time window against the
//! emulator's clock (passed in, never read from the system here). An RSA signature check costs far
//! more than the rest of a request, so verified claims are cached by token digest until the cache
//! fills; time checks are repeated on every hit because the emulator's clock can move.

mod key;
mod principal;
mod verify;

pub use key::SigningKey;
pub use principal::{Api, Principal, ALL_APP_ROLES};
pub use verify::{AuthError, TokenVerifier};

use serde::{Deserialize, Serialize};

/// Resource identifiers (audiences) the emulated APIs answer to, as in Microsoft's samples.
pub const ACCEPTED_AUDIENCES: &[&str] = &[
    "https://api.securitycenter.microsoft.com",
    "https://api.security.microsoft.com",
    "https://securitycenter.onmicrosoft.com/windowsatpservice",
    "https://api.securitycenter.windows.com",
    // Resource app ids: WindowsDefenderATP and Microsoft Threat Protection.
    "fc780465-2017-40d4-a0c5-307022471b92",
    "8ee8fdad-f234-4243-8f3b-15c294843740",
];

/// The resource identifiers of Microsoft Graph (its URI and its app id): a token for Graph is
/// accepted on the Graph routes only, and a Defender token on the Defender routes only, as the
/// services do.
pub const GRAPH_AUDIENCES: &[&str] = &["https://graph.microsoft.com", "00000003-0000-0000-c000-000000000000"];

/// Normalises a requested resource (`resource=` or the part of `scope=` before `/.default`) to the
/// audience a token will carry, or `None` when no emulated API answers to it.
pub fn audience_for_resource(resource: &str) -> Option<&'static str> {
    let trimmed = resource.trim_end_matches('/');
    ACCEPTED_AUDIENCES
        .iter()
        .chain(GRAPH_AUDIENCES)
        .copied()
        .find(|aud| aud.eq_ignore_ascii_case(trimmed))
}

/// Which API a token's audience is for, or `None` for an audience no emulated API accepts.
pub fn api_of_audience(audience: &str) -> Option<Api> {
    if ACCEPTED_AUDIENCES.contains(&audience) {
        Some(Api::Defender)
    } else if GRAPH_AUDIENCES.contains(&audience) {
        Some(Api::Graph)
    } else {
        None
    }
}

/// Token lifetime Entra uses for app tokens (the docs' samples show `expires_in: 3599`).
pub const TOKEN_LIFETIME_SECS: i64 = 3599;

/// The claims of an access token, named as Entra names them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claims {
    pub aud: String,
    pub iss: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    #[serde(default)]
    pub tid: String,
    #[serde(default)]
    pub appid: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub appidacr: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idp: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idtyp: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uti: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ver: Option<String>,
}

/// The issuer Entra puts in v1-format tokens for a tenant.
pub fn issuer_for(tenant_id: &str) -> String {
    format!("https://sts.windows.net/{tenant_id}/")
}

impl Claims {
    /// Claims for a client-credentials app token, valid from `now` for `lifetime` seconds.
    pub fn for_app(tenant_id: &str, app_id: &str, roles: Vec<String>, audience: &str, now: i64, lifetime: i64) -> Self {
        // The service principal's object id: stable per app, distinct from the app id.
        let oid = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, app_id.as_bytes()).to_string();
        Claims {
            aud: audience.to_string(),
            iss: issuer_for(tenant_id),
            iat: now,
            nbf: now,
            exp: now + lifetime,
            tid: tenant_id.to_string(),
            appid: app_id.to_string(),
            appidacr: Some("1".into()),
            idp: Some(issuer_for(tenant_id)),
            idtyp: Some("app".into()),
            oid: Some(oid.clone()),
            sub: Some(oid),
            roles,
            uti: Some(uuid::Uuid::new_v4().simple().to_string()),
            ver: Some("1.0".into()),
        }
    }
}
