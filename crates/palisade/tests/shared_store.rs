//! Many processes over one store behave as one (issue 14): two `palisade serve` processes (the
//! real binary) are started at the same moment on one empty store, then requests alternate
//! between them. Every check names what must be shared: the first start (migrations, the demo
//! tenant exactly once), the signing key, machine actions and their lifecycle, the rate-limit
//! windows, the error journal, the clock, tenants and apps, features, fault rules, the library.
//!
//! The scenario takes a [`Backend`], which only says how to name one store on the `serve` command
//! line: SQLite (a data directory) or PostgreSQL (a database of a throwaway cluster; those tests
//! need PostgreSQL's server binaries and are `#[ignore]`d: `cargo test -p palisade --test
//! shared_store -- --ignored`, which `.ci/run` runs).

use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_palisade");
const TENANT: &str = "9a115ade-7e4a-4000-8000-000000000001";
const CLIENT_ID: &str = "9a115ade-c11e-4000-8000-000000000001";
const SECRET: &str = "palisade-dev-secret";
const MDE_SCOPE: &str = "https://api.securitycenter.microsoft.com/.default";
/// The documented bounds this test holds the processes to (README, "Many processes, one store").
const CLOCK_BOUND: Duration = Duration::from_millis(100);
const CACHE_BOUND: Duration = Duration::from_secs(2);

/// Where the processes keep their state.
pub enum Backend {
    /// One SQLite data directory.
    Sqlite(tempfile::TempDir),
    /// One PostgreSQL database (its URL), and a data directory the processes share for the rest.
    Postgres(String, tempfile::TempDir),
}

impl Backend {
    /// The `serve` arguments naming the store.
    fn store_args(&self) -> Vec<OsString> {
        match self {
            Backend::Sqlite(dir) => vec!["--data".into(), dir.path().into()],
            Backend::Postgres(url, dir) => vec!["--data".into(), dir.path().into(), "--store".into(), url.into()],
        }
    }

    /// A new, empty database of this test process's throwaway PostgreSQL cluster.
    fn postgres() -> Backend {
        use palisade_store_postgres::throwaway::Throwaway;
        static CLUSTER: std::sync::OnceLock<Throwaway> = std::sync::OnceLock::new();
        let cluster =
            CLUSTER.get_or_init(|| Throwaway::start().unwrap_or_else(|why| panic!("cannot start PostgreSQL: {why}")));
        let url = cluster.create_database().unwrap_or_else(|why| panic!("{why}"));
        Backend::Postgres(url, tempfile::tempdir().expect("temp dir"))
    }
}

struct Served {
    child: Child,
    addr: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `palisade serve` (HTTP only, rate limits on) without waiting for it.
fn spawn(backend: &Backend) -> Child {
    Command::new(BIN)
        .args(["serve", "--http", "127.0.0.1:0", "--https", "off"])
        .args(backend.store_args())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("palisade serve starts")
}

/// Reads the process's address from its banner (it prints it once it listens).
fn ready(mut child: Child) -> Served {
    // Stderr is drained all along (a full pipe would stall the server), its tail kept for failures.
    let stderr = child.stderr.take().expect("stderr");
    let tail = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let kept = tail.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let mut kept = kept.lock().unwrap_or_else(|e| e.into_inner());
            if kept.len() > 16_384 {
                kept.clear();
            }
            kept.push_str(&line);
            kept.push('\n');
        }
    });
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let addr = loop {
        let line = match lines.next() {
            Some(Ok(line)) => line,
            _ => {
                let status = child.wait().expect("exit status");
                std::thread::sleep(Duration::from_millis(100));
                let tail = tail.lock().unwrap_or_else(|e| e.into_inner()).clone();
                panic!("palisade serve ended before listening: {status}\n{tail}");
            }
        };
        if let Some(url) = line.trim().strip_prefix("HTTP") {
            if !url.starts_with('S') {
                break url.trim().trim_start_matches("http://").to_string();
            }
        }
    };
    std::thread::spawn(move || for _ in lines {});
    Served { child, addr }
}

/// One HTTP/1.1 exchange.
fn http(addr: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> (u16, String) {
    let stream = TcpStream::connect(addr).expect("connects");
    exchange(stream, addr, method, path, headers, body)
}

/// One HTTP/1.1 exchange on a connection already open (so racers can connect first, then send
/// together).
fn exchange(
    mut stream: TcpStream,
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String) {
    stream.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    stream.write_all(request.as_bytes()).expect("request sent");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("response read");
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let (head, body) = response.split_once("\r\n\r\n").expect("head and body");
    let body = if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        dechunk(body)
    } else {
        body.to_string()
    };
    (status, body)
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.push_str(&rest[..size]);
        body = &rest[size + 2..];
    }
    out
}

fn api(addr: &str, method: &str, path: &str, token: &str, body: &Value) -> (u16, Value) {
    let bearer = format!("Bearer {token}");
    let body = if body.is_null() {
        String::new()
    } else {
        body.to_string()
    };
    let (status, text) = http(
        addr,
        method,
        path,
        &[("Authorization", &bearer), ("Content-Type", "application/json")],
        &body,
    );
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

fn admin(addr: &str, method: &str, path: &str, body: &Value) -> (u16, Value) {
    let body = if body.is_null() {
        String::new()
    } else {
        body.to_string()
    };
    let (status, text) = http(addr, method, path, &[("Content-Type", "application/json")], &body);
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

/// Client credentials at one process's sign-in endpoint.
fn sign_in(addr: &str, tenant: &str, client_id: &str, secret: &str) -> String {
    let form = format!(
        "grant_type=client_credentials&client_id={client_id}&client_secret={secret}&scope={}",
        MDE_SCOPE.replace(':', "%3A").replace('/', "%2F")
    );
    let (status, text) = http(
        addr,
        "POST",
        &format!("/{tenant}/oauth2/v2.0/token"),
        &[("Content-Type", "application/x-www-form-urlencoded")],
        &form,
    );
    assert_eq!(status, 200, "sign-in: {text}");
    let body: Value = serde_json::from_str(&text).expect("token json");
    body["access_token"].as_str().expect("access_token").to_string()
}

/// Polls `check` until it holds or `bound` (plus a margin for a loaded machine) passes; answers
/// how long it took.
fn within(bound: Duration, what: &str, mut check: impl FnMut() -> bool) -> Duration {
    let started = Instant::now();
    let margin = bound * 3 + Duration::from_millis(500);
    loop {
        if check() {
            return started.elapsed();
        }
        assert!(started.elapsed() < margin, "{what}: not seen within {margin:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn eligible_machines(addr: &str, token: &str) -> Vec<String> {
    let (status, body) = api(
        addr,
        "GET",
        "/api/machines?$filter=osPlatform%20eq%20%27Windows11%27%20and%20healthStatus%20eq%20%27Active%27",
        token,
        &Value::Null,
    );
    assert_eq!(status, 200, "{body}");
    body["value"]
        .as_array()
        .expect("machines")
        .iter()
        .filter_map(|m| m["id"].as_str().map(String::from))
        .collect()
}

/// The whole scenario on one backend.
pub fn two_processes_behave_as_one(backend: &Backend) {
    // Started at the same moment on an empty store: both migrate and initialise, once.
    let (a, b) = (spawn(backend), spawn(backend));
    let (a, b) = (ready(a), ready(b));
    let (a, b) = (a.addr.as_str(), b.addr.as_str());
    for addr in [a, b] {
        let (status, tenants) = admin(addr, "GET", "/_palisade/tenants", &Value::Null);
        assert_eq!(status, 200, "{tenants}");
        let tenants = tenants["value"].as_array().expect("tenants").clone();
        assert_eq!(tenants.len(), 1, "one demo tenant, created once: {tenants:?}");
        assert_eq!(tenants[0]["id"], TENANT);
    }

    // The signing key is shared: a token issued by A is accepted by B, and the other way round.
    let token = sign_in(a, TENANT, CLIENT_ID, SECRET);
    let token_b = sign_in(b, TENANT, CLIENT_ID, SECRET);
    for (addr, token) in [(b, &token), (a, &token_b)] {
        let (status, body) = api(addr, "GET", "/api/machines?$top=1", token, &Value::Null);
        assert_eq!(status, 200, "a token from the other process: {body}");
    }

    // Machine actions: an isolation requested on A is pending on B.
    let machines = eligible_machines(a, &token);
    assert!(machines.len() >= 2, "two eligible demo machines: {machines:?}");
    let (status, created) = api(
        a,
        "POST",
        &format!("/api/machines/{}/isolate", machines[0]),
        &token,
        &json!({"Comment": "shared store", "IsolationType": "Full"}),
    );
    assert_eq!(status, 201, "{created}");
    let action_id = created["id"].as_str().expect("action id").to_string();
    let (status, seen) = api(
        b,
        "GET",
        &format!("/api/machineactions/{action_id}"),
        &token,
        &Value::Null,
    );
    assert_eq!((status, &seen["status"]), (200, &json!("Pending")), "{seen}");
    let (status, again) = api(
        b,
        "POST",
        &format!("/api/machines/{}/isolate", machines[0]),
        &token,
        &json!({"Comment": "again, on B", "IsolationType": "Full"}),
    );
    assert_eq!(status, 400, "B knows A's pending isolation: {again}");
    assert_eq!(again["error"]["code"], "ActiveRequestAlreadyExists");

    // 20 concurrent duplicate isolations of one machine, spread over both: exactly one action.
    // Every racer connects first and sends when all are connected. The target machine gets 2,000
    // finished antivirus scans first: every request reads and decodes them between its conflict
    // check and its write, which widens the check-then-write window a lock must close (without
    // the shared lock, this creates more than one action).
    let target = machines[1].clone();
    let mut template = created.clone();
    template
        .as_object_mut()
        .expect("action object")
        .remove("@odata.context");
    template["machineId"] = json!(target);
    template["type"] = json!("RunAntiVirusScan");
    template["status"] = json!("Succeeded");
    template["scope"] = json!("Quick");
    let padding: Vec<Value> = (0..2_000)
        .map(|n| {
            let mut action = template.clone();
            action["id"] = json!(format!("00000000-0000-4000-8000-{n:012}"));
            action
        })
        .collect();
    let (status, loaded) = admin(
        a,
        "POST",
        &format!("/_palisade/tenants/{TENANT}/data"),
        &json!({ "machineActions": padding }),
    );
    assert_eq!(status, 200, "{loaded}");
    let start = std::sync::Barrier::new(20);
    let outcomes: Vec<(u16, Value)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..20)
            .map(|n| {
                let (addr, token, target, start) = (if n % 2 == 0 { a } else { b }, &token, &target, &start);
                scope.spawn(move || {
                    let stream = TcpStream::connect(addr).expect("connects");
                    let bearer = format!("Bearer {token}");
                    let body = json!({"Comment": format!("race {n}"), "IsolationType": "Full"}).to_string();
                    start.wait();
                    let (status, text) = exchange(
                        stream,
                        addr,
                        "POST",
                        &format!("/api/machines/{target}/isolate"),
                        &[("Authorization", &bearer), ("Content-Type", "application/json")],
                        &body,
                    );
                    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("racer")).collect()
    });
    let created: Vec<&(u16, Value)> = outcomes.iter().filter(|(status, _)| *status == 201).collect();
    assert_eq!(created.len(), 1, "exactly one isolation created: {outcomes:?}");
    for (status, body) in outcomes.iter().filter(|(status, _)| *status != 201) {
        assert_eq!(*status, 400, "{body}");
        assert_eq!(body["error"]["code"], "ActiveRequestAlreadyExists", "{body}");
    }
    for addr in [a, b] {
        let (status, listed) = api(
            addr,
            "GET",
            &format!("/api/machineactions?$filter=machineId%20eq%20%27{target}%27%20and%20type%20eq%20%27Isolate%27"),
            &token,
            &Value::Null,
        );
        assert_eq!(status, 200, "{listed}");
        assert_eq!(listed["value"].as_array().map(Vec::len), Some(1), "{listed}");
    }

    // The error journal: a target raised on A is traced on B, at once.
    let (status, error) = api(a, "GET", "/api/machines/no-such-machine-0001", &token, &Value::Null);
    assert_eq!(status, 404, "{error}");
    let target_id = error["error"]["target"].as_str().expect("target").to_string();
    let (status, record) = admin(b, "GET", &format!("/_palisade/errors/{target_id}"), &Value::Null);
    assert_eq!(status, 200, "B traces A's error: {record}");
    assert_eq!(record["code"], "ResourceNotFound");
    assert_eq!(record["path"], "/api/machines/no-such-machine-0001");

    // The clock: advanced on A, B's actions move on with it within the refresh bound.
    let (status, clock) = admin(a, "POST", "/_palisade/clock", &json!({"advanceSeconds": 120}));
    assert_eq!(status, 200, "{clock}");
    let took = within(CLOCK_BOUND, "A's clock change on B", || {
        let (_, seen) = api(
            b,
            "GET",
            &format!("/api/machineactions/{action_id}"),
            &token,
            &Value::Null,
        );
        seen["status"] == "Succeeded"
    });
    eprintln!("clock change seen on B after {took:?}");
    let (_, clock_b) = admin(b, "GET", "/_palisade/clock", &Value::Null);
    assert!(
        clock_b["offsetSeconds"]
            .as_f64()
            .is_some_and(|s| (s - 120.0).abs() < 5.0),
        "{clock_b}"
    );

    // Tenants and apps: created on A, used through B (whose sign-in issues the token).
    let (status, tenant) = admin(
        a,
        "POST",
        "/_palisade/tenants",
        &json!({"displayName": "Shared", "domain": "shared-store.example.com", "roles": ["Machine.Read.All"]}),
    );
    assert_eq!(status, 201, "{tenant}");
    let (tenant_id, client_id, secret) = (
        tenant["tenantId"].as_str().expect("tenantId").to_string(),
        tenant["clientId"].as_str().expect("clientId").to_string(),
        tenant["clientSecret"].as_str().expect("clientSecret").to_string(),
    );
    let other_token = sign_in(b, &tenant_id, &client_id, &secret);
    let (status, body) = api(a, "GET", "/api/machines?$top=1", &other_token, &Value::Null);
    assert_eq!(status, 200, "{body}");
    // Deleted on B: A refuses its tokens within the registration cache's bound.
    let (status, _) = admin(
        b,
        "DELETE",
        &format!("/_palisade/tenants/{tenant_id}/apps/{client_id}"),
        &Value::Null,
    );
    assert_eq!(status, 204);
    let took = within(CACHE_BOUND, "an app deleted on B refused on A", || {
        api(a, "GET", "/api/machines?$top=1", &other_token, &Value::Null).0 == 401
    });
    eprintln!("app deletion seen on A after {took:?}");

    // Features: switched off on B, refused on A at once (read from the store per call).
    let (status, _) = admin(
        b,
        "PATCH",
        &format!("/_palisade/tenants/{TENANT}/features"),
        &json!({"automatedInvestigation": false}),
    );
    assert_eq!(status, 200);
    let (status, refused) = api(
        a,
        "POST",
        &format!("/api/machines/{}/startInvestigation", machines[0]),
        &token,
        &json!({"Comment": "feature off"}),
    );
    assert!(status >= 400, "{refused}");
    assert_eq!(refused["error"]["code"], "DisabledFeature", "{refused}");

    // Fault rules: created on A, counted across both: `times: 3` fires exactly three times over
    // calls alternating between the processes (once B's copy has followed, within its bound).
    let (status, rule) = admin(
        a,
        "POST",
        "/_palisade/faults",
        &json!({"path": "/api/alerts", "method": "GET", "error": "InternalServerError", "times": 3}),
    );
    assert_eq!(status, 201, "{rule}");
    std::thread::sleep(CLOCK_BOUND * 3);
    let statuses: Vec<u16> = (0..8)
        .map(|n| {
            api(
                if n % 2 == 0 { b } else { a },
                "GET",
                "/api/alerts?$top=1",
                &token,
                &Value::Null,
            )
            .0
        })
        .collect();
    assert_eq!(
        statuses,
        [500, 500, 500, 200, 200, 200, 200, 200],
        "one budget of three firings"
    );
    let (_, rule_b) = admin(
        b,
        "GET",
        &format!("/_palisade/faults/{}", rule["id"].as_str().expect("rule id")),
        &Value::Null,
    );
    assert_eq!(
        (&rule_b["fired"], &rule_b["state"]),
        (&json!(3), &json!("Exhausted")),
        "{rule_b}"
    );
    let (status, _) = admin(b, "DELETE", "/_palisade/faults", &Value::Null);
    assert_eq!(status, 204);

    // The live-response library: uploaded through A, listed and read back through B.
    let boundary = "palisade-shared-store";
    let form = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"File\"; filename=\"shared.ps1\"\r\n\
         Content-Type: application/octet-stream\r\n\r\nWrite-Output shared\r\n--{boundary}--\r\n"
    );
    let bearer = format!("Bearer {token}");
    let content_type = format!("multipart/form-data; boundary={boundary}");
    let (status, uploaded) = http(
        a,
        "POST",
        "/api/libraryfiles",
        &[("Authorization", &bearer), ("Content-Type", &content_type)],
        &form,
    );
    assert_eq!(status, 200, "{uploaded}");
    let (status, listed) = api(b, "GET", "/api/libraryfiles", &token, &Value::Null);
    assert_eq!(status, 200, "{listed}");
    assert!(
        listed["value"]
            .as_array()
            .is_some_and(|files| files.iter().any(|f| f["fileName"] == "shared.ps1")),
        "{listed}"
    );
    let (status, bytes) = http(
        b,
        "GET",
        &format!("/_palisade/tenants/{TENANT}/libraryfiles/shared.ps1"),
        &[],
        "",
    );
    assert_eq!((status, bytes.as_str()), (200, "Write-Output shared"));

    // Rate limits: 100 calls spread over both processes fill one shared window; the 101st is
    // refused, whichever process takes it.
    let (status, _) = admin(a, "DELETE", "/_palisade/ratelimits", &Value::Null);
    assert_eq!(status, 204);
    let path = format!("/api/machines/{}", machines[0]);
    for n in 0..100 {
        let addr = if n % 2 == 0 { a } else { b };
        let (status, body) = api(addr, "GET", &path, &token, &Value::Null);
        assert_eq!(status, 200, "call {} of 100: {body}", n + 1);
    }
    for addr in [a, b] {
        let (status, body) = api(addr, "GET", &path, &token, &Value::Null);
        assert_eq!(status, 429, "over the shared limit: {body}");
        assert_eq!(body["error"]["code"], "TooManyRequests");
    }
}

/// Processes started together on an empty store all come up, and the first start's work (the
/// demo tenant, its app and data) is done once: several rounds, as the collisions are timing.
pub fn simultaneous_first_starts_initialise_once(make: &dyn Fn() -> Backend) {
    for round in 0..4 {
        let backend = make();
        let children: Vec<Child> = (0..3).map(|_| spawn(&backend)).collect();
        let served: Vec<Served> = children.into_iter().map(ready).collect();
        let mut machine_counts = Vec::new();
        for process in &served {
            let (status, tenants) = admin(&process.addr, "GET", "/_palisade/tenants", &Value::Null);
            assert_eq!(status, 200, "round {round}: {tenants}");
            assert_eq!(
                tenants["value"].as_array().map(Vec::len),
                Some(1),
                "round {round}: {tenants}"
            );
            let token = sign_in(&process.addr, TENANT, CLIENT_ID, SECRET);
            let (status, count) = api(&process.addr, "GET", "/api/machines/$count", &token, &Value::Null);
            assert_eq!(status, 200, "round {round}: {count}");
            machine_counts.push(count);
        }
        assert!(
            machine_counts.iter().all(|c| *c == machine_counts[0]),
            "round {round}: every process sees one demo population: {machine_counts:?}"
        );
    }
}

#[test]
fn sqlite_simultaneous_first_starts_initialise_once() {
    simultaneous_first_starts_initialise_once(&|| Backend::Sqlite(tempfile::tempdir().expect("temp dir")));
}

#[test]
fn sqlite_two_processes_behave_as_one() {
    let backend = Backend::Sqlite(tempfile::tempdir().expect("temp dir"));
    two_processes_behave_as_one(&backend);
}

#[test]
#[ignore = "needs PostgreSQL: cargo test -p palisade --test shared_store -- --ignored"]
fn postgres_simultaneous_first_starts_initialise_once() {
    simultaneous_first_starts_initialise_once(&Backend::postgres);
}

#[test]
#[ignore = "needs PostgreSQL: cargo test -p palisade --test shared_store -- --ignored"]
fn postgres_two_processes_behave_as_one() {
    two_processes_behave_as_one(&Backend::postgres());
}

/// With rate limits off nothing touches the windows in the store (SQLite only: it reads the file).
#[test]
fn sqlite_rate_limits_off_leave_the_store_untouched() {
    let window_rows = |dir: &std::path::Path| -> i64 {
        let db = rusqlite::Connection::open(dir.join("palisade.db")).expect("open the store");
        db.query_row("SELECT count(*) FROM rate_windows", [], |row| row.get(0))
            .expect("count windows")
    };
    for (flag, expect_rows) in [(Some("--no-rate-limits"), false), (None, true)] {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut command = Command::new(BIN);
        command
            .args(["serve", "--http", "127.0.0.1:0", "--https", "off", "--data"])
            .arg(dir.path())
            .args(flag)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let served = ready(command.spawn().expect("palisade serve starts"));
        let token = sign_in(&served.addr, TENANT, CLIENT_ID, SECRET);
        for _ in 0..5 {
            let (status, body) = api(&served.addr, "GET", "/api/machines?$top=1", &token, &Value::Null);
            assert_eq!(status, 200, "{body}");
        }
        assert_eq!(window_rows(dir.path()) > 0, expect_rows, "{flag:?}");
    }
}
