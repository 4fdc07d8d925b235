//! What one `RateWindowStore::count_call` costs on SQLite (the write a limited call would make if
//! the limiter kept its windows in the store): `cargo run --release -p palisade-store-sqlite
//! --example rate_window_cost`. Wall time, since the cost is mostly the write's commit.

use palisade_store::{Admission, RateWindowStore, WindowLimit};
use palisade_store_sqlite::SqliteStore;
use std::time::Instant;

fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(&dir.path().join("cost.db")).expect("store opens");
    let windows = [
        WindowLimit {
            length_ms: 60_000,
            limit: 100,
        },
        WindowLimit {
            length_ms: 3_600_000,
            limit: 1_500,
        },
    ];
    let keys: Vec<String> = (0..400)
        .map(|i| format!("tenant-{}\u{0}app-{}\u{0}GET /api/machines/{{id}}", i % 10, i / 10))
        .collect();
    let n = 20_000u64;
    let start = Instant::now();
    let mut refused = 0;
    for i in 0..n {
        let key = &keys[(i % 400) as usize];
        // A new minute every 40 calls per key, so most calls are admitted.
        if !matches!(store.count_call(key, &windows, (i as i64) * 4), Ok(Admission::Admitted)) {
            refused += 1;
        }
    }
    let per = start.elapsed().as_nanos() as f64 / n as f64;
    println!(
        "sqlite rate window: {:.1} µs per limited call (400 keys, 2 windows, {refused} refused of {n})",
        per / 1000.0
    );
}
