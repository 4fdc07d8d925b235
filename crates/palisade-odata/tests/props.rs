//! Property-based tests: SQL translation (run on SQLite) agrees with in-memory
//! evaluation; rendering round-trips; arbitrary input never panics or hangs.
//!
//! Case counts are modest by default; set `PROPTEST_CASES` for a longer run.

mod common;

use std::time::{Duration, Instant};

use common::corpus::*;
use common::{enc, ITEMS, MACHINE};
use palisade_odata::{column_values, parse_query, Dialect, SqlValue, MESSAGE_PREFIX};
use proptest::prelude::*;
use proptest::test_runner::Config;
use rusqlite::types::Value as DbValue;
use serde_json::Value;

fn cases(default: u32) -> Config {
    let n = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default);
    Config {
        cases: n,
        // Failure persistence files would land in the source tree.
        failure_persistence: None,
        ..Config::default()
    }
}

// ---------- SQLite ----------

fn load(docs: &[Value]) -> rusqlite::Connection {
    let db = rusqlite::Connection::open_in_memory().expect("sqlite");
    db.execute_batch(
        "CREATE TABLE items (tenant_id TEXT NOT NULL, doc TEXT NOT NULL, id TEXT NOT NULL,
           name TEXT, score INTEGER, active INTEGER, seen INTEGER, level TEXT, owner TEXT,
           PRIMARY KEY (tenant_id, id));",
    )
    .expect("schema");
    for (tenant, docs) in [("t1", docs), ("other", docs)] {
        for d in docs {
            let cols = column_values(&ITEMS, d);
            let names: Vec<&str> = cols.iter().map(|(c, _)| *c).collect();
            let marks: Vec<String> = (0..cols.len()).map(|i| format!("?{}", i + 3)).collect();
            let sql = format!(
                "INSERT INTO items (tenant_id, doc, {}) VALUES (?1, ?2, {})",
                names.join(", "),
                marks.join(", ")
            );
            let mut params: Vec<DbValue> = vec![DbValue::Text(tenant.into()), DbValue::Text(d.to_string())];
            params.extend(cols.into_iter().map(|(_, v)| db_value(v)));
            db.execute(&sql, rusqlite::params_from_iter(params)).expect("insert");
        }
    }
    db
}

fn db_value(v: SqlValue) -> DbValue {
    match v {
        SqlValue::Null => DbValue::Null,
        SqlValue::Int(i) => DbValue::Integer(i),
        SqlValue::Text(s) => DbValue::Text(s),
        SqlValue::Real(f) => DbValue::Real(f),
        SqlValue::Bool(b) => DbValue::Integer(i64::from(b)),
    }
}

/// Runs the query as the store would; returns (page ids, total count).
fn run_sql(db: &rusqlite::Connection, raw: &str) -> (Vec<String>, usize) {
    let q = parse_query(raw, &ITEMS).expect("valid");
    let w = q.where_sql(&ITEMS, Dialect::Sqlite, 2);
    let mut params = vec![DbValue::Text("t1".into())];
    let mut cond = String::new();
    if let Some(w) = &w {
        cond = format!(" AND {}", w.sql);
        params.extend(w.params.iter().cloned().map(db_value));
    }
    let n = params.len();
    let sql = format!(
        "SELECT id FROM items WHERE tenant_id = ?1{cond} ORDER BY {} LIMIT ?{} OFFSET ?{}",
        q.order_by_sql(&ITEMS, Dialect::Sqlite),
        n + 1,
        n + 2
    );
    let count_sql = format!("SELECT COUNT(*) FROM items WHERE tenant_id = ?1{cond}");
    let total: i64 = db
        .query_row(&count_sql, rusqlite::params_from_iter(params.clone()), |r| r.get(0))
        .unwrap_or_else(|e| panic!("{count_sql}: {e}"));
    params.push(DbValue::Integer(q.top.map_or(-1, i64::from)));
    params.push(DbValue::Integer(i64::from(q.skip)));
    let mut stmt = db.prepare(&sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    let ids = stmt
        .query_map(rusqlite::params_from_iter(params), |r| r.get::<_, String>(0))
        .expect("query")
        .collect::<Result<Vec<_>, _>>()
        .expect("rows");
    (ids, total as usize)
}

fn run_memory(docs: &[Value], raw: &str) -> (Vec<String>, usize) {
    let q = parse_query(raw, &ITEMS).expect("valid");
    let (page, total) = q.evaluate(&ITEMS, docs.iter());
    let ids = page
        .iter()
        .map(|d| d["id"].as_str().unwrap_or_default().to_string())
        .collect();
    (ids, total)
}

proptest! {
    #![proptest_config(cases(300))]

    #[test]
    fn sql_agrees_with_memory(docs in entities(), raw in query_text()) {
        if let Err(e) = parse_query(&raw, &ITEMS) {
            return Err(TestCaseError::fail(format!("generated query rejected: {raw}: {e}")));
        }
        let db = load(&docs);
        let sql = run_sql(&db, &raw);
        let mem = run_memory(&docs, &raw);
        prop_assert_eq!(sql, mem, "query: {}", raw);
    }

    #[test]
    fn rendering_round_trips(f in filter_text()) {
        let raw = format!("$filter={}", enc(&f));
        let q = parse_query(&raw, &ITEMS).map_err(|e| TestCaseError::fail(e.message))?;
        let e = q.filter.expect("filter");
        let shown = e.to_string();
        let again = parse_query(&format!("$filter={}", enc(&shown)), &ITEMS)
            .map_err(|err| TestCaseError::fail(format!("{shown}: {err}")))?;
        prop_assert_eq!(again.filter, Some(e));
    }
}

// ---------- robustness ----------

fn check_total(raw: &str) {
    let start = Instant::now();
    for schema in [&ITEMS, &MACHINE] {
        if let Err(e) = parse_query(raw, schema) {
            assert!(e.message.starts_with(MESSAGE_PREFIX), "{}", e.message);
        }
    }
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "slow on {raw:?}: {:?}",
        start.elapsed()
    );
}

const TOKENS: &[&str] = &[
    "(",
    ")",
    "(",
    ")",
    ",",
    "/",
    ":",
    "'",
    "''",
    " ",
    " ",
    "and",
    "or",
    "not",
    "eq",
    "ne",
    "gt",
    "in",
    "any",
    "all",
    "t",
    "t:",
    "name",
    "tags",
    "score",
    "level",
    "seen",
    "owner",
    "active",
    "id",
    "'a'",
    "'Low'",
    "null",
    "true",
    "1",
    "-1",
    "1.5",
    "1e9",
    "99999999999999999999",
    "2020-01-01",
    "2020-01-01T00:00:00Z",
    "2020-13-45T99:99",
    "8e6a1f2b-0c3d-4e5f-a6b7-c8d9e0f1a2b3",
    "contains(",
    "startswith(",
    "tolower(",
    "x'",
    "Ns.T'v'",
    "$",
    "%",
    "%2",
    "%ZZ",
    "+",
    "&",
    "=",
    "$filter=",
    "$top=",
    "$orderby=",
    "$select=",
    "$expand=",
    "$skip=",
    "$count=",
    "\"",
    "é",
    "\u{0}",
    "desc",
    "asc",
];

proptest! {
    #![proptest_config(cases(256))]

    #[test]
    fn arbitrary_strings_never_panic(s in any::<String>()) {
        check_total(&s);
        check_total(&format!("$filter={s}"));
        check_total(&format!("$filter={}", enc(&s)));
        check_total(&format!("$orderby={}&$select={}", enc(&s), enc(&s)));
    }

    #[test]
    fn token_soup_never_panics(
        toks in proptest::collection::vec(prop::sample::select(TOKENS), 0..40),
        sep in prop::sample::select(vec!["", " "]),
    ) {
        let body = toks.join(sep);
        check_total(&body);
        check_total(&format!("$filter={}", enc(&body)));
        check_total(&format!("$filter={body}"));
    }

    #[test]
    fn mutated_valid_queries_never_panic(raw in query_text(), cut in any::<prop::sample::Index>(), ins in prop::sample::select(TOKENS)) {
        let at = cut.index(raw.len() + 1);
        if raw.is_char_boundary(at) {
            check_total(&raw[..at]);
            check_total(&format!("{}{}{}", &raw[..at], ins, &raw[at..]));
        }
    }
}

#[test]
fn huge_and_deep_inputs_are_bounded() {
    let deep = format!("$filter={}", "(".repeat(100_000));
    check_total(&deep);
    let nots = format!("$filter={}name eq 'a'", "not ".repeat(50_000));
    check_total(&nots);
    let funcs = format!("$filter={}name{}", "tolower(".repeat(10_000), ")".repeat(10_000));
    check_total(&funcs);
    let long_chain = format!("$filter={}", vec!["score eq 1"; 900].join(" and "));
    let q = parse_query(&long_chain, &ITEMS).expect("900 terms are fine");
    let w = q.where_sql(&ITEMS, Dialect::Sqlite, 2).expect("sql");
    assert_eq!(w.params.len(), 900);
    let too_many = format!("$filter={}", vec!["score eq 1"; 5000].join(" or "));
    check_total(&too_many);
    let long_string = format!("$filter=name eq '{}'", "x".repeat(1_000_000));
    check_total(&long_string);
    let unterminated = format!("$filter=name eq '{}", "x".repeat(1_000_000));
    check_total(&unterminated);
    let many_params = "a=1&".repeat(100_000);
    check_total(&many_params);
}

/// Deterministic companion of `sql_agrees_with_memory`: every leaf form, with and
/// without `not`, and every sort key, against a fixed corpus of edge-case entities.
#[test]
fn fixed_corpus_agrees() {
    let docs = corpus_docs();
    let db = load(&docs);
    let queries = corpus_queries();
    assert!(queries.len() > 400, "{}", queries.len());
    for raw in &queries {
        assert_eq!(run_sql(&db, raw), run_memory(&docs, raw), "{raw}");
    }
}
