//! What alerts' evidence observed about file hashes, IP addresses and domains: the rows behind the
//! file, IP and domain lookups and their statistics (kept by the store, derived by the domain).

/// What one alert's evidence observed about one file hash, IP address or domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    /// `sha1`, `sha256`, `ip` or `domain`.
    pub kind: String,
    /// The canonical value: lower-case hash, IP address as `std::net::IpAddr` prints it, lower-case
    /// ASCII host.
    pub key: String,
    pub alert_id: String,
    pub machine_id: String,
    /// When it was observed, Unix microseconds.
    pub seen: i64,
    /// Files: the name and both hashes as the evidence gave them, and the alert's threat name.
    pub file_name: Option<String>,
    pub sha1: Option<String>,
    pub sha256: Option<String>,
    pub threat_name: Option<String>,
}

/// Entities restricted to those an observation relates to a key: the alerts (`alert_id`) or the
/// machines (`machine_id`) that observed it; `cap` keeps only the first so many in key order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Observed<'a> {
    pub kind: &'a str,
    pub key: &'a str,
    pub via: ObservedVia,
    pub cap: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObservedVia {
    Alert,
    Machine,
}

/// Prevalence of a key: distinct devices, first and last observation (Unix microseconds).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ObservedStats {
    pub devices: u64,
    pub first: Option<i64>,
    pub last: Option<i64>,
}
