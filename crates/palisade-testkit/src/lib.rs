//! Palisade's black-box test kit: [`TestApp::spawn`] starts the real server on `127.0.0.1:0` (HTTP
//! and HTTPS) with a temporary data directory on a store [`Backend`]; its methods fetch tokens and
//! send requests; [`expect_error`] checks error envelopes (including that their `target` resolves
//! in the journal); the free helpers ([`values`], [`keys`], [`all_alerts`], [`admin`], [`submit`],
//! [`windows_machine`], [`multipart_form`]) are the ones several test files need.
//!
//! The backend is chosen per app ([`TestApp::spawn_on`]) or for a whole run with
//! `PALISADE_TEST_BACKEND` (`sqlite`, the default, or `postgres`), so one suite runs against every
//! backend, as Azurite's test server factory does. On PostgreSQL each test process starts one
//! throwaway cluster from the local server binaries (or uses the server whose admin database
//! `PALISADE_TEST_POSTGRES_URL` names) and gives every app a database of its own; when no server
//! can be had the test fails, saying why, rather than quietly running on SQLite.

use palisade_server::{Config, Server};
use reqwest::{Method, Response, StatusCode};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::Once;

pub const TENANT: &str = "9a115ade-7e4a-4000-8000-000000000001";
pub const CLIENT_ID: &str = "9a115ade-c11e-4000-8000-000000000001";
pub const SECRET: &str = "palisade-dev-secret";
pub const MDE: &str = "https://api.securitycenter.microsoft.com";
pub const GRAPH: &str = "https://graph.microsoft.com";

/// The store a [`TestApp`] runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The embedded SQLite file in the app's temporary data directory.
    Sqlite,
    /// A fresh database of this test process's PostgreSQL server.
    Postgres,
}

impl Backend {
    /// The backend of this test run: `PALISADE_TEST_BACKEND` (`sqlite` or `postgres`), SQLite
    /// when unset.
    pub fn from_env() -> Backend {
        match std::env::var("PALISADE_TEST_BACKEND").as_deref() {
            Err(_) | Ok("") | Ok("sqlite") => Backend::Sqlite,
            Ok("postgres") | Ok("postgresql") => Backend::Postgres,
            Ok(other) => panic!("PALISADE_TEST_BACKEND={other}: the test kit knows `sqlite` and `postgres`"),
        }
    }

    /// Points a configuration at this backend.
    fn configure(self, config: &mut Config) {
        match self {
            // `Config::ephemeral` already keeps the SQLite file in the data directory.
            Backend::Sqlite => {}
            Backend::Postgres => {
                // The driver blocks on a runtime of its own, which a test's async thread may not.
                let url = std::thread::spawn(postgres::fresh_database)
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
                config.store = palisade_server::StoreConfig::from_location(Some(&url)).expect("a postgres URL");
                // Enough connections for the server's blocking work and its point reads, but
                // few per app: a test process runs many apps on one cluster.
                config.store.postgres.pool_size = 10;
            }
        }
    }
}

/// The PostgreSQL server of this test process.
pub mod postgres {
    use palisade_store_postgres::throwaway::Throwaway;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::OnceLock;

    enum Server {
        Own(Throwaway),
        Given(String),
    }

    fn server() -> &'static Server {
        static SERVER: OnceLock<Server> = OnceLock::new();
        SERVER.get_or_init(|| match std::env::var("PALISADE_TEST_POSTGRES_URL") {
            Ok(url) if !url.trim().is_empty() => Server::Given(url),
            _ => Server::Own(Throwaway::start().unwrap_or_else(|why| {
                panic!("PALISADE_TEST_BACKEND=postgres, but no PostgreSQL server can be started: {why}")
            })),
        })
    }

    /// The throwaway cluster of this process, started on first use (`None` when the run uses a
    /// given server): tests that stop and start the database use it.
    pub fn cluster() -> Option<&'static Throwaway> {
        match server() {
            Server::Own(cluster) => Some(cluster),
            Server::Given(_) => None,
        }
    }

    /// Creates an empty database and answers its URL.
    pub fn fresh_database() -> String {
        match server() {
            Server::Own(cluster) => cluster.create_database().unwrap_or_else(|why| panic!("{why}")),
            Server::Given(admin_url) => {
                static MADE: AtomicUsize = AtomicUsize::new(0);
                let name = format!(
                    "palisade_{}_{}",
                    std::process::id(),
                    MADE.fetch_add(1, Ordering::Relaxed)
                );
                let mut client = ::postgres::Client::connect(admin_url, ::postgres::NoTls)
                    .unwrap_or_else(|e| panic!("PALISADE_TEST_POSTGRES_URL: {e}"));
                client
                    .batch_execute(&format!("CREATE DATABASE {name}"))
                    .unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {e}"));
                match admin_url.rsplit_once('/') {
                    Some((server, _db)) => format!("{server}/{name}"),
                    None => panic!("PALISADE_TEST_POSTGRES_URL must be a postgres:// URL ending in /database"),
                }
            }
        }
    }
}

pub struct TestApp {
    server: Option<Server>,
    /// The store this app runs on.
    pub backend: Backend,
    /// `http://127.0.0.1:port`
    pub http: String,
    /// `https://127.0.0.1:port`
    pub https: String,
    pub data_dir: PathBuf,
    _dir: Option<tempfile::TempDir>,
    pub client: reqwest::Client,
    config: Config,
}

fn install_crypto() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

impl TestApp {
    /// Starts a server on the run's backend ([`Backend::from_env`]).
    pub async fn spawn() -> TestApp {
        Self::spawn_with(|_| {}).await
    }

    /// Starts a server on the given backend.
    pub async fn spawn_on(backend: Backend) -> TestApp {
        Self::spawn_on_with(backend, |_| {}).await
    }

    /// Starts a server after letting the test adjust its configuration.
    pub async fn spawn_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
        Self::spawn_on_with(Backend::from_env(), adjust).await
    }

    /// Starts a server on the given backend after letting the test adjust its configuration.
    pub async fn spawn_on_with(backend: Backend, adjust: impl FnOnce(&mut Config)) -> TestApp {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = Config::ephemeral(dir.path());
        backend.configure(&mut config);
        adjust(&mut config);
        let mut app = Self::start(backend, config).await;
        app._dir = Some(dir);
        app
    }

    async fn start(backend: Backend, config: Config) -> TestApp {
        install_crypto();
        let server = Server::start(config.clone()).await.expect("server starts");
        let ca = std::fs::read(&server.ca_cert).expect("CA file");
        let client = reqwest::Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(&ca).expect("CA pem"))
            .build()
            .expect("client");
        TestApp {
            backend,
            http: format!("http://{}", server.http_addr.expect("http")),
            https: format!("https://{}", server.https_addr.expect("https")),
            data_dir: config.data_dir.clone(),
            server: Some(server),
            _dir: None,
            client,
            config,
        }
    }

    /// Stops the server and starts a new one on the same data directory (and fresh ports).
    pub async fn restart(self) -> TestApp {
        self.restart_with(|_| {}).await
    }

    /// Stops the server, lets the test change the data directory while it is down, and starts a new
    /// one on it.
    pub async fn restart_with(mut self, change: impl FnOnce(&Path)) -> TestApp {
        if let Some(server) = self.server.take() {
            server.shutdown().await;
        }
        change(&self.data_dir);
        let dir = self._dir.take();
        let mut app = Self::start(self.backend, self.config.clone()).await;
        app._dir = dir;
        app
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// A token for the development app (every role) from the v2 token endpoint.
    pub async fn token(&self) -> String {
        self.token_for(TENANT, CLIENT_ID, SECRET).await
    }

    pub async fn token_for(&self, tenant: &str, client_id: &str, secret: &str) -> String {
        let response = self
            .client
            .post(format!("{}/{tenant}/oauth2/v2.0/token", self.https))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", client_id),
                ("client_secret", secret),
                ("scope", &format!("{MDE}/.default")),
            ])
            .send()
            .await
            .expect("token request");
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.expect("token json");
        body["access_token"].as_str().expect("access_token").to_string()
    }

    /// A Microsoft Graph token for the development app (every role) from the v2 token endpoint,
    /// as the Graph SDKs ask for it (`scope=https://graph.microsoft.com/.default`).
    pub async fn graph_token(&self) -> String {
        let response = self
            .client
            .post(format!("{}/{TENANT}/oauth2/v2.0/token", self.https))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", CLIENT_ID),
                ("client_secret", SECRET),
                ("scope", &format!("{GRAPH}/.default")),
            ])
            .send()
            .await
            .expect("token request");
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.expect("token json");
        body["access_token"].as_str().expect("access_token").to_string()
    }

    /// A token minted by the admin API with chosen claims.
    pub async fn mint(&self, overrides: Value) -> String {
        let response = self.admin_post("/_palisade/tokens", overrides).await;
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.unwrap();
        body["accessToken"].as_str().unwrap().to_string()
    }

    /// Registers an app in the demo tenant with `roles`; returns its client id.
    pub async fn register_app(&self, roles: &[&str]) -> String {
        let response = self
            .admin_post(
                &format!("/_palisade/tenants/{TENANT}/apps"),
                json!({"displayName": "test app", "roles": roles}),
            )
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let registered: Value = response.json().await.unwrap();
        registered["clientId"].as_str().unwrap().to_string()
    }

    /// A token of a second app, registered in the demo tenant with every role.
    pub async fn second_app_token(&self) -> String {
        let client_id = self.register_app(palisade_auth::ALL_APP_ROLES).await;
        self.mint(json!({"clientId": client_id})).await
    }

    /// A token of a newly registered app of the demo tenant holding `roles`, with its client id.
    pub async fn app_with_roles(&self, roles: &[&str]) -> (String, String) {
        let client_id = self.register_app(roles).await;
        let token = self.mint(json!({"clientId": client_id, "roles": roles})).await;
        (client_id, token)
    }

    /// Creates a tenant with one app holding `roles`; returns (tenant id, client id, secret).
    pub async fn create_tenant(&self, roles: Option<&[&str]>, demo_data: bool) -> (String, String, String) {
        let mut body = json!({"demoData": demo_data});
        if let Some(roles) = roles {
            body["roles"] = json!(roles);
        }
        let response = self.admin_post("/_palisade/tenants", body).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let v: Value = response.json().await.unwrap();
        (
            v["tenantId"].as_str().unwrap().into(),
            v["clientId"].as_str().unwrap().into(),
            v["clientSecret"].as_str().unwrap().into(),
        )
    }

    pub async fn admin_post(&self, path: &str, body: Value) -> Response {
        self.client
            .post(format!("{}{path}", self.http))
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// A request over plain HTTP with an optional bearer token.
    pub async fn call(&self, method: Method, path: &str, token: Option<&str>, body: Option<&str>) -> Response {
        let mut request = self.client.request(method, format!("{}{path}", self.http));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        request.send().await.expect("request")
    }

    pub async fn get(&self, path: &str, token: &str) -> Response {
        self.call(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: &str) -> Response {
        self.call(Method::POST, path, Some(token), Some(body)).await
    }

    pub async fn patch(&self, path: &str, token: &str, body: &str) -> Response {
        self.call(Method::PATCH, path, Some(token), Some(body)).await
    }

    /// GET and decode a JSON answer that must be 200.
    pub async fn get_ok(&self, path: &str, token: &str) -> Value {
        let response = self.get(path, token).await;
        let status = response.status();
        let text = response.text().await.unwrap();
        assert_eq!(status, StatusCode::OK, "GET {path}: {text}");
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("GET {path}: not JSON ({e}): {text}"))
    }

    /// Freezes the emulator's clock (tests move it with [`TestApp::advance_clock`]).
    pub async fn freeze_clock(&self) -> Value {
        self.clock(json!({"freeze": true})).await
    }

    /// Freezes the emulator's clock and answers the instant it stands at. Tests derive the times
    /// they send from it rather than from the machine's clock, so what they check does not depend
    /// on when, or how slowly, they run.
    pub async fn frozen_now(&self) -> chrono::DateTime<chrono::Utc> {
        let clock = self.freeze_clock().await;
        let now = clock["now"].as_str().expect("the clock answers now");
        chrono::DateTime::parse_from_rfc3339(now)
            .unwrap_or_else(|e| panic!("clock now {now}: {e}"))
            .to_utc()
    }

    /// Moves the emulator's clock forward.
    pub async fn advance_clock(&self, seconds: f64) -> Value {
        self.clock(json!({"advanceSeconds": seconds})).await
    }

    async fn clock(&self, body: Value) -> Value {
        let response = self.admin_post("/_palisade/clock", body).await;
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }

    /// Switches tenant features, e.g. `json!({"liveResponse": false})`.
    pub async fn set_features(&self, tenant: &str, features: Value) -> Value {
        let response = self
            .client
            .patch(format!("{}/_palisade/tenants/{tenant}/features", self.http))
            .json(&features)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }

    /// GETs an absolute URL without a token and decodes the JSON answer.
    pub async fn get_json(&self, url: &str) -> Value {
        self.client
            .get(url)
            .send()
            .await
            .expect("request")
            .json()
            .await
            .expect("JSON body")
    }

    /// Looks an error target up in the journal.
    pub async fn trace(&self, target: &str) -> Option<Value> {
        let response = self
            .client
            .get(format!("{}/_palisade/errors/{target}", self.http))
            .send()
            .await
            .unwrap();
        match response.status() {
            StatusCode::OK => Some(response.json().await.unwrap()),
            _ => None,
        }
    }
}

/// Asserts an error response: status, envelope shape, code, that the message contains each of
/// `mentions`, and that the fresh `target` resolves in the journal to the same code. Returns the
/// journal record.
pub async fn expect_error(app: &TestApp, response: Response, status: u16, code: &str, mentions: &[&str]) -> Value {
    assert_eq!(response.status().as_u16(), status, "status");
    let content_type = response.headers()["content-type"].to_str().unwrap().to_string();
    assert!(
        content_type.starts_with("application/json"),
        "content type {content_type}"
    );
    let request_id = response
        .headers()
        .get("x-ms-request-id")
        .map(|v| v.to_str().unwrap().to_string());
    let body: Value = response.json().await.expect("error body is JSON");
    let error = body["error"]
        .as_object()
        .unwrap_or_else(|| panic!("no error object in {body}"));
    assert_eq!(error.len(), 3, "exactly code, message, target: {body}");
    assert_eq!(error["code"], code, "code in {body}");
    let message = error["message"].as_str().unwrap();
    for mention in mentions {
        assert!(
            message.contains(mention),
            "message '{message}' should mention '{mention}'"
        );
    }
    let target = error["target"].as_str().unwrap();
    assert!(uuid_like(target), "target {target} is a lower-case UUID");
    assert_eq!(request_id.as_deref(), Some(target), "x-ms-request-id echoes the target");
    let record = app
        .trace(target)
        .await
        .unwrap_or_else(|| panic!("target {target} not in the journal"));
    assert_eq!(record["code"], code);
    assert_eq!(record["status"], status);
    assert_eq!(record["message"], message);
    record
}

/// Asserts a sign-in failure in Entra's OAuth2 shape (`error`, `error_description` starting with the
/// AADSTS code and carrying the trace and correlation ids and a timestamp, `error_codes`, `trace_id`,
/// `correlation_id`), and that its `trace_id` resolves in the journal. Returns the journal record.
pub async fn expect_entra_error(app: &TestApp, response: Response, status: u16, error: &str, aadsts: u32) -> Value {
    assert_eq!(response.status().as_u16(), status);
    let body: Value = response.json().await.expect("an Entra error body is JSON");
    assert_eq!(body["error"], error, "{body}");
    assert_eq!(body["error_codes"], json!([aadsts]), "{body}");
    let trace_id = body["trace_id"].as_str().expect("trace_id");
    let correlation_id = body["correlation_id"].as_str().expect("correlation_id");
    assert!(uuid_like(trace_id) && uuid_like(correlation_id), "{body}");
    assert!(body["timestamp"].is_string(), "{body}");
    let description = body["error_description"].as_str().expect("error_description");
    assert!(description.starts_with(&format!("AADSTS{aadsts}: ")), "{description}");
    for part in [
        format!("Trace ID: {trace_id}"),
        format!("Correlation ID: {correlation_id}"),
        "Timestamp: ".to_string(),
    ] {
        assert!(description.contains(&part), "{description} lacks {part}");
    }
    assert!(body.get("target").is_none(), "no Defender envelope: {body}");
    let record = app.trace(trace_id).await.expect("the trace id resolves in the journal");
    assert_eq!(record["code"], error);
    record
}

/// Asserts a Microsoft Graph error: status, Graph's body (`code`, `message`, `innerError` with
/// `date`, `request-id`, `client-request-id` and nothing else), the message naming each of
/// `mentions`, the `request-id` header equal to the body's, and the request id resolving in the
/// journal to the same code. Returns the body.
pub async fn expect_graph_error(
    app: &TestApp,
    response: Response,
    status: u16,
    code: &str,
    mentions: &[&str],
) -> Value {
    assert_eq!(response.status().as_u16(), status, "status");
    let header = |name: &str| response.headers().get(name).map(|v| v.to_str().unwrap().to_string());
    let (request_id, client_request_id) = (header("request-id"), header("client-request-id"));
    let body: Value = response.json().await.expect("a Graph error body is JSON");
    let error = body["error"]
        .as_object()
        .unwrap_or_else(|| panic!("no error object in {body}"));
    assert_eq!(keys(&body["error"]), vec!["code", "message", "innerError"], "{body}");
    assert_eq!(error["code"], code, "code in {body}");
    let message = error["message"].as_str().unwrap();
    for mention in mentions {
        assert!(
            message.contains(mention),
            "message '{message}' should mention '{mention}'"
        );
    }
    let inner = &error["innerError"];
    assert_eq!(keys(inner), vec!["date", "request-id", "client-request-id"], "{body}");
    let id = inner["request-id"].as_str().unwrap();
    assert!(uuid_like(id), "request-id {id}");
    assert_eq!(request_id.as_deref(), Some(id), "the request-id header is the body's");
    assert_eq!(client_request_id.as_deref(), inner["client-request-id"].as_str());
    let record = app
        .trace(id)
        .await
        .unwrap_or_else(|| panic!("request-id {id} not in the journal"));
    assert_eq!(record["code"], code);
    assert_eq!(record["status"], status);
    body
}

pub fn uuid_like(s: &str) -> bool {
    s.len() == 36
        && s.chars().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_digit() || ('a'..='f').contains(&c),
        })
}

/// One part of a `multipart/form-data` body: a text field, or a file with its file name.
pub enum FormPart<'a> {
    Text(&'a str, &'a str),
    File(&'a str, &'a str, &'a [u8]),
}

const FORM_BOUNDARY: &str = "palisade-test-boundary-7d1f3c";

/// Builds a `multipart/form-data` body by hand (so tests can also send malformed forms); returns
/// the content type and the bytes.
pub fn multipart_form(parts: &[FormPart<'_>]) -> (String, Vec<u8>) {
    let mut body = Vec::new();
    for part in parts {
        body.extend_from_slice(format!("--{FORM_BOUNDARY}\r\n").as_bytes());
        match part {
            FormPart::Text(name, value) => {
                body.extend_from_slice(format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes());
                body.extend_from_slice(value.as_bytes());
            }
            FormPart::File(name, file_name, content) => {
                body.extend_from_slice(
                    format!(
                        "Content-Disposition: form-data; name=\"{name}\"; filename=\"{file_name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
                    )
                    .as_bytes(),
                );
                body.extend_from_slice(content);
            }
        }
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{FORM_BOUNDARY}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={FORM_BOUNDARY}"), body)
}

impl TestApp {
    /// `POST /api/libraryfiles` with the given form parts.
    pub async fn upload_form(&self, token: &str, parts: &[FormPart<'_>]) -> Response {
        let (content_type, body) = multipart_form(parts);
        self.client
            .post(format!("{}/api/libraryfiles", self.http))
            .bearer_auth(token)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("upload request")
    }

    /// Uploads a file to the live-response library; it must succeed. Returns the library entity.
    pub async fn upload_library_file(&self, token: &str, file_name: &str, content: &[u8]) -> Value {
        let response = self
            .upload_form(token, &[FormPart::File("File", file_name, content)])
            .await;
        let status = response.status();
        let text = response.text().await.unwrap();
        assert_eq!(status, StatusCode::OK, "upload {file_name}: {text}");
        serde_json::from_str(&text).unwrap()
    }
}

/// The `value` array of a collection answer.
pub fn values(body: &Value) -> &[Value] {
    body["value"].as_array().unwrap_or_else(|| panic!("no value in {body}"))
}

/// An entity's property names, in the order the answer gives them.
pub fn keys(v: &Value) -> Vec<&str> {
    v.as_object().unwrap().keys().map(String::as_str).collect()
}

/// Every alert of the caller's tenant, evidence expanded.
pub async fn all_alerts(app: &TestApp, token: &str) -> Vec<Value> {
    values(&app.get_ok("/api/alerts?$expand=evidence", token).await).to_vec()
}

/// A call to the admin API (no token; loopback is trusted), with an optional JSON body.
pub async fn admin(app: &TestApp, method: Method, path: &str, body: Option<Value>) -> Response {
    let mut request = app.client.request(method, format!("{}{path}", app.http));
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

/// `POST /api/indicators` with `body`.
pub async fn submit(app: &TestApp, token: &str, body: &Value) -> Response {
    app.post("/api/indicators", token, &body.to_string()).await
}

/// An active Windows 11 machine of the caller's tenant, found through the API.
pub async fn windows_machine(app: &TestApp, token: &str) -> String {
    let body = app
        .get_ok(
            "/api/machines?$filter=osPlatform%20eq%20%27Windows11%27%20and%20healthStatus%20eq%20%27Active%27&$top=1",
            token,
        )
        .await;
    body["value"][0]["id"]
        .as_str()
        .expect("a Windows 11 machine")
        .to_string()
}
