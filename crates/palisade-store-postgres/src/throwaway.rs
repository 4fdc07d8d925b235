//! A throwaway PostgreSQL cluster for tests and benchmarks: `initdb` and `pg_ctl` from the newest
//! `/usr/lib/postgresql/*/bin`, listening on a Unix socket in a temporary directory only (no TCP
//! port to collide on), run as the `postgres` user when the caller is root (initdb refuses root),
//! with a database per caller ([`Throwaway::create_database`]).
//!
//! Deleted when dropped; a watchdog process also stops and deletes it when the process that
//! started it exits without dropping it (a cluster kept in a `static`, a killed test run).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A running cluster of this process's own.
pub struct Throwaway {
    base: PathBuf,
    bin: PathBuf,
    as_postgres: bool,
    databases: AtomicUsize,
}

/// The newest PostgreSQL server binaries on this machine, or what is missing.
pub fn server_binaries() -> Result<PathBuf, String> {
    std::fs::read_dir("/usr/lib/postgresql")
        .map_err(|e| format!("no PostgreSQL server binaries: /usr/lib/postgresql: {e}"))?
        .filter_map(|entry| entry.ok().map(|e| e.path().join("bin")))
        .filter(|bin| bin.join("initdb").is_file() && bin.join("pg_ctl").is_file())
        .max_by_key(|bin| {
            let version = bin.parent().and_then(Path::file_name).and_then(|v| v.to_str());
            version.and_then(|v| v.parse::<u32>().ok()).unwrap_or(0)
        })
        .ok_or_else(|| "no PostgreSQL server binaries: no /usr/lib/postgresql/*/bin/initdb".to_string())
}

impl Throwaway {
    /// `initdb` and `pg_ctl start`; `Err` says what failed.
    pub fn start() -> Result<Throwaway, String> {
        static STARTED: AtomicUsize = AtomicUsize::new(0);
        let bin = server_binaries()?;
        let as_postgres = command_output("id", &["-u"])?.trim() == "0";
        let base = std::env::temp_dir().join(format!(
            "palisade-pg-{}-{}",
            std::process::id(),
            STARTED.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir_all(&base).map_err(|e| format!("{}: {e}", base.display()))?;
        let server = Throwaway {
            base,
            bin,
            as_postgres,
            databases: AtomicUsize::new(0),
        };
        if as_postgres {
            command_output("chown", &["postgres:", &server.base.to_string_lossy()])?;
        }
        let data = server.data().to_string_lossy().into_owned();
        server.run(
            "initdb",
            &[
                "-D",
                &data,
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ],
        )?;
        server.start_server()?;
        server.watch();
        Ok(server)
    }

    fn data(&self) -> PathBuf {
        self.base.join("data")
    }

    /// Starts the server (again, after [`Throwaway::stop`]).
    pub fn start_server(&self) -> Result<(), String> {
        let data = self.data().to_string_lossy().into_owned();
        // Durability is not the point of a throwaway cluster: no fsync makes tests faster.
        let options = format!(
            "-c listen_addresses= -k {} -p 5432 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300",
            self.base.display()
        );
        let log = self.base.join("log").to_string_lossy().into_owned();
        self.run("pg_ctl", &["-D", &data, "-o", &options, "-l", &log, "-w", "start"])
            .map(drop)
    }

    /// Stops the server (fast shutdown: sessions are ended), leaving its data.
    pub fn stop(&self) -> Result<(), String> {
        let data = self.data().to_string_lossy().into_owned();
        self.run("pg_ctl", &["-D", &data, "-m", "fast", "-w", "stop"]).map(drop)
    }

    /// A watchdog that stops the server and deletes its directory once this process is gone.
    fn watch(&self) {
        let data = self.data();
        let pg_ctl = self.bin.join("pg_ctl");
        let stop = if self.as_postgres {
            format!(
                "runuser -u postgres -- {} -D {} -m immediate -w stop",
                pg_ctl.display(),
                data.display()
            )
        } else {
            format!("{} -D {} -m immediate -w stop", pg_ctl.display(), data.display())
        };
        let script = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 1; done; {stop} >/dev/null 2>&1; rm -rf {base}",
            pid = std::process::id(),
            base = self.base.display()
        );
        let _ = Command::new("setsid")
            .args(["sh", "-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
    }

    /// A URL of the cluster's `postgres` database.
    pub fn admin_url(&self) -> String {
        self.url("postgres")
    }

    /// A URL of database `name` on this cluster.
    pub fn url(&self, name: &str) -> String {
        let socket_dir: String = self
            .base
            .to_string_lossy()
            .bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect();
        format!("postgres://postgres@{socket_dir}:5432/{name}")
    }

    /// Creates a new empty database and answers its URL.
    pub fn create_database(&self) -> Result<String, String> {
        let name = format!("palisade_{}", self.databases.fetch_add(1, Ordering::Relaxed));
        let mut client = postgres::Client::connect(&self.admin_url(), postgres::NoTls)
            .map_err(|e| format!("connect to the throwaway cluster: {e}"))?;
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .map_err(|e| format!("CREATE DATABASE {name}: {e}"))?;
        Ok(self.url(&name))
    }

    fn run(&self, program: &str, args: &[&str]) -> Result<String, String> {
        let program = self.bin.join(program).to_string_lossy().into_owned();
        if self.as_postgres {
            let mut all = vec!["-u", "postgres", "--", program.as_str()];
            all.extend_from_slice(args);
            command_output("runuser", &all)
        } else {
            command_output(&program, args)
        }
    }
}

impl Drop for Throwaway {
    fn drop(&mut self) {
        let data = self.data().to_string_lossy().into_owned();
        let _ = self.run("pg_ctl", &["-D", &data, "-m", "immediate", "-w", "stop"]);
        let _ = std::fs::remove_dir_all(&self.base);
    }
}

/// A command's standard output, or why it failed (with its standard error).
fn command_output(program: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{program}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{program} {args:?}: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
