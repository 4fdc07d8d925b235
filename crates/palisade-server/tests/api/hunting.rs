//! Advanced hunting (`shared/reference/xdr-api-and-auth.md` §2.5, §2.7): both routes and their
//! roles, the answer's shape and Kusto's value rules, `getschema`, the documented limits (call
//! rate, rows, 30 days, timeout, result size), errors with their position and trace, and the
//! hunting tables' consistency with the tenant's machines and alerts.

use palisade_testkit::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::collections::BTreeSet;

const XDR: &str = "/api/advancedhunting/run";
const MDE: &str = "/api/advancedqueries/run";

async fn hunt(app: &TestApp, token: &str, path: &str, query: &str) -> reqwest::Response {
    app.post(path, token, &json!({ "Query": query }).to_string()).await
}

/// Runs a query that must succeed; answers the whole body.
async fn hunt_ok(app: &TestApp, token: &str, query: &str) -> Value {
    let response = hunt(app, token, XDR, query).await;
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{query}: {body}");
    body
}

fn results(body: &Value) -> &[Value] {
    body["Results"].as_array().expect("Results array")
}

fn column_strings(body: &Value, column: &str) -> BTreeSet<String> {
    results(body)
        .iter()
        .map(|r| {
            r[column]
                .as_str()
                .unwrap_or_else(|| panic!("{column} in {r}"))
                .to_string()
        })
        .collect()
}

#[tokio::test]
async fn both_routes_answer_stats_schema_and_results_over_the_demo_tenant() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    for path in [XDR, MDE] {
        let response = hunt(&app, &token, path, "DeviceInfo | summarize Devices = dcount(DeviceId)").await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let body: Value = response.json().await.unwrap();
        assert!(body["Stats"]["ExecutionTime"].is_number(), "{body}");
        assert!(
            body["Stats"]["resource_usage"]["cpu"]["total cpu"].is_string(),
            "{body}"
        );
        assert_eq!(body["Schema"], json!([{"Name": "Devices", "Type": "Int64"}]));
        assert_eq!(
            results(&body),
            &[json!({"Devices": 36})],
            "the demo tenant's 36 machines"
        );
    }
}

#[tokio::test]
async fn each_route_needs_its_own_role() {
    let app = TestApp::spawn().await;
    let xdr_only = app.mint(json!({"roles": ["AdvancedHunting.Read.All"]})).await;
    let mde_only = app.mint(json!({"roles": ["AdvancedQuery.Read.All"]})).await;
    let neither = app.mint(json!({"roles": ["Machine.Read.All"]})).await;
    let query = "DeviceInfo | take 1";
    assert_eq!(hunt(&app, &xdr_only, XDR, query).await.status(), StatusCode::OK);
    assert_eq!(hunt(&app, &mde_only, MDE, query).await.status(), StatusCode::OK);
    let response = hunt(&app, &xdr_only, MDE, query).await;
    expect_error(&app, response, 403, "Forbidden", &["AdvancedQuery.Read.All"]).await;
    let response = hunt(&app, &mde_only, XDR, query).await;
    expect_error(&app, response, 403, "Forbidden", &["AdvancedHunting.Read.All"]).await;
    // The role is checked before the body: a bad body does not hide the missing role.
    let response = app.post(XDR, &neither, "not json").await;
    expect_error(&app, response, 403, "Forbidden", &["AdvancedHunting.Read.All"]).await;
}

#[tokio::test]
async fn the_body_needs_query_in_its_exact_case() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let response = app.post(XDR, &token, r#"{"query": "DeviceInfo"}"#).await;
    expect_error(&app, response, 400, "MissingRequiredParameter", &["Query", "query"]).await;
    let response = app.post(XDR, &token, "{}").await;
    expect_error(&app, response, 400, "MissingRequiredParameter", &["Query"]).await;
    let response = app.post(XDR, &token, r#"{"Query": 42}"#).await;
    expect_error(&app, response, 400, "InvalidRequestBody", &["Query"]).await;
    let response = app.post(XDR, &token, r#"{"Query": "   "}"#).await;
    expect_error(&app, response, 400, "MissingRequiredParameter", &["Query"]).await;
}

#[tokio::test]
async fn kusto_type_names_and_value_rules() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let body = hunt_ok(
        &app,
        &token,
        r#"print s = "x", d = datetime(2024-01-02 03:04:05), l = 2, i = toint(3), r = 1.5, b = true,
                 g = guid(6f0e0a2c-1d2b-4c5e-9f00-0123456789ab), y = dynamic({"a": [1]}), nl = long(null),
                 ns = tostring(long(null))"#,
    )
    .await;
    let types: Vec<(&str, &str)> = body["Schema"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["Name"].as_str().unwrap(), c["Type"].as_str().unwrap()))
        .collect();
    assert_eq!(
        types,
        [
            ("s", "String"),
            ("d", "DateTime"),
            ("l", "Int64"),
            ("i", "Int32"),
            ("r", "Double"),
            ("b", "Boolean"),
            ("g", "Guid"),
            ("y", "Dynamic"),
            ("nl", "Int64"),
            ("ns", "String"),
        ]
    );
    let row = &results(&body)[0];
    assert_eq!(
        row["d"], "2024-01-02T03:04:05.0000000Z",
        "ISO 8601 UTC ending in Z, as the service writes it"
    );
    assert_eq!(row["y"], json!({"a": [1]}));
    assert_eq!(row["nl"], Value::Null, "a null long is null");
    assert_eq!(row["ns"], "", "a string is never null");
    // Columns the generator leaves empty read as "" too, straight from the store.
    let body = hunt_ok(
        &app,
        &token,
        "DeviceProcessEvents | take 3 | project AppGuardContainerId, FileSize, Timestamp",
    )
    .await;
    for row in results(&body) {
        assert_eq!(row["AppGuardContainerId"], "", "{row}");
        assert!(row["Timestamp"].as_str().unwrap().ends_with('Z'), "{row}");
    }
}

#[tokio::test]
async fn getschema_names_columns_with_dotnet_and_kusto_types() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let body = hunt_ok(&app, &token, "DeviceNetworkEvents | getschema").await;
    let schema: Vec<&str> = body["Schema"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["Name"].as_str().unwrap())
        .collect();
    assert_eq!(schema, ["ColumnName", "ColumnOrdinal", "DataType", "ColumnType"]);
    let rows = results(&body);
    assert_eq!(rows.len(), 44, "every documented column of DeviceNetworkEvents");
    let find = |name: &str| rows.iter().find(|r| r["ColumnName"] == name).unwrap().clone();
    assert_eq!(
        find("Timestamp"),
        json!({"ColumnName": "Timestamp", "ColumnOrdinal": 0, "DataType": "System.DateTime", "ColumnType": "datetime"})
    );
    assert_eq!(find("RemotePort")["DataType"], "System.Int32");
    assert_eq!(find("RemotePort")["ColumnType"], "int");
    assert_eq!(find("RemoteIP")["DataType"], "System.String");
    assert_eq!(find("InitiatingProcessFileSize")["ColumnType"], "long");
}

#[tokio::test]
async fn every_table_of_the_schema_reference_is_queryable() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let reference: Value = serde_json::from_str(palisade_kql::HUNTING_SCHEMA_JSON).unwrap();
    for (table, columns) in reference
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| !k.starts_with('_'))
    {
        let body = hunt_ok(&app, &token, &format!("{table} | take 1")).await;
        let names: Vec<&str> = body["Schema"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["Name"].as_str().unwrap())
            .collect();
        let documented: Vec<&str> = columns
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c[0].as_str().unwrap())
            .collect();
        assert_eq!(names, documented, "{table}");
        assert_eq!(results(&body).len(), 1, "the demo tenant has {table} rows");
    }
}

#[tokio::test]
async fn syntax_errors_name_the_token_line_and_column_and_trace_the_parse_step() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let response = hunt(
        &app,
        &token,
        XDR,
        "DeviceProcessEvents\n| where FileName == \n| take 10",
    )
    .await;
    let record = expect_error(
        &app,
        response,
        400,
        "BadRequest",
        &["Query could not be parsed", "on line [3,"],
    )
    .await;
    let cause = record["cause"].as_str().unwrap();
    assert!(cause.contains("parse step") && cause.contains("line 3"), "{record}");
}

#[tokio::test]
async fn semantic_errors_name_the_construct_and_trace_the_plan_step() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let response = hunt(&app, &token, MDE, "DeviceInfo\n| where DeviceNmae == 'x'").await;
    let record = expect_error(
        &app,
        response,
        400,
        "BadRequest",
        &[
            "'where' operator",
            "DeviceNmae",
            "did you mean 'DeviceName'",
            "on line [2,9]",
        ],
    )
    .await;
    assert!(
        record["cause"].as_str().unwrap().contains("semantic (plan) step"),
        "{record}"
    );
    let response = hunt(&app, &token, XDR, "DeviceEventz | take 1").await;
    expect_error(
        &app,
        response,
        400,
        "BadRequest",
        &["DeviceEventz", "DeviceEvents", "on line [1,1]"],
    )
    .await;
    let response = hunt(&app, &token, XDR, "DeviceInfo | render timechart").await;
    expect_error(&app, response, 400, "BadRequest", &["render", "not supported"]).await;
}

#[tokio::test]
async fn the_call_rate_is_45_a_minute_per_tenant_whatever_the_app() {
    let app = TestApp::spawn().await;
    let first = app.token().await;
    let second = app.second_app_token().await;
    app.freeze_clock().await;
    for i in 0..45 {
        let token = if i % 2 == 0 { &first } else { &second };
        let response = hunt(&app, token, XDR, "print 1").await;
        assert_eq!(response.status(), StatusCode::OK, "call {}", i + 1);
    }
    let response = hunt(&app, &second, XDR, "print 1").await;
    let wait: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert_eq!(wait, 60);
    expect_error(
        &app,
        response,
        429,
        "TooManyRequests",
        &["maximum allowed 45 per 00:01:00"],
    )
    .await;
    // The Defender for Endpoint route is another API with its own windows.
    assert_eq!(hunt(&app, &first, MDE, "print 1").await.status(), StatusCode::OK);
    app.advance_clock(60.0).await;
    assert_eq!(hunt(&app, &first, XDR, "print 1").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn no_rate_limits_switches_the_hunting_limits_off_too() {
    let app = TestApp::spawn_with(|c| c.rate_limits = false).await;
    let token = app.token().await;
    app.freeze_clock().await;
    for i in 0..50 {
        assert_eq!(
            hunt(&app, &token, XDR, "print 1").await.status(),
            StatusCode::OK,
            "call {}",
            i + 1
        );
    }
}

#[tokio::test]
async fn results_beyond_the_row_limit_are_cut_not_refused() {
    let app = TestApp::spawn_with(|c| c.core.hunting.max_rows = 25).await;
    let token = app.token().await;
    let body = hunt_ok(&app, &token, "DeviceProcessEvents | project Timestamp, DeviceName").await;
    assert_eq!(results(&body).len(), 25);
    let body = hunt_ok(&app, &token, "DeviceProcessEvents | count").await;
    assert!(results(&body)[0]["Count"].as_i64().unwrap() > 25, "{body}");
}

#[tokio::test]
async fn only_the_last_30_days_on_the_emulator_clock_are_visible() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let now = app.frozen_now().await;
    let count = |body: &Value| results(body)[0]["Count"].as_i64().unwrap();
    let before = count(&hunt_ok(&app, &token, "DeviceProcessEvents | count").await);
    let oldest = hunt_ok(&app, &token, "DeviceProcessEvents | summarize Oldest = min(Timestamp)").await;
    let oldest = chrono::DateTime::parse_from_rfc3339(results(&oldest)[0]["Oldest"].as_str().unwrap()).unwrap();
    assert!(now - oldest.with_timezone(&chrono::Utc) <= chrono::TimeDelta::days(30));
    assert_eq!(
        count(&hunt_ok(&app, &token, "DeviceProcessEvents | where Timestamp < ago(30d) | count").await),
        0
    );
    // Ten days later, the first third of the month has aged out.
    app.advance_clock(10.0 * 86_400.0).await;
    let token = app.token().await;
    let after = count(&hunt_ok(&app, &token, "DeviceProcessEvents | count").await);
    assert!(after < before * 3 / 4 && after > 0, "{before} then {after}");
}

#[tokio::test]
async fn a_query_past_the_timeout_fails_with_the_documented_message() {
    let app = TestApp::spawn_with(|c| c.core.hunting.timeout = std::time::Duration::from_millis(1)).await;
    let token = app.token().await;
    let response = hunt(
        &app,
        &token,
        XDR,
        "DeviceProcessEvents | join kind=inner (DeviceProcessEvents) on DeviceId | summarize count() by DeviceName",
    )
    .await;
    let record = expect_error(
        &app,
        response,
        400,
        "BadRequest",
        &["Query exceeded the timeout period."],
    )
    .await;
    assert!(record["cause"].as_str().unwrap().contains("execution step"), "{record}");
}

#[tokio::test]
async fn a_result_over_the_size_cap_fails_with_the_documented_message() {
    let app = TestApp::spawn_with(|c| c.core.hunting.max_result_bytes = 2_000).await;
    let token = app.token().await;
    hunt_ok(&app, &token, "DeviceInfo | take 2 | project DeviceName").await;
    let response = hunt(&app, &token, XDR, "DeviceProcessEvents | take 100").await;
    expect_error(
        &app,
        response,
        400,
        "BadRequest",
        &["Query execution has exceeded the allowed result size."],
    )
    .await;
}

#[tokio::test]
async fn device_info_holds_the_tenants_machines() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let machines = app.get_ok("/api/machines", &token).await;
    let ids: BTreeSet<String> = values(&machines)
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_string())
        .collect();
    let body = hunt_ok(&app, &token, "DeviceInfo | distinct DeviceId").await;
    assert_eq!(column_strings(&body, "DeviceId"), ids);
    // Each snapshot carries the machine's name and platform.
    let machine = &values(&machines)[0];
    let query = format!(
        "DeviceInfo | where DeviceId == '{}' | project DeviceName, OSPlatform",
        machine["id"].as_str().unwrap()
    );
    let body = hunt_ok(&app, &token, &query).await;
    assert_eq!(results(&body)[0]["DeviceName"], machine["computerDnsName"]);
    assert_eq!(results(&body)[0]["OSPlatform"], machine["osPlatform"]);
    // Background events happen on those machines only.
    let body = hunt_ok(&app, &token, "DeviceNetworkEvents | distinct DeviceId").await;
    assert!(column_strings(&body, "DeviceId").is_subset(&ids));
}

#[tokio::test]
async fn alert_tables_and_events_hold_each_recent_alerts_evidence() {
    // Many queries: the call rate is not what this test is about.
    let app = TestApp::spawn_with(|c| c.rate_limits = false).await;
    let token = app.token().await;
    let alerts = all_alerts(&app, &token).await;
    let recent: Vec<&Value> = alerts
        .iter()
        .filter(|a| {
            let created = chrono::DateTime::parse_from_rfc3339(a["alertCreationTime"].as_str().unwrap()).unwrap();
            chrono::Utc::now() - created.with_timezone(&chrono::Utc) < chrono::TimeDelta::days(29)
        })
        .collect();
    assert!(!recent.is_empty(), "the demo tenant has alerts of the last 30 days");
    let body = hunt_ok(&app, &token, "AlertInfo | distinct AlertId").await;
    let listed = column_strings(&body, "AlertId");
    let mut files = 0;
    for alert in &recent {
        let id = alert["id"].as_str().unwrap();
        assert!(listed.contains(id), "AlertInfo has {id}");
        let evidence = app.get_ok(&format!("/api/alerts/{id}"), &token).await["evidence"].clone();
        let body = hunt_ok(
            &app,
            &token,
            &format!("AlertEvidence | where AlertId == '{id}' | count"),
        )
        .await;
        assert_eq!(
            results(&body)[0]["Count"].as_u64().unwrap(),
            evidence.as_array().unwrap().len() as u64 + 1,
            "one row per evidence item plus the device"
        );
        for item in evidence.as_array().unwrap() {
            if let Some(sha1) = item["sha1"].as_str() {
                files += 1;
                let query = format!("DeviceProcessEvents | where SHA1 == '{sha1}' | project DeviceId, DeviceName");
                let body = hunt_ok(&app, &token, &query).await;
                assert!(
                    results(&body)
                        .iter()
                        .any(|r| r["DeviceId"] == alert["machineId"] && r["DeviceName"] == alert["computerDnsName"]),
                    "{sha1} ran on the alert's device: {body}"
                );
            }
            if let Some(ip) = item["ipAddress"].as_str() {
                let query = format!("DeviceNetworkEvents | where RemoteIP == '{ip}' | distinct DeviceId");
                let body = hunt_ok(&app, &token, &query).await;
                assert!(column_strings(&body, "DeviceId").contains(alert["machineId"].as_str().unwrap()));
            }
        }
    }
    assert!(files > 0, "some recent evidence is a file");
}

#[tokio::test]
async fn tables_are_scoped_by_tenant_and_loaded_rows_are_queryable() {
    let app = TestApp::spawn().await;
    let (tenant, client, secret) = app.create_tenant(None, false).await;
    let token = app.token_for(&tenant, &client, &secret).await;
    let body = hunt_ok(&app, &token, "DeviceProcessEvents | count").await;
    assert_eq!(
        results(&body)[0]["Count"],
        0,
        "an empty tenant sees none of the demo tenant's rows"
    );
    let now = app.frozen_now().await;
    let recent = (now - chrono::TimeDelta::days(1)).to_rfc3339();
    let old = (now - chrono::TimeDelta::days(31)).to_rfc3339();
    let document = json!({"hunting": {"DeviceProcessEvents": [
        {"Timestamp": recent, "DeviceId": "d1", "DeviceName": "one", "FileName": "evil.exe", "ProcessId": 7},
        {"Timestamp": old, "DeviceId": "d1", "DeviceName": "one", "FileName": "old.exe"}
    ]}});
    let response = app
        .admin_post(&format!("/_palisade/tenants/{tenant}/data"), document)
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body = hunt_ok(&app, &token, "DeviceProcessEvents | project FileName, ProcessId, SHA1").await;
    assert_eq!(
        results(&body),
        &[json!({"FileName": "evil.exe", "ProcessId": 7, "SHA1": ""})]
    );
    // A wrongly typed value is refused naming its place, and nothing is written.
    let bad = json!({"hunting": {"DeviceProcessEvents": [{"Timestamp": recent, "ProcessId": "seven"}]}});
    let response = app.admin_post(&format!("/_palisade/tenants/{tenant}/data"), bad).await;
    expect_error(
        &app,
        response,
        400,
        "InvalidRequestBody",
        &["DeviceProcessEvents[0].ProcessId"],
    )
    .await;
    let export: Value = admin(&app, Method::GET, &format!("/_palisade/tenants/{tenant}/export"), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(export["hunting"]["DeviceProcessEvents"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn the_request_journal_records_hunting_calls() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    hunt_ok(&app, &token, "print 1").await;
    let journal: Value = admin(&app, Method::GET, &format!("/_palisade/requests?path={XDR}"), None)
        .await
        .json()
        .await
        .unwrap();
    let records = journal["value"].as_array().unwrap();
    assert_eq!(records.len(), 1, "{journal}");
    assert_eq!(records[0]["status"], 200);
}
