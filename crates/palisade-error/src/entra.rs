//! The Entra ID sign-in contract (`shared/reference/xdr-api-and-auth.md` §3.4–3.6): every
//! `AADSTSnnnn` refusal the emulated token and discovery endpoints answer, with its OAuth2 `error`,
//! HTTP status and message shape, in one table ([`EntraCode`]), and one constructor per code on
//! [`EntraError`]. The server renders an [`EntraError`] as Entra's JSON body (`error`,
//! `error_description`, `error_codes`, trace and correlation ids); that rendering needs the clock
//! and the journal, so it stays in the server.

use std::fmt;

macro_rules! entra_codes {
    ($( $(#[$doc:meta])* $name:ident => $number:literal, $error:literal, $status:literal, $shape:literal; )*) => {
        /// Every `AADSTS` code the emulator can answer with.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum EntraCode { $( $(#[$doc])* $name, )* }

        impl EntraCode {
            /// Every code, in catalogue order.
            pub const ALL: &'static [EntraCode] = &[$(EntraCode::$name,)*];

            /// The number after `AADSTS`.
            pub const fn number(self) -> u32 {
                match self { $(EntraCode::$name => $number,)* }
            }

            /// The OAuth2 `error` Entra answers with it.
            pub const fn error(self) -> &'static str {
                match self { $(EntraCode::$name => $error,)* }
            }

            /// The HTTP status Entra answers with it (the equivalents of injected failures keep the
            /// injected status instead; see [`EntraError::equivalent_of`]).
            pub const fn status(self) -> u16 {
                match self { $(EntraCode::$name => $status,)* }
            }

            /// The message shape, variable parts in angle brackets.
            pub const fn message_shape(self) -> &'static str {
                match self { $(EntraCode::$name => $shape,)* }
            }
        }
    };
}

entra_codes! {
    /// A required form field is absent.
    MissingParameter => 900144, "invalid_request", 400,
        "The request body must contain the following parameter: '<parameter>'.";
    /// A required query parameter of instance discovery is absent.
    MissingQueryField => 90014, "invalid_request", 400,
        "The required field '<field>' is missing from the query.";
    UnsupportedGrantType => 70003, "unsupported_grant_type", 400,
        "The app requested an unsupported grant type '<grant type>'. Palisade emulates the client_credentials grant only.";
    /// The tenant segment names no tenant.
    TenantNotFound => 90002, "invalid_request", 400,
        "Tenant '<tenant>' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.";
    /// The client id is not an app of the tenant.
    AppNotInDirectory => 700016, "unauthorized_client", 400,
        "Application with identifier '<client id>' was not found in the directory '<tenant>'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant.";
    /// **Palisade**: certificate credentials are not emulated.
    CertificateCredentialsNotEmulated => 50027, "invalid_request", 400,
        "Certificate credentials (client_assertion) are not emulated by Palisade; send client_secret.";
    SecretRequired => 7000216, "invalid_client", 401,
        "'client_assertion', 'client_secret' or 'request' is required for the 'client_credentials' grant type.";
    InvalidClientSecret => 7000215, "invalid_client", 401,
        "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '<client id>'.";
    /// The resource (audience) is not one the emulator serves.
    ResourceNotFound => 500011, "invalid_resource", 400,
        "The resource principal named <resource> was not found in the tenant named <tenant>. Palisade emulates: https://api.securitycenter.microsoft.com, https://api.security.microsoft.com, https://graph.microsoft.com.";
    /// Not exactly one scope.
    InvalidScope => 70011, "invalid_scope", 400,
        "The provided value for the input parameter 'scope' is not valid. The scope <scope> is not valid: client credential flows take exactly one scope of the form <resource>/.default.";
    /// A scope without `/.default`.
    ScopeWithoutDefault => 1002012, "invalid_scope", 400,
        "The provided value for scope <scope> is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).";
    /// A throttled sign-in call (an injected or rate-limit refusal on a sign-in route).
    TenantThrottling => 90055, "temporarily_unavailable", 429,
        "TenantThrottlingError: There are too many incoming requests. Retry after the interval in Retry-After. (<why>)";
    /// A failure of ours on a sign-in route.
    TokenIssuance => 50000, "server_error", 500,
        "TokenIssuanceError: There's an issue with the sign-in service. (<why>)";
    /// Any other server-side status on a sign-in route.
    ServiceUnavailable => 90033, "temporarily_unavailable", 503,
        "A Microsoft Entra service is temporarily unavailable. (<why>)";
    /// Any other client-side refusal on a sign-in route.
    InvalidRequestParameter => 90100, "invalid_request", 400,
        "InvalidRequestParameter: The parameter is empty or not valid. (<why>)";
    /// An injected `Unauthorized` on a sign-in route.
    UnauthorizedClient => 7000215, "invalid_client", 401,
        "Invalid client secret provided. (<why>)";
    /// An injected `Forbidden` on a sign-in route.
    AppNotAuthorized => 700016, "unauthorized_client", 400,
        "The application is not authorized in the directory. (<why>)";
    /// An injected `NotFound` on a sign-in route.
    TenantUnknown => 90002, "invalid_request", 400,
        "Tenant not found. (<why>)";
}

impl fmt::Display for EntraCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AADSTS{}", self.number())
    }
}

/// An Entra refusal: the code, the OAuth2 `error` (the code's, unless a route answers another,
/// as discovery's `invalid_tenant`), the HTTP status, the description, and the tenant and app when
/// known (for the journal).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntraError {
    pub code: EntraCode,
    pub error: &'static str,
    pub status: u16,
    pub description: String,
    pub tenant_id: Option<String>,
    pub client_id: Option<String>,
}

impl fmt::Display for EntraError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.error, self.code, self.description)
    }
}

impl std::error::Error for EntraError {}

impl EntraError {
    fn new(code: EntraCode, description: String) -> EntraError {
        EntraError {
            code,
            error: code.error(),
            status: code.status(),
            description,
            tenant_id: None,
            client_id: None,
        }
    }

    /// The number after `AADSTS`.
    pub fn aadsts(&self) -> u32 {
        self.code.number()
    }

    /// The same refusal attributed to a tenant and app (for the journal).
    pub fn for_app(mut self, tenant_id: &str, client_id: &str) -> EntraError {
        self.tenant_id = Some(tenant_id.to_string());
        self.client_id = Some(client_id.to_string());
        self
    }

    /// The same refusal under another OAuth2 `error` (discovery's `invalid_tenant`).
    pub fn answered_as(mut self, error: &'static str) -> EntraError {
        self.error = error;
        self
    }

    pub fn missing_parameter(parameter: &str) -> EntraError {
        Self::new(
            EntraCode::MissingParameter,
            format!("The request body must contain the following parameter: '{parameter}'."),
        )
    }

    pub fn missing_query_field(field: &str) -> EntraError {
        Self::new(
            EntraCode::MissingQueryField,
            format!("The required field '{field}' is missing from the query."),
        )
    }

    pub fn unsupported_grant_type(grant_type: &str) -> EntraError {
        Self::new(
            EntraCode::UnsupportedGrantType,
            format!("The app requested an unsupported grant type '{grant_type}'. Palisade emulates the client_credentials grant only."),
        )
    }

    pub fn tenant_not_found(tenant: &str) -> EntraError {
        Self::new(
            EntraCode::TenantNotFound,
            format!("Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."),
        )
    }

    pub fn app_not_in_directory(client_id: &str, tenant_id: &str) -> EntraError {
        Self::new(
            EntraCode::AppNotInDirectory,
            format!(
                "Application with identifier '{client_id}' was not found in the directory '{tenant_id}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant."
            ),
        )
    }

    pub fn certificate_credentials_not_emulated() -> EntraError {
        Self::new(
            EntraCode::CertificateCredentialsNotEmulated,
            "Certificate credentials (client_assertion) are not emulated by Palisade; send client_secret.".into(),
        )
    }

    pub fn secret_required() -> EntraError {
        Self::new(
            EntraCode::SecretRequired,
            "'client_assertion', 'client_secret' or 'request' is required for the 'client_credentials' grant type."
                .into(),
        )
    }

    pub fn invalid_client_secret(client_id: &str) -> EntraError {
        Self::new(
            EntraCode::InvalidClientSecret,
            format!("Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{client_id}'."),
        )
    }

    pub fn resource_not_found(resource: &str, tenant_id: &str) -> EntraError {
        Self::new(
            EntraCode::ResourceNotFound,
            format!(
                "The resource principal named {resource} was not found in the tenant named {tenant_id}. Palisade emulates: https://api.securitycenter.microsoft.com, https://api.security.microsoft.com, https://graph.microsoft.com."
            ),
        )
    }

    pub fn invalid_scope(scope: &str) -> EntraError {
        Self::new(
            EntraCode::InvalidScope,
            format!("The provided value for the input parameter 'scope' is not valid. The scope {scope} is not valid: client credential flows take exactly one scope of the form <resource>/.default."),
        )
    }

    pub fn scope_without_default(scope: &str) -> EntraError {
        Self::new(
            EntraCode::ScopeWithoutDefault,
            format!("The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."),
        )
    }

    /// The Entra error a Defender error becomes on a sign-in route (an injected fault, a rate
    /// limit, an oversized body, a failure of ours), `why` being the Defender message. Entra
    /// documents no numbers for throttling or outages of the token endpoint; these are the codes its
    /// error-code reference gives for those conditions. The status stays the Defender one, so
    /// clients' retry logic sees what the rule asked for.
    pub fn equivalent_of(code: crate::ErrorCode, why: &str) -> EntraError {
        use crate::ErrorCode as C;
        let (entra, text) = match code {
            C::TooManyRequests => (
                EntraCode::TenantThrottling,
                "TenantThrottlingError: There are too many incoming requests. Retry after the interval in Retry-After.",
            ),
            C::InternalServerError => (
                EntraCode::TokenIssuance,
                "TokenIssuanceError: There's an issue with the sign-in service.",
            ),
            C::Unauthorized => (EntraCode::UnauthorizedClient, "Invalid client secret provided."),
            C::Forbidden | C::DisabledFeature | C::DisallowedOperation => (
                EntraCode::AppNotAuthorized,
                "The application is not authorized in the directory.",
            ),
            C::NotFound | C::ResourceNotFound => (EntraCode::TenantUnknown, "Tenant not found."),
            _ if code.status() >= 500 => (
                EntraCode::ServiceUnavailable,
                "A Microsoft Entra service is temporarily unavailable.",
            ),
            _ => (
                EntraCode::InvalidRequestParameter,
                "InvalidRequestParameter: The parameter is empty or not valid.",
            ),
        };
        EntraError {
            status: code.status(),
            ..Self::new(entra, format!("{text} ({why})"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether `message` has the shape: the literal parts in order, anything for `<...>` parts.
    fn fits(shape: &str, message: &str) -> bool {
        let mut rest = message;
        let mut parts = shape.split('<');
        let first = parts.next().unwrap_or("");
        let Some(after) = rest.strip_prefix(first) else {
            return false;
        };
        rest = after;
        let parts: Vec<&str> = parts.collect();
        for (n, part) in parts.iter().enumerate() {
            let Some((_, literal)) = part.split_once('>') else {
                return false;
            };
            if n + 1 == parts.len() {
                // The last literal closes the message, whatever the variable part before it holds.
                return rest.ends_with(literal);
            }
            match rest.find(literal) {
                Some(at) => rest = &rest[at + literal.len()..],
                None => return false,
            }
        }
        rest.is_empty()
    }

    #[test]
    fn every_constructor_answers_its_codes_shape_error_and_status() {
        let why = "an injected fault";
        let made = [
            EntraError::missing_parameter("grant_type"),
            EntraError::missing_query_field("authorization_endpoint"),
            EntraError::unsupported_grant_type("password"),
            EntraError::tenant_not_found("contoso.example"),
            EntraError::app_not_in_directory("app-id", "tenant-id"),
            EntraError::certificate_credentials_not_emulated(),
            EntraError::secret_required(),
            EntraError::invalid_client_secret("app-id"),
            EntraError::resource_not_found("https://management.azure.com", "tenant-id"),
            EntraError::invalid_scope("a/.default b/.default"),
            EntraError::scope_without_default("https://api.security.microsoft.com"),
            EntraError::equivalent_of(crate::ErrorCode::TooManyRequests, why),
            EntraError::equivalent_of(crate::ErrorCode::InternalServerError, why),
            EntraError::equivalent_of(crate::ErrorCode::PayloadTooLarge, why),
            EntraError::equivalent_of(crate::ErrorCode::Unauthorized, why),
            EntraError::equivalent_of(crate::ErrorCode::Forbidden, why),
            EntraError::equivalent_of(crate::ErrorCode::NotFound, why),
        ];
        for error in &made {
            let code = error.code;
            assert!(
                fits(code.message_shape(), &error.description),
                "{code:?}: '{}' does not fit '{}'",
                error.description,
                code.message_shape()
            );
            assert_eq!(error.error, code.error(), "{code:?}");
        }
        // Fixed statuses for refusals; the Defender status for equivalents.
        assert_eq!(made[7].status, 401);
        assert_eq!(made[11].status, 429);
        assert_eq!(made[13].status, 413);
        assert_eq!(made[13].code, EntraCode::InvalidRequestParameter);
        // Every code of the catalogue has a constructor above, except the 5xx catch-all.
        for code in EntraCode::ALL {
            assert!(
                made.iter().any(|e| e.code == *code) || *code == EntraCode::ServiceUnavailable,
                "{code:?} has no constructor in this test"
            );
        }
        let outage = EntraError::equivalent_of(crate::ErrorCode::InternalServerError, why);
        assert_eq!(outage.code, EntraCode::TokenIssuance);
    }

    #[test]
    fn shapes_are_checked_literally() {
        assert!(fits("Tenant '<tenant>' not found.", "Tenant 'x' not found."));
        assert!(!fits("Tenant '<tenant>' not found.", "Tenant 'x' not found!"));
        assert!(!fits("Tenant '<tenant>' not found.", "Tenant x not found."));
    }

    #[test]
    fn codes_render_as_aadsts_numbers() {
        assert_eq!(EntraCode::TenantNotFound.to_string(), "AADSTS90002");
        assert_eq!(EntraError::tenant_not_found("t").aadsts(), 90002);
    }
}
