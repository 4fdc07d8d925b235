//! A database outage on PostgreSQL: requests answer a traceable `InternalServerError` quickly
//! instead of hanging, the health report says the store is unavailable, and service resumes by
//! itself once the database is back, with the outage's errors traceable. Stops and starts a
//! throwaway cluster of its own, so it needs PostgreSQL's server binaries: `#[ignore]`d, run with
//! `cargo test -p palisade-server --test postgres_outage -- --ignored` (`.ci/run` does).

use palisade_store_postgres::throwaway::Throwaway;
use palisade_testkit::{expect_error, Backend, TestApp};
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: cargo test -p palisade-server --test postgres_outage -- --ignored"]
async fn an_outage_answers_internal_server_error_and_service_resumes_by_itself() {
    let cluster = tokio::task::spawn_blocking(|| Throwaway::start().unwrap_or_else(|why| panic!("{why}")))
        .await
        .unwrap();
    let cluster = std::sync::Arc::new(cluster);
    let url = {
        let cluster = cluster.clone();
        tokio::task::spawn_blocking(move || cluster.create_database().unwrap())
            .await
            .unwrap()
    };
    let app = TestApp::spawn_on_with(Backend::Sqlite, |config| {
        config.store = palisade_server::StoreConfig::from_location(Some(&url)).unwrap();
        config.store.postgres.pool_size = 4;
        config.store.postgres.statement_timeout = Duration::from_secs(2);
        config.store.postgres.pool_wait = Duration::from_secs(2);
        config.store.postgres.connect_timeout = Duration::from_secs(2);
    })
    .await;
    let token = app.token().await;
    let machines = "/api/machines".to_string();
    app.get_ok(&machines, &token).await;
    let health = app.get_json(&format!("{}/_palisade/health", app.http)).await;
    assert_eq!(health["store"]["backend"], "postgres", "{health}");
    assert_eq!(health["store"]["status"], "ok", "{health}");
    assert!(health["store"]["latencyMs"].as_f64().is_some(), "{health}");

    let stopper = cluster.clone();
    tokio::task::spawn_blocking(move || stopper.stop().unwrap())
        .await
        .unwrap();
    let started = Instant::now();
    let response = app.get(&machines, &token).await;
    let record = expect_error(&app, response, 500, "InternalServerError", &[]).await;
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the outage answered after {:?}",
        started.elapsed()
    );
    let outage_target = record["target"]
        .as_str()
        .expect("the journal record names its target")
        .to_string();
    let health = app
        .client
        .get(format!("{}/_palisade/health", app.http))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 500, "the health report notices the outage");

    let starter = cluster.clone();
    tokio::task::spawn_blocking(move || starter.start_server().unwrap())
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let response = app.get(&machines, &token).await;
        if response.status() == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "service did not resume: {}",
            response.status()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The outage's error was kept while the database was away and is traceable now.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(record) = app.trace(&outage_target).await {
            assert_eq!(record["code"], "InternalServerError", "{record}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the outage's target {outage_target} is not traceable"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    drop(app);
    tokio::task::spawn_blocking(move || drop(cluster)).await.unwrap();
}
