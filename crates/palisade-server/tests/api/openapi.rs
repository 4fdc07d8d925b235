//! `/openapi.json` and `/_palisade/docs`: the document describes what the server really routes.

use palisade_testkit::*;
use reqwest::Method;
use serde_json::Value;

#[tokio::test]
async fn document_names_the_callers_origin_and_every_operation_is_routed() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let doc = app.get_json(&format!("{}/openapi.json", app.http)).await;
    assert_eq!(doc["openapi"], "3.0.3");
    assert_eq!(doc["servers"][0]["url"], app.http.as_str());
    let paths = doc["paths"].as_object().expect("paths");
    assert!(paths.len() > 50, "only {} paths", paths.len());
    let mut checked = 0;
    for (path, methods) in paths {
        // Any value for a parameter will do: the question is only whether a route answers.
        let concrete = path
            .split('{')
            .enumerate()
            .map(|(i, part)| match (i, part.split_once('}')) {
                (0, _) | (_, None) => part.to_string(),
                (_, Some(("tenant", rest))) => format!("{TENANT}{rest}"),
                (_, Some((_, rest))) => format!("x1{rest}"),
            })
            .collect::<String>();
        for (method, operation) in methods.as_object().expect("methods") {
            assert!(operation["summary"].is_string(), "{method} {path} has no summary");
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let body = (method != Method::GET).then_some("{}");
            let response = app.call(method.clone(), &concrete, Some(&token), body).await;
            let status = response.status().as_u16();
            let text = response.text().await.unwrap();
            assert_ne!(status, 405, "{method} {concrete}: {text}");
            if status == 404 {
                let answer: Value = serde_json::from_str(&text).unwrap_or_default();
                let message = answer["error"]["message"].as_str().unwrap_or_default();
                assert!(
                    !message.starts_with("No API route matches"),
                    "{method} {concrete}: {text}"
                );
            }
            checked += 1;
        }
    }
    assert!(checked > 60, "only {checked} operations");
}

#[tokio::test]
async fn documentation_page_is_self_contained_html() {
    let app = TestApp::spawn().await;
    let response = app.call(Method::GET, "/_palisade/docs", None, None).await;
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let page = response.text().await.unwrap();
    assert!(page.contains("fetch(\"/openapi.json\")"));
    // Offline: nothing is loaded from another origin.
    assert!(!page.contains("https://"), "the page must not load remote assets");
}
