//! Entity and query generators shared by the SQLite and PostgreSQL agreement tests.

use proptest::prelude::*;
use serde_json::{json, Map, Value};

use super::enc;

// ---------- random entities ----------

/// `None` = key absent.
pub fn maybe(v: impl Strategy<Value = Value>) -> impl Strategy<Value = Option<Value>> {
    prop_oneof![
        1 => Just(None),
        1 => Just(Some(Value::Null)),
        5 => v.prop_map(Some),
    ]
}

pub fn small_text() -> impl Strategy<Value = String> {
    text_of_len(0..4)
}

/// Case variants, LIKE wildcards, a quote, a space and non-ASCII letters; 'a' and
/// 'b' dominate so that generated patterns often occur in generated values.
pub fn text_of_len(len: std::ops::Range<usize>) -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop::sample::select(vec![
            "a", "a", "a", "a", "b", "b", "b", "A", "B", "%", "_", "'", " ", "é", "É",
        ]),
        len,
    )
    .prop_map(|v| v.concat())
}

pub const DATES: &[&str] = &[
    "2021-01-26T20:33:57.7220239Z",
    "2021-01-26T20:33:57.722023Z",
    "2021-01-26T22:33:57.722023+02:00",
    "2020-01-01T00:00:00Z",
    "2020-01-01",
    "2019-12-31T23:59:59.999999Z",
    "not a date",
];

pub const GUIDS: &[&str] = &[
    "8e6a1f2b-0c3d-4e5f-a6b7-c8d9e0f1a2b3",
    "8E6A1F2B-0C3D-4E5F-A6B7-C8D9E0F1A2B3",
    "00000000-0000-0000-0000-000000000001",
];

pub fn entity_fields() -> impl Strategy<Value = Vec<(&'static str, Option<Value>)>> {
    let tags = prop_oneof![
        1 => Just(Value::String("notarray".into())),
        6 => proptest::collection::vec(
            prop_oneof![
                4 => small_text().prop_map(Value::String),
                1 => Just(Value::Null),
            ],
            0..4
        )
        .prop_map(Value::Array),
    ];
    (
        maybe(text_of_len(0..6).prop_map(Value::String)),
        maybe(prop_oneof![
            6 => (-3i64..4).prop_map(|i| json!(i)),
            1 => Just(json!(1.5)),
            1 => Just(json!("2")),
        ]),
        maybe(any::<bool>().prop_map(Value::Bool)),
        maybe(prop::sample::select(DATES).prop_map(|s| json!(s))),
        maybe(prop::sample::select(vec!["Low", "low", "MEDIUM", "Medium", "High", "Extreme"]).prop_map(|s| json!(s))),
        maybe(prop::sample::select(GUIDS).prop_map(|s| json!(s))),
        maybe(tags),
    )
        .prop_map(|(name, score, active, seen, level, owner, tags)| {
            vec![
                ("name", name),
                ("score", score),
                ("active", active),
                ("seen", seen),
                ("level", level),
                ("owner", owner),
                ("tags", tags),
            ]
        })
}

pub fn entities() -> impl Strategy<Value = Vec<Value>> {
    proptest::collection::vec(entity_fields(), 0..20).prop_map(|rows| {
        rows.into_iter()
            .enumerate()
            .map(|(i, fields)| {
                let mut m = Map::new();
                m.insert("id".into(), json!(format!("e{i:02}")));
                for (k, v) in fields {
                    if let Some(v) = v {
                        m.insert(k.into(), v);
                    }
                }
                Value::Object(m)
            })
            .collect()
    })
}

// ---------- filters (as OData text) ----------

pub fn quoted(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

pub fn op() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec!["eq", "ne", "gt", "ge", "lt", "le"])
}

pub fn string_subject(var: &'static str) -> impl Strategy<Value = String> {
    prop::sample::select(vec!["", "tolower", "toupper"]).prop_map(move |f| {
        if f.is_empty() {
            var.to_string()
        } else {
            format!("{f}({var})")
        }
    })
}

/// Conditions on a string-valued subject (`name` or a lambda variable).
pub fn string_condition(var: &'static str) -> impl Strategy<Value = String> {
    prop_oneof![
        2 => (string_subject(var), op(), small_text())
            .prop_map(|(s, o, t)| format!("{s} {o} {}", quoted(&t))),
        1 => (small_text(), op()).prop_map(move |(t, o)| format!("{} {o} {var}", quoted(&t))),
        1 => prop::sample::select(vec!["eq", "ne"]).prop_map(move |o| format!("{var} {o} null")),
        3 => (
            prop::sample::select(vec!["contains", "startswith", "endswith"]),
            string_subject(var),
            small_text(),
            prop::sample::select(vec!["", " eq true", " eq false", " ne true"]),
        )
            .prop_map(|(f, s, t, suffix)| format!("{f}({s}, {}){suffix}", quoted(&t))),
        1 => (
            string_subject(var),
            proptest::collection::vec(
                prop_oneof![small_text().prop_map(|t| quoted(&t)), Just("null".to_string())],
                1..4
            )
        )
            .prop_map(|(s, vs)| format!("{s} in ({})", vs.join(", "))),
    ]
}

pub fn leaf() -> impl Strategy<Value = String> {
    let dates = prop::sample::select(vec![
        "2021-01-26T20:33:57.722023Z",
        "2021-01-26T20:33:57.7220239Z",
        "2021-01-26T22:33:57.722023+02:00",
        "2020-01-01",
        "2020-01-01Z",
        "2019-12-31T23:59:59.999999Z",
        "2020-01-01T00:00",
    ]);
    let levels = prop::sample::select(vec!["'Low'", "'low'", "'Medium'", "'HIGH'"]);
    let lambda_body = prop_oneof![
        3 => string_condition("t"),
        1 => (string_condition("t"), string_condition("t"), prop::sample::select(vec!["and", "or"]))
            .prop_map(|(a, b, c)| format!("{a} {c} ({b})")),
        1 => string_condition("t").prop_map(|a| format!("not ({a})")),
    ];
    prop_oneof![
        5 => string_condition("name"),
        2 => (op(), -4i64..5).prop_map(|(o, i)| format!("score {o} {i}")),
        1 => (-4i64..5, op()).prop_map(|(i, o)| format!("{i} {o} score")),
        1 => prop::sample::select(vec![
            "active", "not active", "active eq true", "active eq false", "active ne true",
            "active eq null", "score ne null", "score in (1, -2, null)", "active gt false",
        ]).prop_map(String::from),
        2 => (op(), dates).prop_map(|(o, d)| format!("seen {o} {d}")),
        1 => prop::sample::select(vec!["eq", "ne"]).prop_map(|o| format!("seen {o} null")),
        2 => (op(), levels.clone()).prop_map(|(o, l)| format!("level {o} {l}")),
        1 => (levels.clone(), levels).prop_map(|(a, b)| format!("level in ({a}, {b})")),
        1 => prop::sample::select(vec!["eq", "ne"]).prop_map(|o| format!("level {o} null")),
        1 => (prop::sample::select(vec!["eq", "ne", "gt"]), prop::sample::select(GUIDS), any::<bool>())
            .prop_map(|(o, g, q)| if q { format!("owner {o} '{g}'") } else { format!("owner {o} {g}") }),
        1 => Just("tags/any()".to_string()),
        2 => (prop::sample::select(vec!["any", "all"]), lambda_body)
            .prop_map(|(k, b)| format!("tags/{k}(t: {b})")),
    ]
}

pub fn filter_text() -> impl Strategy<Value = String> {
    // Single leaves are common so that a translation bug is not masked by `or`s.
    let composite = leaf().prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            (
                inner.clone(),
                inner.clone(),
                prop::sample::select(vec!["and", "or", "AND"])
            )
                .prop_map(|(a, b, c)| format!("({a}) {c} ({b})")),
            (inner.clone(), inner.clone(), inner.clone()).prop_map(|(a, b, c)| format!("{a} and {b} or not {c}")),
            inner.clone().prop_map(|a| format!("not ({a})")),
        ]
    });
    prop_oneof![2 => leaf(), 3 => composite]
}

pub fn orderby_text() -> impl Strategy<Value = Option<String>> {
    let key = (
        prop::sample::select(vec!["id", "name", "score", "active", "seen", "level", "owner"]),
        prop::sample::select(vec!["", " asc", " desc"]),
    )
        .prop_map(|(k, d)| format!("{k}{d}"));
    proptest::option::of(proptest::collection::vec(key, 1..4).prop_map(|v| v.join(",")))
}

pub fn query_text() -> impl Strategy<Value = String> {
    (
        proptest::option::of(filter_text()),
        orderby_text(),
        proptest::option::of(0u32..8),
        proptest::option::of(0u32..10),
    )
        .prop_map(|(f, o, top, skip)| {
            let mut parts = Vec::new();
            if let Some(f) = f {
                parts.push(format!("$filter={}", enc(&f)));
            }
            if let Some(o) = o {
                parts.push(format!("$orderby={}", enc(&o)));
            }
            if let Some(t) = top {
                parts.push(format!("$top={t}"));
            }
            if let Some(s) = skip {
                parts.push(format!("$skip={s}"));
            }
            parts.join("&")
        })
}

// ---------- fixed corpus ----------

/// Edge-case entities for the deterministic agreement tests.
pub fn corpus_docs() -> Vec<Value> {
    const NAMES: &[Option<&str>] = &[
        Some(""),
        Some("a"),
        Some("ab"),
        Some("ba"),
        Some("aba"),
        Some("A"),
        Some("Ab"),
        Some("%a"),
        Some("a_b"),
        Some("é"),
        Some("É"),
        Some("it's"),
        None,
    ];
    const SCORES: &[Value] = &[Value::Null];
    let tags: Vec<Value> = vec![
        json!([]),
        json!(["a"]),
        json!(["a", "B"]),
        json!(["ab", null]),
        json!(null),
        json!("a"),
        json!([""]),
    ];
    let levels = ["Low", "low", "Medium", "HIGH", "Extreme"];
    let mut docs = Vec::new();
    for i in 0..60usize {
        let mut m = Map::new();
        m.insert("id".into(), json!(format!("e{i:02}")));
        if let Some(n) = NAMES[i % NAMES.len()] {
            m.insert("name".into(), json!(n));
        }
        if i % 6 != 5 {
            m.insert("score".into(), json!((i % 5) as i64 - 2));
        } else {
            m.insert("score".into(), SCORES[0].clone());
        }
        if i % 3 != 2 {
            m.insert("active".into(), json!(i % 2 == 0));
        }
        if i % 8 != 7 {
            m.insert("seen".into(), json!(DATES[i % DATES.len()]));
        }
        if i % 6 != 5 {
            m.insert("level".into(), json!(levels[i % levels.len()]));
        }
        if i % 4 != 3 {
            m.insert("owner".into(), json!(GUIDS[i % GUIDS.len()]));
        }
        if i % 9 != 8 {
            m.insert("tags".into(), tags[i % tags.len()].clone());
        }
        docs.push(Value::Object(m));
    }

    docs
}

/// Raw query strings: every leaf form with and without `not`, and every sort key in
/// both directions with paging.
pub fn corpus_queries() -> Vec<String> {
    let mut leaves: Vec<String> = Vec::new();
    let patterns = ["a", "b", "ab", "A", "%", "_", "", "é", "'"];
    for f in ["contains", "startswith", "endswith"] {
        for subject in ["name", "tolower(name)", "toupper(name)"] {
            for p in patterns {
                leaves.push(format!("{f}({subject}, {})", quoted(p)));
            }
        }
        for p in patterns {
            leaves.push(format!("tags/any(t: {f}(t, {}))", quoted(p)));
            leaves.push(format!("tags/all(t: {f}(tolower(t), {}))", quoted(p)));
        }
    }
    for op in ["eq", "ne", "gt", "ge", "lt", "le"] {
        for v in ["''", "'a'", "'ab'", "'A'", "'é'"] {
            leaves.push(format!("name {op} {v}"));
            leaves.push(format!("tolower(name) {op} {v}"));
            leaves.push(format!("tags/any(t: t {op} {v})"));
            leaves.push(format!("tags/all(t: t {op} {v})"));
        }
        for v in ["-2", "0", "2"] {
            leaves.push(format!("score {op} {v}"));
        }
        for v in ["'Low'", "'medium'", "'High'"] {
            leaves.push(format!("level {op} {v}"));
        }
        for v in [
            "2021-01-26T20:33:57.722023Z",
            "2020-01-01",
            "2019-12-31T23:59:59.999999Z",
        ] {
            leaves.push(format!("seen {op} {v}"));
        }
        leaves.push(format!("active {op} true"));
        leaves.push(format!("owner {op} {}", GUIDS[0]));
    }
    for p in ["name", "score", "active", "seen", "level", "owner"] {
        leaves.push(format!("{p} eq null"));
        leaves.push(format!("{p} ne null"));
    }
    leaves.extend(
        [
            "name in ('a', 'ab')",
            "name in ('a', null)",
            "level in ('low', 'High')",
            "tags/any()",
            "tags/any(t: t eq null)",
            "tags/all(t: t ne null)",
            "active",
        ]
        .map(String::from),
    );

    let mut out = Vec::new();
    for leaf in &leaves {
        for f in [leaf.clone(), format!("not ({leaf})")] {
            out.push(format!("$filter={}", enc(&f)));
        }
    }
    for key in ["id", "name", "score", "active", "seen", "level", "owner"] {
        for dir in ["asc", "desc"] {
            out.push(format!("$orderby={key} {dir}&$skip=3&$top=40"));
        }
    }
    out
}
