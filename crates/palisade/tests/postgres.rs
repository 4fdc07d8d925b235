//! Moving data between SQLite and PostgreSQL with the real binary: a tenant exported from SQLite
//! loads into PostgreSQL and back without losing anything (the documents are compared), and
//! `palisade migrate` moves a whole store. Needs PostgreSQL's server binaries (a throwaway
//! cluster), so `#[ignore]`d: `cargo test -p palisade --test postgres -- --ignored` (`.ci/run`).

use palisade_store_postgres::throwaway::Throwaway;
use serde_json::Value;
use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_palisade");
const DEMO: &str = "9a115ade-7e4a-4000-8000-000000000001";

/// Runs the binary; its standard output, or a panic with its standard error.
fn palisade(args: &[&str]) -> String {
    let out = Command::new(BIN).args(args).output().expect("palisade runs");
    assert!(
        out.status.success(),
        "palisade {args:?}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// `--data <dir>` and, for PostgreSQL, `--store <url>`.
fn store_args<'a>(data: &'a str, store: Option<&'a str>) -> Vec<&'a str> {
    let mut args = vec!["--data", data];
    if let Some(url) = store {
        args.extend(["--store", url]);
    }
    args
}

fn export(data: &str, store: Option<&str>) -> Value {
    let mut args = vec!["export"];
    args.extend(store_args(data, store));
    serde_json::from_str(&palisade(&args)).expect("export prints JSON")
}

/// Empties the demo tenant, then loads `document` into it.
fn replace_demo_data(data: &str, store: Option<&str>, document: &Path) {
    let mut reset = vec!["reset", "--tenant", DEMO];
    reset.extend(store_args(data, store));
    palisade(&reset);
    let mut load = vec!["load", document.to_str().unwrap()];
    load.extend(store_args(data, store));
    palisade(&load);
}

fn count(document: &Value, kind: &str) -> usize {
    document[kind].as_array().map_or(0, Vec::len)
}

#[test]
#[ignore = "needs PostgreSQL: cargo test -p palisade --test postgres -- --ignored"]
fn a_tenant_round_trips_sqlite_postgres_sqlite_and_migrate_moves_a_store() {
    let cluster = Throwaway::start().unwrap_or_else(|why| panic!("cannot start PostgreSQL: {why}"));
    let dir = tempfile::tempdir().unwrap();
    let sqlite = dir.path().join("sqlite");
    let sqlite = sqlite.to_str().unwrap();
    palisade(&[
        "seed",
        "--data",
        sqlite,
        "--machines",
        "40",
        "--alerts",
        "300",
        "--seed",
        "7",
    ]);
    let original = export(sqlite, None);
    assert!(count(&original, "alerts") >= 300, "seeded alerts are exported");
    assert!(count(&original, "logons") > 0, "relations are exported");
    let original_file = dir.path().join("original.json");
    std::fs::write(&original_file, original.to_string()).unwrap();

    // SQLite → PostgreSQL: the same document comes back out.
    let pg = cluster.create_database().unwrap();
    let pg_data = dir.path().join("pg-data");
    let pg_data = pg_data.to_str().unwrap();
    replace_demo_data(pg_data, Some(&pg), &original_file);
    let from_postgres = export(pg_data, Some(&pg));
    assert_eq!(from_postgres, original, "SQLite → PostgreSQL changed the tenant's data");
    // Timestamps keep their seven fractional digits (PostgreSQL's timestamptz would keep six):
    // the documents are equal, and they do hold such timestamps.
    let seven_digits = |text: &str| {
        text.split('"').any(|s| {
            s.strip_suffix('Z')
                .and_then(|s| s.rsplit_once('.'))
                .is_some_and(|(date, fraction)| {
                    date.contains('T') && fraction.len() == 7 && fraction.bytes().all(|b| b.is_ascii_digit())
                })
        })
    };
    assert!(
        seven_digits(&from_postgres.to_string()),
        "timestamps with 7 fractional digits"
    );

    // PostgreSQL → SQLite: and back again.
    let back_file = dir.path().join("back.json");
    std::fs::write(&back_file, from_postgres.to_string()).unwrap();
    let sqlite_again = dir.path().join("sqlite-again");
    let sqlite_again = sqlite_again.to_str().unwrap();
    replace_demo_data(sqlite_again, None, &back_file);
    assert_eq!(
        export(sqlite_again, None),
        original,
        "PostgreSQL → SQLite changed the tenant's data"
    );

    // `migrate` moves the whole store, the signing key included: the target's export is the
    // source's, and the CLI's credentials (the dev app's secret) are the same.
    let target = cluster.create_database().unwrap();
    let out = Command::new(BIN)
        .args(["migrate", "--from", &format!("sqlite:{sqlite}"), "--to", &target])
        .output()
        .unwrap();
    let progress = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "migrate: {progress}");
    assert!(
        progress.contains("alerts") && progress.contains('#'),
        "a progress bar: {progress}"
    );
    let migrated = dir.path().join("migrated");
    let migrated = migrated.to_str().unwrap();
    assert_eq!(
        export(migrated, Some(&target)),
        original,
        "migrate changed the tenant's data"
    );
    let tenants = |data: &str, store: Option<&str>| {
        let mut args = vec!["tenants", "list"];
        args.extend(store_args(data, store));
        palisade(&args)
    };
    assert_eq!(tenants(migrated, Some(&target)), tenants(sqlite, None));

    // A target that already has tenants is refused, not merged into.
    let again = Command::new(BIN)
        .args(["migrate", "--from", &format!("sqlite:{sqlite}"), "--to", &target])
        .output()
        .unwrap();
    assert!(!again.status.success(), "migrating into a used store must fail");
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("empty"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
}
