//! Bearer-token verification with a bounded cache of verified claims.

use crate::{api_of_audience, issuer_for, Api, Claims, Principal, SigningKey, ACCEPTED_AUDIENCES, GRAPH_AUDIENCES};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, Validation};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// Why a token was refused; each becomes `401 Unauthorized` with its own message and cause.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("no Authorization header; send 'Authorization: Bearer <token>'")]
    MissingHeader,
    #[error("the Authorization header must be 'Bearer <token>'")]
    NotBearer,
    #[error("the bearer token is not a well-formed JWT: {0}")]
    Malformed(String),
    #[error("token algorithm '{0}' is not accepted; tokens must be RS256-signed by this emulator")]
    Algorithm(String),
    #[error("token was signed with key id '{0}', which this emulator does not publish")]
    UnknownKey(String),
    #[error("token signature is invalid")]
    BadSignature,
    #[error("token expired at {exp} (Unix seconds); emulator time is {now}")]
    Expired { exp: i64, now: i64 },
    #[error("token is not valid before {nbf} (Unix seconds); emulator time is {now}")]
    NotYetValid { nbf: i64, now: i64 },
    #[error("token audience '{0}' is not one of the audiences this emulator accepts ({list}; {graph})", list = ACCEPTED_AUDIENCES.join(", "), graph = GRAPH_AUDIENCES.join(", "))]
    WrongAudience(String),
    /// A valid token for the other API (a Graph token on a Defender route, or the reverse).
    #[error("the token was issued for {held}, another API; this API takes tokens for {expected} (ask for the scope {expected}/.default)")]
    OtherApi { held: &'static str, expected: &'static str },
    #[error("token issuer '{0}' does not match its tenant; expected https://sts.windows.net/<tid>/")]
    WrongIssuer(String),
    #[error("token lacks the '{0}' claim")]
    MissingClaim(&'static str),
    #[error("signing key error: {0}")]
    Key(String),
}

impl AuthError {
    /// A short name of the check that fired, for the error journal.
    pub fn check(&self) -> &'static str {
        match self {
            AuthError::MissingHeader => "missing authorization header",
            AuthError::NotBearer => "non-bearer authorization scheme",
            AuthError::Malformed(_) => "malformed token",
            AuthError::Algorithm(_) => "algorithm pinning (RS256 only)",
            AuthError::UnknownKey(_) => "unknown signing key id",
            AuthError::BadSignature => "signature verification",
            AuthError::Expired { .. } => "token expiry (exp)",
            AuthError::NotYetValid { .. } => "token not-before (nbf)",
            AuthError::WrongAudience(_) => "audience check",
            AuthError::OtherApi { .. } => "audience check (token for another API)",
            AuthError::WrongIssuer(_) => "issuer check",
            AuthError::MissingClaim(_) => "required claim",
            AuthError::Key(_) => "signing key",
        }
    }
}

/// Beyond this many distinct live tokens the cache starts afresh; an unverified token never enters.
const CACHE_CAPACITY: usize = 16_384;

/// Verifies bearer tokens signed by the emulator's key.
pub struct TokenVerifier {
    key: Arc<SigningKey>,
    validation: Validation,
    verified: RwLock<HashMap<[u8; 32], Arc<Claims>>>,
}

impl TokenVerifier {
    pub fn new(key: Arc<SigningKey>) -> Self {
        let mut validation = Validation::new(Algorithm::RS256);
        // Time and audience are checked by us against the emulator's clock and audience list.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        TokenVerifier {
            key,
            validation,
            verified: RwLock::new(HashMap::new()),
        }
    }

    /// Verifies an `Authorization` header value at emulator time `now` (Unix seconds).
    pub fn verify_header(&self, header: Option<&str>, now: i64) -> Result<Principal, AuthError> {
        let header = header.ok_or(AuthError::MissingHeader)?.trim();
        let (scheme, token) = header.split_once(' ').ok_or(AuthError::NotBearer)?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(AuthError::NotBearer);
        }
        self.verify(token.trim(), now)
    }

    /// [`Self::verify_header`] for a route of `api`: a token for the other API is refused.
    pub fn verify_header_for(&self, api: Api, header: Option<&str>, now: i64) -> Result<Principal, AuthError> {
        let principal = self.verify_header(header, now)?;
        if principal.api == api {
            return Ok(principal);
        }
        Err(AuthError::OtherApi {
            held: principal.api.audience(),
            expected: api.audience(),
        })
    }

    /// Verifies a compact JWT at emulator time `now` (Unix seconds).
    pub fn verify(&self, token: &str, now: i64) -> Result<Principal, AuthError> {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let cached = self.verified.read().ok().and_then(|cache| cache.get(&digest).cloned());
        let claims = match cached {
            Some(claims) => claims,
            None => {
                let claims = Arc::new(self.verify_uncached(token)?);
                if let Ok(mut cache) = self.verified.write() {
                    if cache.len() >= CACHE_CAPACITY {
                        cache.clear();
                    }
                    cache.insert(digest, claims.clone());
                }
                claims
            }
        };
        if now >= claims.exp {
            return Err(AuthError::Expired { exp: claims.exp, now });
        }
        // Only a token issued to start later (nbf after iat) waits for its time. One that was valid
        // when issued stays valid when the emulator clock is moved back before its issue: the
        // issuance happened, and clients keep such tokens cached (see the README, "clock").
        if now < claims.nbf && claims.nbf > claims.iat {
            return Err(AuthError::NotYetValid { nbf: claims.nbf, now });
        }
        Ok(Principal {
            tenant_id: claims.tid.clone(),
            app_id: claims.appid.clone(),
            roles: claims.roles.clone(),
            api: api_of_audience(&claims.aud).unwrap_or(Api::Defender),
        })
    }

    /// The time-independent checks: structure, algorithm, key, signature, audience, issuer, claims.
    fn verify_uncached(&self, token: &str) -> Result<Claims, AuthError> {
        let mut parts = token.split('.');
        let (Some(header), Some(_), Some(_), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
            return Err(AuthError::Malformed(
                "expected three dot-separated base64url segments".into(),
            ));
        };
        let header = URL_SAFE_NO_PAD
            .decode(header.trim_end_matches('='))
            .map_err(|_| AuthError::Malformed("the header segment is not base64url".into()))?;
        let header: serde_json::Value = serde_json::from_slice(&header)
            .map_err(|_| AuthError::Malformed("the header segment is not JSON".into()))?;
        let alg = header.get("alg").and_then(|a| a.as_str()).unwrap_or("");
        if alg != "RS256" {
            return Err(AuthError::Algorithm(alg.to_string()));
        }
        if let Some(kid) = header.get("kid").and_then(|k| k.as_str()) {
            if kid != self.key.kid() {
                return Err(AuthError::UnknownKey(kid.to_string()));
            }
        }
        let data = jsonwebtoken::decode::<Claims>(token, &self.key.decoding, &self.validation).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind;
            match e.kind() {
                ErrorKind::InvalidSignature => AuthError::BadSignature,
                other => AuthError::Malformed(format!("{other:?}")),
            }
        })?;
        let claims = data.claims;
        if api_of_audience(&claims.aud).is_none() {
            return Err(AuthError::WrongAudience(claims.aud));
        }
        if claims.tid.is_empty() {
            return Err(AuthError::MissingClaim("tid"));
        }
        if claims.appid.is_empty() {
            return Err(AuthError::MissingClaim("appid"));
        }
        if claims.iss != issuer_for(&claims.tid) {
            return Err(AuthError::WrongIssuer(claims.iss));
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::OnceLock;

    fn key() -> Arc<SigningKey> {
        static KEY: OnceLock<Arc<SigningKey>> = OnceLock::new();
        KEY.get_or_init(|| Arc::new(SigningKey::generate().unwrap())).clone()
    }

    fn claims(now: i64) -> Claims {
        Claims::for_app(
            "t1",
            "app1",
            vec!["Machine.Read.All".into()],
            "https://api.security.microsoft.com",
            now,
            3599,
        )
    }

    #[test]
    fn a_minted_token_verifies_and_yields_its_principal() {
        let v = TokenVerifier::new(key());
        let token = key().mint(&claims(1000)).unwrap();
        let p = v.verify_header(Some(&format!("Bearer {token}")), 1001).unwrap();
        assert_eq!(p.tenant_id, "t1");
        assert_eq!(p.app_id, "app1");
        assert_eq!(p.roles, vec!["Machine.Read.All".to_string()]);
    }

    #[test]
    fn cached_tokens_still_expire_when_the_clock_moves() {
        let v = TokenVerifier::new(key());
        let token = key().mint(&claims(1000)).unwrap();
        assert!(v.verify(&token, 1500).is_ok());
        assert_eq!(
            v.verify(&token, 1000 + 3599),
            Err(AuthError::Expired { exp: 4599, now: 4599 })
        );
        // Issued at 1000 and valid then: moving the clock back before it does not un-issue it.
        assert!(v.verify(&token, 999).is_ok());
        let mut later = claims(1000);
        later.nbf = 1600;
        let later = key().mint(&later).unwrap();
        assert_eq!(
            v.verify(&later, 1599),
            Err(AuthError::NotYetValid { nbf: 1600, now: 1599 })
        );
        assert!(v.verify(&later, 1600).is_ok());
    }

    #[test]
    fn a_token_of_another_key_fails_even_with_our_kid() {
        let other = SigningKey::generate().unwrap();
        let mut header = jsonwebtoken::Header::new(Algorithm::RS256);
        header.kid = Some(key().kid().to_string());
        let forged = jsonwebtoken::encode(&header, &claims(1000), &other.encoding).unwrap();
        assert_eq!(
            TokenVerifier::new(key()).verify(&forged, 1001),
            Err(AuthError::BadSignature)
        );
    }

    #[test]
    fn refused_tokens_are_not_cached() {
        let v = TokenVerifier::new(key());
        let token = key().mint(&claims(1000)).unwrap();
        let tampered = format!("{}x", token);
        assert!(v.verify(&tampered, 1001).is_err());
        assert!(v.verified.read().unwrap().is_empty());
    }
}
