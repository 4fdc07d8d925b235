//! Fuzzing the bearer-token parser and verifier with proptest (cargo-fuzz needs a nightly
//! toolchain; see the README, "Fuzzing"). Properties:
//! - arbitrary text, as a token or as an `Authorization` header, never panics and is refused;
//! - a valid token with one byte changed, removed or inserted is refused unless it still decodes
//!   to the very same header, claims and signature (base64url's spare bits);
//! - forged headers (other algorithms, `none`, unknown key ids) are refused whatever the payload;
//! - a correctly signed token is accepted exactly when its claims pass the documented checks.
//!
//! Cases per property: `PROPTEST_CASES` (default below, seconds in CI); run longer with e.g.
//! `PROPTEST_CASES=100000 cargo test -p palisade-auth --test fuzz_jwt --release`.

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, URL_SAFE_NO_PAD};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use palisade_auth::{issuer_for, Claims, SigningKey, TokenVerifier, ACCEPTED_AUDIENCES, GRAPH_AUDIENCES};
use proptest::prelude::*;
use std::sync::{Arc, OnceLock};

const NOW: i64 = 1_750_000_000;
const TENANT: &str = "11111111-2222-3333-4444-555555555555";
const APP: &str = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";

/// One key for the whole file: RSA generation is slow in a debug build.
fn key() -> &'static Arc<SigningKey> {
    static KEY: OnceLock<Arc<SigningKey>> = OnceLock::new();
    KEY.get_or_init(|| Arc::new(SigningKey::generate().expect("key")))
}

fn verifier() -> TokenVerifier {
    TokenVerifier::new(key().clone())
}

fn valid_claims() -> Claims {
    Claims::for_app(
        TENANT,
        APP,
        vec!["Machine.Read.All".into()],
        ACCEPTED_AUDIENCES[0],
        NOW - 10,
        3600,
    )
}

fn valid_token() -> &'static str {
    static TOKEN: OnceLock<String> = OnceLock::new();
    TOKEN.get_or_init(|| key().mint(&valid_claims()).expect("mint"))
}

/// Decodes a segment the way the most lenient reader would, to tell a real change from one
/// that only touched base64url's unused trailing bits.
fn lenient(segment: &str) -> Option<Vec<u8>> {
    let engine = GeneralPurpose::new(
        &base64::alphabet::URL_SAFE,
        GeneralPurposeConfig::new()
            .with_decode_allow_trailing_bits(true)
            .with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    engine.decode(segment).ok()
}

fn same_decoded(a: &str, b: &str) -> bool {
    let (pa, pb): (Vec<_>, Vec<_>) = (a.split('.').collect(), b.split('.').collect());
    pa.len() == pb.len()
        && pa
            .iter()
            .zip(&pb)
            .all(|(x, y)| lenient(x).is_some() && lenient(x) == lenient(y))
}

#[derive(Debug, Clone)]
enum Mutation {
    Replace(usize, u8),
    Remove(usize),
    Insert(usize, u8),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    // Bytes from the base64url alphabet, the separator, padding and a few hostile ones.
    let byte = prop_oneof![
        prop::sample::select(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".to_vec()),
        prop::sample::select(b".=+/ \x00\xff".to_vec()),
    ];
    prop_oneof![
        (any::<usize>(), byte.clone()).prop_map(|(i, b)| Mutation::Replace(i, b)),
        any::<usize>().prop_map(Mutation::Remove),
        (any::<usize>(), byte).prop_map(|(i, b)| Mutation::Insert(i, b)),
    ]
}

fn apply(token: &str, mutations: &[Mutation]) -> String {
    let mut bytes = token.as_bytes().to_vec();
    for m in mutations {
        match *m {
            Mutation::Replace(i, b) if !bytes.is_empty() => {
                let i = i % bytes.len();
                bytes[i] = b;
            }
            Mutation::Remove(i) if !bytes.is_empty() => {
                bytes.remove(i % bytes.len());
            }
            Mutation::Insert(i, b) => {
                let i = i % (bytes.len() + 1);
                bytes.insert(i, b);
            }
            _ => {}
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

fn b64(value: &serde_json::Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256)
    ))]

    #[test]
    fn arbitrary_text_is_refused(text in any::<String>()) {
        let v = verifier();
        prop_assert!(v.verify(&text, NOW).is_err());
        prop_assert!(v.verify_header(Some(&text), NOW).is_err());
        let bearer = format!("Bearer {text}");
        prop_assert!(v.verify_header(Some(&bearer), NOW).is_err());
    }

    #[test]
    fn three_arbitrary_segments_are_refused(a in "[A-Za-z0-9_=-]{0,80}", b in "[A-Za-z0-9_=-]{0,200}", c in "[A-Za-z0-9_=-]{0,400}") {
        let token = format!("{a}.{b}.{c}");
        prop_assert!(verifier().verify(&token, NOW).is_err());
    }

    #[test]
    fn mutated_tokens_are_refused(mutations in prop::collection::vec(mutation(), 1..4)) {
        let original = valid_token();
        let mutated = apply(original, &mutations);
        let v = verifier();
        prop_assert!(v.verify(original, NOW).is_ok());
        if let Ok(principal) = v.verify(&mutated, NOW) {
            // Only a change the decoder cannot see (spare bits, stray padding) may pass.
            prop_assert!(same_decoded(original, mutated.trim()), "accepted a changed token: {mutated}");
            prop_assert_eq!(principal.tenant_id, TENANT);
        }
    }

    #[test]
    fn forged_headers_are_refused(
        alg in prop::sample::select(vec!["none", "None", "HS256", "HS512", "RS384", "PS256", "ES256", "", "rs256"]),
        kid in prop::option::of("[a-zA-Z0-9]{0,20}"),
        signature in "[A-Za-z0-9_-]{0,360}",
    ) {
        let mut header = serde_json::json!({ "alg": alg, "typ": "JWT" });
        if let Some(kid) = kid {
            header["kid"] = serde_json::Value::String(kid);
        }
        let claims = serde_json::to_value(valid_claims()).unwrap_or_default();
        let token = format!("{}.{}.{}", b64(&header), b64(&claims), signature);
        prop_assert!(verifier().verify(&token, NOW).is_err());
        // The genuine header with someone else's payload and the old signature: still refused.
        let genuine_header = valid_token().split('.').next().unwrap_or_default();
        let genuine_signature = valid_token().rsplit('.').next().unwrap_or_default();
        let mut other = valid_claims();
        other.roles.push("Ti.ReadWrite.All".into());
        let swapped = format!("{genuine_header}.{}.{genuine_signature}", b64(&serde_json::to_value(other).unwrap_or_default()));
        prop_assert!(verifier().verify(&swapped, NOW).is_err());
    }

    #[test]
    fn signed_tokens_are_accepted_exactly_when_their_claims_pass(
        aud in prop::sample::select(vec![ACCEPTED_AUDIENCES[0], ACCEPTED_AUDIENCES[4], "https://graph.microsoft.com", ""]),
        tid in prop::sample::select(vec![TENANT, "", "other"]),
        appid in prop::sample::select(vec![APP, ""]),
        issuer_matches in any::<bool>(),
        exp_offset in -100i64..100,
        nbf_offset in -100i64..100,
    ) {
        let mut claims = valid_claims();
        claims.aud = aud.into();
        claims.tid = tid.into();
        claims.appid = appid.into();
        claims.iss = if issuer_matches { issuer_for(tid) } else { issuer_for("someone-else") };
        claims.iat = NOW - 1000;
        claims.exp = NOW + exp_offset;
        claims.nbf = NOW + nbf_offset;
        let token = key().mint(&claims).expect("mint");
        let expected = (ACCEPTED_AUDIENCES.contains(&aud) || GRAPH_AUDIENCES.contains(&aud))
            && !tid.is_empty()
            && !appid.is_empty()
            && issuer_matches
            && NOW < claims.exp
            && NOW >= claims.nbf;
        let got = verifier().verify(&token, NOW);
        prop_assert_eq!(got.is_ok(), expected, "{:?}", got);
    }
}
