//! The store conformance suite (`palisade_store::conformance`) against PostgreSQL: every behaviour
//! on a fresh database of one throwaway cluster (`PALISADE_TEST_POSTGRES_URL` names another
//! server's admin database instead). Needs PostgreSQL's server binaries, so `#[ignore]`d: run
//! with `cargo test -p palisade-store-postgres -- --ignored` (`.ci/run` does).

use palisade_store::Store;
use palisade_store_postgres::throwaway::Throwaway;
use palisade_store_postgres::{Options, PostgresStore};
use std::sync::{Arc, OnceLock};

fn cluster() -> &'static Throwaway {
    static CLUSTER: OnceLock<Throwaway> = OnceLock::new();
    CLUSTER.get_or_init(|| Throwaway::start().unwrap_or_else(|why| panic!("cannot start PostgreSQL: {why}")))
}

fn fresh() -> Arc<dyn Store> {
    let url = cluster().create_database().expect("create database");
    let options = Options {
        pool_size: 8,
        ..Options::default()
    };
    Arc::new(PostgresStore::open(&url, options).expect("store opens"))
}

mod postgres {
    use super::*;
    palisade_store::conformance_tests!(
        #[ignore = "needs PostgreSQL: cargo test -p palisade-store-postgres -- --ignored"]
        || fresh()
    );
}
