//! The tenant-independent RS256 signing key: generated once, kept by the store as PKCS#8 PEM.

use crate::{AuthError, Claims};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey, LineEnding};
use rsa::traits::PublicKeyParts;
use rsa::RsaPrivateKey;
use sha2::{Digest, Sha256};

/// An RSA key pair ready to sign and verify tokens.
pub struct SigningKey {
    kid: String,
    private_pem: String,
    n: String,
    e: String,
    public_pem: String,
    pub(crate) encoding: EncodingKey,
    pub(crate) decoding: DecodingKey,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Generates a fresh 2048-bit key (first start only; this takes a moment).
    pub fn generate() -> Result<Self, AuthError> {
        let key = RsaPrivateKey::new(&mut rand::thread_rng(), 2048).map_err(|e| AuthError::Key(e.to_string()))?;
        let pem = key
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|e| AuthError::Key(e.to_string()))?;
        Self::from_private(&key, pem.to_string())
    }

    /// Loads a key kept as PKCS#8 PEM.
    pub fn from_pem(pem: &str) -> Result<Self, AuthError> {
        let key = RsaPrivateKey::from_pkcs8_pem(pem).map_err(|e| AuthError::Key(e.to_string()))?;
        Self::from_private(&key, pem.to_string())
    }

    fn from_private(key: &RsaPrivateKey, private_pem: String) -> Result<Self, AuthError> {
        let public = key.to_public_key();
        let n = URL_SAFE_NO_PAD.encode(public.n().to_bytes_be());
        let e = URL_SAFE_NO_PAD.encode(public.e().to_bytes_be());
        let public_der = public.to_public_key_der().map_err(|e| AuthError::Key(e.to_string()))?;
        let public_pem = public
            .to_public_key_pem(LineEnding::LF)
            .map_err(|e| AuthError::Key(e.to_string()))?;
        // Like Entra, the kid is a thumbprint of the public key.
        let kid = URL_SAFE_NO_PAD.encode(&Sha256::digest(public_der.as_bytes())[..20]);
        let pkcs1 = key.to_pkcs1_der().map_err(|e| AuthError::Key(e.to_string()))?;
        let encoding = EncodingKey::from_rsa_der(pkcs1.as_bytes());
        let decoding = DecodingKey::from_rsa_components(&n, &e).map_err(|e| AuthError::Key(e.to_string()))?;
        Ok(SigningKey {
            kid,
            private_pem,
            n,
            e,
            public_pem,
            encoding,
            decoding,
        })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn private_pem(&self) -> &str {
        &self.private_pem
    }

    /// SubjectPublicKeyInfo PEM of the public half.
    pub fn public_pem(&self) -> &str {
        &self.public_pem
    }

    /// The JWKS document (`{"keys":[...]}`) that publishes the public half.
    pub fn jwks(&self) -> serde_json::Value {
        serde_json::json!({
            "keys": [{
                "kty": "RSA", "use": "sig", "alg": "RS256",
                "kid": self.kid, "x5t": self.kid, "n": self.n, "e": self.e,
            }]
        })
    }

    /// Signs the claims as an RS256 JWT with `typ`, `alg`, `kid` and `x5t` headers, as Entra does.
    pub fn mint(&self, claims: &Claims) -> Result<String, AuthError> {
        let mut header = Header::new(Algorithm::RS256);
        header.typ = Some("JWT".into());
        header.kid = Some(self.kid.clone());
        header.x5t = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding).map_err(|e| AuthError::Key(e.to_string()))
    }
}
