//! Crash safety: `palisade serve` is SIGKILLed several times while a few threads write through the
//! API (indicator imports, alert comments, machine actions), then restarted on the same data
//! directory. Every write that was acknowledged (a 2xx received) must be there afterwards, and the
//! database must pass SQLite's `PRAGMA integrity_check`. This holds because the store runs SQLite
//! in WAL mode with `synchronous=NORMAL`: a transaction is in the WAL file (the OS page cache)
//! before the answer is sent, which survives a process kill though not a power loss (see the
//! README, "Durability"). Bounded: four kills about half a second apart.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_palisade");
const KILLS: usize = 4;
const WRITE_WINDOW: Duration = Duration::from_millis(600);

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

/// Starts `palisade serve` on a free port (HTTP only) and reads its address from the banner.
fn serve(data: &Path) -> Served {
    let mut child = Command::new(BIN)
        .args([
            "serve",
            "--http",
            "127.0.0.1:0",
            "--https",
            "off",
            "--no-rate-limits",
            "--data",
        ])
        .arg(data)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("palisade serve starts");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let addr = loop {
        let line = lines.next().expect("banner line").expect("utf-8 banner");
        if let Some(url) = line.trim().strip_prefix("HTTP") {
            if !url.starts_with('S') {
                break url.trim().trim_start_matches("http://").to_string();
            }
        }
    };
    std::thread::spawn(move || for _ in lines {});
    Served { child, addr }
}

/// One HTTP/1.1 exchange; `None` when the server is gone mid-way (no answer, no acknowledgement).
fn http(addr: &str, method: &str, path: &str, bearer: &str, body: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(addr).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nAuthorization: Bearer {bearer}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split(' ').nth(1)?.parse().ok()?;
    let (_, body) = response.split_once("\r\n\r\n")?;
    Some((status, body.to_string()))
}

fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_default()
}

/// What the writers were told succeeded.
#[derive(Default)]
struct Acknowledged {
    indicators: BTreeSet<String>,
    comments: BTreeMap<String, Vec<String>>,
    actions: BTreeSet<String>,
}

#[test]
fn acknowledged_writes_survive_sigkill() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().to_path_buf();
    let mut served = serve(&data);
    let token = Command::new(BIN)
        .args(["token", "--data"])
        .arg(&data)
        .output()
        .expect("palisade token");
    let token = String::from_utf8_lossy(&token.stdout).trim().to_string();
    let (status, machines) = http(&served.addr, "GET", "/api/machines?$top=40", &token, "").expect("machines");
    assert_eq!(status, 200, "{machines}");
    let machines: Vec<String> = json(&machines)["value"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["id"].as_str().map(String::from))
        .collect();
    let (_, alerts) = http(&served.addr, "GET", "/api/alerts?$top=10", &token, "").expect("alerts");
    let alerts: Vec<String> = json(&alerts)["value"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a["id"].as_str().map(String::from))
        .collect();
    assert!(
        machines.len() >= 10 && alerts.len() >= 5,
        "the demo tenant has machines and alerts"
    );

    let addr = Arc::new(RwLock::new(served.addr.clone()));
    let acked = Arc::new(Mutex::new(Acknowledged::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for kind in 0..3 {
        let (addr, acked, stop, token) = (addr.clone(), acked.clone(), stop.clone(), token.clone());
        let (machines, alerts) = (machines.clone(), alerts.clone());
        writers.push(std::thread::spawn(move || {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let at = addr.read().map(|a| a.clone()).unwrap_or_default();
                match kind {
                    0 => {
                        let value = format!("{:064x}", 0xc0ffee_u64 * 1_000_000 + n);
                        let body = serde_json::json!({ "Indicators": [{
                            "indicatorValue": value, "indicatorType": "FileSha256", "action": "Alert",
                            "title": "crash test", "description": "crash test", "severity": "Low"
                        }]});
                        if let Some((200, answer)) =
                            http(&at, "POST", "/api/indicators/import", &token, &body.to_string())
                        {
                            let answer = json(&answer);
                            let ok = answer["value"][0]["isFailed"].as_bool() == Some(false);
                            assert!(ok, "import refused: {answer}");
                            acked.lock().expect("lock").indicators.insert(value);
                        }
                    }
                    1 => {
                        let alert = &alerts[n as usize % alerts.len()];
                        let comment = format!("crash-{n}");
                        let body = serde_json::json!({ "comment": comment }).to_string();
                        if let Some((200, _)) = http(&at, "PATCH", &format!("/api/alerts/{alert}"), &token, &body) {
                            acked
                                .lock()
                                .expect("lock")
                                .comments
                                .entry(alert.clone())
                                .or_default()
                                .push(comment);
                        }
                    }
                    _ => {
                        let machine = &machines[n as usize % machines.len()];
                        let verb = if n.is_multiple_of(2) {
                            "runAntiVirusScan"
                        } else {
                            "collectInvestigationPackage"
                        };
                        let body = serde_json::json!({ "Comment": format!("crash-{n}"), "ScanType": "Quick" });
                        let body = if verb == "runAntiVirusScan" {
                            body
                        } else {
                            serde_json::json!({ "Comment": format!("crash-{n}") })
                        };
                        if let Some((201, answer)) = http(
                            &at,
                            "POST",
                            &format!("/api/machines/{machine}/{verb}"),
                            &token,
                            &body.to_string(),
                        ) {
                            if let Some(id) = json(&answer)["id"].as_str() {
                                acked.lock().expect("lock").actions.insert(id.to_string());
                            }
                        }
                    }
                }
            }
        }));
    }

    let started = Instant::now();
    for _ in 0..KILLS {
        std::thread::sleep(WRITE_WINDOW);
        // `Child::kill` is SIGKILL on Unix: no handler runs, nothing is flushed by the server.
        served.child.kill().expect("SIGKILL");
        served.child.wait().expect("reaped");
        served = serve(&data);
        if let Ok(mut a) = addr.write() {
            a.clone_from(&served.addr);
        }
    }
    stop.store(true, Ordering::Relaxed);
    for writer in writers {
        writer.join().expect("writer thread");
    }
    assert!(started.elapsed() < Duration::from_secs(60), "bounded");

    let acked = acked.lock().expect("lock");
    let total = acked.indicators.len() + acked.comments.values().map(Vec::len).sum::<usize>() + acked.actions.len();
    assert!(
        !acked.indicators.is_empty() && !acked.comments.is_empty() && !acked.actions.is_empty(),
        "every kind of write was acknowledged at least once ({total} in all)"
    );

    let (status, listed) = http(&served.addr, "GET", "/api/indicators", &token, "").expect("indicators");
    assert_eq!(status, 200);
    let present: BTreeSet<String> = json(&listed)["value"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| i["indicatorValue"].as_str().map(String::from))
        .collect();
    let lost: Vec<_> = acked.indicators.difference(&present).collect();
    assert!(lost.is_empty(), "acknowledged indicators lost: {lost:?}");

    for (alert, comments) in &acked.comments {
        let (status, body) = http(&served.addr, "GET", &format!("/api/alerts/{alert}"), &token, "").expect("alert");
        assert_eq!(status, 200);
        let kept: BTreeSet<String> = json(&body)["comments"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["comment"].as_str().map(String::from))
            .collect();
        let lost: Vec<_> = comments.iter().filter(|c| !kept.contains(*c)).collect();
        assert!(lost.is_empty(), "acknowledged comments on {alert} lost: {lost:?}");
    }

    for id in &acked.actions {
        let (status, body) =
            http(&served.addr, "GET", &format!("/api/machineactions/{id}"), &token, "").expect("action");
        assert_eq!(status, 200, "acknowledged machine action {id} lost: {body}");
    }

    drop(served);
    let db = rusqlite::Connection::open(data.join("palisade.db")).expect("open the store");
    let check: String = db
        .query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .expect("integrity_check");
    assert_eq!(check, "ok");
    eprintln!(
        "crash test: {KILLS} kills, {total} acknowledged writes ({} imports, {} comments, {} actions) all present",
        acked.indicators.len(),
        acked.comments.values().map(Vec::len).sum::<usize>(),
        acked.actions.len()
    );
}

/// `count` error responses (an unknown machine id): their `target`s.
fn error_targets(addr: &str, token: &str, count: usize) -> Vec<String> {
    (0..count)
        .map(|_| {
            let (status, body) =
                http(addr, "GET", &format!("/api/machines/{}", "0".repeat(40)), token, "").expect("an answer");
            assert_eq!(status, 404, "{body}");
            json(&body)["error"]["target"]
                .as_str()
                .expect("a target in the envelope")
                .to_string()
        })
        .collect()
}

/// Whether `palisade trace` (another process, on the stopped server's data) finds a target.
fn traceable(data: &Path, target: &str) -> bool {
    let out = Command::new(BIN)
        .args(["trace", target, "--json", "--data"])
        .arg(data)
        .output()
        .expect("palisade trace");
    out.status.success() && String::from_utf8_lossy(&out.stdout).contains(target)
}

/// The error journal's promise (see `palisade_domain::control::journal`): error records are
/// written by a group commit a few milliseconds after their response, so a clean stop (SIGTERM)
/// loses none, and a SIGKILL loses at most those of the last moments before it: every error
/// answered half a second before the kill is still traceable after it.
#[test]
fn error_targets_survive_a_clean_stop_and_a_kill_after_their_commit() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().to_path_buf();
    let served = serve(&data);
    let token = Command::new(BIN)
        .args(["token", "--data"])
        .arg(&data)
        .output()
        .expect("palisade token");
    let token = String::from_utf8_lossy(&token.stdout).trim().to_string();

    // A clean stop right after the answers: the queue is flushed on the way out.
    let answered = error_targets(&served.addr, &token, 30);
    let pid = i32::try_from(served.child.id()).expect("pid");
    // SAFETY: signalling our own child process.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let mut served = served;
    let stopped = served.child.wait().expect("reaped");
    assert!(stopped.success(), "a clean stop exits 0: {stopped:?}");
    let lost: Vec<&String> = answered.iter().filter(|t| !traceable(&data, t)).collect();
    assert!(lost.is_empty(), "targets lost across a clean stop: {lost:?}");
    drop(served);

    // SIGKILL half a second after the answers: their batch is committed by then.
    let mut served = serve(&data);
    let answered = error_targets(&served.addr, &token, 30);
    std::thread::sleep(Duration::from_millis(500));
    served.child.kill().expect("SIGKILL");
    served.child.wait().expect("reaped");
    let lost: Vec<&String> = answered.iter().filter(|t| !traceable(&data, t)).collect();
    assert!(lost.is_empty(), "targets committed before a SIGKILL lost: {lost:?}");
}
