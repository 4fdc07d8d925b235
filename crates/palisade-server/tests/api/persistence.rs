//! Point 9: state survives a restart: data, the signing key (old tokens stay valid), the journal.

use palisade_testkit::*;
use reqwest::Method;
use serde_json::Value;

#[tokio::test]
async fn data_key_and_journal_survive_a_restart() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let response = app
        .post(
            "/api/machines/mac-01.contoso.local/tags",
            &token,
            r#"{"Value":"Survivor","Action":"Add"}"#,
        )
        .await;
    assert_eq!(response.status(), 200);
    let error: Value = app
        .call(Method::GET, "/api/machines", None, None)
        .await
        .json()
        .await
        .unwrap();
    let target = error["error"]["target"].as_str().unwrap().to_string();
    let ids_before: Value = app.get("/api/machines", &token).await.json().await.unwrap();

    let app = app.restart().await;
    let response = app.get("/api/machines/mac-01.contoso.local", &token).await;
    assert_eq!(
        response.status(),
        200,
        "the token minted before the restart still verifies"
    );
    let machine: Value = response.json().await.unwrap();
    assert!(machine["machineTags"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t == "Survivor"));
    let record = app.trace(&target).await.expect("journal survives");
    assert_eq!(record["code"], "Unauthorized");
    let ids_after: Value = app.get("/api/machines", &token).await.json().await.unwrap();
    assert_eq!(
        ids_before["value"].as_array().unwrap().len(),
        ids_after["value"].as_array().unwrap().len(),
        "demo data not seeded twice"
    );
}
