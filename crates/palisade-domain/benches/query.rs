//! The in-process query path (OData parse → SQL → SQLite → documents), without HTTP, over a seeded
//! tenant. `MACHINES` and `ALERTS` (environment) size the population; the store is built once in
//! `target/bench-core-<machines>-<alerts>` and reused. Prints p50/p99 per query and the store size.

use palisade_domain::control::clock::Clock;
use palisade_domain::control::demo::{AlertPopulation, Generation};
use palisade_domain::{Core, Settings};
use palisade_model::schemas::{EntityTable, ALERT_TABLE, MACHINE_TABLE};
use palisade_model::tenant::DEMO_TENANT_ID;
use palisade_store::prelude::*;
use palisade_store_sqlite::SqliteStore;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn main() {
    let machines = env("MACHINES", 100_000);
    let alerts = env("ALERTS", 1_000_000);
    let iterations = env("ITERATIONS", 200);
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../target")
        .join(format!("bench-core-{machines}-{alerts}"));
    let path = dir.join("palisade.db");
    let fresh = !path.exists();
    let store = Arc::new(SqliteStore::open(&path).expect("store"));
    let core = Core::open(store.clone(), Arc::new(Clock::new()), Settings::default()).expect("core");
    if fresh {
        seed(&core, machines, alerts);
    }
    let size: u64 = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0);
    println!("store {} MiB ({machines} machines, {alerts} alerts)", size / (1 << 20));
    let recent = chrono::Utc::now() - chrono::TimeDelta::hours(2);
    let recent = recent.format("%Y-%m-%dT%H:%M:%SZ");
    let cases: Vec<(&str, EntityTable, String, u64)> = vec![
        (
            "alerts: lastUpdateTime ge <2h ago>, $top=100",
            ALERT_TABLE,
            format!("$filter=lastUpdateTime ge {recent}&$top=100"),
            101,
        ),
        (
            "alerts: status eq 'New' and severity eq 'High', $top=100",
            ALERT_TABLE,
            "$filter=status eq 'New' and severity eq 'High'&$top=100".into(),
            101,
        ),
        (
            "alerts: $skip=900000&$top=100",
            ALERT_TABLE,
            "$skip=900000&$top=100".into(),
            101,
        ),
        (
            "machines: computerDnsName eq",
            MACHINE_TABLE,
            "$filter=computerDnsName eq 'seed42-desktop-000123.contoso.local'".into(),
            101,
        ),
        (
            "machines: healthStatus eq 'Inactive', $top=100",
            MACHINE_TABLE,
            "$filter=healthStatus eq 'Inactive'&$top=100".into(),
            101,
        ),
    ];
    for (name, table, raw, limit) in cases {
        let query = palisade_odata::parse_query(&raw, table.schema).expect("query parses");
        let offset = u64::from(query.skip);
        run(name, iterations, || {
            let docs = store
                .query_docs(table, DEMO_TENANT_ID, &query, offset, limit)
                .expect("query");
            std::hint::black_box(docs);
        });
    }
    let counted = palisade_odata::parse_query("$filter=status eq 'New'", ALERT_TABLE.schema).unwrap();
    run("alerts: /$count status eq 'New'", iterations.min(50), || {
        std::hint::black_box(store.count_docs(ALERT_TABLE, DEMO_TENANT_ID, &counted).expect("count"));
    });
}

fn seed(core: &Core, machines: u64, alerts: u64) {
    let generation = Generation {
        namespace: "bench",
        seed: 42,
        name_prefix: "seed42",
    };
    let started = Instant::now();
    let mut done = 0;
    while done < machines {
        let count = 5_000.min(machines - done);
        core.seed_machines(DEMO_TENANT_ID, &generation, done, count)
            .expect("seed machines");
        done += count;
    }
    let population = AlertPopulation { alerts, machines };
    let mut done = 0;
    while done < alerts {
        let count = 5_000.min(alerts - done);
        core.seed_alerts(DEMO_TENANT_ID, &generation, population, done, count)
            .expect("seed alerts");
        done += count;
    }
    core.analyze().expect("analyze");
    println!("seeded in {:.1} s", started.elapsed().as_secs_f64());
}

fn run(name: &str, iterations: u64, mut f: impl FnMut()) {
    f(); // warm the page cache and the statement cache
    let mut times: Vec<Duration> = (0..iterations)
        .map(|_| {
            let started = Instant::now();
            f();
            started.elapsed()
        })
        .collect();
    times.sort();
    let at = |q: f64| times[((times.len() as f64 - 1.0) * q).round() as usize];
    println!(
        "{name:<60} p50 {:>8.3} ms  p99 {:>8.3} ms",
        at(0.5).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3
    );
}
