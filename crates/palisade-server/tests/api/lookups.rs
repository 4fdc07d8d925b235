//! Files, IPs and domains (`shared/reference/mde-api.md` §6–§8): lookups, related alerts and
//! machines, and statistics. Every expectation is computed here from the alerts' evidence and the
//! machines as the API itself lists them, never hard-coded.

use chrono::{DateTime, TimeDelta, Utc};
use palisade_testkit::*;
use serde_json::{json, Value};
use std::collections::BTreeSet;

/// Key order of the File entity (`files.md`, with `md5` as in the related-files example).
const FILE_PROPERTIES: &[&str] = &[
    "@odata.context",
    "sha1",
    "sha256",
    "md5",
    "globalPrevalence",
    "globalFirstObserved",
    "globalLastObserved",
    "size",
    "fileType",
    "isPeFile",
    "filePublisher",
    "fileProductName",
    "signer",
    "issuer",
    "signerHash",
    "isValidCertificate",
    "determinationType",
    "determinationValue",
];

/// A time of a response, at the microsecond precision the statistics keep (the store's unit).
fn time(v: &Value) -> DateTime<Utc> {
    let t = DateTime::parse_from_rfc3339(v.as_str().unwrap_or_else(|| panic!("not a time: {v}"))).unwrap();
    DateTime::from_timestamp_micros(t.timestamp_micros()).unwrap()
}

async fn all_machines(app: &TestApp, token: &str) -> Vec<Value> {
    values(&app.get_ok("/api/machines", token).await).to_vec()
}

/// (alert, evidence item) pairs whose evidence satisfies `keep`.
fn evidence_where(alerts: &[Value], keep: impl Fn(&Value) -> bool) -> Vec<(&Value, &Value)> {
    alerts
        .iter()
        .flat_map(|a| {
            a["evidence"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|e| keep(e))
                .map(move |e| (a, e))
        })
        .collect()
}

fn ids(items: &[Value], key: &str) -> BTreeSet<String> {
    items.iter().map(|v| v[key].as_str().unwrap().to_string()).collect()
}

fn host_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.split(['/', '?', '#', ':']).next().unwrap().to_ascii_lowercase()
}

/// Distinct machines and first/last evidence time among `hits` at or after `since`.
fn prevalence(
    hits: &[(&Value, &Value)],
    since: DateTime<Utc>,
) -> (usize, Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
    let within: Vec<(String, DateTime<Utc>)> = hits
        .iter()
        .map(|(a, e)| {
            (
                a["machineId"].as_str().unwrap().to_string(),
                time(&e["evidenceCreationTime"]),
            )
        })
        .filter(|(_, t)| *t >= since)
        .collect();
    let machines: BTreeSet<&String> = within.iter().map(|(m, _)| m).collect();
    (
        machines.len(),
        within.iter().map(|(_, t)| *t).min(),
        within.iter().map(|(_, t)| *t).max(),
    )
}

fn opt_time(v: &Value) -> Option<DateTime<Utc>> {
    (!v.is_null()).then(|| time(v))
}

#[tokio::test]
async fn a_file_is_found_by_either_hash_and_matches_the_alerts_view() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let alerts = all_alerts(&app, &token).await;
    let hits = evidence_where(&alerts, |e| e["entityType"] == "File");
    let (alert, evidence) = hits[0];
    let sha1 = evidence["sha1"].as_str().unwrap();
    let sha256 = evidence["sha256"].as_str().unwrap();
    let same_file: Vec<_> = evidence_where(&alerts, |e| e["sha1"] == sha1);

    let by_sha1 = app.get_ok(&format!("/api/files/{sha1}"), &token).await;
    assert_eq!(keys(&by_sha1), FILE_PROPERTIES);
    assert!(by_sha1["@odata.context"]
        .as_str()
        .unwrap()
        .ends_with("/api/$metadata#Files/$entity"));
    assert_eq!(by_sha1["sha1"], sha1);
    assert_eq!(by_sha1["sha256"], sha256);
    assert_eq!(by_sha1["md5"], Value::Null);
    let (machines, first, last) = prevalence(&same_file, DateTime::<Utc>::MIN_UTC);
    assert_eq!(by_sha1["globalPrevalence"], machines as u64);
    assert_eq!(opt_time(&by_sha1["globalFirstObserved"]), first);
    assert_eq!(opt_time(&by_sha1["globalLastObserved"]), last);
    let name = evidence["fileName"].as_str().unwrap();
    let pe = [".exe", ".dll", ".com"].iter().any(|ext| name.ends_with(ext));
    assert_eq!(by_sha1["isPeFile"], pe, "{name}");
    match alert["threatName"].as_str() {
        Some(_) => assert_eq!(by_sha1["determinationType"], "Malware"),
        None => assert_eq!(by_sha1["determinationType"], "Unknown"),
    }

    let by_sha256 = app
        .get_ok(&format!("/api/files/{}", sha256.to_ascii_uppercase()), &token)
        .await;
    assert_eq!(by_sha256, by_sha1, "either hash, in any case, names the same file");

    let related = app
        .get_ok(&format!("/api/alerts/{}/files", alert["id"].as_str().unwrap()), &token)
        .await;
    let mut listed = values(&related)[0].clone();
    listed.as_object_mut().unwrap().remove("@odata.context");
    let mut single = by_sha1.clone();
    single.as_object_mut().unwrap().remove("@odata.context");
    assert_eq!(listed, single, "/alerts/{{id}}/files answers the same File entity");

    for unknown in ["0".repeat(40), "a".repeat(64), "b".repeat(32)] {
        let response = app.get(&format!("/api/files/{unknown}"), &token).await;
        expect_error(
            &app,
            response,
            404,
            "ResourceNotFound",
            &[&format!("File {unknown} was not found")],
        )
        .await;
    }
    for (bad, why) in [
        ("xyz", "3 characters"),
        (&"a".repeat(39) as &str, "39 characters"),
        (&format!("{}g", &sha1[..39]), "not hexadecimal"),
    ] {
        let response = app.get(&format!("/api/files/{bad}"), &token).await;
        expect_error(&app, response, 400, "InvalidHashValue", &[bad, why]).await;
    }
}

#[tokio::test]
async fn file_alerts_and_machines_come_from_evidence_and_take_only_sha1() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let alerts = all_alerts(&app, &token).await;
    let evidence = evidence_where(&alerts, |e| e["entityType"] == "Process")[0].1.clone();
    let sha1 = evidence["sha1"].as_str().unwrap();
    let hits = evidence_where(&alerts, |e| e["sha1"] == sha1);
    let expected_alerts: BTreeSet<String> = hits
        .iter()
        .map(|(a, _)| a["id"].as_str().unwrap().to_string())
        .collect();
    let expected_machines: BTreeSet<String> = hits
        .iter()
        .map(|(a, _)| a["machineId"].as_str().unwrap().to_string())
        .collect();

    let body = app
        .get_ok(&format!("/api/files/{sha1}/alerts?$count=true"), &token)
        .await;
    assert!(body["@odata.context"].as_str().unwrap().ends_with("#Alerts"));
    assert_eq!(ids(values(&body), "id"), expected_alerts);
    assert_eq!(body["@odata.count"], expected_alerts.len());
    assert!(
        values(&body).iter().all(|a| a["evidence"] == json!([])),
        "no $expand: no evidence"
    );
    // The client's OData options apply within the relation.
    let high = app
        .get_ok(
            &format!("/api/files/{sha1}/alerts?$filter=status%20ne%20%27Resolved%27&$top=1"),
            &token,
        )
        .await;
    let open: BTreeSet<String> = hits
        .iter()
        .filter(|(a, _)| a["status"] != "Resolved")
        .map(|(a, _)| a["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(values(&high).len(), open.len().min(1));
    if open.len() > 1 {
        assert!(high["@odata.nextLink"].is_string(), "paging within the relation");
    }

    // Unfiltered pages come in id order and page with $skip, like any collection.
    let sorted: Vec<String> = expected_alerts.iter().cloned().collect();
    for skip in 0..sorted.len().min(3) {
        let page = app
            .get_ok(&format!("/api/files/{sha1}/alerts?$top=1&$skip={skip}"), &token)
            .await;
        assert_eq!(ids(values(&page), "id"), BTreeSet::from([sorted[skip].clone()]));
        assert_eq!(page["@odata.nextLink"].is_string(), skip + 1 < sorted.len());
    }

    let machines = app.get_ok(&format!("/api/files/{sha1}/machines"), &token).await;
    assert!(machines["@odata.context"].as_str().unwrap().ends_with("#Machines"));
    assert_eq!(ids(values(&machines), "id"), expected_machines);

    let unknown = "0".repeat(40);
    for route in ["alerts", "machines"] {
        let empty = app.get_ok(&format!("/api/files/{unknown}/{route}"), &token).await;
        assert_eq!(empty["value"], json!([]), "unknown file: 200 with an empty set");
        for other in [evidence["sha256"].as_str().unwrap(), &"c".repeat(32)] {
            let response = app.get(&format!("/api/files/{other}/{route}"), &token).await;
            expect_error(&app, response, 400, "InvalidHashValue", &[other, "only SHA-1"]).await;
        }
        let response = app.get(&format!("/api/files/nothex/{route}"), &token).await;
        expect_error(&app, response, 400, "InvalidHashValue", &["nothex"]).await;
    }
    let response = app
        .get(&format!("/api/files/{sha1}/alerts?$filter=bogus%20eq%201"), &token)
        .await;
    expect_error(&app, response, 400, "ODataError", &["bogus"]).await;
}

#[tokio::test]
async fn file_statistics_follow_the_lookback_window_on_the_emulator_clock() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let now = time(&app.freeze_clock().await["now"]);
    let alerts = all_alerts(&app, &token).await;
    let evidence = evidence_where(&alerts, |e| e["entityType"] == "File")[0].1.clone();
    let sha1 = evidence["sha1"].as_str().unwrap();
    let hits = evidence_where(&alerts, |e| e["entityType"] == "File" && e["sha1"] == sha1);

    for (query, hours) in [
        ("", 720),
        ("?lookBackHours=48", 48),
        ("?lookbackhours=200", 200),
        ("?lookBackHours=720", 720),
    ] {
        let stats = app.get_ok(&format!("/api/files/{sha1}/stats{query}"), &token).await;
        assert_eq!(
            keys(&stats),
            [
                "@odata.context",
                "sha1",
                "organizationPrevalence",
                "orgFirstSeen",
                "orgLastSeen",
                "globallyPrevalence",
                "globalFirstObserved",
                "globalLastObserved",
                "topFileNames",
                "orgPrevalence",
                "globalPrevalence"
            ]
        );
        assert!(stats["@odata.context"]
            .as_str()
            .unwrap()
            .ends_with("#microsoft.windowsDefenderATP.api.InOrgFileStats"));
        let (machines, first, last) = prevalence(&hits, now - TimeDelta::hours(hours));
        assert_eq!(stats["sha1"], sha1);
        assert_eq!(stats["organizationPrevalence"], machines as u64, "{query}");
        // The legacy spellings carry the same figures (a string, as the legacy pages wrote it).
        assert_eq!(stats["orgPrevalence"], machines.to_string(), "{query}");
        assert_eq!(stats["globalPrevalence"], stats["globallyPrevalence"]);
        assert_eq!(opt_time(&stats["orgFirstSeen"]), first, "{query}");
        assert_eq!(opt_time(&stats["orgLastSeen"]), last, "{query}");
        let (all, _, _) = prevalence(&hits, DateTime::<Utc>::MIN_UTC);
        assert_eq!(
            stats["globallyPrevalence"], all as u64,
            "global figures ignore the window"
        );
        let names = stats["topFileNames"].as_array().unwrap();
        assert_eq!(names.is_empty(), machines == 0);
        if machines > 0 {
            assert_eq!(names[0], evidence["fileName"]);
        }
    }

    // A month later nothing is within the window; the global figures remain.
    app.advance_clock(31.0 * 24.0 * 3600.0).await;
    let token = app.token().await;
    let stats = app.get_ok(&format!("/api/files/{sha1}/stats"), &token).await;
    assert_eq!(stats["organizationPrevalence"], 0);
    assert_eq!(stats["orgFirstSeen"], Value::Null);
    assert_eq!(stats["topFileNames"], json!([]));
    assert!(stats["globallyPrevalence"].as_u64().unwrap() > 0);

    for (query, mentions) in [
        ("lookBackHours=721", vec!["lookBackHours 721", "720"]),
        ("lookBackHours=0", vec!["lookBackHours '0'", "1 to 720"]),
        ("lookBackHours=-5", vec!["'-5'"]),
        ("lookBackHours=two", vec!["'two'"]),
        ("lookBackHour=48", vec!["'lookBackHour'", "only lookBackHours"]),
    ] {
        let response = app.get(&format!("/api/files/{sha1}/stats?{query}"), &token).await;
        expect_error(&app, response, 400, "InvalidInput", &mentions).await;
    }
    let response = app.get(&format!("/api/files/{}/stats", "0".repeat(40)), &token).await;
    expect_error(&app, response, 404, "ResourceNotFound", &["was not found"]).await;
    let response = app.get("/api/files/zz/stats", &token).await;
    expect_error(&app, response, 400, "InvalidHashValue", &["zz"]).await;
}

#[tokio::test]
async fn ip_alerts_and_statistics_count_connections_and_own_addresses() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let now = time(&app.freeze_clock().await["now"]);
    let alerts = all_alerts(&app, &token).await;
    let machines = all_machines(&app, &token).await;
    let ip_hits = evidence_where(&alerts, |e| e["entityType"] == "Ip");
    let mut addresses: BTreeSet<String> = ip_hits
        .iter()
        .map(|(_, e)| e["ipAddress"].as_str().unwrap().to_string())
        .collect();
    // A machine's own address, which no evidence mentions.
    let own = machines[0]["lastIpAddress"].as_str().unwrap().to_string();
    addresses.insert(own.clone());

    for ip in &addresses {
        let hits: Vec<_> = ip_hits
            .iter()
            .copied()
            .filter(|(_, e)| e["ipAddress"] == ip.as_str())
            .collect();
        let body = app.get_ok(&format!("/api/ips/{ip}/alerts"), &token).await;
        let expected: BTreeSet<String> = hits
            .iter()
            .map(|(a, _)| a["id"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(ids(values(&body), "id"), expected, "{ip}");

        for hours in [720, 24] {
            let since = now - TimeDelta::hours(hours);
            let mut devices: BTreeSet<String> = BTreeSet::new();
            let mut first: Option<DateTime<Utc>> = None;
            let mut last: Option<DateTime<Utc>> = None;
            let mut see = |m: &str, f: DateTime<Utc>, l: DateTime<Utc>| {
                devices.insert(m.to_string());
                first = Some(first.map_or(f, |x| x.min(f)));
                last = Some(last.map_or(l, |x| x.max(l)));
            };
            for (a, e) in &hits {
                let t = time(&e["evidenceCreationTime"]);
                if t >= since {
                    see(a["machineId"].as_str().unwrap(), t, t);
                }
            }
            for m in &machines {
                let mine = m["lastIpAddress"] == ip.as_str() || m["lastExternalIpAddress"] == ip.as_str();
                let seen = time(&m["lastSeen"]);
                if mine && seen >= since {
                    see(m["id"].as_str().unwrap(), time(&m["firstSeen"]).max(since), seen);
                }
            }
            let stats = app
                .get_ok(&format!("/api/ips/{ip}/stats?lookBackHours={hours}"), &token)
                .await;
            assert_eq!(
                keys(&stats),
                [
                    "@odata.context",
                    "ipAddress",
                    "organizationPrevalence",
                    "orgFirstSeen",
                    "orgLastSeen",
                    "orgPrevalence"
                ]
            );
            assert!(stats["@odata.context"].as_str().unwrap().ends_with("InOrgIPStats"));
            assert_eq!(stats["ipAddress"], ip.as_str());
            assert_eq!(stats["organizationPrevalence"], devices.len() as u64, "{ip} {hours}h");
            assert_eq!(stats["orgPrevalence"], devices.len().to_string(), "{ip} {hours}h");
            assert_eq!(opt_time(&stats["orgFirstSeen"]), first, "{ip} {hours}h");
            assert_eq!(opt_time(&stats["orgLastSeen"]), last, "{ip} {hours}h");
        }
    }
    let own_stats = app.get_ok(&format!("/api/ips/{own}/stats"), &token).await;
    assert!(own_stats["organizationPrevalence"].as_u64().unwrap() >= 1);

    // Valid but unknown: zero and empty, as documented.
    for unknown in ["192.0.2.200", "2001:db8::1"] {
        let stats = app.get_ok(&format!("/api/ips/{unknown}/stats"), &token).await;
        assert_eq!(
            stats,
            json!({"@odata.context": stats["@odata.context"], "ipAddress": unknown,
                   "organizationPrevalence": 0, "orgFirstSeen": null, "orgLastSeen": null,
                   "orgPrevalence": "0"})
        );
        assert_eq!(
            app.get_ok(&format!("/api/ips/{unknown}/alerts"), &token).await["value"],
            json!([])
        );
    }
    for (bad, why) in [
        ("10.0.0.256", "10.0.0.256"),
        ("10.0.0.0%2F24", "CIDR"),
        ("not-an-ip", "not-an-ip"),
    ] {
        for route in ["stats", "alerts"] {
            let response = app.get(&format!("/api/ips/{bad}/{route}"), &token).await;
            expect_error(&app, response, 400, "InvalidIpAddress", &[why]).await;
        }
    }
    let response = app.get("/api/ips/192.0.2.1/stats?lookBackHours=1000", &token).await;
    expect_error(&app, response, 400, "InvalidInput", &["lookBackHours 1000"]).await;
}

#[tokio::test]
async fn domain_alerts_machines_and_statistics_come_from_url_evidence() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let now = time(&app.freeze_clock().await["now"]);
    let alerts = all_alerts(&app, &token).await;
    let url_hits = evidence_where(&alerts, |e| e["entityType"] == "Url");
    let hosts: BTreeSet<String> = url_hits
        .iter()
        .map(|(_, e)| host_of(e["url"].as_str().unwrap()))
        .collect();
    assert!(!hosts.is_empty());
    for host in &hosts {
        let hits: Vec<_> = url_hits
            .iter()
            .copied()
            .filter(|(_, e)| host_of(e["url"].as_str().unwrap()) == *host)
            .collect();
        // Any case, and the absolute form with a trailing dot, name the same domain.
        let asked = format!("{}.", host.to_ascii_uppercase());
        let body = app.get_ok(&format!("/api/domains/{asked}/alerts"), &token).await;
        let expected: BTreeSet<String> = hits
            .iter()
            .map(|(a, _)| a["id"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(ids(values(&body), "id"), expected, "{host}");
        let machines = app.get_ok(&format!("/api/domains/{host}/machines"), &token).await;
        let expected: BTreeSet<String> = hits
            .iter()
            .map(|(a, _)| a["machineId"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(ids(values(&machines), "id"), expected, "{host}");

        let stats = app
            .get_ok(&format!("/api/domains/{host}/stats?lookBackHours=100"), &token)
            .await;
        assert_eq!(
            keys(&stats),
            [
                "@odata.context",
                "host",
                "organizationPrevalence",
                "orgFirstSeen",
                "orgLastSeen",
                "orgPrevalence"
            ]
        );
        assert!(stats["@odata.context"].as_str().unwrap().ends_with("InOrgDomainStats"));
        let (count, first, last) = prevalence(&hits, now - TimeDelta::hours(100));
        assert_eq!(stats["host"], host.as_str());
        assert_eq!(stats["organizationPrevalence"], count as u64, "{host}");
        assert_eq!(stats["orgPrevalence"], count.to_string(), "{host}");
        assert_eq!(opt_time(&stats["orgFirstSeen"]), first);
        assert_eq!(opt_time(&stats["orgLastSeen"]), last);
    }
    let stats = app.get_ok("/api/domains/unknown.example.com/stats", &token).await;
    assert_eq!(stats["organizationPrevalence"], 0);
    assert_eq!(stats["orgLastSeen"], Value::Null);
    for route in ["alerts", "machines"] {
        assert_eq!(
            app.get_ok(&format!("/api/domains/unknown.example.com/{route}"), &token)
                .await["value"],
            json!([])
        );
    }
    for bad in ["nodots", "bad_domain!.com", "-lead.example.com"] {
        for route in ["stats", "alerts", "machines"] {
            let response = app.get(&format!("/api/domains/{bad}/{route}"), &token).await;
            expect_error(&app, response, 400, "InvalidDomainName", &[bad]).await;
        }
    }
}

#[tokio::test]
async fn every_lookup_checks_its_documented_role() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let alerts = all_alerts(&app, &token).await;
    let sha1 = evidence_where(&alerts, |e| e["entityType"] == "File")[0].1["sha1"]
        .as_str()
        .unwrap()
        .to_string();
    let routes = [
        (format!("/api/files/{sha1}"), "File.Read.All"),
        (format!("/api/files/{sha1}/stats"), "File.Read.All"),
        (format!("/api/files/{sha1}/alerts"), "Alert.Read.All"),
        (format!("/api/files/{sha1}/machines"), "Machine.Read.All"),
        ("/api/ips/192.0.2.1/stats".to_string(), "Ip.Read.All"),
        ("/api/ips/192.0.2.1/alerts".to_string(), "Alert.Read.All"),
        ("/api/domains/example.com/stats".to_string(), "URL.Read.All"),
        ("/api/domains/example.com/alerts".to_string(), "Alert.ReadWrite.All"),
        ("/api/domains/example.com/machines".to_string(), "Machine.Read.All"),
    ];
    let none = app.mint(json!({"roles": ["User.Read.All"]})).await;
    for (path, role) in &routes {
        let response = app.get(path, &none).await;
        expect_error(&app, response, 403, "Forbidden", &[role]).await;
        // The role is checked before the key.
        let bad_key = path
            .replace(&sha1, "zz")
            .replace("192.0.2.1", "300.1.1.1")
            .replace("example.com", "x_y");
        let response = app.get(&bad_key, &none).await;
        expect_error(&app, response, 403, "Forbidden", &[role]).await;
        let holder = app.mint(json!({"roles": [role]})).await;
        app.get_ok(path, &holder).await;
    }
    // The current page allows only Alert.ReadWrite.All for domain-related alerts.
    let reader = app.mint(json!({"roles": ["Alert.Read.All"]})).await;
    let response = app.get("/api/domains/example.com/alerts", &reader).await;
    expect_error(&app, response, 403, "Forbidden", &["Alert.ReadWrite.All"]).await;
}

#[tokio::test]
async fn global_figures_span_tenants_while_org_figures_and_lists_stay_in_the_tenant() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let alerts = all_alerts(&app, &token).await;
    let sha1 = evidence_where(&alerts, |e| e["entityType"] == "File")[0].1["sha1"]
        .as_str()
        .unwrap()
        .to_string();
    let before = app.get_ok(&format!("/api/files/{sha1}/stats"), &token).await;
    assert_eq!(before["globallyPrevalence"], before["organizationPrevalence"]);

    // A second tenant created through the admin API, with its own demo data (other machines,
    // the same demo files).
    let (tenant, client, secret) = app.create_tenant(None, true).await;
    let other = app.token_for(&tenant, &client, &secret).await;
    let theirs = app.get_ok(&format!("/api/files/{sha1}/stats"), &other).await;
    let mine = app.get_ok(&format!("/api/files/{sha1}/stats"), &token).await;
    let org = |v: &Value| v["organizationPrevalence"].as_u64().unwrap();
    assert_eq!(mine["organizationPrevalence"], before["organizationPrevalence"]);
    assert_eq!(mine["globallyPrevalence"].as_u64().unwrap(), org(&mine) + org(&theirs));
    assert_eq!(theirs["globallyPrevalence"], mine["globallyPrevalence"]);
    let file = app.get_ok(&format!("/api/files/{sha1}"), &token).await;
    assert_eq!(file["globalPrevalence"], mine["globallyPrevalence"]);

    let my_alerts = ids(
        values(&app.get_ok(&format!("/api/files/{sha1}/alerts"), &token).await),
        "id",
    );
    let their_alerts = ids(
        values(&app.get_ok(&format!("/api/files/{sha1}/alerts"), &other).await),
        "id",
    );
    assert!(!my_alerts.is_empty() && !their_alerts.is_empty());
    assert!(my_alerts.is_disjoint(&their_alerts), "each tenant sees its own alerts");
}

#[tokio::test]
async fn created_alerts_and_restarts_keep_lookups_consistent() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let alerts = all_alerts(&app, &token).await;
    let hit = evidence_where(&alerts, |e| e["entityType"] == "Ip")[0];
    let ip = hit.1["ipAddress"].as_str().unwrap().to_string();
    let before = app.get_ok(&format!("/api/ips/{ip}/alerts?$count=true"), &token).await;

    // CreateAlertByReference makes an alert without evidence: it relates to no IP.
    let machine = hit.0["machineId"].as_str().unwrap();
    let event_time = (app.frozen_now().await - TimeDelta::minutes(5)).to_rfc3339();
    let body = json!({"eventTime": event_time, "reportId": "42", "machineId": machine, "severity": "Low",
                      "title": "Lookup test", "description": "d", "recommendedAction": "r", "category": "General"});
    let response = app
        .post("/api/alerts/CreateAlertByReference", &token, &body.to_string())
        .await;
    assert_eq!(response.status(), 200);
    let after = app.get_ok(&format!("/api/ips/{ip}/alerts?$count=true"), &token).await;
    assert_eq!(after["@odata.count"], before["@odata.count"]);

    let stats = app.get_ok(&format!("/api/ips/{ip}/stats"), &token).await;
    let app = app.restart().await;
    let token = app.token().await;
    assert_eq!(app.get_ok(&format!("/api/ips/{ip}/stats"), &token).await, {
        let mut s = stats.clone();
        s["@odata.context"] = json!(format!(
            "{}/api/$metadata#microsoft.windowsDefenderATP.api.InOrgIPStats",
            app.http
        ));
        s
    });
    let again = app.get_ok(&format!("/api/ips/{ip}/alerts?$count=true"), &token).await;
    assert_eq!(again["@odata.count"], before["@odata.count"]);
}
