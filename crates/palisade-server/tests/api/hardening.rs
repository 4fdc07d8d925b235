//! Issue 15, at the HTTP level: slow clients are closed, `Host` is checked (RFC 9112 and DNS
//! rebinding), admin writes refuse what a web page can send without a preflight, and an
//! `Expect: 100-continue` upload over the limit is refused before it is sent.

use palisade_testkit::*;
use reqwest::Method;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn addr(app: &TestApp) -> String {
    app.http.trim_start_matches("http://").to_string()
}

/// Sends raw bytes on a new connection and reads until the server closes it or `wait` passes.
async fn raw(app: &TestApp, request: &str, wait: Duration) -> String {
    let mut stream = TcpStream::connect(addr(app)).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    read_for(&mut stream, wait).await.0
}

/// Reads until end of stream or `wait`; returns the text and whether the peer closed.
async fn read_for(stream: &mut (impl AsyncRead + Unpin), wait: Duration) -> (String, bool) {
    let mut seen = Vec::new();
    let deadline = Instant::now() + wait;
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (String::from_utf8_lossy(&seen).into_owned(), true),
            Ok(Ok(n)) => seen.extend_from_slice(&buf[..n]),
            Err(_) => return (String::from_utf8_lossy(&seen).into_owned(), false),
        }
    }
}

fn status_line(response: &str) -> &str {
    response.lines().next().unwrap_or("")
}

#[tokio::test]
async fn requests_without_host_or_with_two_are_bad_requests() {
    let app = TestApp::spawn().await;
    let none = raw(
        &app,
        "GET /_palisade/health HTTP/1.1\r\nConnection: close\r\n\r\n",
        Duration::from_secs(5),
    )
    .await;
    assert!(status_line(&none).contains(" 400 "), "{none}");
    assert!(none.contains("BadRequest") && none.contains("Host"), "{none}");
    let host = addr(&app);
    let two = raw(
        &app,
        &format!("GET /_palisade/health HTTP/1.1\r\nHost: {host}\r\nHost: {host}\r\nConnection: close\r\n\r\n"),
        Duration::from_secs(5),
    )
    .await;
    assert!(status_line(&two).contains(" 400 "), "{two}");
    let one = raw(
        &app,
        &format!("GET /_palisade/health HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"),
        Duration::from_secs(5),
    )
    .await;
    assert!(status_line(&one).contains(" 200 "), "{one}");
    // HTTP/1.0 may omit Host (RFC 9112 §3.2 binds HTTP/1.1 clients).
    let old = raw(&app, "GET /_palisade/health HTTP/1.0\r\n\r\n", Duration::from_secs(5)).await;
    assert!(status_line(&old).contains(" 200 "), "{old}");
}

#[tokio::test]
async fn a_rebound_host_name_does_not_reach_the_credentials() {
    let app = TestApp::spawn().await;
    let port = addr(&app).rsplit_once(':').unwrap().1.to_string();
    let rebound = app
        .client
        .get(format!("{}/_palisade/credentials", app.http))
        .header("host", format!("rebind.example:{port}"))
        .send()
        .await
        .unwrap();
    let record = expect_error(&app, rebound, 400, "BadRequest", &["rebind.example", "--allowed-host"]).await;
    assert_eq!(record["status"], 400);
    for host in [
        format!("localhost:{port}"),
        format!("127.0.0.1:{port}"),
        "LOCALHOST".to_string(),
    ] {
        let ours = app
            .client
            .get(format!("{}/_palisade/credentials", app.http))
            .header("host", &host)
            .send()
            .await
            .unwrap();
        assert_eq!(ours.status(), 200, "{host}");
    }
    // The API routes too, not only the admin API.
    let token = app.token().await;
    let api = app
        .client
        .get(format!("{}/api/machines", app.http))
        .bearer_auth(&token)
        .header("host", "rebind.example")
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), 400);
}

#[tokio::test]
async fn configured_host_names_are_answered() {
    let app = TestApp::spawn_with(|config| config.allowed_hosts = vec!["palisade".into()]).await;
    let named = app
        .client
        .get(format!("{}/_palisade/health", app.http))
        .header("host", "Palisade:8080")
        .send()
        .await
        .unwrap();
    assert_eq!(named.status(), 200);
    let other = app
        .client
        .get(format!("{}/_palisade/health", app.http))
        .header("host", "other:8080")
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 400);
}

#[tokio::test]
async fn admin_writes_refuse_what_a_page_can_send_without_a_preflight() {
    let app = TestApp::spawn().await;
    let url = format!("{}/_palisade/tenants", app.http);
    let body = r#"{"displayName":"from a page"}"#;
    // A form or text body: no preflight in a browser.
    let text = app
        .client
        .post(&url)
        .header("content-type", "text/plain")
        .body(body)
        .send()
        .await
        .unwrap();
    expect_error(&app, text, 400, "InvalidRequestBody", &["application/json"]).await;
    let reset = app
        .client
        .post(format!("{}/_palisade/reset", app.http))
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    expect_error(&app, reset, 400, "InvalidRequestBody", &["application/json"]).await;
    // A cross-origin write, by Origin or by Sec-Fetch-Site.
    let foreign = app
        .client
        .post(&url)
        .header("content-type", "application/json")
        .header("origin", "https://evil.example")
        .body(body)
        .send()
        .await
        .unwrap();
    expect_error(&app, foreign, 403, "Forbidden", &["origin"]).await;
    let null_origin = app
        .client
        .post(&url)
        .header("content-type", "application/json")
        .header("origin", "null")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(null_origin.status(), 403);
    let fetch_site = app
        .client
        .post(&url)
        .header("content-type", "application/json")
        .header("sec-fetch-site", "cross-site")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(fetch_site.status(), 403);
    // Our own origin (the docs page) and scripts without Origin still write.
    let same = app
        .client
        .post(&url)
        .header("content-type", "application/json; charset=utf-8")
        .header("origin", &app.http)
        .header("sec-fetch-site", "same-origin")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(same.status(), 201);
    let script = admin(
        &app,
        Method::POST,
        "/_palisade/tenants",
        Some(serde_json::json!({"displayName": "s"})),
    )
    .await;
    assert_eq!(script.status(), 201);
    // Reads are not writes: a page cannot read the answer anyway without CORS.
    let read = app
        .client
        .get(format!("{}/_palisade/tenants", app.http))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200);
}

#[tokio::test]
async fn expect_continue_over_the_limit_is_refused_at_once() {
    let app = TestApp::spawn_with(|config| config.max_body_bytes = 1024).await;
    let host = addr(&app);
    let token = app.token().await;
    let response = raw(
        &app,
        &format!(
            "POST /api/indicators HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: 5000000\r\nExpect: 100-continue\r\n\r\n"
        ),
        Duration::from_secs(3),
    )
    .await;
    assert!(status_line(&response).contains(" 413 "), "{response}");
    assert!(!response.contains("100 Continue"), "{response}");
    assert!(response.contains("PayloadTooLarge"), "{response}");
}

#[tokio::test]
async fn slow_headers_are_closed_plain_and_after_the_tls_handshake() {
    let app = TestApp::spawn_with(|config| config.timeouts.headers = Duration::from_secs(1)).await;
    let started = Instant::now();
    let mut plain = TcpStream::connect(addr(&app)).await.unwrap();
    plain.write_all(b"GET /_palisade/health HTTP/1.1\r\nHo").await.unwrap();
    let (_, closed) = read_for(&mut plain, Duration::from_secs(6)).await;
    assert!(closed, "a connection sending half its headers is still open after 6 s");
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());

    let ca = std::fs::read(app.data_dir.join("tls").join("ca.pem")).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pemfile::certs(&mut ca.as_slice()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let client = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(client));
    let tcp = TcpStream::connect(app.https.trim_start_matches("https://"))
        .await
        .unwrap();
    let mut tls = connector
        .connect("localhost".try_into().unwrap(), tcp)
        .await
        .expect("handshake");
    let started = Instant::now();
    tls.write_all(b"GET /_palisade/health HTTP/1.1\r\nHo").await.unwrap();
    tls.flush().await.unwrap();
    let (_, closed) = read_for(&mut tls, Duration::from_secs(6)).await;
    assert!(
        closed,
        "a TLS connection sending half its headers is still open after 6 s"
    );
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    let app = TestApp::spawn_with(|config| config.timeouts.headers = Duration::from_secs(1)).await;
    let mut stream = TcpStream::connect(addr(&app)).await.unwrap();
    let host = addr(&app);
    stream
        .write_all(format!("GET /_palisade/health HTTP/1.1\r\nHost: {host}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let (answer, closed) = read_for(&mut stream, Duration::from_secs(6)).await;
    assert!(status_line(&answer).contains(" 200 "), "{answer}");
    assert!(closed, "an idle keep-alive connection is still open after 6 s");
}

/// Writes one HTTP/2 frame (RFC 9113 §4.1): length, type, flags, stream 0, payload.
async fn h2_frame(stream: &mut TcpStream, kind: u8, flags: u8, payload: &[u8]) {
    let length = u32::try_from(payload.len()).unwrap().to_be_bytes();
    let mut frame = vec![length[1], length[2], length[3], kind, flags, 0, 0, 0, 0];
    frame.extend_from_slice(payload);
    stream.write_all(&frame).await.unwrap();
}

#[tokio::test]
async fn an_http2_connection_that_only_pings_is_closed_once_idle() {
    const PING: u8 = 6;
    const GOAWAY: u8 = 7;
    let app = TestApp::spawn_with(|config| config.timeouts.idle = Duration::from_secs(2)).await;
    let mut stream = TcpStream::connect(addr(&app)).await.unwrap();
    // Prior-knowledge HTTP/2 (h2c): the preface, then empty SETTINGS.
    stream.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n").await.unwrap();
    h2_frame(&mut stream, 4, 0, &[]).await;
    let started = Instant::now();
    let (mut received, mut goaway, mut ping_acks) = (Vec::new(), false, 0);
    let mut next_ping = Instant::now();
    let closed_after = loop {
        if started.elapsed() > Duration::from_secs(12) {
            panic!("an HTTP/2 connection that keeps pinging is still open after 12 s (idle limit 2 s)");
        }
        // The client stays alive in the server's eyes: a ping every 250 ms, and every ping of the
        // server answered.
        if Instant::now() >= next_ping {
            h2_frame(&mut stream, PING, 0, b"palisade").await;
            next_ping = Instant::now() + Duration::from_millis(250);
        }
        let mut buf = [0u8; 4096];
        match tokio::time::timeout(Duration::from_millis(100), stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break started.elapsed(),
            Ok(Ok(n)) => received.extend_from_slice(&buf[..n]),
            Err(_) => {}
        }
        // Whole frames: answer the server's pings, note acknowledgements and GOAWAY.
        while received.len() >= 9 {
            let length = usize::from(received[0]) << 16 | usize::from(received[1]) << 8 | usize::from(received[2]);
            if received.len() < 9 + length {
                break;
            }
            let (kind, flags) = (received[3], received[4]);
            let payload: Vec<u8> = received[9..9 + length].to_vec();
            received.drain(..9 + length);
            match (kind, flags & 1) {
                (PING, 0) => {
                    let mut ack = vec![0, 0, 8, PING, 1, 0, 0, 0, 0];
                    ack.extend_from_slice(&payload);
                    let _ = stream.write_all(&ack).await;
                }
                (PING, _) => ping_acks += 1,
                (GOAWAY, _) => goaway = true,
                _ => {}
            }
        }
    };
    assert!(
        ping_acks > 0,
        "the server never answered a ping: not an HTTP/2 connection?"
    );
    assert!(goaway, "the connection was cut without a GOAWAY");
    assert!(
        closed_after >= Duration::from_millis(1500),
        "closed after {closed_after:?}, before the idle limit of 2 s"
    );
}

#[tokio::test]
async fn a_body_slower_than_declared_is_cut_off() {
    let app = TestApp::spawn_with(|config| config.timeouts.body = Duration::from_secs(1)).await;
    let host = addr(&app);
    let token = app.token().await;
    let mut stream = TcpStream::connect(addr(&app)).await.unwrap();
    stream
        .write_all(
            format!(
                "POST /api/indicators HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"indic"
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let started = Instant::now();
    let (answer, _) = read_for(&mut stream, Duration::from_secs(6)).await;
    assert!(status_line(&answer).contains(" 400 "), "{answer}");
    assert!(answer.contains("did not arrive within"), "{answer}");
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
}

#[tokio::test]
async fn duplicate_json_keys_are_refused_naming_the_key() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let body = r#"{"indicatorValue":"evil.example","indicatorType":"DomainName","action":"Alert","action":"Allowed","title":"t","description":"d"}"#;
    let response = app.post("/api/indicators", &token, body).await;
    expect_error(
        &app,
        response,
        400,
        "InvalidRequestBody",
        &["'action' appears more than once"],
    )
    .await;
}

#[tokio::test]
async fn isolate_refuses_an_empty_comment_and_takes_a_null_isolation_type_as_absent() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let machine = windows_machine(&app, &token).await;
    let path = format!("/api/machines/{machine}/isolate");
    let empty = app.post(&path, &token, r#"{"Comment":"","IsolationType":null}"#).await;
    expect_error(&app, empty, 400, "MissingRequiredParameter", &["Comment"]).await;
    let blank = app.post(&path, &token, r#"{"Comment":"  "}"#).await;
    expect_error(&app, blank, 400, "MissingRequiredParameter", &["Comment"]).await;
    let ok = app
        .post(&path, &token, r#"{"Comment":"contain","IsolationType":null}"#)
        .await;
    assert_eq!(ok.status(), 201);
    let action: serde_json::Value = ok.json().await.unwrap();
    assert_eq!(action["scope"], "Full");
}

#[tokio::test]
async fn a_machine_update_that_changes_nothing_is_refused() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let machine = windows_machine(&app, &token).await;
    let path = format!("/api/machines/{machine}");
    let null = app.patch(&path, &token, r#"{"deviceValue":null}"#).await;
    expect_error(&app, null, 400, "InvalidRequestBody", &["nothing to update"]).await;
    let set = app.patch(&path, &token, r#"{"deviceValue":"High"}"#).await;
    assert_eq!(set.status(), 200);
}

#[tokio::test]
async fn the_admin_api_refuses_a_blank_domain_or_client_id() {
    let app = TestApp::spawn().await;
    let domain = admin(
        &app,
        Method::POST,
        "/_palisade/tenants",
        Some(serde_json::json!({"domain": ""})),
    )
    .await;
    expect_error(&app, domain, 400, "InvalidDomainName", &[]).await;
    let client = admin(
        &app,
        Method::POST,
        "/_palisade/tokens",
        Some(serde_json::json!({"clientId": ""})),
    )
    .await;
    expect_error(&app, client, 400, "InvalidInput", &["clientId"]).await;
    let named = admin(
        &app,
        Method::POST,
        "/_palisade/tenants",
        Some(serde_json::json!({"domain": "contoso.onmicrosoft.com"})),
    )
    .await;
    assert_eq!(named.status(), 201);
}

#[tokio::test]
async fn invalid_utf8_in_a_filter_literal_is_the_same_400_as_in_a_path() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let response = app
        .get("/api/machines?$filter=computerDnsName%20eq%20'%FF%FE'", &token)
        .await;
    expect_error(&app, response, 400, "BadRequest", &["Invalid query", "$filter"]).await;
    let fine = app
        .get("/api/machines?$filter=computerDnsName%20eq%20'%C3%A9'", &token)
        .await;
    assert_eq!(fine.status(), 200);
}
