//! The store conformance suite (`palisade_store::conformance`) against SQLite: every behaviour on
//! fresh database files in a temporary directory.

use palisade_store::Store;
use palisade_store_sqlite::SqliteStore;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

palisade_store::conformance_tests!({
    let dir = tempfile::tempdir().expect("temp dir");
    let opened = AtomicUsize::new(0);
    move || -> Arc<dyn Store> {
        let n = opened.fetch_add(1, Ordering::Relaxed);
        Arc::new(SqliteStore::open(&dir.path().join(format!("store-{n}.db"))).expect("store opens"))
    }
});
