//! Fuzzing the JSON body extractor (`extract::parse_body`) with proptest (cargo-fuzz needs a
//! nightly toolchain; see the README, "Fuzzing"). Properties:
//! - arbitrary bytes, mutations of valid bodies and deeply nested JSON never panic (or overflow
//!   the stack), and every refusal is a 400 body error, never a 5xx;
//! - a well-formed body is accepted, with exactly its undocumented properties reported as ignored;
//! - a body missing a required property, or holding it as `null`, is refused as missing.
//!
//! Cases per property: `PROPTEST_CASES` (default below, seconds in CI); run longer with e.g.
//! `PROPTEST_CASES=100000 cargo test -p palisade-server --test fuzz_body --release`.

use palisade_error::ErrorCode;
use palisade_server::extract::parse_body;
use palisade_server::request_body;
use proptest::prelude::*;

request_body! {
    /// A body shaped like the API's: required and optional properties of several types.
    pub struct Probe {
        required "Comment" comment: String,
        required "Count" count: u32,
        optional "Tags" tags: Option<Vec<String>>,
        optional "Flag" flag: Option<bool>,
        optional "When" when: Option<chrono::DateTime<chrono::Utc>>,
        optional "Nested" nested: Option<std::collections::BTreeMap<String, i64>>,
    }
}

fn accepted_or_refused_cleanly(bytes: &[u8]) -> Result<(), TestCaseError> {
    match parse_body::<Probe>(bytes) {
        Ok(parsed) => {
            // Accepted only when the body is an object holding both required properties.
            let value: serde_json::Value = serde_json::from_slice(bytes).unwrap_or_default();
            prop_assert!(!value["Comment"].is_null() && !value["Count"].is_null());
            prop_assert_eq!(value["Count"].as_u64(), Some(u64::from(parsed.value.count)));
            for name in &parsed.ignored {
                prop_assert!(!["Comment", "Count", "Tags", "Flag", "When", "Nested"].contains(&name.as_str()));
            }
        }
        Err(e) => {
            prop_assert!(
                matches!(
                    e.code,
                    ErrorCode::InvalidRequestBody | ErrorCode::MissingRequiredParameter
                ),
                "unexpected code {:?}",
                e.code
            );
            prop_assert_eq!(e.code.status(), 400);
        }
    }
    Ok(())
}

/// Arbitrary JSON values up to a small depth.
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(serde_json::Value::from),
        any::<String>().prop_map(serde_json::Value::from),
        prop::sample::select(vec!["2026-01-01T00:00:00Z", "2026-13-45T99:00:00Z", "x"])
            .prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    prop::sample::select(vec![
                        "Comment", "comment", "COUNT", "Count", "Tags", "Flag", "When", "Nested", "Extra"
                    ])
                    .prop_map(String::from),
                    any::<String>(),
                ],
                inner,
                0..6
            )
            .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

fn valid_body() -> impl Strategy<Value = serde_json::Value> {
    (
        any::<String>(),
        any::<u32>(),
        prop::option::of(prop::collection::vec(any::<String>(), 0..4)),
        prop::option::of(any::<bool>()),
        prop::collection::btree_map("[A-Za-z][A-Za-z0-9]{0,8}", any::<i64>(), 0..3),
    )
        .prop_map(|(comment, count, tags, flag, extra)| {
            let mut body = serde_json::json!({ "Comment": comment, "Count": count, "Tags": tags, "Flag": flag });
            for (k, v) in extra {
                // Undocumented properties, named so that they never differ from ours only in case.
                body[format!("x{k}")] = v.into();
            }
            body
        })
}

#[test]
fn deep_nesting_is_refused_without_overflowing_the_stack() {
    for depth in [100, 129, 1_000, 100_000] {
        for (open, close) in [("[", "]"), ("{\"a\":", "}")] {
            let body = format!(
                "{{\"Comment\":\"c\",\"Count\":1,\"Nested\":{}1{}}}",
                open.repeat(depth),
                close.repeat(depth)
            );
            let result = parse_body::<Probe>(body.as_bytes());
            assert!(result.is_err(), "depth {depth} accepted");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(512)
    ))]

    #[test]
    fn arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        accepted_or_refused_cleanly(&bytes)?;
    }

    #[test]
    fn arbitrary_json(value in json_value()) {
        accepted_or_refused_cleanly(value.to_string().as_bytes())?;
    }

    #[test]
    fn valid_bodies_are_accepted(body in valid_body()) {
        let parsed = parse_body::<Probe>(body.to_string().as_bytes());
        prop_assert!(parsed.is_ok(), "{:?}", parsed.err().map(|e| e.message));
        let parsed = parsed.unwrap_or_else(|_| unreachable!());
        let mut extra: Vec<String> = body.as_object().into_iter().flatten().map(|(k, _)| k.clone()).filter(|k| k.starts_with('x')).collect();
        let mut ignored = parsed.ignored.clone();
        extra.sort();
        ignored.sort();
        prop_assert_eq!(ignored, extra);
    }

    #[test]
    fn a_missing_or_null_required_property_is_refused(body in valid_body(), which in prop::sample::select(vec!["Comment", "Count"]), null in any::<bool>()) {
        let mut body = body;
        if null {
            body[which] = serde_json::Value::Null;
        } else if let Some(object) = body.as_object_mut() {
            object.remove(which);
        }
        let result = parse_body::<Probe>(body.to_string().as_bytes());
        prop_assert_eq!(result.err().map(|e| e.code), Some(ErrorCode::MissingRequiredParameter));
    }

    #[test]
    fn mutated_valid_bodies(body in valid_body(), edits in prop::collection::vec((any::<usize>(), any::<u8>(), 0u8..3), 1..6)) {
        let mut bytes = body.to_string().into_bytes();
        for (at, byte, op) in edits {
            let i = at % (bytes.len() + 1);
            match op {
                0 if i < bytes.len() => bytes[i] = byte,
                1 if i < bytes.len() => { bytes.remove(i); }
                _ => bytes.insert(i, byte),
            }
        }
        accepted_or_refused_cleanly(&bytes)?;
    }
}
