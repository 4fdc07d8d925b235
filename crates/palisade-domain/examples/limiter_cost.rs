//! What the rate limiter (its windows in an SQLite store) and the fault rules cost per API call, in CPU time (not wall time, so a
//! busy machine does not inflate it): `cargo run --release -p palisade-domain --example limiter_cost`.
//! Linux only (reads `/proc/thread-self/schedstat`).

use palisade_domain::control::faults::{Call, FaultRuleSpec, FaultRules};
use palisade_domain::control::ratelimit::{admit_in, limit_for};
/// CPU time of this thread (ns), so other processes on a busy machine do not inflate the figures.
struct Instant(u64);
impl Instant {
    fn now() -> Instant {
        let text = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap();
        Instant(text.split_whitespace().next().unwrap().parse().unwrap())
    }
    fn elapsed(&self) -> std::time::Duration {
        std::time::Duration::from_nanos(Instant::now().0 - self.0)
    }
}

fn main() {
    // The counters live in the store, shared by every process on it: measure over an SQLite file.
    let dir = tempfile::tempdir().unwrap();
    let store = palisade_store_sqlite::SqliteStore::open(&dir.path().join("limits.db")).unwrap();
    let tenants: Vec<String> = (0..10)
        .map(|i| format!("9a115ade-7e4a-4000-8000-0000000000{i:02}"))
        .collect();
    let apps: Vec<String> = (0..10)
        .map(|i| format!("9a115ade-c11e-4000-8000-0000000000{i:02}"))
        .collect();
    let paths = [
        "/api/machines/abc",
        "/api/alerts",
        "/api/machines/abc/isolate",
        "/api/alerts/batchUpdate",
    ];
    let routes = [
        "/api/machines/{id}",
        "/api/alerts",
        "/api/machines/{id}/isolate",
        "/api/alerts/batchUpdate",
    ];
    let n = 20_000u64;
    let start = Instant::now();
    let mut refused = 0u64;
    for i in 0..n {
        let t = &tenants[(i % 10) as usize];
        let a = &apps[((i / 10) % 10) as usize];
        let k = (i % 4) as usize;
        let method = if k == 1 || k == 0 { "GET" } else { "POST" };
        let limit = limit_for(method, paths[k]);
        // a new minute every 6,000 calls, so most calls are admitted
        if admit_in(&store, t, a, limit, method, routes[k], (i as i64) * 10)
            .unwrap()
            .is_err()
        {
            refused += 1;
        }
    }
    let per = start.elapsed().as_nanos() as f64 / n as f64;
    println!("rate limiter (store-backed, SQLite): {per:.0} ns of this thread's CPU per call (400 keys, {refused} refused of {n})");
    let n = 2_000_000u64;

    let rules = FaultRules::default();
    let now = chrono::Utc::now();
    let call = Call {
        method: "GET",
        path: "/api/machines/abc",
        tenant_id: Some(&tenants[0]),
        client_id: Some(&apps[0]),
    };
    let start = Instant::now();
    for _ in 0..n {
        std::hint::black_box(rules.evaluate(&call, now));
    }
    println!(
        "fault rules, none defined: {:.1} ns per call",
        start.elapsed().as_nanos() as f64 / n as f64
    );
    for p in [
        "/api/machines/*/isolate",
        "/api/alerts/**",
        "/api/indicators",
        "/*/oauth2/v2.0/token",
        "/api/machines/findbyip*",
    ] {
        rules
            .add(
                FaultRuleSpec {
                    path: p.into(),
                    error: Some("InternalServerError".into()),
                    ..Default::default()
                },
                now,
            )
            .unwrap();
    }
    let start = Instant::now();
    for _ in 0..n {
        std::hint::black_box(rules.evaluate(&call, now));
    }
    println!(
        "fault rules, 5 non-matching: {:.0} ns per call",
        start.elapsed().as_nanos() as f64 / n as f64
    );
}
