//! The server's configuration, in one struct. The CLI fills it from flags and environment.
//!
//! The admin key is a [`SecretString`]: `Debug` shows `[REDACTED]`, and it is read only where a sent
//! key is compared with it (`admin/mod.rs`, in constant time).

use secrecy::SecretString;
use std::net::{IpAddr, SocketAddr};

/// The header carrying the admin key (`/_palisade/` from peers outside the trusted networks).
pub const ADMIN_KEY_HEADER: &str = "x-palisade-admin-key";

/// The library upload's own body limit: the documented 20 MB file plus room for the form's other
/// fields and framing. The server-wide `max_body_bytes` (4 MiB by default) would refuse most files.
pub const UPLOAD_BODY_LIMIT: usize = palisade_domain::mde::library::MAX_FILE_BYTES + 1024 * 1024;
use std::path::PathBuf;

#[derive(Debug, Clone)]
pub struct Config {
    /// Plain-HTTP listener; `None` disables it.
    pub http: Option<SocketAddr>,
    /// HTTPS listener (certificate from the data directory's local CA); `None` disables it.
    pub https: Option<SocketAddr>,
    /// Where the database, keys and certificates live.
    pub data_dir: PathBuf,
    /// The store: the SQLite file in the data directory, or a PostgreSQL database.
    pub store: StoreConfig,
    /// How many error records the journal keeps before dropping the oldest.
    pub journal_capacity: usize,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Most entities in one page of a collection before `@odata.nextLink` takes over (the service's
    /// documented maximum, 10,000, by default; lower it to exercise a client's paging).
    pub page_size: u32,
    /// When set, admin endpoints also accept requests from peers outside the trusted networks that
    /// send it in the `X-Palisade-Admin-Key` header (compared in constant time). Without it, only
    /// peers of [`Config::admin_trusted_networks`] may use `/_palisade/`.
    pub admin_key: Option<SecretString>,
    /// Peers admitted to `/_palisade/` without the admin key: loopback by default. Empty means
    /// every caller must send the key (how tests exercise the refusal from 127.0.0.1).
    pub admin_trusted_networks: Vec<IpNetwork>,
    /// How many requests the in-memory request journal keeps before dropping the oldest.
    pub request_journal_capacity: usize,
    /// The domain's settings (machine-action pace, ...).
    pub core: palisade_domain::Settings,
    /// Whether the documented rate limits apply at all (each tenant can also switch them off).
    /// On for fidelity; `--no-rate-limits` turns them off, e.g. for benchmarks.
    pub rate_limits: bool,
    /// Refuse body properties the API does not document (`InvalidRequestBody`) instead of ignoring
    /// and recording them. Off by default, because published clients send more than the pages list
    /// and the real service ignores what it does not bind; each tenant can also switch it on.
    pub strict_bodies: bool,
    /// Host names Palisade answers to besides `localhost`, loopback and the bound addresses (see
    /// `layers::guard`); `*` answers to every name, which gives up the DNS-rebinding defence.
    pub allowed_hosts: Vec<String>,
    /// Connection timeouts (slow clients).
    pub timeouts: Timeouts,
    /// API families beyond the built-in ones (`crate::families::FAMILIES`), served, documented,
    /// rate limited, loaded and exported like them: how a test adds a toy family in one line.
    pub extra_families: Vec<&'static crate::families::RouteFamily>,
}

/// How long a connection may take at each stage before it is closed. A slow client (slowloris)
/// holds a descriptor and a task for as long as it is allowed to, so every stage is bounded.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// TLS handshake, from accept.
    pub tls_handshake: std::time::Duration,
    /// A request's headers, from its first byte (HTTP/1; hyper's `header_read_timeout`).
    pub headers: std::time::Duration,
    /// A request's whole body, once its handler starts reading it.
    pub body: std::time::Duration,
    /// A connection on which no request starts or is answered for this long is closed gracefully,
    /// HTTP/2 pings notwithstanding; also the interval of the server's HTTP/2 pings.
    pub idle: std::time::Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        use std::time::Duration;
        Timeouts {
            tls_handshake: Duration::from_secs(10),
            headers: Duration::from_secs(10),
            body: Duration::from_secs(30),
            idle: Duration::from_secs(60),
        }
    }
}

impl Config {
    /// Defaults a newcomer can start with: loopback ports 8080/8443, `./palisade-data`.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Config {
            http: Some(SocketAddr::from(([127, 0, 0, 1], 8080))),
            https: Some(SocketAddr::from(([127, 0, 0, 1], 8443))),
            data_dir: data_dir.into(),
            store: StoreConfig::default(),
            journal_capacity: 10_000,
            max_body_bytes: 4 * 1024 * 1024,
            page_size: palisade_model::schemas::MDE_MAX_PAGE,
            admin_key: None,
            admin_trusted_networks: IpNetwork::loopback(),
            request_journal_capacity: 10_000,
            core: palisade_domain::Settings::default(),
            rate_limits: true,
            strict_bodies: false,
            allowed_hosts: Vec::new(),
            timeouts: Timeouts::default(),
            extra_families: Vec::new(),
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

/// Which store the server opens.
#[derive(Debug, Clone, Default)]
pub struct StoreConfig {
    /// A PostgreSQL URL (`postgres://user:password@host:5432/db`); `None` keeps the SQLite file
    /// in the data directory. Read through [`StoreConfig::redacted_url`] when shown.
    pub postgres_url: Option<SecretString>,
    /// Pool size, statement timeout and TLS of the PostgreSQL connections.
    pub postgres: palisade_store_postgres::Options,
}

impl StoreConfig {
    /// The store named by `location`: a `postgres://` URL, or nothing (SQLite).
    pub fn from_location(location: Option<&str>) -> Result<StoreConfig, String> {
        match location.map(str::trim).filter(|l| !l.is_empty()) {
            None => Ok(StoreConfig::default()),
            Some(l) if l.eq_ignore_ascii_case("sqlite") => Ok(StoreConfig::default()),
            Some(l) if palisade_store_postgres::is_postgres_url(l) => Ok(StoreConfig {
                postgres_url: Some(l.to_string().into()),
                ..StoreConfig::default()
            }),
            Some(l) => Err(format!(
                "--store '{l}' is neither `sqlite` nor a postgres:// URL (postgres://user:password@host:5432/database)"
            )),
        }
    }

    /// What the banner and the health report show: the backend and, for PostgreSQL, the URL
    /// without its password.
    pub fn redacted_url(&self) -> Option<String> {
        use secrecy::ExposeSecret;
        let url = self.postgres_url.as_ref()?.expose_secret();
        let Some((scheme, rest)) = url.split_once("://") else {
            return Some("postgres (key=value settings)".to_string());
        };
        let shown = match rest.split_once('@') {
            Some((user, host)) => match user.split_once(':') {
                Some((name, _password)) => format!("{scheme}://{name}:***@{host}"),
                None => url.to_string(),
            },
            None => url.to_string(),
        };
        Some(shown)
    }
}

/// A CIDR network (`127.0.0.0/8`, `::1/128`, `10.1.2.3` for one address): an [`ipnet::IpNet`]
/// that also takes a bare address and matches IPv4-mapped IPv6 peers as their IPv4 address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNetwork(ipnet::IpNet);

impl IpNetwork {
    /// IPv4 and IPv6 loopback.
    pub fn loopback() -> Vec<IpNetwork> {
        ["127.0.0.0/8", "::1/128"]
            .iter()
            .map(|net| IpNetwork(net.parse().expect("a literal network")))
            .collect()
    }

    /// Whether `ip` is inside the network (IPv4-mapped IPv6 peers count as their IPv4 address).
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.contains(&ip.to_canonical())
    }
}

impl std::str::FromStr for IpNetwork {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let trimmed = text.trim();
        let Some((addr, prefix)) = trimmed.split_once('/') else {
            let addr: IpAddr = trimmed
                .parse()
                .map_err(|e| format!("'{text}' is not a network like 10.0.0.0/8 ({e})"))?;
            return Ok(IpNetwork(addr.into()));
        };
        let addr: IpAddr = addr
            .trim()
            .parse()
            .map_err(|e| format!("'{text}' is not a network like 10.0.0.0/8 ({e})"))?;
        let width = if addr.is_ipv4() { 32 } else { 128 };
        prefix
            .trim()
            .parse::<u8>()
            .ok()
            .and_then(|prefix| ipnet::IpNet::new(addr, prefix).ok())
            .map(IpNetwork)
            .ok_or_else(|| format!("'{text}': the prefix length must be 0 to {width}"))
    }
}

#[cfg(test)]
mod tests {
    use super::{Config, IpNetwork};

    #[test]
    fn debug_hides_the_admin_key() {
        let mut config = Config::new("/tmp/palisade-test");
        config.admin_key = Some("hunter2-admin".into());
        let shown = format!("{config:?}");
        assert!(!shown.contains("hunter2-admin"), "{shown}");
        assert!(shown.contains("REDACTED"), "{shown}");
    }

    #[test]
    fn networks_contain_their_addresses_only() {
        let net: IpNetwork = "10.1.0.0/16".parse().unwrap();
        assert!(net.contains("10.1.200.3".parse().unwrap()));
        assert!(!net.contains("10.2.0.1".parse().unwrap()));
        assert!(net.contains("::ffff:10.1.0.9".parse().unwrap()));
        let loopback = IpNetwork::loopback();
        assert!(loopback.iter().any(|n| n.contains("127.0.0.1".parse().unwrap())));
        assert!(loopback.iter().any(|n| n.contains("::1".parse().unwrap())));
        assert!(!loopback.iter().any(|n| n.contains("192.0.2.1".parse().unwrap())));
        let all: IpNetwork = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains("192.0.2.1".parse().unwrap()));
        assert!("10.0.0.0/33".parse::<IpNetwork>().is_err());
        assert!("nonsense".parse::<IpNetwork>().is_err());
        let one: IpNetwork = " 192.0.2.7 ".parse().unwrap();
        assert!(one.contains("192.0.2.7".parse().unwrap()));
        assert!(!one.contains("192.0.2.8".parse().unwrap()));
        let v6: IpNetwork = "2001:db8::/32".parse().unwrap();
        assert!(v6.contains("2001:db8:1::1".parse().unwrap()));
        assert!(!v6.contains("10.0.0.1".parse().unwrap()));
        assert!("::/129".parse::<IpNetwork>().is_err());
    }
}
