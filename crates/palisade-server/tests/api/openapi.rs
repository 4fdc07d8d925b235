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

#[tokio::test]
async fn allow_lists_the_documented_methods_of_a_function_path() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    // `findbyip(...)` is routed through `/api/machines/{id}`, which also takes PATCH.
    let path = "/api/machines/findbyip(ip='10.1.1.1',timestamp=2024-01-01T00:00:00Z)";
    let response = app.call(Method::OPTIONS, path, Some(&token), None).await;
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "GET,HEAD");
    let response = app.call(Method::DELETE, "/api/machines/abc", Some(&token), None).await;
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "GET,HEAD,PATCH");
}

#[tokio::test]
async fn document_declares_each_operations_real_formats() {
    let app = TestApp::spawn().await;
    let doc = app.get_json(&format!("{}/openapi.json", app.http)).await;
    let schemas = doc["components"]["schemas"].as_object().expect("schemas");
    assert!(schemas.contains_key("LibraryFile"));
    let token = &doc["paths"]["/{tenant}/oauth2/v2.0/token"]["post"]["responses"]["default"];
    assert_eq!(
        token["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/EntraError"
    );
    // What the server answers matches what the document declares.
    for (path, declared) in [("/_palisade/docs", "text/html"), ("/metrics", "text/plain")] {
        let content = &doc["paths"][path]["get"]["responses"]["200"]["content"];
        assert!(content.get(declared).is_some(), "{path}: {content}");
        let response = app.call(Method::GET, path, None, None).await;
        let served = response.headers()["content-type"].to_str().unwrap().to_string();
        assert!(served.starts_with(declared), "{path} serves {served}");
    }
    let response = app
        .call(
            Method::POST,
            &format!("/{TENANT}/oauth2/v2.0/token"),
            None,
            Some("grant_type=password"),
        )
        .await;
    let body: Value = response.json().await.unwrap();
    for key in [
        "error",
        "error_description",
        "error_codes",
        "trace_id",
        "correlation_id",
    ] {
        assert!(body.get(key).is_some(), "the token error lacks {key}: {body}");
    }
}
