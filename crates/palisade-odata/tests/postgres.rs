//! The PostgreSQL translation agrees with in-memory evaluation.
//!
//! Needs PostgreSQL, so it is `#[ignore]`d: a plain `cargo test` lists it as ignored instead of
//! passing without running it. Run it with
//! `cargo test -p palisade-odata --test postgres -- --ignored` (`.ci/run` does when the machine has
//! PostgreSQL's binaries). The server is, by `PALISADE_ODATA_PSQL`:
//! - unset or `1`: a throwaway cluster started from the local binaries
//!   (`/usr/lib/postgresql/*/bin`, the newest), on a Unix socket in a temporary directory, run as
//!   the `postgres` user when the test runs as root, and removed afterwards. Without the binaries
//!   the test fails, saying so;
//! - anything else: `psql` connection arguments for a scratch UTF-8 database, e.g.
//!   `-h /tmp/pg -p 54329 -U postgres -d odata`.
//!
//! It drives `psql` with a generated script (temporary table, `PREPARE`d statements with
//! server-inferred parameter types, as a driver would), so no PostgreSQL client crate is needed.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
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

/// A PostgreSQL cluster of this test's own, stopped and deleted on drop.
struct Throwaway {
    base: PathBuf,
    bin: PathBuf,
    as_postgres: bool,
}

impl Throwaway {
    /// initdb + pg_ctl start from the newest `/usr/lib/postgresql/*/bin`; `Err` says what is missing.
    fn start() -> Result<Throwaway, String> {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .map_err(|e| format!("no PostgreSQL binaries: /usr/lib/postgresql: {e}"))?
            .filter_map(|entry| entry.ok().map(|e| e.path().join("bin")))
            .filter(|bin| bin.join("initdb").is_file() && bin.join("pg_ctl").is_file())
            .max_by_key(|bin| {
                let version = bin.parent().and_then(Path::file_name).and_then(|v| v.to_str());
                version.and_then(|v| v.parse::<u32>().ok()).unwrap_or(0)
            })
            .ok_or("no PostgreSQL binaries: no /usr/lib/postgresql/*/bin/initdb")?;
        // initdb refuses to run as root.
        let as_postgres = command_output("id", &["-u"])?.trim() == "0";
        let base = std::env::temp_dir().join(format!("palisade-odata-pg-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir_all(&base).map_err(|e| format!("{}: {e}", base.display()))?;
        let server = Throwaway { base, bin, as_postgres };
        if as_postgres {
            command_output("chown", &["postgres:", &server.base.to_string_lossy()])?;
        }
        let data = server.data().to_string_lossy().into_owned();
        let socket_options = format!("-c listen_addresses= -k {} -p 5432", server.base.display());
        let log = server.base.join("log").to_string_lossy().into_owned();
        server.run(
            "initdb",
            &[
                "-D",
                &data,
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ],
        )?;
        server.run(
            "pg_ctl",
            &["-D", &data, "-o", &socket_options, "-l", &log, "-w", "start"],
        )?;
        Ok(server)
    }

    fn data(&self) -> PathBuf {
        self.base.join("data")
    }

    /// `psql` arguments that reach it.
    fn psql_args(&self) -> String {
        format!("-h {} -p 5432 -U postgres -d postgres", self.base.display())
    }

    fn run(&self, program: &str, args: &[&str]) -> Result<String, String> {
        let program = self.bin.join(program).to_string_lossy().into_owned();
        if self.as_postgres {
            let mut all = vec!["-u", "postgres", "--", program.as_str()];
            all.extend_from_slice(args);
            command_output("runuser", &all)
        } else {
            command_output(&program, args)
        }
    }
}

impl Drop for Throwaway {
    fn drop(&mut self) {
        let data = self.data().to_string_lossy().into_owned();
        let _ = self.run("pg_ctl", &["-D", &data, "-m", "immediate", "-w", "stop"]);
        let _ = std::fs::remove_dir_all(&self.base);
    }
}

/// A command's standard output, or why it failed (with its standard error).
fn command_output(program: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{program}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{program} {args:?}: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
#[ignore = "needs PostgreSQL: cargo test -p palisade-odata --test postgres -- --ignored"]
fn postgres_agrees_with_memory() {
    let given = std::env::var("PALISADE_ODATA_PSQL")
        .ok()
        .filter(|v| !v.trim().is_empty() && v.trim() != "1");
    let throwaway = match given {
        Some(_) => None,
        None => Some(Throwaway::start().unwrap_or_else(|why| panic!("cannot start a throwaway PostgreSQL: {why}"))),
    };
    let conn = given.unwrap_or_else(|| throwaway.as_ref().map(Throwaway::psql_args).unwrap_or_default());
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
