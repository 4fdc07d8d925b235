//! The PostgreSQL translation agrees with in-memory evaluation.
//!
//! Skipped unless `PALISADE_ODATA_PSQL` holds `psql` connection arguments for a
//! scratch UTF-8 database, e.g. `-h /tmp/pg -p 54329 -U postgres -d odata`. It
//! drives `psql` with a generated script (temporary table, `PREPARE`d statements with
//! server-inferred parameter types, as a driver would), so no PostgreSQL client crate
//! is needed.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::corpus::*;
use common::ITEMS;
use palisade_odata::{column_values, parse_query, Dialect, SqlValue};
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde_json::Value;

fn literal(v: &SqlValue) -> String {
    match v {
        SqlValue::Null => "NULL".into(),
        SqlValue::Int(i) => i.to_string(),
        SqlValue::Text(s) => format!("'{}'", s.replace('\'', "''")),
        SqlValue::Real(f) => f.to_string(),
        SqlValue::Bool(b) => b.to_string(),
    }
}

fn load_script(docs: &[Value], out: &mut String) {
    out.push_str("TRUNCATE items;\n");
    for d in docs {
        let cols = column_values(&ITEMS, d);
        let names: Vec<&str> = cols.iter().map(|(c, _)| *c).collect();
        let vals: Vec<String> = cols.iter().map(|(_, v)| literal(v)).collect();
        let doc = literal(&SqlValue::Text(d.to_string()));
        out.push_str(&format!(
            "INSERT INTO items (tenant_id, doc, {}) VALUES ('t1', {doc}, {});\n\
             INSERT INTO items (tenant_id, doc, {0}) VALUES ('other', {doc}, {1});\n",
            names.join(", "),
            vals.join(", ")
        ));
    }
}

fn query_script(tag: &str, raw: &str, out: &mut String) {
    let q = parse_query(raw, &ITEMS).expect("valid query");
    let mut params = vec![SqlValue::Text("t1".into())];
    let mut cond = String::new();
    if let Some(w) = q.where_sql(&ITEMS, Dialect::Postgres, 2) {
        cond = format!(" AND {}", w.sql);
        params.extend(w.params);
    }
    let n = params.len();
    let ob = q.order_by_sql(&ITEMS, Dialect::Postgres);
    out.push_str(&format!(
        "PREPARE p AS SELECT '{tag}|' || (SELECT count(*) FROM items WHERE tenant_id = $1{cond}) \
         || '|' || coalesce((SELECT string_agg(id, ',') FROM (SELECT id FROM items WHERE \
         tenant_id = $1{cond} ORDER BY {ob} LIMIT ${} OFFSET ${}) s), '');\n",
        n + 1,
        n + 2
    ));
    params.push(q.top.map_or(SqlValue::Null, |t| SqlValue::Int(i64::from(t))));
    params.push(SqlValue::Int(i64::from(q.skip)));
    let args: Vec<String> = params.iter().map(literal).collect();
    out.push_str(&format!("EXECUTE p({});\nDEALLOCATE p;\n", args.join(", ")));
}

fn memory(docs: &[Value], raw: &str) -> String {
    let q = parse_query(raw, &ITEMS).expect("valid query");
    let (page, total) = q.evaluate(&ITEMS, docs.iter());
    let ids: Vec<&str> = page.iter().map(|d| d["id"].as_str().unwrap_or("")).collect();
    format!("{total}|{}", ids.join(","))
}

#[test]
fn postgres_agrees_with_memory() {
    let Ok(conn) = std::env::var("PALISADE_ODATA_PSQL") else {
        eprintln!("skipped: set PALISADE_ODATA_PSQL to run against PostgreSQL");
        return;
    };
    let mut script = String::from(
        "\\set ON_ERROR_STOP 1\nCREATE TEMP TABLE items (tenant_id TEXT NOT NULL, doc TEXT \
         NOT NULL, id TEXT NOT NULL, name TEXT, score BIGINT, active BIGINT, seen BIGINT, \
         level TEXT, owner TEXT);\n",
    );
    let mut expected: Vec<(String, String, String)> = Vec::new();

    let docs = corpus_docs();
    load_script(&docs, &mut script);
    for (i, raw) in corpus_queries().iter().enumerate() {
        let tag = format!("c{i}");
        query_script(&tag, raw, &mut script);
        expected.push((tag, raw.clone(), memory(&docs, raw)));
    }

    let mut runner = TestRunner::new_with_rng(Config::default(), TestRng::deterministic_rng(RngAlgorithm::ChaCha));
    let rounds: usize = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .map_or(20, |n: usize| n / 10 + 1);
    for r in 0..rounds {
        let docs = entities().new_tree(&mut runner).expect("docs").current();
        load_script(&docs, &mut script);
        for k in 0..25 {
            let raw = query_text().new_tree(&mut runner).expect("query").current();
            let tag = format!("r{r}q{k}");
            query_script(&tag, &raw, &mut script);
            expected.push((tag, raw.clone(), memory(&docs, &raw)));
        }
    }

    let mut child = Command::new("psql")
        .args(conn.split_whitespace())
        .args(["-X", "-q", "-A", "-t"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("psql");
    // Written from another thread: psql's output would otherwise fill its pipe while
    // we are still writing its input.
    let mut stdin = child.stdin.take().expect("stdin");
    let writer = std::thread::spawn(move || stdin.write_all(script.as_bytes()));
    let out = child.wait_with_output().expect("psql output");
    writer.join().expect("writer thread").expect("write script");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "psql failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: std::collections::HashMap<&str, &str> = stdout.lines().filter_map(|l| l.split_once('|')).collect();
    let mut failures = Vec::new();
    for (tag, raw, want) in &expected {
        match got.get(tag.as_str()) {
            Some(g) if g == want => {}
            g => failures.push(format!("{raw}\n  postgres: {g:?}\n  memory:   {want}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} disagree:\n{}",
        failures.len(),
        expected.len(),
        failures.join("\n")
    );
    eprintln!("{} queries agree", expected.len());
}
