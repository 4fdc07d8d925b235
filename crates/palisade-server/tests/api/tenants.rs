//! Point 8: tenants are walled off from each other.

use palisade_testkit::*;
use serde_json::Value;

#[tokio::test]
async fn a_token_of_one_tenant_never_sees_another_tenants_machines() {
    let app = TestApp::spawn().await;
    let demo_token = app.token().await;
    let (tenant, client, secret) = app.create_tenant(None, true).await;
    let other_token = app.token_for(&tenant, &client, &secret).await;

    let demo: Value = app.get("/api/machines", &demo_token).await.json().await.unwrap();
    let other: Value = app.get("/api/machines", &other_token).await.json().await.unwrap();
    let ids = |v: &Value| {
        v["value"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    let (demo_ids, other_ids) = (ids(&demo), ids(&other));
    assert!(!other_ids.is_empty());
    assert!(
        demo_ids.iter().all(|id| !other_ids.contains(id)),
        "no machine id is shared"
    );

    let response = app.get(&format!("/api/machines/{}", demo_ids[0]), &other_token).await;
    expect_error(&app, response, 404, "ResourceNotFound", &[&demo_ids[0]]).await;
    // Writes cannot reach across either.
    let response = app
        .post(
            &format!("/api/machines/{}/tags", demo_ids[0]),
            &other_token,
            r#"{"Value":"x","Action":"Add"}"#,
        )
        .await;
    expect_error(&app, response, 404, "ResourceNotFound", &[&demo_ids[0]]).await;
}

#[tokio::test]
async fn an_app_cannot_sign_in_to_another_tenant() {
    let app = TestApp::spawn().await;
    let (tenant, _, _) = app.create_tenant(None, false).await;
    let scope = format!("{MDE}/.default");
    let response = app
        .client
        .post(format!("{}/{tenant}/oauth2/v2.0/token", app.https))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", CLIENT_ID),
            ("client_secret", SECRET),
            ("scope", &scope),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "unauthorized_client");
}

#[tokio::test]
async fn creating_a_tenant_refuses_a_malformed_id_and_an_existing_id_or_domain() {
    let app = TestApp::spawn().await;
    let response = app
        .admin_post("/_palisade/tenants", serde_json::json!({"tenantId": "not-a-guid"}))
        .await;
    expect_error(&app, response, 400, "InvalidInput", &["not-a-guid", "GUID"]).await;
    let response = app
        .admin_post("/_palisade/tenants", serde_json::json!({"tenantId": TENANT}))
        .await;
    expect_error(&app, response, 400, "BadRequest", &[TENANT, "already exists"]).await;
    let response = app
        .admin_post(
            "/_palisade/tenants",
            serde_json::json!({"domain": "palisade-demo.onmicrosoft.com"}),
        )
        .await;
    expect_error(&app, response, 400, "BadRequest", &["palisade-demo.onmicrosoft.com"]).await;
}

#[tokio::test]
async fn concurrent_creations_of_one_tenant_let_exactly_one_through() {
    let app = TestApp::spawn().await;
    let id = "5e1f0000-0000-4000-8000-00000000c0de";
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let (client, url) = (app.client.clone(), format!("{}/_palisade/tenants", app.http));
            tokio::spawn(async move {
                let body = serde_json::json!({"tenantId": id, "demoData": false});
                client.post(url).json(&body).send().await.unwrap()
            })
        })
        .collect();
    let mut created = 0;
    for task in tasks {
        let response = task.await.unwrap();
        if response.status().as_u16() == 201 {
            created += 1;
        } else {
            expect_error(&app, response, 400, "BadRequest", &[id, "already exists"]).await;
        }
    }
    assert_eq!(
        created, 1,
        "the store's uniqueness decides: one creation, the others refused"
    );
}
