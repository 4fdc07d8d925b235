//! The behaviour every backend must show, as public functions a backend's tests call: one per
//! behaviour, each taking a factory that answers a fresh, empty store, and [`run_all`]. The
//! [`conformance_tests!`](crate::conformance_tests) macro writes one `#[test]` per behaviour:
//!
//! ```ignore
//! palisade_store::conformance_tests!(|| std::sync::Arc::new(MyStore::open_temporary()));
//! ```
//!
//! The functions panic (assert) on the first difference, naming it.

use crate::{ErrorRecord, Observation, Observed, ObservedVia, Store, StoreError};
use palisade_model::schemas::{EntityTable, ALERT_TABLE, MACHINE_TABLE};
use palisade_model::tenant::{AppRegistration, Tenant};
use palisade_model::time::Timestamp;
use serde_json::{json, Value};
use std::sync::Arc;

/// Answers a fresh, empty store (a new temporary database each call).
pub type MakeStore<'a> = &'a dyn Fn() -> Arc<dyn Store>;

/// Every behaviour below, in order.
pub fn run_all(make: MakeStore<'_>) {
    for (name, check) in ALL {
        eprintln!("store conformance: {name}");
        check(make);
    }
}

/// One behaviour's check.
pub type Check = fn(MakeStore<'_>);

/// `(name, check)` of every behaviour.
pub const ALL: &[(&str, Check)] = &[
    (
        "tenants_are_found_by_id_or_domain_in_any_case",
        tenants_are_found_by_id_or_domain_in_any_case,
    ),
    ("tenant_ids_and_domains_are_unique", tenant_ids_and_domains_are_unique),
    ("apps_belong_to_their_tenant", apps_belong_to_their_tenant),
    (
        "deleting_a_tenant_deletes_what_it_owns",
        deleting_a_tenant_deletes_what_it_owns,
    ),
    (
        "docs_upsert_query_count_find_and_delete",
        docs_upsert_query_count_find_and_delete,
    ),
    ("docs_are_scoped_by_tenant", docs_are_scoped_by_tenant),
    (
        "links_are_kept_once_and_listed_in_key_order",
        links_are_kept_once_and_listed_in_key_order,
    ),
    ("sequences_are_unique_across_calls", sequences_are_unique_across_calls),
    (
        "observations_answer_lookups_and_stats",
        observations_answer_lookups_and_stats,
    ),
    (
        "error_journal_keeps_the_newest_records",
        error_journal_keeps_the_newest_records,
    ),
    (
        "error_journal_batches_keep_order_and_capacity",
        error_journal_batches_keep_order_and_capacity,
    ),
    ("clearing_keeps_what_it_promises", clearing_keeps_what_it_promises),
    ("meta_init_is_first_writer_wins", meta_init_is_first_writer_wins),
    (
        "rate_windows_count_all_or_nothing_atomically",
        rate_windows_count_all_or_nothing_atomically,
    ),
    (
        "concurrent_readers_beyond_the_connection_set_wait_or_refuse",
        concurrent_readers_beyond_the_connection_set_wait_or_refuse,
    ),
    ("meta_set_replaces_the_value", meta_set_replaces_the_value),
    (
        "locks_exclude_other_holders_until_released_or_expired",
        locks_exclude_other_holders_until_released_or_expired,
    ),
    (
        "blobs_are_written_and_deleted_with_their_entity",
        blobs_are_written_and_deleted_with_their_entity,
    ),
    (
        "hunting_rows_scan_filter_limit_and_stop",
        hunting_rows_scan_filter_limit_and_stop,
    ),
    (
        "hunting_aggregates_are_exact_and_scoped",
        hunting_aggregates_are_exact_and_scoped,
    ),
];

/// One `#[test]` per behaviour of [`conformance`](crate::conformance), for a backend's test file:
/// `palisade_store::conformance_tests!(|| Arc::new(...) as Arc<dyn Store>);`.
#[macro_export]
macro_rules! conformance_tests {
    // An attribute for every test (`#[ignore = "needs PostgreSQL"]`); before the plain arm, which
    // would take the attribute as part of the expression.
    (#[$attr:meta] $make:expr) => {
        $crate::conformance_tests!(@each #[$attr] $make;
            tenants_are_found_by_id_or_domain_in_any_case,
            tenant_ids_and_domains_are_unique,
            apps_belong_to_their_tenant,
            deleting_a_tenant_deletes_what_it_owns,
            docs_upsert_query_count_find_and_delete,
            docs_are_scoped_by_tenant,
            links_are_kept_once_and_listed_in_key_order,
            sequences_are_unique_across_calls,
            observations_answer_lookups_and_stats,
            error_journal_keeps_the_newest_records,
            error_journal_batches_keep_order_and_capacity,
            clearing_keeps_what_it_promises,
            meta_init_is_first_writer_wins,
            rate_windows_count_all_or_nothing_atomically,
            concurrent_readers_beyond_the_connection_set_wait_or_refuse,
            meta_set_replaces_the_value,
            locks_exclude_other_holders_until_released_or_expired,
            blobs_are_written_and_deleted_with_their_entity,
            hunting_rows_scan_filter_limit_and_stop,
            hunting_aggregates_are_exact_and_scoped,
        );
    };
    ($make:expr) => {
        $crate::conformance_tests!(#[cfg(all())] $make);
    };
    (@each #[$attr:meta] $make:expr; $($name:ident),+ $(,)?) => {
        $(
            #[test]
            #[$attr]
            fn $name() {
                let make = $make;
                $crate::conformance::$name(&make);
            }
        )+
    };
}

const T1: &str = "11111111-1111-4111-8111-111111111111";
const T2: &str = "22222222-2222-4222-8222-222222222222";

fn with_tenants(make: MakeStore<'_>) -> Arc<dyn Store> {
    let store = make();
    store
        .insert_tenant(&Tenant::new(T1, "One", "one.example.com"))
        .expect("insert tenant one");
    store
        .insert_tenant(&Tenant::new(T2, "Two", "two.example.com"))
        .expect("insert tenant two");
    store
}

fn app(tenant_id: &str, client_id: &str) -> AppRegistration {
    AppRegistration {
        client_id: client_id.into(),
        tenant_id: tenant_id.into(),
        display_name: format!("app {client_id}"),
        client_secret: "secret".into(),
        roles: vec!["Machine.Read.All".into()],
    }
}

fn machine(id: &str, name: &str, health: &str) -> Value {
    json!({
        "id": id,
        "computerDnsName": name,
        "healthStatus": health,
        "lastIpAddress": "10.0.0.1",
        "firstSeen": "2024-01-01T00:00:00Z",
        "lastSeen": "2024-01-02T00:00:00Z",
    })
}

fn query(table: EntityTable, raw: &str) -> palisade_odata::Query {
    palisade_odata::parse_query(raw, table.schema).expect("test query parses")
}

fn ids(docs: &[String]) -> Vec<String> {
    docs.iter()
        .map(|d| {
            let v: Value = serde_json::from_str(d).expect("stored document is JSON");
            v["id"].as_str().expect("id").to_string()
        })
        .collect()
}

/// Tenants are found by id or by domain, whatever the case; listed in id order; updated in place.
pub fn tenants_are_found_by_id_or_domain_in_any_case(make: MakeStore<'_>) {
    let store = with_tenants(make);
    assert_eq!(store.find_tenant(T1).unwrap().unwrap().display_name, "One");
    assert_eq!(store.find_tenant(&T1.to_uppercase()).unwrap().unwrap().id, T1);
    assert_eq!(store.find_tenant("TWO.example.COM").unwrap().unwrap().id, T2);
    assert!(store.find_tenant("three.example.com").unwrap().is_none());
    let listed: Vec<String> = store.list_tenants().unwrap().into_iter().map(|t| t.id).collect();
    assert_eq!(listed, [T1, T2]);
    assert_eq!(store.tenant_ids().unwrap(), [T1, T2]);
    let mut one = store.find_tenant(T1).unwrap().unwrap();
    one.features.live_response = false;
    one.rate_limits.enabled = false;
    store.update_tenant(&one).unwrap();
    assert_eq!(store.find_tenant(T1).unwrap().unwrap(), one);
}

/// A second tenant with a taken id, or a taken domain in another case, is a `Conflict` (decided
/// by the store's constraints) and changes nothing.
pub fn tenant_ids_and_domains_are_unique(make: MakeStore<'_>) {
    let store = with_tenants(make);
    let same_id = Tenant::new(T1, "Again", "again.example.com");
    assert!(matches!(store.insert_tenant(&same_id), Err(StoreError::Conflict(_))));
    let same_domain = Tenant::new("33333333-3333-4333-8333-333333333333", "Three", "ONE.example.com");
    assert!(matches!(
        store.insert_tenant(&same_domain),
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(store.list_tenants().unwrap().len(), 2);
    assert_eq!(store.find_tenant(T1).unwrap().unwrap().display_name, "One");
    // Concurrent creations of one tenant: exactly one wins.
    let fresh = Tenant::new("44444444-4444-4444-8444-444444444444", "Four", "four.example.com");
    let wins: usize = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|_| scope.spawn(|| store.insert_tenant(&fresh).is_ok()))
            .collect();
        handles.into_iter().map(|h| usize::from(h.join().unwrap())).sum()
    });
    assert_eq!(wins, 1, "exactly one concurrent insert of a tenant succeeds");
}

/// Apps are upserted, found by client id (any case), listed per tenant in client-id order and
/// deleted only through their own tenant.
pub fn apps_belong_to_their_tenant(make: MakeStore<'_>) {
    let store = with_tenants(make);
    store.upsert_app(&app(T1, "bbbb")).unwrap();
    store.upsert_app(&app(T1, "aaaa")).unwrap();
    store.upsert_app(&app(T2, "cccc")).unwrap();
    assert_eq!(store.find_app("AAAA").unwrap().unwrap().tenant_id, T1);
    let listed: Vec<String> = store.list_apps(T1).unwrap().into_iter().map(|a| a.client_id).collect();
    assert_eq!(listed, ["aaaa", "bbbb"]);
    let mut changed = app(T1, "aaaa");
    changed.roles = vec![];
    store.upsert_app(&changed).unwrap();
    assert_eq!(store.find_app("aaaa").unwrap().unwrap(), changed);
    assert!(!store.delete_app(T2, "aaaa").unwrap(), "another tenant's app");
    assert!(store.delete_app(T1, "aaaa").unwrap());
    assert!(store.find_app("aaaa").unwrap().is_none());
    assert!(!store.delete_app(T1, "aaaa").unwrap());
}

/// Deleting a tenant deletes its apps, entities and links; an unknown tenant answers `false`.
pub fn deleting_a_tenant_deletes_what_it_owns(make: MakeStore<'_>) {
    let store = with_tenants(make);
    store.upsert_app(&app(T1, "aaaa")).unwrap();
    store
        .upsert_docs(MACHINE_TABLE, T1, &[machine("m1", "alpha", "Active")])
        .unwrap();
    store
        .add_links(T1, "machine-users", &[("m1".into(), "u1".into())])
        .unwrap();
    assert!(store.delete_tenant(T1).unwrap());
    assert!(store.find_tenant(T1).unwrap().is_none());
    assert!(store.find_app("aaaa").unwrap().is_none());
    let everything = palisade_odata::Query::default();
    assert_eq!(store.count_docs(MACHINE_TABLE, T1, &everything).unwrap(), 0);
    assert!(store.all_links(T1, "machine-users").unwrap().is_empty());
    assert!(!store.delete_tenant(T1).unwrap());
    assert!(store.find_tenant(T2).unwrap().is_some());
}

/// Documents: upserts replace by key, OData filters and orders select pages, counts match,
/// `find_doc` compares exactly or case-insensitively on schema columns only, deletes answer what
/// they removed.
pub fn docs_upsert_query_count_find_and_delete(make: MakeStore<'_>) {
    let store = with_tenants(make);
    let docs = [
        machine("m3", "gamma.contoso.com", "Active"),
        machine("m1", "alpha.contoso.com", "Inactive"),
        machine("m2", "beta.contoso.com", "Active"),
        machine("m4", "delta.contoso.com", "Active"),
    ];
    store.upsert_docs(MACHINE_TABLE, T1, &docs).unwrap();
    let all = palisade_odata::Query::default();
    assert_eq!(
        ids(&store.query_docs(MACHINE_TABLE, T1, &all, 0, 10).unwrap()),
        ["m1", "m2", "m3", "m4"],
        "key order without $orderby"
    );
    assert_eq!(
        ids(&store.query_docs(MACHINE_TABLE, T1, &all, 1, 2).unwrap()),
        ["m2", "m3"],
        "offset and limit"
    );
    let active = query(MACHINE_TABLE, "$filter=healthStatus eq 'Active'");
    assert_eq!(
        ids(&store.query_docs(MACHINE_TABLE, T1, &active, 0, 10).unwrap()),
        ["m2", "m3", "m4"]
    );
    assert_eq!(store.count_docs(MACHINE_TABLE, T1, &active).unwrap(), 3);
    assert_eq!(store.count_docs(MACHINE_TABLE, T1, &all).unwrap(), 4);
    let ordered = query(MACHINE_TABLE, "$orderby=computerDnsName desc");
    assert_eq!(
        ids(&store.query_docs(MACHINE_TABLE, T1, &ordered, 0, 2).unwrap()),
        ["m3", "m4"]
    );
    // An upsert replaces the document and its query columns.
    store
        .upsert_docs(MACHINE_TABLE, T1, &[machine("m1", "alpha.contoso.com", "Active")])
        .unwrap();
    assert_eq!(store.count_docs(MACHINE_TABLE, T1, &active).unwrap(), 4);
    assert_eq!(store.count_docs(MACHINE_TABLE, T1, &all).unwrap(), 4);

    let found = store
        .find_doc(MACHINE_TABLE, T1, "computer_dns_name", "BETA.contoso.com", true)
        .unwrap();
    assert_eq!(ids(&found.into_iter().collect::<Vec<_>>()), ["m2"]);
    assert!(store
        .find_doc(MACHINE_TABLE, T1, "computer_dns_name", "BETA.contoso.com", false)
        .unwrap()
        .is_none());
    assert!(matches!(
        store.find_doc(MACHINE_TABLE, T1, "doc; DROP TABLE machines", "x", false),
        Err(StoreError::UnknownColumn(_))
    ));

    assert!(store.delete_doc(MACHINE_TABLE, T1, "m1").unwrap());
    assert!(!store.delete_doc(MACHINE_TABLE, T1, "m1").unwrap());
    let deleted = store
        .delete_docs(MACHINE_TABLE, T1, &["m2".into(), "m3".into(), "nope".into()])
        .unwrap();
    assert_eq!(deleted, 2);
    assert_eq!(ids(&store.query_docs(MACHINE_TABLE, T1, &all, 0, 10).unwrap()), ["m4"]);
}

/// One tenant never sees another's documents, even under the same key.
pub fn docs_are_scoped_by_tenant(make: MakeStore<'_>) {
    let store = with_tenants(make);
    store
        .upsert_docs(MACHINE_TABLE, T1, &[machine("m1", "one", "Active")])
        .unwrap();
    store
        .upsert_docs(MACHINE_TABLE, T2, &[machine("m1", "two", "Inactive")])
        .unwrap();
    let all = palisade_odata::Query::default();
    assert_eq!(store.count_docs(MACHINE_TABLE, T1, &all).unwrap(), 1);
    let doc = store.find_doc(MACHINE_TABLE, T2, "id", "m1", false).unwrap().unwrap();
    assert_eq!(serde_json::from_str::<Value>(&doc).unwrap()["computerDnsName"], "two");
    assert!(store.delete_doc(MACHINE_TABLE, T1, "m1").unwrap());
    assert_eq!(store.count_docs(MACHINE_TABLE, T2, &all).unwrap(), 1);
}

/// Relations are kept once, listed in key order up to a limit, per tenant and kind.
pub fn links_are_kept_once_and_listed_in_key_order(make: MakeStore<'_>) {
    let store = with_tenants(make);
    let pairs: Vec<(String, String)> = [("m1", "u2"), ("m1", "u1"), ("m2", "u1"), ("m1", "u2")]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    store.add_links(T1, "machine-users", &pairs).unwrap();
    store.add_links(T1, "machine-users", &pairs[..1]).unwrap();
    store
        .add_links(T1, "user-alerts", &[("m1".into(), "a1".into())])
        .unwrap();
    assert_eq!(store.linked(T1, "machine-users", "m1", 10).unwrap(), ["u1", "u2"]);
    assert_eq!(store.linked(T1, "machine-users", "m1", 1).unwrap(), ["u1"]);
    assert!(store.linked(T2, "machine-users", "m1", 10).unwrap().is_empty());
    assert_eq!(
        store.all_links(T1, "machine-users").unwrap(),
        [
            ("m1".to_string(), "u1".to_string()),
            ("m1".to_string(), "u2".to_string()),
            ("m2".to_string(), "u1".to_string())
        ]
    );
}

/// Sequences start at 1, reserve consecutive blocks, never hand a number out twice (even to
/// concurrent callers), and are independent by name.
pub fn sequences_are_unique_across_calls(make: MakeStore<'_>) {
    let store = make();
    assert_eq!(store.next_sequence("a", 1).unwrap(), 1);
    assert_eq!(store.next_sequence("a", 5).unwrap(), 2);
    assert_eq!(store.next_sequence("a", 1).unwrap(), 7);
    assert_eq!(store.next_sequence("b", 1).unwrap(), 1);
    let mut taken: Vec<u64> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let store = &store;
                scope.spawn(move || {
                    (0..25)
                        .flat_map(|_| {
                            let first = store.next_sequence("c", 2).unwrap();
                            [first, first + 1]
                        })
                        .collect::<Vec<u64>>()
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    taken.sort_unstable();
    assert_eq!(taken, (1..=200).collect::<Vec<u64>>());
}

fn observation(kind: &str, key: &str, alert: &str, machine: &str, seen: i64, name: Option<&str>) -> Observation {
    Observation {
        kind: kind.into(),
        key: key.into(),
        alert_id: alert.into(),
        machine_id: machine.into(),
        seen,
        file_name: name.map(str::to_string),
        sha1: None,
        sha256: None,
        threat_name: None,
    }
}

/// Observations: one per (kind, key, alert); the latest, prevalence per tenant and across tenants,
/// the commonest names, and the related alerts and machines as document pages.
pub fn observations_answer_lookups_and_stats(make: MakeStore<'_>) {
    let store = with_tenants(make);
    let rows = [
        observation("sha1", "k", "a1", "m1", 100, Some("x.exe")),
        observation("sha1", "k", "a2", "m2", 300, Some("y.exe")),
        observation("sha1", "k", "a3", "m1", 200, Some("y.exe")),
        observation("sha1", "other", "a4", "m3", 400, None),
    ];
    store.add_observations(T1, &rows).unwrap();
    // The same (kind, key, alert) again is ignored.
    store
        .add_observations(T1, &[observation("sha1", "k", "a1", "m9", 900, Some("z.exe"))])
        .unwrap();
    store
        .add_observations(T2, &[observation("sha1", "k", "b1", "m1", 50, None)])
        .unwrap();

    let latest = store.latest_observation(T1, "sha1", "k").unwrap().unwrap();
    assert_eq!((latest.alert_id.as_str(), latest.seen), ("a2", 300));
    assert!(store.latest_observation(T1, "sha1", "none").unwrap().is_none());

    let stats = store.observed_stats(Some(T1), "sha1", "k", None, false).unwrap();
    assert_eq!((stats.devices, stats.first, stats.last), (2, Some(100), Some(300)));
    let since = store.observed_stats(Some(T1), "sha1", "k", Some(150), false).unwrap();
    assert_eq!((since.devices, since.first, since.last), (2, Some(200), Some(300)));
    let everywhere = store.observed_stats(None, "sha1", "k", None, false).unwrap();
    assert_eq!(
        (everywhere.devices, everywhere.first),
        (3, Some(50)),
        "machine ids count per tenant"
    );

    assert_eq!(
        store.top_observed_names(T1, "sha1", "k", 0, 10).unwrap(),
        ["y.exe", "x.exe"]
    );
    assert_eq!(store.top_observed_names(T1, "sha1", "k", 0, 1).unwrap(), ["y.exe"]);

    let alerts: Vec<Value> = ["a1", "a2", "a3", "a4"].iter().map(|id| json!({"id": id})).collect();
    store.upsert_docs(ALERT_TABLE, T1, &alerts).unwrap();
    let machines = [
        machine("m1", "one", "Active"),
        machine("m2", "two", "Active"),
        machine("m3", "three", "Active"),
    ];
    store.upsert_docs(MACHINE_TABLE, T1, &machines).unwrap();
    let all = palisade_odata::Query::default();
    let via_alert = Observed {
        kind: "sha1",
        key: "k",
        via: ObservedVia::Alert,
        cap: None,
    };
    assert_eq!(
        ids(&store
            .query_observed_docs(ALERT_TABLE, T1, &via_alert, &all, 0, 10)
            .unwrap()),
        ["a1", "a2", "a3"]
    );
    assert_eq!(
        ids(&store
            .query_observed_docs(ALERT_TABLE, T1, &via_alert, &all, 1, 1)
            .unwrap()),
        ["a2"]
    );
    assert_eq!(store.count_observed_docs(ALERT_TABLE, T1, &via_alert, &all).unwrap(), 3);
    let via_machine = Observed {
        kind: "sha1",
        key: "k",
        via: ObservedVia::Machine,
        cap: None,
    };
    assert_eq!(
        ids(&store
            .query_observed_docs(MACHINE_TABLE, T1, &via_machine, &all, 0, 10)
            .unwrap()),
        ["m1", "m2"]
    );
    let capped = Observed {
        cap: Some(1),
        ..via_machine
    };
    assert_eq!(store.count_observed_docs(MACHINE_TABLE, T1, &capped, &all).unwrap(), 1);
}

fn record(target: &str) -> ErrorRecord {
    ErrorRecord {
        target: target.into(),
        time: Timestamp(chrono::DateTime::from_timestamp(1_700_000_000, 0).expect("time")),
        tenant_id: Some(T1.into()),
        app_id: None,
        method: "GET".into(),
        path: "/api/machines/x".into(),
        status: 404,
        code: "ResourceNotFound".into(),
        message: "Machine x was not found".into(),
        cause: "no such machine".into(),
    }
}

/// The error journal keeps exactly the newest `capacity` records, found by target in any case.
pub fn error_journal_keeps_the_newest_records(make: MakeStore<'_>) {
    let store = make();
    for n in 0..10 {
        store.record_error(&record(&format!("target-{n}")), 4).unwrap();
    }
    for n in 0..6 {
        assert!(
            store.find_error(&format!("target-{n}")).unwrap().is_none(),
            "target-{n} should have been dropped"
        );
    }
    for n in 6..10 {
        let found = store.find_error(&format!("TARGET-{n}")).unwrap().unwrap();
        assert_eq!(found, record(&format!("target-{n}")));
    }
}

/// A batch (`record_errors`, the domain's group commit) is kept as its records one by one would
/// be: in order, the newest `capacity` of everything written, batches and single records alike.
pub fn error_journal_batches_keep_order_and_capacity(make: MakeStore<'_>) {
    let store = make();
    store.record_error(&record("single-0"), 5).unwrap();
    store.record_errors(&[], 5).unwrap();
    let batch: Vec<ErrorRecord> = (0..4).map(|n| record(&format!("batch-{n}"))).collect();
    store.record_errors(&batch, 5).unwrap();
    assert!(
        store.find_error("single-0").unwrap().is_some(),
        "5 kept: the single and 4"
    );
    let batch: Vec<ErrorRecord> = (4..7).map(|n| record(&format!("batch-{n}"))).collect();
    store.record_errors(&batch, 5).unwrap();
    assert!(store.find_error("single-0").unwrap().is_none());
    for n in 0..2 {
        assert!(store.find_error(&format!("batch-{n}")).unwrap().is_none(), "batch-{n}");
    }
    for n in 2..7 {
        assert_eq!(
            store.find_error(&format!("BATCH-{n}")).unwrap().unwrap(),
            record(&format!("batch-{n}"))
        );
    }
}

/// Many more concurrent readers than a backend keeps connections (64 threads, each reading
/// repeatedly) all get an answer or a clean `Unavailable`, never another error (SQLite's
/// "unable to open database file" when descriptors run out, say): connections are bounded and
/// callers queue for them.
pub fn concurrent_readers_beyond_the_connection_set_wait_or_refuse(make: MakeStore<'_>) {
    let store = with_tenants(make);
    let outcomes: Vec<Result<(), String>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..64)
            .map(|_| {
                let store = &store;
                scope.spawn(move || {
                    for _ in 0..20 {
                        match store.find_tenant(T1) {
                            Ok(Some(_)) | Err(StoreError::Unavailable(_)) => {}
                            Ok(None) => return Err("tenant not found".to_string()),
                            Err(e) => return Err(e.to_string()),
                        }
                    }
                    Ok(())
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("reader thread")).collect()
    });
    for outcome in outcomes {
        outcome.unwrap();
    }
}

/// `clear_tenant_data` empties a tenant's entities, links and observations but keeps the tenant,
/// its settings and apps (and other tenants); `clear_all` empties tenants and the error journal
/// but keeps meta values.
pub fn clearing_keeps_what_it_promises(make: MakeStore<'_>) {
    let store = with_tenants(make);
    store.upsert_app(&app(T1, "aaaa")).unwrap();
    for tenant in [T1, T2] {
        store
            .upsert_docs(MACHINE_TABLE, tenant, &[machine("m1", "one", "Active")])
            .unwrap();
        store
            .add_links(tenant, "machine-users", &[("m1".into(), "u1".into())])
            .unwrap();
        store
            .add_observations(tenant, &[observation("ip", "10.0.0.1", "a1", "m1", 1, None)])
            .unwrap();
    }
    store.record_error(&record("kept-until-clear-all"), 10).unwrap();
    store.init_meta("signing", "key").unwrap();

    store.clear_tenant_data(T1).unwrap();
    let all = palisade_odata::Query::default();
    assert_eq!(store.count_docs(MACHINE_TABLE, T1, &all).unwrap(), 0);
    assert!(store.all_links(T1, "machine-users").unwrap().is_empty());
    assert!(store.latest_observation(T1, "ip", "10.0.0.1").unwrap().is_none());
    assert!(store.find_tenant(T1).unwrap().is_some());
    assert!(store.find_app("aaaa").unwrap().is_some());
    assert_eq!(store.count_docs(MACHINE_TABLE, T2, &all).unwrap(), 1);
    assert!(store.latest_observation(T2, "ip", "10.0.0.1").unwrap().is_some());

    store.clear_all().unwrap();
    assert!(store.list_tenants().unwrap().is_empty());
    assert!(store.find_app("aaaa").unwrap().is_none());
    assert!(store.find_error("kept-until-clear-all").unwrap().is_none());
    assert_eq!(store.count_docs(MACHINE_TABLE, T2, &all).unwrap(), 0);
    assert_eq!(store.get_meta("signing").unwrap().as_deref(), Some("key"));
}

/// `init_meta` keeps the first value ever stored and answers it to every caller, so concurrent
/// first starts agree (on the signing key, say).
pub fn meta_init_is_first_writer_wins(make: MakeStore<'_>) {
    let store = make();
    let _ = store.execution();
    assert!(store.get_meta("k").unwrap().is_none());
    assert_eq!(store.init_meta("k", "first").unwrap(), "first");
    assert_eq!(store.init_meta("k", "second").unwrap(), "first");
    assert_eq!(store.get_meta("k").unwrap().as_deref(), Some("first"));
    let answers: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|n| {
                let store = &store;
                scope.spawn(move || store.init_meta("race", &format!("value-{n}")).unwrap())
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(
        answers.iter().all(|a| *a == answers[0]),
        "every racer sees one value: {answers:?}"
    );
    assert_eq!(store.get_meta("race").unwrap().as_ref(), Some(&answers[0]));
}

/// Rate windows: a full window refuses with the exact wait, a refused call is counted in no
/// window, a window reopens at its end (and after the clock moves back), keys count apart, and
/// concurrent callers never admit more than the limit.
pub fn rate_windows_count_all_or_nothing_atomically(make: MakeStore<'_>) {
    use crate::{Admission, WindowLimit};
    let store = make();
    let minute = WindowLimit {
        length_ms: 60_000,
        limit: 2,
    };
    let hour = WindowLimit {
        length_ms: 3_600_000,
        limit: 3,
    };
    let both = [minute, hour];
    let t0 = 1_000_000;
    assert_eq!(store.count_call("a", &both, t0).unwrap(), Admission::Admitted);
    assert_eq!(store.count_call("a", &both, t0 + 1_000).unwrap(), Admission::Admitted);
    assert_eq!(
        store.count_call("a", &both, t0 + 2_000).unwrap(),
        Admission::Refused {
            window: 0,
            retry_after_ms: 58_000
        },
        "the minute is full"
    );
    assert_eq!(
        store.count_call("b", &both, t0 + 2_000).unwrap(),
        Admission::Admitted,
        "keys count apart"
    );
    // Keys may hold any character (the domain separates their parts with NUL), and keys that
    // differ only in control characters still count apart.
    for key in ["t\u{0}app\u{0}GET /x", "t\u{1}0app\u{0}GET /x", "t\u{0}app\u{2}GET /x"] {
        assert_eq!(
            store.count_call(key, &both, t0).unwrap(),
            Admission::Admitted,
            "{key:?}"
        );
        assert_eq!(
            store.count_call(key, &both, t0).unwrap(),
            Admission::Admitted,
            "{key:?}"
        );
    }
    // The refused call was not counted in the hour: one slot is left in it.
    assert_eq!(store.count_call("a", &both, t0 + 60_000).unwrap(), Admission::Admitted);
    assert_eq!(
        store.count_call("a", &both, t0 + 61_000).unwrap(),
        Admission::Refused {
            window: 1,
            retry_after_ms: 3_600_000 - 61_000
        },
        "the hour is full; the minute had room, and is not counted"
    );
    // Only the minute: it reopened at t0 + 60s with one call; the refusal above did not count.
    assert_eq!(
        store.count_call("a", &[minute], t0 + 62_000).unwrap(),
        Admission::Admitted
    );
    assert!(matches!(
        store.count_call("a", &[minute], t0 + 63_000).unwrap(),
        Admission::Refused { .. }
    ));
    // The clock moved back before the window opened: the window counts as closed.
    assert_eq!(store.count_call("a", &[minute], t0).unwrap(), Admission::Admitted);
    store.clear_rate_windows().unwrap();
    assert_eq!(store.count_call("a", &both, t0 + 61_000).unwrap(), Admission::Admitted);
    // Concurrent callers on one key: exactly the limit is admitted.
    let wide = WindowLimit {
        length_ms: 60_000,
        limit: 25,
    };
    let admitted = std::sync::atomic::AtomicU32::new(0);
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                for _ in 0..20 {
                    if store.count_call("shared", &[wide], t0).unwrap() == Admission::Admitted {
                        admitted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                }
            });
        }
    });
    assert_eq!(admitted.into_inner(), 25);
}

/// A `DeviceProcessEvents` row: every column empty (strings `""`, others null) but those given.
fn process_event(ticks: i64, device: &str, file: &str, pid: i64) -> crate::HuntingRow {
    use palisade_kql::{KqlType, Value};
    let schema = palisade_kql::Catalog::defender_hunting_shared()
        .table("DeviceProcessEvents")
        .expect("a hunting table");
    schema
        .columns
        .iter()
        .map(|(name, ty)| match name.as_str() {
            "Timestamp" => Value::DateTime(ticks),
            "DeviceName" => Value::str(device),
            "FileName" => Value::str(file),
            "ProcessId" => Value::Long(pid),
            "AdditionalFields" => Value::Dynamic(json!({"k": [1, 2]})),
            _ if *ty == KqlType::String => Value::str(""),
            _ => Value::Null,
        })
        .collect()
}

fn scan_request(
    columns: &[&str],
    predicates: Vec<palisade_kql::Predicate>,
    limit: Option<u64>,
) -> palisade_kql::ScanRequest {
    palisade_kql::ScanRequest {
        table: "DeviceProcessEvents".into(),
        columns: columns.iter().map(|c| c.to_string()).collect(),
        predicates,
        time_window: Some(palisade_kql::TimeWindow {
            column: "Timestamp".into(),
            from: 100,
        }),
        limit,
        order_by: Vec::new(),
        deadline: None,
    }
}

fn scan_all(store: &dyn Store, tenant: &str, request: &palisade_kql::ScanRequest) -> Vec<palisade_kql::Row> {
    let mut rows = Vec::new();
    store
        .scan_hunting(tenant, request, &mut |row| {
            rows.push(row);
            true
        })
        .unwrap();
    rows
}

/// Hunting rows come back in request column order, strings never null; a scan that applies the
/// limit applies the whole filter and window; a sink that says stop gets no more rows; rows are
/// scoped by tenant; an unknown table is refused.
pub fn hunting_rows_scan_filter_limit_and_stop(make: MakeStore<'_>) {
    use palisade_kql::{CmpOp, Predicate, Value};
    let store = with_tenants(make);
    let rows = vec![
        process_event(50, "old", "cmd.exe", 1),
        process_event(200, "a", "cmd.exe", 2),
        process_event(300, "a", "powershell.exe", 3),
        process_event(400, "b", "cmd.exe", 4),
    ];
    store.append_hunting_rows(T1, "DeviceProcessEvents", &rows).unwrap();
    store
        .append_hunting_rows(T2, "DeviceProcessEvents", &[process_event(500, "a", "cmd.exe", 9)])
        .unwrap();
    assert_eq!(store.count_hunting_rows(T1, "DeviceProcessEvents").unwrap(), 4);
    assert_eq!(store.count_hunting_rows(T2, "DeviceProcessEvents").unwrap(), 1);
    assert_eq!(store.count_hunting_rows(T1, "DeviceInfo").unwrap(), 0);
    assert!(store.append_hunting_rows(T1, "Widgets", &[]).is_err(), "unknown table");

    let cmd = Predicate::Compare {
        column: "FileName".into(),
        op: CmpOp::Eq,
        value: Value::str("cmd.exe"),
    };
    // Limited: the store must apply the filter and the window exactly.
    let limited = scan_request(&["ProcessId", "DeviceName", "SHA1"], vec![cmd.clone()], Some(1));
    let got = scan_all(store.as_ref(), T1, &limited);
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(limited.row_matches(&got[0]), "{got:?}");
    assert_eq!(got[0][2], Value::str(""), "an empty string reads as \"\", never null");
    // Unlimited: whatever the store applied, the matching rows are among those returned.
    let open = scan_request(&["ProcessId", "FileName", "Timestamp"], vec![cmd], None);
    let matching: Vec<i64> = scan_all(store.as_ref(), T1, &open)
        .into_iter()
        .filter(|r| {
            let ticks = match r[2] {
                Value::DateTime(t) | Value::Long(t) => t,
                ref other => panic!("Timestamp read as {other:?}"),
            };
            r[1] == Value::str("cmd.exe") && ticks >= 100
        })
        .map(|r| match r[0] {
            Value::Long(p) => p,
            ref other => panic!("ProcessId read as {other:?}"),
        })
        .collect();
    assert_eq!(matching, vec![2, 4], "T1's cmd.exe rows in the window, not T2's");
    // A sink that says stop after one row gets one row.
    let mut seen = 0;
    store
        .scan_hunting(T1, &scan_request(&["ProcessId"], Vec::new(), None), &mut |_| {
            seen += 1;
            false
        })
        .unwrap();
    assert_eq!(seen, 1);
    // Dynamic columns keep their JSON.
    let dynamic = scan_all(
        store.as_ref(),
        T2,
        &scan_request(&["AdditionalFields"], Vec::new(), None),
    );
    match &dynamic[0][0] {
        Value::String(text) => assert_eq!(serde_json::from_str::<Value2>(text).unwrap(), json!({"k": [1, 2]})),
        Value::Dynamic(j) => assert_eq!(j, &json!({"k": [1, 2]})),
        other => panic!("AdditionalFields read as {other:?}"),
    }
    store.clear_tenant_data(T1).unwrap();
    assert_eq!(store.count_hunting_rows(T1, "DeviceProcessEvents").unwrap(), 0);
    assert_eq!(store.count_hunting_rows(T2, "DeviceProcessEvents").unwrap(), 1);
}

type Value2 = serde_json::Value;

/// An aggregate the store answers counts exactly the tenant's rows matching the filter and window.
pub fn hunting_aggregates_are_exact_and_scoped(make: MakeStore<'_>) {
    use palisade_kql::{AggregateRequest, GroupKey, PushedAggregate, Value};
    let store = with_tenants(make);
    let rows = vec![
        process_event(50, "a", "x", 1),
        process_event(200, "a", "x", 2),
        process_event(300, "a", "y", 3),
        process_event(400, "b", "x", 4),
    ];
    store.append_hunting_rows(T1, "DeviceProcessEvents", &rows).unwrap();
    store
        .append_hunting_rows(T2, "DeviceProcessEvents", &[process_event(500, "a", "x", 9)])
        .unwrap();
    let request = AggregateRequest {
        scan: scan_request(&["DeviceName", "ProcessId"], Vec::new(), None),
        group_by: vec![GroupKey::Column("DeviceName".into())],
        aggregates: vec![PushedAggregate::Count, PushedAggregate::Max("ProcessId".into())],
    };
    let Some(mut groups) = store.aggregate_hunting(T1, &request).unwrap() else {
        return; // Not answering is allowed: the engine aggregates itself.
    };
    groups.sort_by(|a, b| palisade_kql::total_cmp(&a[0], &b[0]));
    assert_eq!(
        groups,
        vec![
            vec![Value::str("a"), Value::Long(2), Value::Long(3)],
            vec![Value::str("b"), Value::Long(1), Value::Long(4)],
        ]
    );
}

/// `set_meta` replaces the value (`init_meta` would keep the first), for every later reader.
pub fn meta_set_replaces_the_value(make: MakeStore<'_>) {
    let store = make();
    store.set_meta("clock", "one").unwrap();
    assert_eq!(store.get_meta("clock").unwrap().as_deref(), Some("one"));
    store.set_meta("clock", "two").unwrap();
    assert_eq!(store.get_meta("clock").unwrap().as_deref(), Some("two"));
    assert_eq!(store.init_meta("clock", "three").unwrap(), "two");
}

/// A named lock has one holder at a time: others are refused until it is released or its lease
/// runs out; the holder may renew it; a release by a non-holder changes nothing; and of many
/// concurrent takers exactly one wins.
pub fn locks_exclude_other_holders_until_released_or_expired(make: MakeStore<'_>) {
    use std::time::Duration;
    let store = make();
    let long = Duration::from_secs(60);
    assert!(store.try_lock("actions:t1", "a", long).unwrap());
    assert!(!store.try_lock("actions:t1", "b", long).unwrap(), "held by a");
    assert!(store.try_lock("actions:t2", "b", long).unwrap(), "names lock apart");
    assert!(store.try_lock("actions:t1", "a", long).unwrap(), "the holder renews");
    store.unlock("actions:t1", "b").unwrap();
    assert!(
        !store.try_lock("actions:t1", "b", long).unwrap(),
        "b's release did not free a's lock"
    );
    store.unlock("actions:t1", "a").unwrap();
    assert!(store.try_lock("actions:t1", "b", long).unwrap(), "free once released");
    assert!(store.try_lock("short", "a", Duration::from_millis(50)).unwrap());
    assert!(!store.try_lock("short", "b", long).unwrap());
    std::thread::sleep(Duration::from_millis(120));
    assert!(
        store.try_lock("short", "b", long).unwrap(),
        "free once the lease ran out"
    );
    store.unlock("short", "a").unwrap();
    assert!(
        !store.try_lock("short", "a", long).unwrap(),
        "a's late release left b's lock"
    );
    let winners = std::sync::atomic::AtomicU32::new(0);
    std::thread::scope(|scope| {
        for n in 0..8 {
            let (store, winners) = (&store, &winners);
            scope.spawn(move || {
                if store.try_lock("race", &format!("racer-{n}"), long).unwrap() {
                    winners.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            });
        }
    });
    assert_eq!(winners.into_inner(), 1);
}

/// Bytes stored with a library file are answered by its key (in any case, as the key compares),
/// replaced with it, and gone when the entity, its tenant's data or its tenant goes.
pub fn blobs_are_written_and_deleted_with_their_entity(make: MakeStore<'_>) {
    use palisade_model::schemas::LIBRARY_FILE_TABLE;
    let store = with_tenants(make);
    let file = |name: &str, sha: &str| {
        json!({
            "fileName": name,
            "sha256": sha,
            "description": null,
            "creationTime": "2024-01-01T00:00:00Z",
            "lastUpdatedTime": "2024-01-01T00:00:00Z",
            "createdBy": "app",
            "hasParameters": false,
            "parametersDescription": null,
        })
    };
    store
        .upsert_doc_with_blob(LIBRARY_FILE_TABLE, T1, &file("Script.ps1", "aa"), b"first")
        .unwrap();
    assert_eq!(
        store.get_blob(LIBRARY_FILE_TABLE, T1, "script.PS1").unwrap().as_deref(),
        Some(&b"first"[..])
    );
    assert!(
        store.get_blob(LIBRARY_FILE_TABLE, T2, "Script.ps1").unwrap().is_none(),
        "scoped by tenant"
    );
    let doc = store
        .find_doc(LIBRARY_FILE_TABLE, T1, "file_name", "script.ps1", true)
        .unwrap()
        .expect("the entity is stored with its bytes");
    assert!(doc.contains("Script.ps1"));
    store
        .upsert_doc_with_blob(LIBRARY_FILE_TABLE, T1, &file("SCRIPT.ps1", "bb"), b"second")
        .unwrap();
    assert_eq!(
        store.get_blob(LIBRARY_FILE_TABLE, T1, "Script.ps1").unwrap().as_deref(),
        Some(&b"second"[..]),
        "replaced under any spelling of the key"
    );
    assert_eq!(
        store
            .count_docs(LIBRARY_FILE_TABLE, T1, &palisade_odata::Query::default())
            .unwrap(),
        1
    );
    assert!(store.delete_doc(LIBRARY_FILE_TABLE, T1, "script.ps1").unwrap());
    assert!(store.get_blob(LIBRARY_FILE_TABLE, T1, "Script.ps1").unwrap().is_none());
    store
        .upsert_doc_with_blob(LIBRARY_FILE_TABLE, T1, &file("a.ps1", "cc"), &[0, 255, 1])
        .unwrap();
    store
        .upsert_doc_with_blob(LIBRARY_FILE_TABLE, T2, &file("a.ps1", "cc"), b"two")
        .unwrap();
    assert_eq!(
        store.get_blob(LIBRARY_FILE_TABLE, T1, "a.ps1").unwrap().as_deref(),
        Some(&[0u8, 255, 1][..]),
        "bytes kept exactly"
    );
    store.clear_tenant_data(T1).unwrap();
    assert!(store.get_blob(LIBRARY_FILE_TABLE, T1, "a.ps1").unwrap().is_none());
    assert!(store.delete_tenant(T2).unwrap());
    assert!(store.get_blob(LIBRARY_FILE_TABLE, T2, "a.ps1").unwrap().is_none());
}
