//! Value validators for indicator values and lookup keys (`shared/reference/mde-api.md` §5.4, §12):
//! file hashes, certificate thumbprints, IP addresses, domain names and URLs.
//!
//! Each validator is a pure function answering the contract error for its kind
//! (`InvalidHashValue`, `InvalidIpAddress`, `InvalidDomainName`, `InvalidUrl`) whose message names
//! the refused value and says why, e.g. `Hash value abc is invalid: it has 3 characters; …`.
//!
//! Choices where the docs are silent (also in the README):
//! - No trimming: surrounding whitespace is refused, not silently removed.
//! - Hashes: hexadecimal in either case.
//! - IP addresses: one address in the standard text forms (dotted quad without leading zeros, any
//!   RFC 4291 IPv6 form); no CIDR, ranges, wildcards, ports or zone ids. Indicators additionally
//!   need a public address ([`public_ip_address`]): the docs say internal IPs cannot be indicators.
//! - Domain names: at least two labels, LDH labels of 1–63 characters without a leading or trailing
//!   hyphen, 253 characters in all, a top-level label that is not all digits. One trailing dot (the
//!   absolute form) is accepted and means the same name. Unicode names are accepted, mapped by UTS 46 (the `idna`
//!   crate: case folding, NFC, width) and measured in their punycode form; `xn--` labels must decode
//!   to their one canonical encoding. Labels keep to letters, digits and hyphens in any script
//!   (IDNA2008, stricter than UTS 46, which allows symbols such as emoji). The answer is the
//!   canonical form: lower case, ASCII (punycode), no trailing dot.
//! - URLs: `http://`, `https://` or no scheme (the docs' examples use both), a host that is a valid
//!   domain name or IP address, an optional port, no credentials, no fragment (it never leaves the
//!   browser, so an indicator with one could not match), at most 2,048 characters.

use palisade_error::ApiError;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The kind of a file hash, told apart by length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashKind {
    Md5,
    Sha1,
    Sha256,
}

impl HashKind {
    /// The number of hexadecimal characters of this kind.
    pub const fn hex_len(self) -> usize {
        match self {
            HashKind::Md5 => 32,
            HashKind::Sha1 => 40,
            HashKind::Sha256 => 64,
        }
    }

    pub const fn name(self) -> &'static str {
        match self {
            HashKind::Md5 => "MD5",
            HashKind::Sha1 => "SHA-1",
            HashKind::Sha256 => "SHA-256",
        }
    }
}

/// Longest stretch of a refused value quoted in a message; the rest is summarised by its length.
const SHOWN_MAX_CHARS: usize = 120;

/// A refused value as a message shows it: control characters escaped, overlong values cut.
pub fn shown(value: &str) -> String {
    let count = value.chars().count();
    let mut out = String::new();
    for c in value.chars().take(SHOWN_MAX_CHARS) {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    if count > SHOWN_MAX_CHARS {
        out.push_str(&format!("… ({count} characters)"));
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Hashes

/// A file hash of any supported kind: 32 (MD5), 40 (SHA-1) or 64 (SHA-256) hexadecimal characters.
pub fn file_hash(value: &str) -> Result<HashKind, ApiError> {
    let kind = match value.chars().count() {
        32 => HashKind::Md5,
        40 => HashKind::Sha1,
        64 => HashKind::Sha256,
        n => {
            return Err(ApiError::invalid_hash(&shown(value)).because(format!(
                "it has {n} characters; allowed: 32 (MD5), 40 (SHA-1) or 64 (SHA-256) hexadecimal characters"
            )))
        }
    };
    hex_only(value, kind.name())?;
    Ok(kind)
}

/// A hash of exactly one kind.
pub fn hash_of_kind(value: &str, kind: HashKind) -> Result<(), ApiError> {
    let n = value.chars().count();
    if n != kind.hex_len() {
        return Err(ApiError::invalid_hash(&shown(value)).because(format!(
            "it has {n} characters; a {} hash has {} hexadecimal characters",
            kind.name(),
            kind.hex_len()
        )));
    }
    hex_only(value, kind.name())
}

pub fn md5(value: &str) -> Result<(), ApiError> {
    hash_of_kind(value, HashKind::Md5)
}

pub fn sha1(value: &str) -> Result<(), ApiError> {
    hash_of_kind(value, HashKind::Sha1)
}

pub fn sha256(value: &str) -> Result<(), ApiError> {
    hash_of_kind(value, HashKind::Sha256)
}

/// A certificate thumbprint: the SHA-1 of the certificate, 40 hexadecimal characters.
pub fn certificate_thumbprint(value: &str) -> Result<(), ApiError> {
    let n = value.chars().count();
    if n != 40 {
        return Err(ApiError::invalid_hash(&shown(value)).because(format!(
            "it has {n} characters; a certificate thumbprint is the certificate's SHA-1, 40 hexadecimal characters"
        )));
    }
    hex_only(value, "certificate thumbprint")
}

fn hex_only(value: &str, what: &str) -> Result<(), ApiError> {
    match value.char_indices().find(|(_, c)| !c.is_ascii_hexdigit()) {
        None => Ok(()),
        Some((at, c)) => Err(ApiError::invalid_hash(&shown(value)).because(format!(
            "character '{}' at position {} is not hexadecimal (0-9, a-f, A-F) as a {what} must be",
            c.escape_default(),
            value[..at].chars().count() + 1
        ))),
    }
}

// ---------------------------------------------------------------------------------------------
// IP addresses

/// One IPv4 or IPv6 address in its standard text form.
pub fn ip_address(value: &str) -> Result<IpAddr, ApiError> {
    let refuse = |why: &str| ApiError::invalid_ip(&shown(value)).because(why);
    if value.is_empty() {
        return Err(refuse("it is empty"));
    }
    if value.chars().any(char::is_whitespace) {
        return Err(refuse("it contains whitespace"));
    }
    if value.contains('/') {
        return Err(refuse("CIDR blocks are not supported; give a single address"));
    }
    if value.contains('-') {
        return Err(refuse("address ranges are not supported; give a single address"));
    }
    if value.contains('*') {
        return Err(refuse("wildcards are not supported; give a single address"));
    }
    if value.contains('%') {
        return Err(refuse("zone ids (%…) are not supported"));
    }
    if value.starts_with('[')
        || (value.contains('.') && value.contains(':') && !value.contains("::") && value.matches(':').count() == 1)
    {
        return Err(refuse("ports and brackets are not supported; give the bare address"));
    }
    if value.contains(':') {
        return value.parse::<Ipv6Addr>().map(IpAddr::V6).map_err(|_| {
            refuse("it is not a valid IPv6 address (eight groups of up to four hexadecimal digits, '::' at most once)")
        });
    }
    ipv4(value).map(IpAddr::V4).map_err(|why| refuse(&why))
}

/// A dotted quad with exactly four decimal parts, each 0–255 without leading zeros (which some
/// parsers read as octal).
fn ipv4(value: &str) -> Result<Ipv4Addr, String> {
    let parts: Vec<&str> = value.split('.').collect();
    if parts.len() != 4 {
        return Err(format!(
            "an IPv4 address has four dot-separated parts, this has {}",
            parts.len()
        ));
    }
    let mut octets = [0u8; 4];
    for (i, part) in parts.iter().enumerate() {
        if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("part {} ('{part}') is not a decimal number", i + 1));
        }
        if part.len() > 1 && part.starts_with('0') {
            return Err(format!(
                "part {} ('{part}') has a leading zero (ambiguous: some read it as octal)",
                i + 1
            ));
        }
        octets[i] = part
            .parse::<u8>()
            .map_err(|_| format!("part {} ('{part}') is greater than 255", i + 1))?;
    }
    Ok(Ipv4Addr::from(octets))
}

/// One publicly routable address: what an IP indicator may be ("Only external IPs can be added to
/// the indicator list").
pub fn public_ip_address(value: &str) -> Result<IpAddr, ApiError> {
    let ip = ip_address(value)?;
    match non_public_range(ip) {
        None => Ok(ip),
        Some(range) => Err(ApiError::invalid_ip(&shown(value)).because(format!(
            "it is in the {range} range; only external (public) addresses can be indicators"
        ))),
    }
}

/// The name of the special-purpose range holding `ip` (IANA registries), if any.
fn non_public_range(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => non_public_v4(v4),
        IpAddr::V6(v6) => non_public_v6(v6),
    }
}

fn in_v4(ip: Ipv4Addr, net: [u8; 4], prefix: u32) -> bool {
    let mask = if prefix == 0 { 0 } else { u32::MAX << (32 - prefix) };
    (u32::from(ip) & mask) == (u32::from(Ipv4Addr::from(net)) & mask)
}

fn non_public_v4(ip: Ipv4Addr) -> Option<&'static str> {
    const RANGES: &[([u8; 4], u32, &str)] = &[
        ([0, 0, 0, 0], 8, "unspecified (0.0.0.0/8)"),
        ([10, 0, 0, 0], 8, "private (10.0.0.0/8)"),
        ([100, 64, 0, 0], 10, "shared address space (100.64.0.0/10)"),
        ([127, 0, 0, 0], 8, "loopback (127.0.0.0/8)"),
        ([169, 254, 0, 0], 16, "link-local (169.254.0.0/16)"),
        ([172, 16, 0, 0], 12, "private (172.16.0.0/12)"),
        ([192, 0, 0, 0], 24, "reserved IETF protocol assignments (192.0.0.0/24)"),
        ([192, 0, 2, 0], 24, "documentation (192.0.2.0/24)"),
        ([192, 88, 99, 0], 24, "reserved (192.88.99.0/24)"),
        ([192, 168, 0, 0], 16, "private (192.168.0.0/16)"),
        ([198, 18, 0, 0], 15, "benchmarking (198.18.0.0/15)"),
        ([198, 51, 100, 0], 24, "documentation (198.51.100.0/24)"),
        ([203, 0, 113, 0], 24, "documentation (203.0.113.0/24)"),
        ([224, 0, 0, 0], 4, "multicast (224.0.0.0/4)"),
        ([240, 0, 0, 0], 4, "reserved (240.0.0.0/4, including broadcast)"),
    ];
    RANGES
        .iter()
        .find(|(net, prefix, _)| in_v4(ip, *net, *prefix))
        .map(|(_, _, name)| *name)
}

fn non_public_v6(ip: Ipv6Addr) -> Option<&'static str> {
    // An IPv4-mapped address is the IPv4 address for routing purposes.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return non_public_v4(v4);
    }
    let bits = u128::from(ip);
    let within = |net: u128, prefix: u32| {
        let mask = if prefix == 0 { 0 } else { u128::MAX << (128 - prefix) };
        (bits & mask) == (net & mask)
    };
    const RANGES: &[(u128, u32, &str)] = &[
        (0, 128, "unspecified (::)"),
        (1, 128, "loopback (::1)"),
        (0, 96, "deprecated IPv4-compatible (::/96)"),
        (0x0100_0000_0000_0000_0000_0000_0000_0000, 64, "discard-only (100::/64)"),
        (
            0x2001_0db8_0000_0000_0000_0000_0000_0000,
            32,
            "documentation (2001:db8::/32)",
        ),
        (
            0x2001_0002_0000_0000_0000_0000_0000_0000,
            48,
            "benchmarking (2001:2::/48)",
        ),
        (0x2001_0010_0000_0000_0000_0000_0000_0000, 28, "ORCHID (2001:10::/28)"),
        (
            0x3fff_0000_0000_0000_0000_0000_0000_0000,
            20,
            "documentation (3fff::/20)",
        ),
        (0xfc00_0000_0000_0000_0000_0000_0000_0000, 7, "unique local (fc00::/7)"),
        (0xfe80_0000_0000_0000_0000_0000_0000_0000, 10, "link-local (fe80::/10)"),
        (
            0xfec0_0000_0000_0000_0000_0000_0000_0000,
            10,
            "deprecated site-local (fec0::/10)",
        ),
        (0xff00_0000_0000_0000_0000_0000_0000_0000, 8, "multicast (ff00::/8)"),
    ];
    RANGES
        .iter()
        .find(|(net, prefix, _)| within(*net, *prefix))
        .map(|(_, _, name)| *name)
}

// ---------------------------------------------------------------------------------------------
// Domain names

/// Longest domain name in its ASCII form, without the trailing dot (RFC 1035).
pub const DOMAIN_MAX_CHARS: usize = 253;
/// Longest label in its ASCII form.
pub const LABEL_MAX_CHARS: usize = 63;

/// A domain name such as `example.com`; answers its canonical form (lower case, ASCII, no
/// trailing dot).
pub fn domain_name(value: &str) -> Result<String, ApiError> {
    domain_rules(value).map_err(|why| ApiError::invalid_domain(&shown(value)).because(why))
}

/// The domain rules with the reason as text, so the URL validator can reuse them for hosts.
fn domain_rules(value: &str) -> Result<String, String> {
    if value.is_empty() {
        return Err("it is empty".into());
    }
    if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("it contains whitespace or control characters".into());
    }
    if value.contains("://") {
        return Err(
            "it has a scheme; a domain indicator is a bare name such as example.com (use indicatorType Url for URLs)"
                .into(),
        );
    }
    if value.contains('/') || value.contains('?') || value.contains('#') {
        return Err("it has a path, query or fragment; give the bare name such as example.com".into());
    }
    if value.contains('@') {
        return Err("it contains '@'; give the bare name such as example.com".into());
    }
    if value.contains(':') {
        return Err("it has a port or is an IPv6 address; give the bare name such as example.com".into());
    }
    if value.contains('*') {
        return Err("wildcards are not supported; a domain indicator already covers its subdomains".into());
    }
    // One trailing dot is the absolute form of the same name.
    let name = value.strip_suffix('.').unwrap_or(value);
    let labels: Vec<&str> = name.split('.').collect();
    if labels.iter().any(|l| l.is_empty()) {
        return Err("it has an empty label (two dots in a row, or a leading dot)".into());
    }
    if labels.len() < 2 {
        return Err("it has a single label; a domain name has at least two, such as example.com".into());
    }
    let mut ascii_labels = Vec::with_capacity(labels.len());
    for label in &labels {
        ascii_labels.push(label_rules(label)?);
    }
    let tld = ascii_labels.last().map(String::as_str).unwrap_or_default();
    if tld.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "its top-level label '{tld}' is all digits (an IP address is not a domain name; use indicatorType IpAddress)"
        ));
    }
    let ascii = ascii_labels.join(".");
    if ascii.len() > DOMAIN_MAX_CHARS {
        return Err(format!(
            "it is {} characters long (in ASCII form); the maximum is {DOMAIN_MAX_CHARS}",
            ascii.len()
        ));
    }
    Ok(ascii)
}

/// One label, answered in lower-case ASCII (punycode for Unicode labels).
///
/// Plain LDH labels are checked here; Unicode and `xn--` labels go through the `idna` crate's
/// UTS 46 processing (case folding, NFC and width mapping, disallowed code points, bidi and joiner
/// rules), which a hand-made punycode coder did not do: `bu\u{308}cher` (decomposed) used to
/// encode to a different name than `bücher`.
fn label_rules(label: &str) -> Result<String, String> {
    if label.is_ascii() {
        if let Some(bad) = label.chars().find(|c| !(c.is_ascii_alphanumeric() || *c == '-')) {
            return Err(format!(
                "label '{label}' contains '{bad}'; labels use letters, digits and hyphens only"
            ));
        }
    }
    let lower_ascii = label.is_ascii().then(|| label.to_ascii_lowercase());
    let ascii = match lower_ascii {
        Some(lower) if !lower.starts_with("xn--") => lower,
        lower => idna_label(label, lower.as_deref())?,
    };
    if ascii.len() > LABEL_MAX_CHARS {
        return Err(format!(
            "label '{label}' is {} characters long (in ASCII form); the maximum is {LABEL_MAX_CHARS}",
            ascii.len()
        ));
    }
    if label.starts_with('-') || label.ends_with('-') {
        return Err(format!("label '{label}' starts or ends with a hyphen"));
    }
    // Checked again on the mapped name: UTS 46 drops some characters (`\u{200b}-b` maps to `-b`)
    // and maps others to a hyphen (fullwidth `－`), and the answer must validate as itself.
    let mapped = unicode_form(&ascii);
    if mapped.starts_with('-') || mapped.ends_with('-') {
        return Err(format!(
            "label '{}' starts or ends with a hyphen once mapped by UTS 46 ('{mapped}')",
            label.escape_default()
        ));
    }
    Ok(ascii)
}

/// A Unicode or `xn--` label through UTS 46 (`idna`), answered as lower-case ASCII. `lower_ascii`
/// is the label in lower case when it is ASCII (an `xn--` label).
fn idna_label(label: &str, lower_ascii: Option<&str>) -> Result<String, String> {
    use idna::uts46::{AsciiDenyList, DnsLength, Hyphens, Uts46};
    if let Some(encoded) = lower_ascii.and_then(|l| l.strip_prefix("xn--")) {
        let decoded = idna::punycode::decode_to_string(encoded)
            .ok_or_else(|| format!("label '{label}' is not valid punycode"))?;
        if decoded.is_ascii() {
            return Err(format!("label '{label}' is punycode for a plain ASCII label"));
        }
        // Only the one canonical encoding of a name counts (no padded or reordered forms).
        if idna::punycode::encode_str(&decoded).as_deref() != Some(encoded) {
            return Err(format!("label '{label}' is not the canonical punycode of its name"));
        }
    }
    // Hyphens are checked by the caller (UTS 46's CheckHyphens would refuse `r3---sn-abc`, which
    // real hostnames use); lengths too, with the contract's message.
    let input = lower_ascii.unwrap_or(label);
    let ascii = Uts46::new()
        .to_ascii(input.as_bytes(), AsciiDenyList::STD3, Hyphens::Allow, DnsLength::Ignore)
        .map_err(|_| refused_idna_label(label, &unicode_form(input)))?;
    // UTS 46 maps some characters to a full stop (`⒈` → `1.`) or to nothing (soft hyphen).
    if ascii.is_empty() || ascii.contains('.') {
        return Err(format!(
            "label '{label}' maps to {} under UTS 46",
            if ascii.is_empty() {
                "nothing"
            } else {
                "more than one label"
            }
        ));
    }
    // UTS 46 keeps symbols such as emoji valid for compatibility; IDNA2008 (RFC 5892), which
    // registries apply, does not. Indicators follow the registries.
    let unicode = unicode_form(&ascii);
    if let Some(bad) = unicode.chars().find(|c| !(c.is_alphanumeric() || *c == '-')) {
        return Err(format!(
            "label '{label}' contains '{}'; labels use letters, digits and hyphens only",
            bad.escape_default()
        ));
    }
    Ok(ascii.into_owned())
}

/// The Unicode form of a label: `xn--` decoded when it decodes, otherwise the label itself.
fn unicode_form(label: &str) -> String {
    label
        .strip_prefix("xn--")
        .and_then(idna::punycode::decode_to_string)
        .unwrap_or_else(|| label.to_string())
}

/// Why UTS 46 refused a label: the first character that is not a letter, digit or hyphen when
/// there is one, otherwise the rule in general terms.
fn refused_idna_label(label: &str, unicode: &str) -> String {
    match unicode
        .chars()
        .flat_map(char::to_lowercase)
        .find(|c| !(c.is_alphanumeric() || *c == '-'))
    {
        Some(bad) => format!(
            "label '{label}' contains '{}'; labels use letters, digits and hyphens only",
            bad.escape_default()
        ),
        None => format!(
            "label '{label}' is not a valid internationalized label (UTS 46: a disallowed character, \
             a mark at its start, or a mix of writing directions)"
        ),
    }
}

// ---------------------------------------------------------------------------------------------
// URLs

/// Longest URL accepted (the common browser and server limit; the docs name none).
pub const URL_MAX_CHARS: usize = 2048;

/// The host of a URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UrlHost {
    /// Canonical form, as [`domain_name`] answers it.
    Domain(String),
    Ip(IpAddr),
}

impl fmt::Display for UrlHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UrlHost::Domain(d) => f.write_str(d),
            UrlHost::Ip(IpAddr::V6(v6)) => write!(f, "[{v6}]"),
            UrlHost::Ip(ip) => write!(f, "{ip}"),
        }
    }
}

/// A URL accepted as an indicator, taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidUrl {
    /// `http` or `https` (lower case), or none when the URL was given without one.
    pub scheme: Option<String>,
    pub host: UrlHost,
    pub port: Option<u16>,
    /// Path and query exactly as given (may be empty).
    pub path_and_query: String,
}

impl ValidUrl {
    /// The URL with its case-insensitive parts (scheme, host) in canonical form.
    pub fn canonical(&self) -> String {
        let mut out = String::new();
        if let Some(scheme) = &self.scheme {
            out.push_str(scheme);
            out.push_str("://");
        }
        out.push_str(&self.host.to_string());
        if let Some(port) = self.port {
            out.push_str(&format!(":{port}"));
        }
        out.push_str(&self.path_and_query);
        out
    }
}

/// An indicator URL: `[http[s]://]host[:port][/path][?query]`.
pub fn url(value: &str) -> Result<ValidUrl, ApiError> {
    url_rules(value).map_err(|why| ApiError::invalid_url(&shown(value)).because(why))
}

fn url_rules(value: &str) -> Result<ValidUrl, String> {
    if value.is_empty() {
        return Err("it is empty".into());
    }
    let length = value.chars().count();
    if length > URL_MAX_CHARS {
        return Err(format!(
            "it is {length} characters long; the maximum is {URL_MAX_CHARS}"
        ));
    }
    if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("it contains whitespace or control characters (percent-encode them)".into());
    }
    let (scheme, rest) = match value.split_once("://") {
        Some((scheme, rest)) => {
            let lower = scheme.to_ascii_lowercase();
            if lower != "http" && lower != "https" {
                return Err(format!(
                    "scheme '{scheme}' is not supported; use http, https or no scheme"
                ));
            }
            (Some(lower), rest)
        }
        None => (None, value),
    };
    if rest.contains('#') {
        return Err("it has a fragment (#…), which browsers never send; leave it out".into());
    }
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path_and_query) = rest.split_at(authority_end);
    if authority.contains('@') {
        return Err("it contains credentials (user@host); leave them out".into());
    }
    if authority.is_empty() {
        return Err("it has no host".into());
    }
    let (host_text, port_text) = if let Some(bracketed) = authority.strip_prefix('[') {
        let (inside, after) = bracketed.split_once(']').ok_or("its IPv6 host has no closing ']'")?;
        let port = match after {
            "" => None,
            _ => Some(
                after
                    .strip_prefix(':')
                    .ok_or("unexpected characters after the IPv6 host")?,
            ),
        };
        let ip: Ipv6Addr = inside
            .parse()
            .map_err(|_| format!("host [{inside}] is not a valid IPv6 address"))?;
        (UrlHost::Ip(IpAddr::V6(ip)), port)
    } else {
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        };
        (url_host(host)?, port)
    };
    let port = match port_text {
        None => None,
        Some(text) => match text.parse::<u16>() {
            Ok(port) if port > 0 && text.bytes().all(|b| b.is_ascii_digit()) => Some(port),
            _ => return Err(format!("port '{text}' is not a number from 1 to 65535")),
        },
    };
    check_percent_encoding(path_and_query)?;
    Ok(ValidUrl {
        scheme,
        host: host_text,
        port,
        path_and_query: path_and_query.to_string(),
    })
}

fn url_host(host: &str) -> Result<UrlHost, String> {
    if host.is_empty() {
        return Err("it has no host".into());
    }
    // All digits and dots: it means to be an IPv4 address, so hold it to those rules.
    if host.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return ipv4(host)
            .map(|ip| UrlHost::Ip(IpAddr::V4(ip)))
            .map_err(|why| format!("host '{host}' is not a valid IPv4 address: {why}"));
    }
    domain_rules(host)
        .map(UrlHost::Domain)
        .map_err(|why| format!("host '{host}' is not a valid domain name: {why}"))
}

fn check_percent_encoding(text: &str) -> Result<(), String> {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let ok = bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit);
            if !ok {
                return Err("it has a '%' not followed by two hexadecimal digits".into());
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use palisade_error::ErrorCode;

    fn code_of<T: fmt::Debug>(result: Result<T, ApiError>) -> ErrorCode {
        result.expect_err("should be refused").code
    }

    #[test]
    fn file_hashes_are_told_apart_by_length_in_either_case() {
        assert_eq!(file_hash(&"a".repeat(32)), Ok(HashKind::Md5));
        assert_eq!(file_hash(&"AbCdEf0123".repeat(4)), Ok(HashKind::Sha1));
        assert_eq!(file_hash(&"F".repeat(64)), Ok(HashKind::Sha256));
        for bad in [
            "",
            "abc",
            &"a".repeat(39),
            &"a".repeat(41),
            &"a".repeat(65),
            &"g".repeat(40),
            &format!(" {}", "a".repeat(40)),
        ] {
            assert_eq!(code_of(file_hash(bad)), ErrorCode::InvalidHashValue, "{bad}");
        }
        let err = file_hash("abc").unwrap_err();
        assert!(
            err.message.contains("abc") && err.message.contains("3 characters"),
            "{}",
            err.message
        );
        let err = file_hash(&format!("{}z", "a".repeat(39))).unwrap_err();
        assert!(err.message.contains("'z' at position 40"), "{}", err.message);
    }

    #[test]
    fn single_kind_hashes_and_thumbprints_need_their_exact_length() {
        assert!(sha1(&"0".repeat(40)).is_ok());
        assert!(sha256(&"0".repeat(64)).is_ok());
        assert!(md5(&"0".repeat(32)).is_ok());
        assert!(certificate_thumbprint(&"aB".repeat(20)).is_ok());
        assert_eq!(code_of(sha1(&"0".repeat(64))), ErrorCode::InvalidHashValue);
        assert_eq!(code_of(sha256(&"0".repeat(40))), ErrorCode::InvalidHashValue);
        assert_eq!(
            code_of(certificate_thumbprint(&"0".repeat(64))),
            ErrorCode::InvalidHashValue
        );
        assert_eq!(
            code_of(certificate_thumbprint(&"x".repeat(40))),
            ErrorCode::InvalidHashValue
        );
        assert!(sha1(&"0".repeat(64)).unwrap_err().message.contains("SHA-1 hash has 40"));
    }

    #[test]
    fn ip_addresses_in_standard_forms_are_accepted() {
        for good in [
            "8.8.8.8",
            "0.0.0.0",
            "255.255.255.255",
            "2001:4860:4860::8888",
            "::1",
            "::ffff:8.8.8.8",
            "2001:DB8:0:0:0:0:0:1",
        ] {
            assert!(ip_address(good).is_ok(), "{good}");
        }
        assert_eq!(ip_address("1.2.3.4").ok(), Some(IpAddr::V4(Ipv4Addr::new(1, 2, 3, 4))));
    }

    #[test]
    fn ip_addresses_refuse_ranges_cidr_ports_zones_and_octal() {
        let cases = [
            ("", "empty"),
            (" 8.8.8.8", "whitespace"),
            ("8.8.8.0/24", "CIDR"),
            ("8.8.8.1-8.8.8.9", "ranges"),
            ("8.8.8.*", "wildcards"),
            ("fe80::1%eth0", "zone"),
            ("8.8.8.8:53", "ports"),
            ("[2001:db8::1]", "ports and brackets"),
            ("010.8.8.8", "leading zero"),
            ("8.8.8", "four"),
            ("8.8.8.256", "greater than 255"),
            ("8.8.8.8.8", "four"),
            ("1:2:3:4:5:6:7:8:9", "IPv6"),
            ("2001:db8:::1", "IPv6"),
            ("example.com", "four"),
            ("0x8.8.8.8", "not a decimal"),
        ];
        for (bad, why) in cases {
            let err = ip_address(bad).unwrap_err();
            assert_eq!(err.code, ErrorCode::InvalidIpAddress, "{bad}");
            assert!(err.message.contains(why), "{bad}: {}", err.message);
        }
    }

    #[test]
    fn public_addresses_exclude_special_ranges() {
        for good in [
            "8.8.8.8",
            "1.1.1.1",
            "100.128.0.1",
            "172.32.0.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(public_ip_address(good).is_ok(), "{good}");
        }
        let cases = [
            ("10.1.2.3", "private"),
            ("172.16.0.1", "private"),
            ("172.31.255.255", "private"),
            ("192.168.1.1", "private"),
            ("127.0.0.1", "loopback"),
            ("169.254.1.1", "link-local"),
            ("100.64.0.1", "shared"),
            ("0.0.0.0", "unspecified"),
            ("192.0.2.1", "documentation"),
            ("198.51.100.7", "documentation"),
            ("203.0.113.9", "documentation"),
            ("198.18.0.1", "benchmarking"),
            ("224.0.0.1", "multicast"),
            ("240.0.0.1", "reserved"),
            ("255.255.255.255", "reserved"),
            ("::", "unspecified"),
            ("::1", "loopback"),
            ("fd00::1", "unique local"),
            ("fe80::1", "link-local"),
            ("ff02::1", "multicast"),
            ("2001:db8::1", "documentation"),
            ("::ffff:10.0.0.1", "private"),
        ];
        for (bad, range) in cases {
            let err = public_ip_address(bad).unwrap_err();
            assert_eq!(err.code, ErrorCode::InvalidIpAddress, "{bad}");
            assert!(
                err.message.contains(range) && err.message.contains(bad),
                "{bad}: {}",
                err.message
            );
        }
    }

    #[test]
    fn domain_names_answer_their_canonical_form() {
        assert_eq!(domain_name("Example.COM").as_deref(), Ok("example.com"));
        assert_eq!(domain_name("example.com.").as_deref(), Ok("example.com"));
        assert_eq!(domain_name("a-b.c0.example.org").as_deref(), Ok("a-b.c0.example.org"));
        assert_eq!(domain_name("bücher.example").as_deref(), Ok("xn--bcher-kva.example"));
        assert_eq!(
            domain_name("xn--bcher-kva.example").as_deref(),
            Ok("xn--bcher-kva.example")
        );
        assert_eq!(domain_name("münchen.de").as_deref(), Ok("xn--mnchen-3ya.de"));
        assert_eq!(domain_name("例え.テスト").as_deref(), Ok("xn--r8jz45g.xn--zckzah"));
        assert_eq!(
            domain_name("r3---sn-abc.googlevideo.com").as_deref(),
            Ok("r3---sn-abc.googlevideo.com")
        );
        let longest_label = "a".repeat(63);
        assert!(domain_name(&format!("{longest_label}.com")).is_ok());
    }

    #[test]
    fn domain_names_refuse_what_is_not_a_bare_name() {
        let long_name = format!("{}.com", vec!["a".repeat(60); 5].join("."));
        let cases: Vec<(String, &str)> = vec![
            ("".into(), "empty"),
            ("localhost".into(), "single label"),
            ("example..com".into(), "empty label"),
            (".example.com".into(), "empty label"),
            ("example.com..".into(), "empty label"),
            ("-example.com".into(), "hyphen"),
            ("example-.com".into(), "hyphen"),
            ("exa_mple.com".into(), "'_'"),
            ("https://example.com".into(), "scheme"),
            ("example.com/path".into(), "path"),
            ("example.com:443".into(), "port"),
            ("*.example.com".into(), "wildcards"),
            ("user@example.com".into(), "'@'"),
            ("exa mple.com".into(), "whitespace"),
            ("1.2.3.4".into(), "all digits"),
            (format!("{}.com", "a".repeat(64)), "maximum is 63"),
            (long_name, "maximum is 253"),
            ("xn--ls8h.com".into(), "letters, digits and hyphens"),
            ("xn--abc-.com".into(), "plain ASCII"),
            ("xn--99999999999.com".into(), "punycode"),
            ("bü!cher.example".into(), "'!'"),
        ];
        for (bad, why) in cases {
            let err = domain_name(&bad).unwrap_err();
            assert_eq!(err.code, ErrorCode::InvalidDomainName, "{bad}");
            assert!(err.message.contains(why), "{bad}: {}", err.message);
        }
    }

    #[test]
    fn unicode_names_are_mapped_by_uts_46() {
        // Decomposed ü (u + combining diaeresis) is the same name as the composed one (NFC).
        assert_eq!(
            domain_name("bu\u{308}cher.example").as_deref(),
            Ok("xn--bcher-kva.example")
        );
        // Full-width letters map to ASCII; upper-case Unicode folds.
        assert_eq!(domain_name("ｅｘａｍｐｌｅ.com").as_deref(), Ok("example.com"));
        assert_eq!(domain_name("BÜCHER.example").as_deref(), Ok("xn--bcher-kva.example"));
        // A label starting with a combining mark is refused by UTS 46's validity criteria.
        let err = domain_name("\u{308}a.example").unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidDomainName);
        // A character that UTS 46 maps to `1.` (or, since Unicode 15.1, disallows) would split the label.
        let err = domain_name("a\u{2488}.example").unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidDomainName, "{}", err.message);
    }

    #[test]
    fn urls_take_http_https_or_no_scheme() {
        let parsed = url("HTTPS://Example.com:8443/Path?q=1").unwrap();
        assert_eq!(parsed.scheme.as_deref(), Some("https"));
        assert_eq!(parsed.host, UrlHost::Domain("example.com".into()));
        assert_eq!(parsed.port, Some(8443));
        assert_eq!(parsed.canonical(), "https://example.com:8443/Path?q=1");
        assert_eq!(url("example.com/block").unwrap().canonical(), "example.com/block");
        assert_eq!(
            url("http://8.8.8.8/x").unwrap().host,
            UrlHost::Ip("8.8.8.8".parse().unwrap())
        );
        assert_eq!(
            url("http://[2001:db8::1]:80/").unwrap().canonical(),
            "http://[2001:db8::1]:80/"
        );
        assert!(url("http://bücher.example/%20a").is_ok());
        assert!(url(&format!("https://example.com/{}", "a".repeat(URL_MAX_CHARS - 20))).is_ok());
    }

    #[test]
    fn urls_refuse_other_schemes_credentials_fragments_and_bad_hosts() {
        let cases: Vec<(String, &str)> = vec![
            ("".into(), "empty"),
            ("ftp://example.com/file".into(), "scheme 'ftp'"),
            ("javascript://alert(1)".into(), "scheme"),
            ("https://user:pass@example.com/".into(), "credentials"),
            ("https://example.com/a#frag".into(), "fragment"),
            ("https://example.com/a b".into(), "whitespace"),
            ("https:///path".into(), "no host"),
            ("https://localhost/".into(), "single label"),
            ("https://exa_mple.com/".into(), "'_'"),
            ("https://example.com:0/".into(), "port '0'"),
            ("https://example.com:99999/".into(), "port '99999'"),
            ("https://example.com:/".into(), "port ''"),
            ("https://256.1.1.1/".into(), "IPv4"),
            ("https://[2001:db8::1/".into(), "closing"),
            ("https://[zz::1]/".into(), "IPv6"),
            ("https://example.com/%zz".into(), "'%'"),
            (
                format!("https://example.com/{}", "a".repeat(URL_MAX_CHARS)),
                "maximum is 2048",
            ),
        ];
        for (bad, why) in cases {
            let err = url(&bad).unwrap_err();
            assert_eq!(err.code, ErrorCode::InvalidUrl, "{bad}");
            assert!(err.message.contains(why), "{bad}: {}", err.message);
        }
    }

    #[test]
    fn messages_show_overlong_values_cut_and_control_characters_escaped() {
        assert_eq!(shown("a\nb"), "a\\nb");
        let long = "x".repeat(500);
        let out = shown(&long);
        assert!(out.ends_with("… (500 characters)") && out.len() < 200, "{out}");
    }
}
