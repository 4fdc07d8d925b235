//! Indicators (`shared/reference/mde-api.md` §5): list and filter, submit-or-update, import (cap of
//! 500 per call, mixed batches), delete, batch delete, app visibility by role, the tenant's cap of
//! 15,000 active indicators, tenant features and roles.

use palisade_testkit::*;
use serde_json::{json, Value};

/// Key order of the Indicator entity (§5.3), after `@odata.context`.
const INDICATOR_PROPERTIES: &[&str] = &[
    "id",
    "indicatorValue",
    "indicatorType",
    "application",
    "action",
    "externalID",
    "sourceType",
    "createdBySource",
    "createdBy",
    "createdByDisplayName",
    "lastUpdatedBy",
    "creationTimeDateTimeUtc",
    "expirationTime",
    "lastUpdateTime",
    "severity",
    "title",
    "description",
    "recommendedActions",
    "rbacGroupNames",
    "rbacGroupIds",
    "generateAlert",
    "educateUrl",
];

/// A distinct valid SHA-256 per number.
fn sha256(n: u64) -> String {
    format!("{n:064x}")
}

fn indicator(value: &str, kind: &str, action: &str) -> Value {
    json!({
        "indicatorValue": value,
        "indicatorType": kind,
        "action": action,
        "title": format!("{kind} {value}"),
        "description": "submitted by a test",
    })
}

async fn submit_ok(app: &TestApp, token: &str, body: &Value) -> Value {
    let response = submit(app, token, body).await;
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    assert_eq!(status, 200, "submit {body}: {text}");
    serde_json::from_str(&text).unwrap()
}

async fn import(app: &TestApp, token: &str, items: Vec<Value>) -> reqwest::Response {
    app.post(
        "/api/indicators/import",
        token,
        &json!({ "Indicators": items }).to_string(),
    )
    .await
}

async fn import_ok(app: &TestApp, token: &str, items: Vec<Value>) -> Vec<Value> {
    let response = import(app, token, items).await;
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    assert_eq!(status, 200, "import: {text}");
    let body: Value = serde_json::from_str(&text).unwrap();
    body["value"].as_array().unwrap().clone()
}

async fn listed_ids(app: &TestApp, token: &str, query: &str) -> Vec<String> {
    let body = app.get_ok(&format!("/api/indicators?{query}"), token).await;
    body["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_string())
        .collect()
}

async fn count(app: &TestApp, token: &str) -> u64 {
    let response = app.get("/api/indicators/$count", token).await;
    assert_eq!(response.status().as_u16(), 200);
    response.text().await.unwrap().parse().unwrap()
}

#[tokio::test]
async fn submit_answers_the_indicator_in_documented_order_and_lists_it() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let clock = app.freeze_clock().await;
    let mut body = indicator("220E7D15B011D7FAC48F2BD61114DB1022197F7F", "FileSha1", "AlertAndBlock");
    body["application"] = json!("demo-test");
    body["severity"] = json!("Informational");
    body["recommendedActions"] = json!("nothing");
    body["expirationTime"] = json!("2099-12-12T00:00:00Z");
    body["externalID"] = json!("ticket-42");
    let created = submit_ok(&app, &token, &body).await;
    let keys: Vec<&str> = created.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys[0], "@odata.context");
    assert_eq!(&keys[1..], INDICATOR_PROPERTIES);
    assert!(created["@odata.context"]
        .as_str()
        .unwrap()
        .ends_with("/api/$metadata#Indicators/$entity"));
    assert!(created["id"].as_str().unwrap().parse::<u64>().is_ok(), "numeric id");
    assert_eq!(
        created["indicatorValue"], "220e7d15b011d7fac48f2bd61114db1022197f7f",
        "hashes are stored in lower case"
    );
    assert_eq!(created["sourceType"], "AadApp");
    assert_eq!(created["createdBy"], CLIENT_ID);
    assert_eq!(created["createdByDisplayName"], "Palisade development app");
    assert_eq!(created["lastUpdatedBy"], Value::Null);
    assert_eq!(created["application"], "demo-test");
    assert_eq!(created["externalID"], "ticket-42");
    assert_eq!(created["expirationTime"], "2099-12-12T00:00:00.0000000Z");
    assert_eq!(created["generateAlert"], false);
    assert_eq!(created["rbacGroupNames"], json!([]));
    let now = clock["now"].as_str().unwrap();
    assert_eq!(created["creationTimeDateTimeUtc"].as_str().unwrap()[..19], now[..19]);
    assert_eq!(created["lastUpdateTime"], created["creationTimeDateTimeUtc"]);

    let listed = app.get_ok("/api/indicators", &token).await;
    assert!(listed["@odata.context"]
        .as_str()
        .unwrap()
        .ends_with("/api/$metadata#Indicators"));
    assert_eq!(listed["value"].as_array().unwrap().len(), 1);
    assert_eq!(listed["value"][0], {
        let mut expected = created.clone();
        expected.as_object_mut().unwrap().remove("@odata.context");
        expected
    });
    assert_eq!(count(&app, &token).await, 1);
}

#[tokio::test]
async fn submitting_the_same_type_and_value_updates_the_indicator() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    app.freeze_clock().await;
    let mut first = indicator("Evil.Example.com", "DomainName", "Block");
    first["application"] = json!("first-app");
    let created = submit_ok(&app, &token, &first).await;
    assert_eq!(created["indicatorValue"], "evil.example.com");
    app.advance_clock(60.0).await;
    let mut second = indicator("evil.example.com.", "DomainName", "Audit");
    second["title"] = json!("renamed");
    second["generateAlert"] = json!("True");
    second["application"] = json!("ignored on update");
    let updated = submit_ok(&app, &token, &second).await;
    assert_eq!(updated["id"], created["id"], "same indicator");
    assert_eq!(updated["title"], "renamed");
    assert_eq!(updated["action"], "Audit");
    assert_eq!(updated["generateAlert"], true);
    assert_eq!(
        updated["application"], "first-app",
        "application is honoured only on create"
    );
    assert_eq!(updated["lastUpdatedBy"], CLIENT_ID);
    assert_eq!(updated["creationTimeDateTimeUtc"], created["creationTimeDateTimeUtc"]);
    assert_ne!(updated["lastUpdateTime"], created["lastUpdateTime"]);
    assert_eq!(count(&app, &token).await, 1);

    // The same text as another type is another indicator.
    let hex = "a".repeat(40);
    let file = submit_ok(&app, &token, &indicator(&hex, "FileSha1", "Block")).await;
    let cert = submit_ok(&app, &token, &indicator(&hex, "CertificateThumbprint", "Allowed")).await;
    assert_ne!(file["id"], cert["id"]);
    assert_eq!(count(&app, &token).await, 3);
}

#[tokio::test]
async fn list_filters_orders_and_counts_with_odata() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    // A device group that exists in the demo tenant, found through the API.
    let machines = app
        .get_ok("/api/machines?$filter=rbacGroupName%20ne%20null&$top=1", &token)
        .await;
    let group = machines["value"][0]["rbacGroupName"].as_str().unwrap().to_string();
    let group_id = machines["value"][0]["rbacGroupId"].as_i64().unwrap().to_string();

    let mut high = indicator("8.8.8.8", "IpAddress", "Block");
    high["severity"] = json!("High");
    high["rbacGroupNames"] = json!([group]);
    let high = submit_ok(&app, &token, &high).await;
    assert_eq!(high["rbacGroupIds"], json!([group_id]));
    let mut low = indicator("https://example.com/x", "Url", "Warn");
    low["severity"] = json!("Low");
    low["rbacGroupNames"] = json!(group.clone()); // the comma-separated string form
    let low = submit_ok(&app, &token, &low).await;
    let file = submit_ok(&app, &token, &indicator(&sha256(7), "FileSha256", "Allowed")).await;
    let id = |v: &Value| v["id"].as_str().unwrap().to_string();

    assert_eq!(
        listed_ids(&app, &token, "$filter=severity%20eq%20%27High%27").await,
        vec![id(&high)]
    );
    assert_eq!(
        listed_ids(&app, &token, "$filter=indicatorType%20eq%20%27FileSha256%27").await,
        vec![id(&file)]
    );
    assert_eq!(
        listed_ids(&app, &token, "$filter=action%20eq%20%27Warn%27").await,
        vec![id(&low)]
    );
    let mut in_group = listed_ids(
        &app,
        &token,
        &format!(
            "$filter=rbacGroupNames/any(g:%20g%20eq%20%27{}%27)",
            group.replace(' ', "%20")
        ),
    )
    .await;
    in_group.sort();
    let mut expected = vec![id(&high), id(&low)];
    expected.sort();
    assert_eq!(in_group, expected);
    assert_eq!(
        listed_ids(&app, &token, &format!("$filter=createdBy%20eq%20%27{CLIENT_ID}%27"))
            .await
            .len(),
        3
    );
    let by_value = listed_ids(&app, &token, "$orderby=indicatorValue%20desc&$top=2").await;
    assert_eq!(by_value, vec![id(&low), id(&high)]);
    let page = app.get_ok("/api/indicators?$top=1&$count=true", &token).await;
    assert_eq!(page["@odata.count"], 3);
    assert!(page["@odata.nextLink"].as_str().unwrap().contains("$skip=1"));

    let response = app.get("/api/indicators?$filter=nosuchProperty%20eq%201", &token).await;
    expect_error(&app, response, 400, "ODataError", &["nosuchProperty"]).await;
}

#[tokio::test]
async fn unknown_device_groups_and_bad_properties_are_invalid_input() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let mut body = indicator("9.9.9.9", "IpAddress", "Block");
    body["rbacGroupNames"] = json!(["no such group"]);
    expect_error(
        &app,
        submit(&app, &token, &body).await,
        400,
        "InvalidInput",
        &["no such group"],
    )
    .await;

    let cases = [
        (indicator(&"a".repeat(40), "FileSha512", "Block"), "FileSha512"),
        (indicator(&"a".repeat(40), "FileSha1", "Explode"), "Explode"),
        (
            indicator(&"a".repeat(40), "CertificateThumbprint", "Block"),
            "CertificateThumbprint",
        ),
        (
            indicator("9.9.9.9", "IpAddress", "BlockAndRemediate"),
            "BlockAndRemediate",
        ),
        (indicator("9.9.9.9", "IpAddress", "Audit"), "generateAlert"),
    ];
    for (body, mention) in cases {
        expect_error(&app, submit(&app, &token, &body).await, 400, "InvalidInput", &[mention]).await;
    }
    let mut past = indicator("9.9.9.9", "IpAddress", "Block");
    past["expirationTime"] = json!("2020-12-12T00:00:00Z");
    expect_error(
        &app,
        submit(&app, &token, &past).await,
        400,
        "InvalidInput",
        &["2020-12-12T00:00:00Z"],
    )
    .await;
    let mut severity = indicator("9.9.9.9", "IpAddress", "Block");
    severity["severity"] = json!("Critical");
    expect_error(
        &app,
        submit(&app, &token, &severity).await,
        400,
        "InvalidInput",
        &["Critical"],
    )
    .await;
    let mut educate = indicator("9.9.9.9", "IpAddress", "Block");
    educate["educateUrl"] = json!("https://help.example.com");
    expect_error(
        &app,
        submit(&app, &token, &educate).await,
        400,
        "InvalidInput",
        &["educateUrl"],
    )
    .await;

    let mut missing = indicator("9.9.9.9", "IpAddress", "Block");
    missing.as_object_mut().unwrap().remove("title");
    expect_error(
        &app,
        submit(&app, &token, &missing).await,
        400,
        "MissingRequiredParameter",
        &["title"],
    )
    .await;
    let cased = json!({"IndicatorValue": "9.9.9.9", "indicatorType": "IpAddress", "action": "Block", "title": "t", "description": "d"});
    expect_error(
        &app,
        submit(&app, &token, &cased).await,
        400,
        "MissingRequiredParameter",
        &["indicatorValue", "IndicatorValue"],
    )
    .await;
    assert_eq!(count(&app, &token).await, 0, "nothing was stored");
}

#[tokio::test]
async fn expired_indicators_leave_the_list_and_revive_when_resubmitted() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let clock = app.freeze_clock().await;
    let now: chrono::DateTime<chrono::Utc> = clock["now"].as_str().unwrap().parse().unwrap();
    let mut body = indicator("1.0.0.1", "IpAddress", "Block");
    body["expirationTime"] = json!((now + chrono::TimeDelta::hours(1)).to_rfc3339());
    let created = submit_ok(&app, &token, &body).await;
    assert_eq!(count(&app, &token).await, 1);
    app.advance_clock(3601.0).await;
    // Tokens live one hour on the same clock.
    let token = app.token().await;
    assert_eq!(count(&app, &token).await, 0, "expired indicators are not active");
    body.as_object_mut().unwrap().remove("expirationTime");
    let revived = submit_ok(&app, &token, &body).await;
    assert_eq!(revived["id"], created["id"]);
    assert_eq!(revived["expirationTime"], Value::Null);
    assert_eq!(count(&app, &token).await, 1);
}

#[tokio::test]
async fn import_of_exactly_500_succeeds_and_501_names_both_counts() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let items: Vec<Value> = (0..500)
        .map(|n| indicator(&sha256(n), "FileSha256", "Audit"))
        .map(|mut v| {
            v["generateAlert"] = json!(true);
            v
        })
        .collect();
    let results = import_ok(&app, &token, items).await;
    assert_eq!(results.len(), 500);
    for (n, result) in results.iter().enumerate() {
        assert_eq!(result["isFailed"], false, "{result}");
        assert_eq!(result["failureReason"], Value::Null);
        assert_eq!(result["indicator"], sha256(n as u64).as_str());
        assert_eq!(
            result.as_object().unwrap().len(),
            4,
            "id, indicator, isFailed, failureReason"
        );
    }
    assert_eq!(count(&app, &token).await, 500);

    let too_many: Vec<Value> = (1000..1501)
        .map(|n| indicator(&sha256(n), "FileSha256", "Block"))
        .collect();
    let response = import(&app, &token, too_many).await;
    expect_error(&app, response, 400, "MaximumBatchSizeExceeded", &["501", "500"]).await;
    assert_eq!(
        count(&app, &token).await,
        500,
        "nothing of the refused batch was stored"
    );

    let response = import(&app, &token, Vec::new()).await;
    expect_error(&app, response, 400, "InvalidInput", &["Indicators"]).await;
    let response = app.post("/api/indicators/import", &token, "{}").await;
    expect_error(&app, response, 400, "MissingRequiredParameter", &["Indicators"]).await;
}

#[tokio::test]
async fn mixed_import_stores_exactly_the_valid_ones_and_reports_the_rest() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let existing = submit_ok(&app, &token, &indicator("evil.example", "DomainName", "Block")).await;
    // Unknown properties are ignored (see `fidelity.rs`); a documented one mis-cased is a typo.
    let mut miscased_property = indicator("4.4.4.4", "IpAddress", "Block");
    miscased_property["Action"] = json!("Block");
    let mut missing_title = indicator("5.5.5.5", "IpAddress", "Block");
    missing_title.as_object_mut().unwrap().remove("title");
    let items = vec![
        indicator(&sha256(1), "FileSha256", "Block"),                  // 0 ok
        indicator("10.1.1.1", "IpAddress", "Block"),                   // 1 private
        indicator("not a hash", "FileSha1", "Block"),                  // 2 bad hash
        indicator("https://evil.example/x", "Url", "Block"),           // 3 ok
        indicator("EVIL.example", "DomainName", "Warn"),               // 4 update of existing
        miscased_property,                                             // 5 body
        missing_title,                                                 // 6 body
        indicator("exa_mple.com", "DomainName", "Block"),              // 7 bad domain
        indicator(&"b".repeat(40), "CertificateThumbprint", "Block"),  // 8 action
        indicator(&sha256(1).to_uppercase(), "FileSha256", "Allowed"), // 9 same as 0
        json!("not an object"),                                        // 10 body
    ];
    let results = import_ok(&app, &token, items).await;
    assert_eq!(results.len(), 11, "one result per element, in order");
    let failed: Vec<usize> = results
        .iter()
        .enumerate()
        .filter(|(_, r)| r["isFailed"] == true)
        .map(|(n, _)| n)
        .collect();
    assert_eq!(failed, vec![1, 2, 5, 6, 7, 8, 10]);
    let reason = |n: usize| results[n]["failureReason"].as_str().unwrap().to_string();
    assert!(
        reason(1).starts_with("InvalidIpAddress") && reason(1).contains("10.1.1.1"),
        "{}",
        reason(1)
    );
    assert!(reason(2).starts_with("InvalidHashValue") && reason(2).contains("not a hash"));
    assert!(reason(5).starts_with("InvalidRequestBody") && reason(5).contains("did you mean 'action'"));
    assert!(reason(6).starts_with("MissingRequiredParameter") && reason(6).contains("title"));
    assert!(reason(7).starts_with("InvalidDomainName") && reason(7).contains("exa_mple.com"));
    assert!(reason(8).starts_with("InvalidInput") && reason(8).contains("Block"));
    assert!(reason(10).starts_with("InvalidRequestBody"));
    assert_eq!(results[1]["indicator"], "10.1.1.1", "a failed element names its value");
    assert_eq!(results[1]["id"], Value::Null);
    assert_eq!(results[4]["id"], existing["id"], "an existing value is updated");
    assert_eq!(
        results[9]["id"], results[0]["id"],
        "a value repeated in the batch is one indicator"
    );

    let listed = app.get_ok("/api/indicators", &token).await;
    let mut values: Vec<String> = listed["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            format!(
                "{} {} {}",
                i["indicatorType"].as_str().unwrap(),
                i["indicatorValue"].as_str().unwrap(),
                i["action"].as_str().unwrap()
            )
        })
        .collect();
    values.sort();
    assert_eq!(
        values,
        vec![
            "DomainName evil.example Warn".to_string(),
            format!("FileSha256 {} Allowed", sha256(1)),
            "Url https://evil.example/x Block".to_string(),
        ]
    );
}

#[tokio::test]
async fn delete_answers_204_then_resource_not_found() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let kept = submit_ok(&app, &token, &indicator("2.2.2.2", "IpAddress", "Block")).await;
    let gone = submit_ok(&app, &token, &indicator("3.3.3.3", "IpAddress", "Block")).await;
    let id = gone["id"].as_str().unwrap();
    let response = app
        .call(
            reqwest::Method::DELETE,
            &format!("/api/indicators/{id}"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(response.status().as_u16(), 204);
    assert_eq!(response.text().await.unwrap(), "");
    assert_eq!(
        listed_ids(&app, &token, "").await,
        vec![kept["id"].as_str().unwrap().to_string()]
    );
    let response = app
        .call(
            reqwest::Method::DELETE,
            &format!("/api/indicators/{id}"),
            Some(&token),
            None,
        )
        .await;
    expect_error(&app, response, 404, "ResourceNotFound", &["Indicator", id]).await;
    let response = app
        .call(reqwest::Method::DELETE, "/api/indicators/999999", Some(&token), None)
        .await;
    expect_error(&app, response, 404, "ResourceNotFound", &["999999"]).await;
}

#[tokio::test]
async fn batch_delete_is_all_or_nothing_within_1_to_500_ids() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let results = import_ok(
        &app,
        &token,
        (0..5).map(|n| indicator(&sha256(n), "FileSha256", "Block")).collect(),
    )
    .await;
    let ids: Vec<String> = results.iter().map(|r| r["id"].as_str().unwrap().to_string()).collect();
    let batch_delete = |body: Value| {
        let app = &app;
        let token = token.clone();
        async move { app.post("/api/indicators/BatchDelete", &token, &body.to_string()).await }
    };

    let response = batch_delete(json!({"IndicatorIds": [ids[0], "999999"]})).await;
    expect_error(&app, response, 404, "ResourceNotFound", &["999999"]).await;
    assert_eq!(count(&app, &token).await, 5, "nothing deleted when one id is unknown");
    let response = batch_delete(json!({"IndicatorIds": []})).await;
    expect_error(&app, response, 400, "BadRequest", &["IndicatorIds", "500"]).await;
    let response = batch_delete(json!({"IndicatorIds": ["abc"]})).await;
    expect_error(&app, response, 400, "BadRequest", &["abc"]).await;
    let too_many: Vec<String> = (0..501).map(|n| n.to_string()).collect();
    let response = batch_delete(json!({ "IndicatorIds": too_many })).await;
    expect_error(&app, response, 400, "MaximumBatchSizeExceeded", &["501", "500"]).await;
    let response = batch_delete(json!({"indicatorIds": ["1"]})).await;
    expect_error(&app, response, 400, "MissingRequiredParameter", &["IndicatorIds"]).await;

    let response = batch_delete(json!({"IndicatorIds": [ids[0], ids[1], ids[1]]})).await;
    assert_eq!(response.status().as_u16(), 204);
    let mut left = listed_ids(&app, &token, "").await;
    left.sort();
    let mut expected = ids[2..].to_vec();
    expected.sort();
    assert_eq!(left, expected);
}

#[tokio::test]
async fn ti_readwrite_sees_and_changes_only_its_own_apps_indicators() {
    let app = TestApp::spawn().await;
    let (client_a, app_a) = app.app_with_roles(&["Ti.ReadWrite"]).await;
    let (_, app_b) = app.app_with_roles(&["Ti.ReadWrite"]).await;
    let (client_all, all) = app.app_with_roles(&["Ti.ReadWrite.All"]).await;
    let of_a = submit_ok(&app, &app_a, &indicator("6.6.6.6", "IpAddress", "Block")).await;
    let of_b = submit_ok(&app, &app_b, &indicator("7.7.7.7", "IpAddress", "Block")).await;
    let id_a = of_a["id"].as_str().unwrap().to_string();
    let id_b = of_b["id"].as_str().unwrap().to_string();
    assert_eq!(of_a["createdBy"], client_a.as_str());

    assert_eq!(listed_ids(&app, &app_a, "").await, vec![id_a.clone()]);
    assert_eq!(listed_ids(&app, &app_b, "").await, vec![id_b.clone()]);
    assert_eq!(count(&app, &app_a).await, 1);
    let mut seen_by_all = listed_ids(&app, &all, "").await;
    seen_by_all.sort();
    let mut both = vec![id_a.clone(), id_b.clone()];
    both.sort();
    assert_eq!(seen_by_all, both);

    // B can neither delete nor overwrite A's indicator.
    let response = app
        .call(
            reqwest::Method::DELETE,
            &format!("/api/indicators/{id_a}"),
            Some(&app_b),
            None,
        )
        .await;
    expect_error(&app, response, 404, "ResourceNotFound", &[&id_a]).await;
    let response = app
        .post(
            "/api/indicators/BatchDelete",
            &app_b,
            &json!({"IndicatorIds": [id_a]}).to_string(),
        )
        .await;
    expect_error(&app, response, 404, "ResourceNotFound", &[&id_a]).await;
    let response = submit(&app, &app_b, &indicator("6.6.6.6", "IpAddress", "Allowed")).await;
    expect_error(&app, response, 403, "DisallowedOperation", &[&id_a, "6.6.6.6"]).await;

    // Ti.ReadWrite.All changes any of them.
    let updated = submit_ok(&app, &all, &indicator("6.6.6.6", "IpAddress", "Allowed")).await;
    assert_eq!(updated["id"], id_a.as_str());
    assert_eq!(updated["lastUpdatedBy"], client_all.as_str());
    assert_eq!(updated["createdBy"], client_a.as_str());
    let response = app
        .call(
            reqwest::Method::DELETE,
            &format!("/api/indicators/{id_b}"),
            Some(&all),
            None,
        )
        .await;
    assert_eq!(response.status().as_u16(), 204);
    assert_eq!(listed_ids(&app, &app_b, "").await, Vec::<String>::new());
}

#[tokio::test]
async fn the_tenant_holds_at_most_15000_active_indicators() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    for batch in 0..30u64 {
        let items: Vec<Value> = (batch * 500..(batch + 1) * 500)
            .map(|n| indicator(&sha256(n), "FileSha256", "Block"))
            .collect();
        let results = import_ok(&app, &token, items).await;
        assert!(results.iter().all(|r| r["isFailed"] == false), "batch {batch}");
    }
    assert_eq!(count(&app, &token).await, 15_000);
    // Thirty imports filled the minute's quota of the import API (30/min).
    app.advance_clock(61.0).await;

    let response = submit(&app, &token, &indicator("8.8.4.4", "IpAddress", "Block")).await;
    expect_error(&app, response, 403, "DisallowedOperation", &["15000"]).await;
    let results = import_ok(
        &app,
        &token,
        vec![
            indicator(&sha256(20_000), "FileSha256", "Block"),
            indicator(&sha256(3), "FileSha256", "Allowed"),
        ],
    )
    .await;
    assert_eq!(results[0]["isFailed"], true);
    assert!(results[0]["failureReason"]
        .as_str()
        .unwrap()
        .starts_with("DisallowedOperation"));
    assert_eq!(
        results[1]["isFailed"], false,
        "updating an existing indicator is fine at the cap"
    );
    assert_eq!(count(&app, &token).await, 15_000);

    // Room again after a delete.
    let first = listed_ids(&app, &token, "$top=1").await;
    let response = app
        .call(
            reqwest::Method::DELETE,
            &format!("/api/indicators/{}", first[0]),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(response.status().as_u16(), 204);
    submit_ok(&app, &token, &indicator("8.8.4.4", "IpAddress", "Block")).await;
    assert_eq!(count(&app, &token).await, 15_000);
}

#[tokio::test]
async fn switched_off_features_refuse_their_indicators() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    app.set_features(
        TENANT,
        json!({"customNetworkIndicators": false, "allowOrBlockFile": false}),
    )
    .await;
    for body in [
        indicator("8.8.8.8", "IpAddress", "Block"),
        indicator("example.com", "DomainName", "Allowed"),
        indicator("https://example.com/", "Url", "Warn"),
    ] {
        expect_error(
            &app,
            submit(&app, &token, &body).await,
            403,
            "DisabledFeature",
            &["Custom network indicators"],
        )
        .await;
    }
    for body in [
        indicator(&sha256(1), "FileSha256", "Block"),
        indicator(&"c".repeat(40), "FileSha1", "Allowed"),
        indicator(&"d".repeat(40), "CertificateThumbprint", "Allowed"),
    ] {
        expect_error(
            &app,
            submit(&app, &token, &body).await,
            403,
            "DisabledFeature",
            &["Allow or block file"],
        )
        .await;
    }
    // File alerts neither allow nor block, so they need no feature.
    let mut audit = indicator(&sha256(2), "FileSha256", "Audit");
    audit["generateAlert"] = json!(true);
    submit_ok(&app, &token, &audit).await;
    let results = import_ok(&app, &token, vec![indicator("8.8.8.8", "IpAddress", "Block")]).await;
    assert!(results[0]["failureReason"]
        .as_str()
        .unwrap()
        .starts_with("DisabledFeature"));

    app.set_features(TENANT, json!({"customNetworkIndicators": true})).await;
    submit_ok(&app, &token, &indicator("8.8.8.8", "IpAddress", "Block")).await;
}

#[tokio::test]
async fn indicator_routes_need_a_ti_role() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let created = submit_ok(&app, &token, &indicator("8.8.8.8", "IpAddress", "Block")).await;
    let id = created["id"].as_str().unwrap();
    let reader = app
        .mint(json!({"roles": ["Machine.Read.All", "Alert.ReadWrite.All"]}))
        .await;
    let body = indicator("1.1.1.1", "IpAddress", "Block").to_string();
    let calls = [
        app.get("/api/indicators", &reader).await,
        app.get("/api/indicators/$count", &reader).await,
        app.post("/api/indicators", &reader, &body).await,
        app.post(
            "/api/indicators/import",
            &reader,
            &json!({"Indicators": [indicator("1.1.1.1", "IpAddress", "Block")]}).to_string(),
        )
        .await,
        app.call(
            reqwest::Method::DELETE,
            &format!("/api/indicators/{id}"),
            Some(&reader),
            None,
        )
        .await,
        app.post(
            "/api/indicators/BatchDelete",
            &reader,
            &json!({"IndicatorIds": [id]}).to_string(),
        )
        .await,
    ];
    for response in calls {
        expect_error(&app, response, 403, "Forbidden", &["Ti.ReadWrite", "Ti.ReadWrite.All"]).await;
    }
    let response = app.call(reqwest::Method::GET, "/api/indicators", None, None).await;
    expect_error(&app, response, 401, "Unauthorized", &[]).await;
    assert_eq!(count(&app, &token).await, 1);
}
