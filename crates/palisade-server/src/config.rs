//! The server's configuration, in one struct. The CLI fills it from flags and environment.

use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, Clone)]
pub struct Config {
    /// Plain-HTTP listener; `None` disables it.
    pub http: Option<SocketAddr>,
    /// HTTPS listener (certificate from the data directory's local CA); `None` disables it.
    pub https: Option<SocketAddr>,
    /// Where the database, keys and certificates live.
    pub data_dir: PathBuf,
    /// How many error records the journal keeps before dropping the oldest.
    pub journal_capacity: usize,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Most entities in one page of a collection before `@odata.nextLink` takes over (the service's
    /// documented maximum, 10,000, by default; lower it to exercise a client's paging).
    pub page_size: u32,
    /// When set, admin endpoints also accept requests from non-loopback peers that send it in the
    /// `X-Palisade-Admin-Key` header. Without it, only loopback peers may use `/_palisade/`.
    pub admin_key: Option<String>,
    /// The domain's settings (machine-action pace, ...).
    pub core: palisade_core::Settings,
    /// Whether the documented rate limits apply at all (each tenant can also switch them off).
    /// On for fidelity; `--no-rate-limits` turns them off, e.g. for benchmarks.
    pub rate_limits: bool,
}

impl Config {
    /// Defaults a newcomer can start with: loopback ports 8080/8443, `./palisade-data`.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Config {
            http: Some(SocketAddr::from(([127, 0, 0, 1], 8080))),
            https: Some(SocketAddr::from(([127, 0, 0, 1], 8443))),
            data_dir: data_dir.into(),
            journal_capacity: 10_000,
            max_body_bytes: 4 * 1024 * 1024,
            page_size: palisade_core::schemas::MDE_MAX_PAGE,
            admin_key: None,
            core: palisade_core::Settings::default(),
            rate_limits: true,
        }
    }

    /// Same, on free ports picked by the OS (tests, CI scripts).
    pub fn ephemeral(data_dir: impl Into<PathBuf>) -> Self {
        Config {
            http: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
            https: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
            ..Self::new(data_dir)
        }
    }

    pub fn database_path(&self) -> PathBuf {
        self.data_dir.join("palisade.db")
    }
}
