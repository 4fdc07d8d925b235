//! Two servers on one PostgreSQL database behave as one emulator for what lives in the store:
//! started at the same moment on an empty database they migrate and create the demo tenant once;
//! a token from one is accepted by the other (one signing key); a machine action created on one
//! is pending on the other; an error raised on one is traced on the other. (The process-local
//! state that is moving into the store, rate limits and the actions' check-then-write, is checked
//! by the two-process test.) Needs PostgreSQL's server binaries: `#[ignore]`d, run with
//! `cargo test -p palisade-server --test postgres_two_servers -- --ignored` (`.ci/run` does).

use palisade_testkit::{values, windows_machine, Backend, TestApp};
use serde_json::json;
use std::time::{Duration, Instant};

async fn server_on(url: String) -> TestApp {
    TestApp::spawn_on_with(Backend::Sqlite, move |config| {
        config.store = palisade_server::StoreConfig::from_location(Some(&url)).unwrap();
        config.store.postgres.pool_size = 6;
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL: cargo test -p palisade-server --test postgres_two_servers -- --ignored"]
async fn two_servers_on_one_database_share_what_the_store_keeps() {
    let url = tokio::task::spawn_blocking(palisade_testkit::postgres::fresh_database)
        .await
        .unwrap();
    // The same moment, on an empty database.
    let (a, b) = tokio::join!(server_on(url.clone()), server_on(url));

    let token = a.token().await;
    let tenants = a.get_json(&format!("{}/_palisade/tenants", a.http)).await;
    let listed = tenants
        .as_array()
        .or_else(|| tenants["value"].as_array())
        .expect("a tenant list");
    assert_eq!(listed.len(), 1, "the demo tenant exactly once: {tenants}");
    let ids = |page: &serde_json::Value| -> Vec<String> {
        values(page)
            .iter()
            .map(|m| m["id"].as_str().unwrap().to_string())
            .collect()
    };
    let on_a = ids(&a.get_ok("/api/machines", &token).await);
    let on_b = ids(&b.get_ok("/api/machines", &token).await);
    assert!(!on_a.is_empty());
    assert_eq!(on_a, on_b, "one population, and B accepts A's token");

    let machine = windows_machine(&a, &token).await;
    let created = a
        .post(
            &format!("/api/machines/{machine}/isolate"),
            &token,
            &json!({"Comment": "two servers"}).to_string(),
        )
        .await;
    assert_eq!(created.status(), 201);
    let created: serde_json::Value = created.json().await.unwrap();
    let seen = b
        .get_ok(
            &format!("/api/machineactions/{}", created["id"].as_str().unwrap()),
            &token,
        )
        .await;
    assert_eq!(seen["status"], "Pending", "{seen}");
    assert_eq!(seen["type"], "Isolate", "{seen}");

    let missing = a.get("/api/machines/no-such-machine-anywhere", &token).await;
    assert_eq!(missing.status(), 404);
    let target = missing.headers()["x-ms-request-id"].to_str().unwrap().to_string();
    let deadline = Instant::now() + Duration::from_secs(5);
    let record = loop {
        if let Some(record) = b.trace(&target).await {
            break record;
        }
        assert!(Instant::now() < deadline, "B does not find A's error {target}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(record["code"], "ResourceNotFound", "{record}");
}
