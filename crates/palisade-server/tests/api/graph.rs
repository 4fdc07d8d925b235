//! Microsoft Graph's security API over the same tenant: sign-in audience and permissions, Graph's
//! error body and headers, its OData conventions, `alerts_v2` with typed evidence and comments,
//! and one truth with the Defender routes.

use palisade_testkit::{expect_error, expect_graph_error, uuid_like, values, TestApp, GRAPH};
use reqwest::Method;
use serde_json::{json, Value};

const ALERTS: &str = "/v1.0/security/alerts_v2";

/// The id of an alert of the demo tenant, through Graph.
async fn some_alert(app: &TestApp, token: &str) -> Value {
    let page = app.get_ok(&format!("{ALERTS}?$top=1"), token).await;
    values(&page)[0].clone()
}

#[tokio::test]
async fn graph_token_lists_alerts_in_graphs_shape() {
    let app = TestApp::spawn().await;
    let token = app.graph_token().await;
    let response = app.get(ALERTS, &token).await;
    assert_eq!(response.status(), 200);
    let request_id = response.headers()["request-id"].to_str().unwrap().to_string();
    assert!(uuid_like(&request_id));
    assert_eq!(response.headers()["client-request-id"].to_str().unwrap(), request_id);
    let page: Value = response.json().await.unwrap();
    assert_eq!(
        page["@odata.context"],
        format!("{}/v1.0/$metadata#security/alerts_v2", app.http)
    );
    let alerts = values(&page);
    assert!(!alerts.is_empty());
    let alert = &alerts[0];
    assert_eq!(alert["@odata.type"], "#microsoft.graph.security.alert");
    assert!(alert["id"].is_string() && alert["incidentId"].is_string(), "{alert}");
    for property in ["createdDateTime", "lastUpdateDateTime", "alertWebUrl", "incidentWebUrl"] {
        assert!(alert[property].is_string(), "{property} in {alert}");
    }
    for absent in ["alertCreationTime", "lastUpdateTime", "machineId"] {
        assert!(alert.get(absent).is_none(), "Defender's {absent} in {alert}");
    }
    let status = alert["status"].as_str().unwrap();
    assert!(
        ["new", "inProgress", "resolved", "unknown"].contains(&status),
        "{status}"
    );
    for property in ["severity", "classification", "determination", "detectionSource"] {
        let value = alert[property].as_str().unwrap();
        assert!(
            value.starts_with(|c: char| c.is_ascii_lowercase()),
            "{property} {value}"
        );
    }
    assert_eq!(alert["serviceSource"], "microsoftDefenderForEndpoint");
    // Most recent first, as the page says.
    let created: Vec<&str> = alerts.iter().map(|a| a["createdDateTime"].as_str().unwrap()).collect();
    assert!(created.windows(2).all(|w| w[0] >= w[1]), "{created:?}");
}

#[tokio::test]
async fn evidence_is_typed_and_names_the_alerts_device() {
    let app = TestApp::spawn().await;
    let token = app.graph_token().await;
    let defender = app.token().await;
    let alert = some_alert(&app, &token).await;
    let id = alert["id"].as_str().unwrap();
    let mde = app.get_ok(&format!("/api/alerts/{id}"), &defender).await;
    let evidence = alert["evidence"].as_array().unwrap();
    let device = &evidence[0];
    assert_eq!(device["@odata.type"], "#microsoft.graph.security.deviceEvidence");
    assert_eq!(device["mdeDeviceId"], mde["machineId"]);
    assert_eq!(device["deviceDnsName"], mde["computerDnsName"]);
    assert_eq!(device["roles"], json!(["compromised"]));
    // One typed item per Defender evidence item, each of a Graph evidence type.
    assert_eq!(evidence.len(), 1 + mde["evidence"].as_array().unwrap().len(), "{alert}");
    let allowed = ["file", "process", "ip", "url", "user", "registryKey", "registryValue"];
    for item in &evidence[1..] {
        let kind = item["@odata.type"].as_str().unwrap();
        let short = kind
            .strip_prefix("#microsoft.graph.security.")
            .and_then(|k| k.strip_suffix("Evidence"))
            .unwrap_or_else(|| panic!("{kind}"));
        assert!(allowed.contains(&short), "{kind}");
        assert_eq!(item["verdict"], "unknown");
        if short == "file" {
            assert!(item["fileDetails"]["sha1"].is_string() || item["fileDetails"]["sha256"].is_string());
        }
    }
}

#[tokio::test]
async fn defender_token_is_refused_on_graph_routes() {
    let app = TestApp::spawn().await;
    let defender = app.token().await;
    let response = app.get(ALERTS, &defender).await;
    expect_graph_error(&app, response, 401, "InvalidAuthenticationToken", &[GRAPH]).await;
    let response = app.call(Method::GET, ALERTS, None, None).await;
    expect_graph_error(&app, response, 401, "InvalidAuthenticationToken", &["Authorization"]).await;
}

#[tokio::test]
async fn graph_permissions_are_checked_by_name() {
    let app = TestApp::spawn().await;
    let (client_id, _) = app.app_with_roles(&["SecurityIncident.Read.All"]).await;
    let token = app
        .mint(json!({"clientId": client_id, "roles": ["SecurityIncident.Read.All"], "audience": GRAPH}))
        .await;
    let response = app.get(ALERTS, &token).await;
    expect_graph_error(
        &app,
        response,
        403,
        "Forbidden",
        &["SecurityAlert.Read.All", "SecurityIncident.Read.All"],
    )
    .await;
    // Read does not grant write.
    let (client_id, _) = app.app_with_roles(&["SecurityAlert.Read.All"]).await;
    let reader = app
        .mint(json!({"clientId": client_id, "roles": ["SecurityAlert.Read.All"], "audience": GRAPH}))
        .await;
    let alert = some_alert(&app, &reader).await;
    let response = app
        .patch(
            &format!("{ALERTS}/{}", alert["id"].as_str().unwrap()),
            &reader,
            r#"{"status":"resolved"}"#,
        )
        .await;
    expect_graph_error(&app, response, 403, "Forbidden", &["SecurityAlert.ReadWrite.All"]).await;
    // Defender roles alone do not open Graph routes.
    let (client_id, _) = app.app_with_roles(&["Alert.ReadWrite.All"]).await;
    let token = app
        .mint(json!({"clientId": client_id, "roles": ["Alert.ReadWrite.All"], "audience": GRAPH}))
        .await;
    let response = app.get(ALERTS, &token).await;
    expect_graph_error(&app, response, 403, "Forbidden", &["SecurityAlert.Read.All"]).await;
}

#[tokio::test]
async fn errors_take_graphs_shape_and_echo_the_client_request_id() {
    let app = TestApp::spawn().await;
    let token = app.graph_token().await;
    let response = app
        .client
        .get(format!("{}{ALERTS}/no-such-alert", app.http))
        .bearer_auth(&token)
        .header("client-request-id", "my-correlation-1")
        .send()
        .await
        .unwrap();
    let body = expect_graph_error(&app, response, 404, "notFound", &["no-such-alert"]).await;
    assert_eq!(body["error"]["innerError"]["client-request-id"], "my-correlation-1");
    // Unknown OData property: badRequest naming it, traceable.
    let response = app.get(&format!("{ALERTS}?$filter=colour eq 'red'"), &token).await;
    expect_graph_error(&app, response, 400, "badRequest", &["colour"]).await;
    // No such route under /v1.0/: Graph's shape too, without a token check first.
    let response = app.get("/v1.0/security/nothing_here", &token).await;
    expect_graph_error(&app, response, 404, "notFound", &["/v1.0/security/nothing_here"]).await;
    let response = app
        .call(Method::DELETE, &format!("{ALERTS}/x"), Some(&token), None)
        .await;
    assert_eq!(response.headers()["allow"].to_str().unwrap(), "GET,HEAD,PATCH");
    expect_graph_error(&app, response, 405, "methodNotAllowed", &["DELETE"]).await;
    // A bad enum value on PATCH names the value.
    let alert = some_alert(&app, &token).await;
    let path = format!("{ALERTS}/{}", alert["id"].as_str().unwrap());
    let response = app.patch(&path, &token, r#"{"status":"sleeping"}"#).await;
    expect_graph_error(&app, response, 400, "badRequest", &["sleeping"]).await;
    let response = app
        .patch(&path, &token, r#"{"classification":"unknownFutureValue"}"#)
        .await;
    expect_graph_error(&app, response, 400, "badRequest", &["unknownFutureValue"]).await;
    let response = app.patch(&path, &token, "not json").await;
    expect_graph_error(&app, response, 400, "badRequest", &["JSON"]).await;
}

#[tokio::test]
async fn throttling_answers_too_many_requests_with_retry_after() {
    let app = TestApp::spawn().await;
    let token = app.graph_token().await;
    let rule = app
        .admin_post(
            "/_palisade/faults",
            json!({"path": "/v1.0/security/alerts_v2", "error": "TooManyRequests", "retryAfterSeconds": 7}),
        )
        .await;
    assert_eq!(rule.status(), 201);
    let response = app.get(ALERTS, &token).await;
    assert_eq!(response.headers()["retry-after"].to_str().unwrap(), "7");
    expect_graph_error(&app, response, 429, "TooManyRequests", &[]).await;
    // An injected outage keeps its status and becomes Graph's generalException.
    app.call(Method::DELETE, "/_palisade/faults", None, None).await;
    app.admin_post(
        "/_palisade/faults",
        json!({"path": "/v1.0/security/alerts_v2", "error": "InternalServerError"}),
    )
    .await;
    let response = app.get(ALERTS, &token).await;
    expect_graph_error(&app, response, 500, "generalException", &["request-id"]).await;
}

#[tokio::test]
async fn an_update_through_graph_is_read_back_through_defender_and_the_other_way_round() {
    let app = TestApp::spawn().await;
    let graph = app.graph_token().await;
    let defender = app.token().await;
    let alert = some_alert(&app, &graph).await;
    let id = alert["id"].as_str().unwrap();
    // Graph → Defender, with Graph's spellings and body names in any case.
    let body = r#"{"Status":"inProgress","assignedto":"analyst@contoso.com","classification":"truePositive","DETERMINATION":"compromisedAccount"}"#;
    let response = app.patch(&format!("{ALERTS}/{id}"), &graph, body).await;
    assert_eq!(response.status(), 200);
    let updated: Value = response.json().await.unwrap();
    assert_eq!(updated["status"], "inProgress");
    assert_eq!(updated["determination"], "compromisedUser");
    assert_eq!(
        updated["@odata.context"],
        format!("{}/v1.0/$metadata#security/alerts_v2/$entity", app.http)
    );
    let mde = app.get_ok(&format!("/api/alerts/{id}"), &defender).await;
    assert_eq!(mde["status"], "InProgress");
    assert_eq!(mde["assignedTo"], "analyst@contoso.com");
    assert_eq!(mde["classification"], "TruePositive");
    assert_eq!(mde["determination"], "CompromisedUser");
    assert_eq!(mde["lastUpdateTime"], updated["lastUpdateDateTime"]);
    // Defender → Graph.
    let response = app
        .patch(
            &format!("/api/alerts/{id}"),
            &defender,
            r#"{"status":"Resolved","comment":"done"}"#,
        )
        .await;
    assert_eq!(response.status(), 200);
    let seen = app.get_ok(&format!("{ALERTS}/{id}"), &graph).await;
    assert_eq!(seen["status"], "resolved");
    assert!(seen["resolvedDateTime"].is_string());
    assert_eq!(seen["comments"][0]["comment"], "done");
    // A Graph comment is a Defender comment.
    let response = app
        .post(
            &format!("{ALERTS}/{id}/comments"),
            &graph,
            r#"{"@odata.type":"microsoft.graph.security.alertComment","Comment":"via graph"}"#,
        )
        .await;
    assert_eq!(response.status(), 200);
    let comments: Value = response.json().await.unwrap();
    let texts: Vec<&str> = values(&comments)
        .iter()
        .map(|c| c["comment"].as_str().unwrap())
        .collect();
    assert_eq!(texts, vec!["done", "via graph"]);
    let mde = app.get_ok(&format!("/api/alerts/{id}"), &defender).await;
    assert_eq!(mde["comments"][1]["comment"], "via graph");
}

#[tokio::test]
async fn a_property_sent_twice_in_different_cases_is_refused() {
    let app = TestApp::spawn().await;
    let graph = app.graph_token().await;
    let alert = some_alert(&app, &graph).await;
    let path = format!("{ALERTS}/{}", alert["id"].as_str().unwrap());
    let response = app
        .patch(&path, &graph, r#"{"status":"resolved","Status":"new"}"#)
        .await;
    expect_graph_error(&app, response, 400, "badRequest", &["status", "Status"]).await;
    let response = app.post(&format!("{path}/comments"), &graph, r#"{"text":"x"}"#).await;
    expect_graph_error(&app, response, 400, "badRequest", &["comment"]).await;
}

#[tokio::test]
async fn odata_filter_count_and_paging_follow_graph() {
    let app = TestApp::spawn().await;
    let graph = app.graph_token().await;
    let defender = app.token().await;
    let all = app.get_ok(&format!("{ALERTS}?$count=true&$top=2"), &graph).await;
    let total = all["@odata.count"].as_u64().unwrap();
    assert!(total > 2);
    assert_eq!(values(&all).len(), 2);
    let next = all["@odata.nextLink"].as_str().unwrap();
    assert!(next.starts_with(&format!("{}{ALERTS}?", app.http)), "{next}");
    assert!(next.contains("$skip=2"), "{next}");
    let second: Value = app
        .client
        .get(next)
        .bearer_auth(&graph)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_ne!(values(&second)[0]["id"], values(&all)[0]["id"]);
    // Enum literals in Graph's lowerCamel match the stored values.
    let new = app
        .get_ok(&format!("{ALERTS}?$filter=status eq 'new'&$count=true"), &graph)
        .await;
    let mde = app
        .get_ok("/api/alerts?$filter=status eq 'New'&$count=true", &defender)
        .await;
    assert_eq!(new["@odata.count"], mde["@odata.count"]);
    assert!(values(&new).iter().all(|a| a["status"] == "new"));
    let high = app
        .get_ok(
            &format!("{ALERTS}?$filter=severity eq 'high' and createdDateTime ge 2000-01-01T00:00:00Z"),
            &graph,
        )
        .await;
    assert!(values(&high).iter().all(|a| a["severity"] == "high"));
    // $select keeps Graph's names.
    let selected = app.get_ok(&format!("{ALERTS}?$select=id,status&$top=1"), &graph).await;
    assert_eq!(palisade_testkit::keys(&values(&selected)[0]), vec!["id", "status"]);
}

#[tokio::test]
async fn beta_and_case_insensitive_paths_answer_the_same() {
    let app = TestApp::spawn().await;
    let graph = app.graph_token().await;
    let alert = some_alert(&app, &graph).await;
    let id = alert["id"].as_str().unwrap();
    let beta = app.get_ok(&format!("/beta/security/alerts_v2/{id}"), &graph).await;
    assert_eq!(beta["id"], alert["id"]);
    assert_eq!(
        beta["@odata.context"],
        format!("{}/beta/$metadata#security/alerts_v2/$entity", app.http)
    );
    let docs_spelling = app.get_ok(&format!("/v1.0/Security/alerts_V2/{id}"), &graph).await;
    assert_eq!(docs_spelling["id"], alert["id"]);
}

#[tokio::test]
async fn graph_errors_are_traceable_by_request_id() {
    let app = TestApp::spawn().await;
    let graph = app.graph_token().await;
    let response = app.get(&format!("{ALERTS}/missing-one"), &graph).await;
    let body = expect_graph_error(&app, response, 404, "notFound", &["missing-one"]).await;
    let id = body["error"]["innerError"]["request-id"].as_str().unwrap();
    let record = app.trace(id).await.unwrap();
    assert!(
        record["cause"].as_str().unwrap().contains("Graph's notFound"),
        "{record}"
    );
    // The Defender side keeps its own envelope.
    let defender = app.token().await;
    let response = app.get("/api/alerts/missing-one", &defender).await;
    expect_error(&app, response, 404, "ResourceNotFound", &["missing-one"]).await;
}

const HUNTING: &str = "/v1.0/security/runHuntingQuery";
const HUNTING_QUALIFIED: &str = "/v1.0/security/microsoft.graph.security.runHuntingQuery";

#[tokio::test]
async fn run_hunting_query_answers_in_graphs_casing_under_both_names() {
    let app = TestApp::spawn().await;
    let graph = app.graph_token().await;
    let defender = app.token().await;
    let query = "DeviceInfo | summarize Devices = dcount(DeviceId)";
    let xdr = app
        .post(
            "/api/advancedhunting/run",
            &defender,
            &json!({"Query": query}).to_string(),
        )
        .await
        .json::<Value>()
        .await
        .unwrap();
    // The Graph SDKs send `query` in lower case to the namespace-qualified name.
    for (path, body) in [
        (HUNTING, json!({"Query": query})),
        (
            HUNTING_QUALIFIED,
            json!({"query": query, "timespan": null, "workspaceId": null}),
        ),
    ] {
        let response = app.post(path, &graph, &body.to_string()).await;
        assert_eq!(response.status(), 200, "{path}");
        let answer: Value = response.json().await.unwrap();
        assert_eq!(
            answer["@odata.context"],
            format!(
                "{}/v1.0/$metadata#microsoft.graph.security.huntingQueryResults",
                app.http
            )
        );
        assert_eq!(answer["schema"], json!([{"name": "Devices", "type": "Int64"}]));
        assert_eq!(answer["results"], xdr["Results"], "{path}");
        assert!(answer.get("Stats").is_none() && answer.get("Schema").is_none());
    }
}

#[tokio::test]
async fn run_hunting_query_timespan_narrows_the_window() {
    let app = TestApp::spawn().await;
    let graph = app.graph_token().await;
    let now = app.frozen_now().await;
    let count = |timespan: Option<String>| {
        let mut body = json!({"Query": "DeviceProcessEvents | count"});
        if let Some(t) = timespan {
            body["Timespan"] = json!(t);
        }
        let app = &app;
        let graph = graph.clone();
        async move {
            let response = app.post(HUNTING, &graph, &body.to_string()).await;
            let status = response.status();
            let answer: Value = response.json().await.unwrap();
            assert_eq!(status, 200, "{answer}");
            answer["results"][0]["Count"].as_i64().unwrap()
        }
    };
    let default = count(None).await;
    assert!(default > 0);
    assert_eq!(count(Some("P30D".into())).await, default);
    // Wider than the data kept: still the 30 days the tables hold.
    assert_eq!(count(Some("P90D".into())).await, default);
    let last_day = count(Some("P1D".into())).await;
    assert!(last_day < default, "{last_day} of {default}");
    let start = (now - chrono::TimeDelta::days(1)).to_rfc3339();
    assert_eq!(count(Some(start.clone())).await, last_day);
    assert_eq!(count(Some(format!("{start}/P1D"))).await, last_day);
    let future = (now + chrono::TimeDelta::days(2)).to_rfc3339();
    let past = (now - chrono::TimeDelta::days(60)).to_rfc3339();
    assert_eq!(count(Some(format!("{past}/{future}"))).await, default);
    let response = app
        .post(
            HUNTING,
            &graph,
            &json!({"Query": "DeviceInfo", "Timespan": "last week"}).to_string(),
        )
        .await;
    expect_graph_error(&app, response, 400, "badRequest", &["last week", "ISO 8601"]).await;
}

#[tokio::test]
async fn run_hunting_query_errors_are_graphs() {
    let app = TestApp::spawn().await;
    let graph = app.graph_token().await;
    let response = app
        .post(
            HUNTING_QUALIFIED,
            &graph,
            &json!({"query": "DeviceInfo | where"}).to_string(),
        )
        .await;
    let body = expect_graph_error(&app, response, 400, "badRequest", &["line"]).await;
    let id = body["error"]["innerError"]["request-id"].as_str().unwrap();
    let record = app.trace(id).await.unwrap();
    assert!(
        record["cause"].as_str().unwrap().contains("advanced hunting"),
        "{record}"
    );
    let response = app.post(HUNTING, &graph, r#"{"Timespan":"P1D"}"#).await;
    expect_graph_error(&app, response, 400, "badRequest", &["Query"]).await;
    // ThreatHunting.Read.All is required; the alert permission is not enough.
    let (client_id, _) = app.app_with_roles(&["SecurityAlert.Read.All"]).await;
    let token = app
        .mint(json!({"clientId": client_id, "roles": ["SecurityAlert.Read.All"], "audience": GRAPH}))
        .await;
    let response = app
        .post(HUNTING, &token, &json!({"Query": "DeviceInfo"}).to_string())
        .await;
    expect_graph_error(&app, response, 403, "Forbidden", &["ThreatHunting.Read.All"]).await;
}

#[tokio::test]
async fn run_hunting_query_is_limited_to_45_calls_a_minute_under_both_names() {
    let app = TestApp::spawn().await;
    app.freeze_clock().await;
    let graph = app.graph_token().await;
    let body = json!({"Query": "DeviceInfo | take 1"}).to_string();
    for n in 0..45 {
        let path = if n % 2 == 0 { HUNTING } else { HUNTING_QUALIFIED };
        assert_eq!(app.post(path, &graph, &body).await.status(), 200, "call {n}");
    }
    let response = app.post(HUNTING_QUALIFIED, &graph, &body).await;
    assert!(response.headers().contains_key("retry-after"));
    expect_graph_error(&app, response, 429, "TooManyRequests", &["45", "runHuntingQuery"]).await;
    // The alert routes keep their own windows.
    assert_eq!(app.get(ALERTS, &graph).await.status(), 200);
}

#[tokio::test]
async fn the_request_journal_records_graph_calls_under_their_request_id() {
    let app = TestApp::spawn().await;
    let graph = app.graph_token().await;
    let ok = app.get(&format!("{ALERTS}?$top=1"), &graph).await;
    let ok_id = ok.headers()["request-id"].to_str().unwrap().to_string();
    let missing = app.get(&format!("{ALERTS}/nope"), &graph).await;
    let missing_id = missing.headers()["request-id"].to_str().unwrap().to_string();
    let journal = app
        .get_json(&format!("{}/_palisade/requests?pathPrefix=/v1.0/security/", app.http))
        .await;
    let records = values(&journal);
    let by_id = |id: &str| {
        records
            .iter()
            .find(|r| r["requestId"] == id)
            .unwrap_or_else(|| panic!("{id} not journaled: {journal}"))
            .clone()
    };
    let first = by_id(&ok_id);
    assert_eq!(first["status"], 200);
    assert_eq!(first["route"], "/v1.0/security/alerts_v2");
    let second = by_id(&missing_id);
    assert_eq!(second["status"], 404);
    assert_eq!(second["errorCode"], "notFound");
    assert_eq!(second["route"], "/v1.0/security/alerts_v2/{id}");
}

const INCIDENTS: &str = "/v1.0/security/incidents";

#[tokio::test]
async fn incidents_list_in_graphs_shape_and_expand_their_alerts() {
    let app = TestApp::spawn().await;
    let graph = app.graph_token().await;
    let defender = app.token().await;
    let page = app.get_ok(&format!("{INCIDENTS}?$top=3"), &graph).await;
    assert_eq!(
        page["@odata.context"],
        format!("{}/v1.0/$metadata#security/incidents", app.http)
    );
    let incident = &values(&page)[0];
    assert_eq!(
        palisade_testkit::keys(incident),
        vec![
            "@odata.type",
            "id",
            "incidentWebUrl",
            "tenantId",
            "redirectIncidentId",
            "displayName",
            "createdDateTime",
            "lastUpdateDateTime",
            "assignedTo",
            "classification",
            "determination",
            "status",
            "severity",
            "customTags",
            "systemTags",
            "description",
            "comments"
        ],
        "no alerts without $expand: {incident}"
    );
    let id = incident["id"].as_str().unwrap();
    let xdr = app.get_ok(&format!("/api/incidents/{id}"), &defender).await;
    assert_eq!(xdr["incidentId"].to_string(), id);
    assert_eq!(incident["displayName"], xdr["incidentName"]);
    assert_eq!(incident["createdDateTime"], xdr["createdTime"]);
    assert_eq!(incident["lastUpdateDateTime"], xdr["lastUpdateTime"]);
    assert_eq!(incident["incidentWebUrl"], xdr["incidentUri"]);
    assert_eq!(incident["classification"], "unknown");
    assert_eq!(incident["determination"], "unknown");
    let status = incident["status"].as_str().unwrap();
    assert_eq!(status, palisade_model_lower_camel(xdr["status"].as_str().unwrap()));
    // Most recent first.
    let created: Vec<&str> = values(&page)
        .iter()
        .map(|i| i["createdDateTime"].as_str().unwrap())
        .collect();
    assert!(created.windows(2).all(|w| w[0] >= w[1]), "{created:?}");
    // $expand=alerts: the incident's alerts, as alerts_v2 renders them.
    let expanded = app.get_ok(&format!("{INCIDENTS}/{id}?$expand=alerts"), &graph).await;
    let alerts = expanded["alerts"].as_array().unwrap();
    let xdr_ids: Vec<&str> = xdr["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["alertId"].as_str().unwrap())
        .collect();
    let graph_ids: Vec<&str> = alerts.iter().map(|a| a["id"].as_str().unwrap()).collect();
    assert_eq!(graph_ids, xdr_ids);
    let one = app.get_ok(&format!("{ALERTS}/{}", graph_ids[0]), &graph).await;
    let mut expanded_one = alerts[0].clone();
    expanded_one
        .as_object_mut()
        .unwrap()
        .insert("@odata.context".into(), one["@odata.context"].clone());
    assert_eq!(expanded_one, one);
    assert_eq!(one["incidentId"], id);
    let listed = app.get_ok(&format!("{INCIDENTS}?$top=2&$expand=alerts"), &graph).await;
    assert!(values(&listed)
        .iter()
        .all(|i| !i["alerts"].as_array().unwrap().is_empty()));
}

fn palisade_model_lower_camel(value: &str) -> String {
    let mut chars = value.chars();
    let first = chars.next().unwrap().to_ascii_lowercase();
    format!("{first}{}", chars.as_str())
}

#[tokio::test]
async fn incidents_odata_filter_order_count_and_paging() {
    let app = TestApp::spawn().await;
    let graph = app.graph_token().await;
    let defender = app.token().await;
    let active = app
        .get_ok(&format!("{INCIDENTS}?$filter=status eq 'active'&$count=true"), &graph)
        .await;
    let xdr = app
        .get_ok("/api/incidents?$filter=status eq 'Active'&$count=true", &defender)
        .await;
    assert_eq!(active["@odata.count"], xdr["@odata.count"]);
    assert!(values(&active).iter().all(|i| i["status"] == "active"));
    let ordered = app
        .get_ok(&format!("{INCIDENTS}?$orderby=lastUpdateDateTime asc&$top=5"), &graph)
        .await;
    let times: Vec<&str> = values(&ordered)
        .iter()
        .map(|i| i["lastUpdateDateTime"].as_str().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
    let page = app.get_ok(&format!("{INCIDENTS}?$top=2&$count=true"), &graph).await;
    assert!(page["@odata.count"].as_u64().unwrap() > 2);
    let next = page["@odata.nextLink"].as_str().unwrap();
    assert!(
        next.starts_with(&format!("{}{INCIDENTS}?", app.http)) && next.contains("$skip=2"),
        "{next}"
    );
    let filtered = app
        .get_ok(
            &format!("{INCIDENTS}?$filter=severity eq 'high' and createdDateTime ge 2000-01-01T00:00:00Z and classification eq 'unknown'"),
            &graph,
        )
        .await;
    assert!(values(&filtered).iter().all(|i| i["severity"] == "high"));
    let response = app
        .get(&format!("{INCIDENTS}?$filter=tags/any(t: t eq 'x')"), &graph)
        .await;
    expect_graph_error(&app, response, 400, "badRequest", &["tags"]).await;
    let response = app.get(&format!("{INCIDENTS}?$expand=evidence"), &graph).await;
    expect_graph_error(&app, response, 400, "badRequest", &["evidence"]).await;
}

#[tokio::test]
async fn an_incident_update_through_graph_is_read_back_through_defender_and_the_other_way_round() {
    let app = TestApp::spawn().await;
    let graph = app.graph_token().await;
    let defender = app.token().await;
    let page = app
        .get_ok(&format!("{INCIDENTS}?$filter=status eq 'active'&$top=1"), &graph)
        .await;
    let id = values(&page)[0]["id"].as_str().unwrap().to_string();
    let body = json!({
        "Status": "resolved", "assignedTo": "soc@contoso.com", "classification": "truePositive",
        "determination": "compromisedAccount", "CUSTOMTAGS": ["graph", "pen test"],
        "description": "set through Graph"
    });
    let response = app.patch(&format!("{INCIDENTS}/{id}"), &graph, &body.to_string()).await;
    assert_eq!(response.status(), 200);
    let updated: Value = response.json().await.unwrap();
    assert_eq!(updated["status"], "resolved");
    assert_eq!(updated["determination"], "compromisedAccount");
    assert_eq!(updated["customTags"], json!(["graph", "pen test"]));
    assert_eq!(updated["description"], "set through Graph");
    let xdr = app.get_ok(&format!("/api/incidents/{id}"), &defender).await;
    assert_eq!(xdr["status"], "Resolved");
    assert_eq!(xdr["assignedTo"], "soc@contoso.com");
    assert_eq!(xdr["classification"], "TruePositive");
    assert_eq!(xdr["determination"], "CompromisedAccount");
    assert_eq!(xdr["tags"], json!(["graph", "pen test"]));
    assert_eq!(xdr["lastUpdateTime"], updated["lastUpdateDateTime"]);
    // Resolving the incident resolved its alerts, seen through Graph's alerts too.
    for alert in xdr["alerts"].as_array().unwrap() {
        let seen = app
            .get_ok(&format!("{ALERTS}/{}", alert["alertId"].as_str().unwrap()), &graph)
            .await;
        assert_eq!(seen["status"], "resolved");
    }
    // Defender → Graph.
    let response = app
        .patch(
            &format!("/api/incidents/{id}"),
            &defender,
            r#"{"status":"Active","comment":"reopened"}"#,
        )
        .await;
    assert_eq!(response.status(), 200);
    let seen = app.get_ok(&format!("{INCIDENTS}/{id}"), &graph).await;
    assert_eq!(seen["status"], "active");
    assert_eq!(seen["comments"][0]["comment"], "reopened");
    assert_eq!(seen["description"], "set through Graph");
    // A Graph comment is an XDR comment.
    let response = app
        .post(
            &format!("{INCIDENTS}/{id}/comments"),
            &graph,
            r#"{"comment":"from graph"}"#,
        )
        .await;
    assert_eq!(response.status(), 200);
    let comments: Value = response.json().await.unwrap();
    let texts: Vec<&str> = values(&comments)
        .iter()
        .map(|c| c["comment"].as_str().unwrap())
        .collect();
    assert_eq!(texts, vec!["reopened", "from graph"]);
    assert_eq!(
        comments["@odata.context"],
        format!(
            "{}/v1.0/$metadata#Collection(microsoft.graph.security.alertComment)",
            app.http
        )
    );
    let xdr = app.get_ok(&format!("/api/incidents/{id}"), &defender).await;
    assert_eq!(xdr["comments"][1]["comment"], "from graph");
    // An alert resolved through Graph settles its incident as the XDR API says.
    let expanded = app.get_ok(&format!("{INCIDENTS}/{id}?$expand=alerts"), &graph).await;
    for alert in expanded["alerts"].as_array().unwrap() {
        let response = app
            .patch(
                &format!("{ALERTS}/{}", alert["id"].as_str().unwrap()),
                &graph,
                r#"{"status":"resolved"}"#,
            )
            .await;
        assert_eq!(response.status(), 200);
    }
    let settled = app.get_ok(&format!("{INCIDENTS}/{id}"), &graph).await;
    assert_eq!(settled["status"], "resolved");
}

#[tokio::test]
async fn incident_errors_are_graphs() {
    let app = TestApp::spawn().await;
    let graph = app.graph_token().await;
    let response = app.get(&format!("{INCIDENTS}/999999999"), &graph).await;
    expect_graph_error(&app, response, 404, "notFound", &["999999999"]).await;
    let page = app.get_ok(&format!("{INCIDENTS}?$top=1"), &graph).await;
    let path = format!("{INCIDENTS}/{}", values(&page)[0]["id"].as_str().unwrap());
    let response = app
        .patch(
            &path,
            &graph,
            r#"{"classification":"falsePositive","determination":"malware"}"#,
        )
        .await;
    expect_graph_error(&app, response, 400, "badRequest", &["Malware", "FalsePositive"]).await;
    let response = app.patch(&path, &graph, r#"{"status":"awaitingAction"}"#).await;
    expect_graph_error(&app, response, 400, "badRequest", &["awaitingAction"]).await;
    let response = app.patch(&path, &graph, r#"{"customTags":"not a list"}"#).await;
    expect_graph_error(&app, response, 400, "badRequest", &["customTags"]).await;
    let response = app
        .post(&format!("{path}/comments"), &graph, r#"{"comment":"  "}"#)
        .await;
    expect_graph_error(&app, response, 400, "badRequest", &["comment"]).await;
    let (client_id, _) = app.app_with_roles(&["SecurityIncident.Read.All"]).await;
    let reader = app
        .mint(json!({"clientId": client_id, "roles": ["SecurityIncident.Read.All"], "audience": GRAPH}))
        .await;
    assert_eq!(app.get(INCIDENTS, &reader).await.status(), 200);
    let response = app.patch(&path, &reader, r#"{"status":"inProgress"}"#).await;
    expect_graph_error(&app, response, 403, "Forbidden", &["SecurityIncident.ReadWrite.All"]).await;
    let (client_id, _) = app.app_with_roles(&["Incident.ReadWrite.All"]).await;
    let xdr_roles = app
        .mint(json!({"clientId": client_id, "roles": ["Incident.ReadWrite.All"], "audience": GRAPH}))
        .await;
    let response = app.get(INCIDENTS, &xdr_roles).await;
    expect_graph_error(&app, response, 403, "Forbidden", &["SecurityIncident.Read.All"]).await;
    // A Defender token for the XDR incidents is no Graph token.
    let defender = app.token().await;
    let response = app.get(INCIDENTS, &defender).await;
    expect_graph_error(&app, response, 401, "InvalidAuthenticationToken", &[GRAPH]).await;
}

#[tokio::test]
async fn loaded_data_is_served_through_graph() {
    let app = TestApp::spawn().await;
    let mut exported = app
        .get_json(&format!(
            "{}/_palisade/tenants/{}/export",
            app.http,
            palisade_testkit::TENANT
        ))
        .await;
    let first = exported["incidents"][0]["incidentId"].as_i64().unwrap();
    exported["incidents"][0]["description"] = json!("loaded with a description");
    let (tenant, client, _) = app.create_tenant(None, false).await;
    let document = json!({
        "machines": exported["machines"],
        "alerts": exported["alerts"],
        "incidents": exported["incidents"],
    });
    let response = app
        .admin_post(&format!("/_palisade/tenants/{tenant}/data"), document)
        .await;
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    let graph = app
        .mint(json!({"tenantId": tenant, "clientId": client, "audience": GRAPH}))
        .await;
    let incidents = app.get_ok(&format!("{INCIDENTS}?$count=true"), &graph).await;
    assert_eq!(
        incidents["@odata.count"].as_u64().unwrap() as usize,
        exported["incidents"].as_array().unwrap().len()
    );
    let loaded = app.get_ok(&format!("{INCIDENTS}/{first}"), &graph).await;
    assert_eq!(loaded["description"], "loaded with a description");
    assert_eq!(loaded["tenantId"], tenant);
    let alerts = app.get_ok(&format!("{ALERTS}?$count=true&$top=1"), &graph).await;
    assert_eq!(
        alerts["@odata.count"].as_u64().unwrap() as usize,
        exported["alerts"].as_array().unwrap().len()
    );
    let evidence = values(&alerts)[0]["evidence"].as_array().unwrap().clone();
    assert_eq!(evidence[0]["@odata.type"], "#microsoft.graph.security.deviceEvidence");
    // And the export of the loaded tenant keeps the description.
    let again = app
        .get_json(&format!("{}/_palisade/tenants/{tenant}/export", app.http))
        .await;
    let kept = again["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["incidentId"] == first)
        .unwrap()
        .clone();
    assert_eq!(kept["description"], "loaded with a description");
}
