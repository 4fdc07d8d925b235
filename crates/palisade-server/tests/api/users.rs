//! Users (`shared/reference/mde-api.md` §9): the alerts and machines of an account, by bare account
//! name (case-insensitive), with OData, empty for unknown accounts, and the documented roles.

use palisade_testkit::*;
use serde_json::{json, Value};

/// A demo account that has related alerts, with its alerts (evidence expanded).
async fn account_with_alerts(app: &TestApp, token: &str) -> (String, Vec<Value>) {
    let all = app.get_ok("/api/alerts?$expand=evidence", token).await;
    let all = values(&all);
    let name = all
        .iter()
        .find_map(|a| a["relatedUser"]["userName"].as_str())
        .expect("a demo alert with a related user")
        .to_string();
    let related = all
        .iter()
        .filter(|a| a["relatedUser"]["userName"] == name.as_str())
        .cloned()
        .collect();
    (name, related)
}

#[tokio::test]
async fn user_alerts_by_bare_account_name() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let (name, related) = account_with_alerts(&app, &token).await;
    let body = app.get_ok(&format!("/api/users/{name}/alerts"), &token).await;
    assert_eq!(body["@odata.context"], format!("{}/api/$metadata#Alerts", app.http));
    let mut got: Vec<&str> = values(&body).iter().map(|a| a["id"].as_str().unwrap()).collect();
    let mut expected: Vec<&str> = related.iter().map(|a| a["id"].as_str().unwrap()).collect();
    got.sort();
    expected.sort();
    assert_eq!(got, expected);
    assert!(values(&body).iter().all(|a| a["evidence"] == json!([])));

    // Case-insensitive, OData applies on top, $expand=evidence works.
    let upper = name.to_uppercase();
    let body = app
        .get_ok(
            &format!("/api/users/{upper}/alerts?$top=1&$expand=evidence&$count=true"),
            &token,
        )
        .await;
    assert_eq!(values(&body).len(), 1);
    assert_eq!(body["@odata.count"], related.len());
    assert!(!values(&body)[0]["evidence"].as_array().unwrap().is_empty());
    let open = related.iter().filter(|a| a["status"] == "New").count();
    let body = app
        .get_ok(&format!("/api/users/{name}/alerts?$filter=status eq 'New'"), &token)
        .await;
    assert_eq!(values(&body).len(), open);
}

#[tokio::test]
async fn unknown_user_has_empty_collections() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let body = app.get_ok("/api/users/nobody-here/alerts?$count=true", &token).await;
    assert_eq!(body["value"], json!([]));
    assert_eq!(body["@odata.count"], 0);
    let body = app.get_ok("/api/users/nobody-here/machines", &token).await;
    assert_eq!(body["@odata.context"], format!("{}/api/$metadata#Machines", app.http));
    assert_eq!(body["value"], json!([]));
    // The UPN is not the id (the docs: use the bare name).
    let body = app
        .get_ok("/api/users/jdoe@palisade-demo.onmicrosoft.com/alerts", &token)
        .await;
    assert_eq!(body["value"], json!([]));
}

#[tokio::test]
async fn user_machines_are_the_machines_the_account_logged_on_to() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let body = app.get_ok("/api/users/jdoe/machines", &token).await;
    assert_eq!(body["@odata.context"], format!("{}/api/$metadata#Machines", app.http));
    let machines = values(&body);
    assert!(!machines.is_empty(), "jdoe logged on somewhere");
    for machine in machines {
        let id = machine["id"].as_str().unwrap();
        let users = app.get_ok(&format!("/api/machines/{id}"), &token).await;
        assert_eq!(users["id"], id);
    }
    let body = app
        .get_ok("/api/users/JDOE/machines?$top=1&$select=id,computerDnsName", &token)
        .await;
    assert_eq!(values(&body).len(), 1);
    assert_eq!(
        values(&body)[0].as_object().unwrap().keys().collect::<Vec<_>>(),
        ["id", "computerDnsName"]
    );
    let response = app.get("/api/users/jdoe/machines?$filter=nonsense eq 1", &token).await;
    expect_error(&app, response, 400, "ODataError", &["nonsense"]).await;
}

#[tokio::test]
async fn user_routes_enforce_the_documented_roles() {
    let app = TestApp::spawn().await;
    let machines_only = app.mint(json!({"roles": ["Machine.ReadWrite.All"]})).await;
    let response = app.get("/api/users/jdoe/alerts", &machines_only).await;
    expect_error(
        &app,
        response,
        403,
        "Forbidden",
        &["Alert.Read.All", "Alert.ReadWrite.All"],
    )
    .await;
    // Current docs: user-related machines need Machine.ReadWrite.All; Machine.Read.All is not enough.
    let read = app
        .mint(json!({"roles": ["Machine.Read.All", "Alert.ReadWrite.All"]}))
        .await;
    let response = app.get("/api/users/jdoe/machines", &read).await;
    expect_error(&app, response, 403, "Forbidden", &["Machine.ReadWrite.All"]).await;
    app.get_ok("/api/users/jdoe/alerts", &read).await;
    app.get_ok("/api/users/jdoe/machines", &machines_only).await;
    let response = app.get("/api/users/jdoe/alerts?$expand=comments", &read).await;
    expect_error(&app, response, 400, "ODataError", &["comments"]).await;
}
