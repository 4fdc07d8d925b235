//! Who is calling: the tenant, the app and its application roles.

use palisade_error::ApiError;

/// Every application role of the emulated APIs (MDE "WindowsDefenderATP" and XDR
/// "Microsoft Threat Protection"); the development app holds all of them.
pub const ALL_APP_ROLES: &[&str] = &[
    "Machine.Read.All",
    "Machine.ReadWrite.All",
    "Machine.Isolate",
    "Machine.RestrictExecution",
    "Machine.Scan",
    "Machine.CollectForensics",
    "Machine.Offboard",
    "Machine.StopAndQuarantine",
    "Machine.LiveResponse",
    "Alert.Read.All",
    "Alert.ReadWrite.All",
    "Ti.ReadWrite",
    "Ti.ReadWrite.All",
    "File.Read.All",
    "Ip.Read.All",
    "URL.Read.All",
    "User.Read.All",
    "Library.Manage",
    "Incident.Read.All",
    "Incident.ReadWrite.All",
    "AdvancedHunting.Read.All",
    // Microsoft Graph's security permissions (application).
    "SecurityIncident.Read.All",
    "SecurityIncident.ReadWrite.All",
    "SecurityAlert.Read.All",
    "SecurityAlert.ReadWrite.All",
    "ThreatHunting.Read.All",
    "AdvancedQuery.Read.All",
];

/// The API a token was issued for (by its audience): the Defender APIs (MDE and XDR share their
/// tokens) or Microsoft Graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    Defender,
    Graph,
}

impl Api {
    /// The audience a client asks for to reach this API, for messages.
    pub fn audience(self) -> &'static str {
        match self {
            Api::Defender => "https://api.securitycenter.microsoft.com",
            Api::Graph => "https://graph.microsoft.com",
        }
    }
}

/// The authenticated caller of an API request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub tenant_id: String,
    pub app_id: String,
    pub roles: Vec<String>,
    /// Which API the token is for.
    pub api: Api,
}

impl Principal {
    /// Whether the caller holds `role`, where a `*.ReadWrite*` role satisfies the matching read role
    /// (`Machine.ReadWrite.All` grants `Machine.Read.All`), as every documented permission table lists
    /// both as alternatives.
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|held| {
            held == role
                || role.contains(".Read")
                    && !role.contains(".ReadWrite")
                    && *held == role.replacen(".Read", ".ReadWrite", 1)
        })
    }

    /// `Ok` when the caller holds any of `required`, else `Forbidden` naming them.
    pub fn require_any(&self, required: &[&str]) -> Result<(), ApiError> {
        if required.iter().any(|role| self.has_role(role)) {
            Ok(())
        } else {
            Err(ApiError::forbidden(required, &self.roles))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(roles: &[&str]) -> Principal {
        Principal {
            tenant_id: "t".into(),
            app_id: "a".into(),
            roles: roles.iter().map(|r| r.to_string()).collect(),
            api: Api::Defender,
        }
    }

    #[test]
    fn read_write_role_satisfies_matching_read_role() {
        let p = with(&["Machine.ReadWrite.All"]);
        assert!(p.has_role("Machine.Read.All"));
        assert!(p.has_role("Machine.ReadWrite.All"));
        assert!(!p.has_role("Alert.Read.All"));
        assert!(!p.has_role("Machine.Isolate"));
    }

    #[test]
    fn read_role_does_not_grant_write() {
        let p = with(&["Alert.Read.All"]);
        assert!(!p.has_role("Alert.ReadWrite.All"));
        assert!(p.require_any(&["Alert.ReadWrite.All"]).is_err());
    }

    #[test]
    fn ti_readwrite_all_is_not_implied_by_ti_readwrite() {
        let p = with(&["Ti.ReadWrite"]);
        assert!(!p.has_role("Ti.ReadWrite.All"));
    }

    #[test]
    fn forbidden_names_required_roles() {
        let err = with(&[])
            .require_any(&["Machine.Read.All", "Machine.ReadWrite.All"])
            .unwrap_err();
        assert_eq!(err.code, palisade_error::ErrorCode::Forbidden);
        assert!(err.message.contains("Machine.Read.All, Machine.ReadWrite.All"));
    }
}
