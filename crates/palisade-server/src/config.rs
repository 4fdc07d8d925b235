//! The server's configuration, in one struct. The CLI fills it from flags and environment.

use std::net::{IpAddr, SocketAddr};
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
    /// Peers admitted to `/_palisade/` without the admin key: loopback by default. Empty means
    /// every caller must send the key (how tests exercise the refusal from 127.0.0.1).
    pub admin_trusted_networks: Vec<IpNetwork>,
    /// How many requests the in-memory request journal keeps before dropping the oldest.
    pub request_journal_capacity: usize,
    /// The domain's settings (machine-action pace, ...).
    pub core: palisade_core::Settings,
    /// Whether the documented rate limits apply at all (each tenant can also switch them off).
    /// On for fidelity; `--no-rate-limits` turns them off, e.g. for benchmarks.
    pub rate_limits: bool,
    /// Refuse body properties the API does not document (`InvalidRequestBody`) instead of ignoring
    /// and recording them. Off by default, because published clients send more than the pages list
    /// and the real service ignores what it does not bind; each tenant can also switch it on.
    pub strict_bodies: bool,
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
            admin_trusted_networks: IpNetwork::loopback(),
            request_journal_capacity: 10_000,
            core: palisade_core::Settings::default(),
            rate_limits: true,
            strict_bodies: false,
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

/// A CIDR network (`127.0.0.0/8`, `::1/128`, `10.1.2.3` for one address).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNetwork {
    addr: IpAddr,
    prefix: u8,
}

impl IpNetwork {
    /// IPv4 and IPv6 loopback.
    pub fn loopback() -> Vec<IpNetwork> {
        vec![
            IpNetwork {
                addr: IpAddr::from([127, 0, 0, 1]),
                prefix: 8,
            },
            IpNetwork {
                addr: IpAddr::from([0u16, 0, 0, 0, 0, 0, 0, 1]),
                prefix: 128,
            },
        ]
    }

    /// Whether `ip` is inside the network (IPv4-mapped IPv6 peers count as their IPv4 address).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let bits = |value: u128, width: u8| -> u128 {
            let prefix = u32::from(self.prefix.min(width));
            if prefix == 0 {
                0
            } else {
                value >> (u32::from(width) - prefix)
            }
        };
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                bits(u128::from(u32::from(net)), 32) == bits(u128::from(u32::from(ip)), 32)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => bits(u128::from(net), 128) == bits(u128::from(ip), 128),
            _ => false,
        }
    }
}

impl std::str::FromStr for IpNetwork {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let (addr, prefix) = match text.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (text, None),
        };
        let addr: IpAddr = addr
            .trim()
            .parse()
            .map_err(|e| format!("'{text}' is not a network like 10.0.0.0/8 ({e})"))?;
        let width = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= width)
                .ok_or_else(|| format!("'{text}': the prefix length must be 0 to {width}"))?,
            None => width,
        };
        Ok(IpNetwork { addr, prefix })
    }
}

#[cfg(test)]
mod tests {
    use super::IpNetwork;

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
    }
}
