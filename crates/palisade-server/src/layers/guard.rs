//! What a browser on the developer's machine must not be able to do: reach Palisade under a name
//! that is not Palisade's (DNS rebinding), or write to the admin API from a page of another site
//! without a CORS preflight (cross-site request forgery). See the README's threat model.
//!
//! Checked on every route, inside the journal layer so each refusal has a tracking id:
//!
//! 1. `Host` (RFC 9112 §3.2): an HTTP/1.1 request without one, or with more than one, is
//!    `400 BadRequest`. HTTP/2 carries it as `:authority`. HTTP/1.0 may omit it (the RFC allows
//!    it), and is then served as if it had named the bound address.
//! 2. The host named must be one Palisade answers to ([`HostAllowList`]): `localhost` and
//!    `*.localhost` (RFC 6761: they always resolve to loopback), loopback IP literals, the bound
//!    addresses, any IP literal when a listener is bound to an unspecified address (a rebinding
//!    attack needs a DNS name), and the configured names (`--allowed-host`; `*` turns the check
//!    off). Others are `400 BadRequest` naming the flag.
//! 3. Writes to `/_palisade/` (any method but GET, HEAD, OPTIONS) must declare
//!    `Content-Type: application/json` when they carry a body: the only types a page can send
//!    without a preflight are form and text types. And a write whose `Origin` is not one of ours,
//!    or whose `Sec-Fetch-Site` is `cross-site`, is `403 Forbidden`: a browser sends those on every
//!    cross-origin write, while scripts and SDKs send neither.

use crate::state::AppState;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method, Version};
use axum::middleware::Next;
use axum::response::Response;
use palisade_error::{ApiError, ErrorCode};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// The hosts Palisade answers to. Bound addresses are compared by IP only: the port in `Host` is
/// the one the client dialled, which a proxy or port mapping may change.
#[derive(Debug, Clone, Default)]
pub struct HostAllowList<'a> {
    /// Addresses the listeners are bound to.
    pub bound: Vec<SocketAddr>,
    /// Configured names; `*` admits every host.
    pub names: &'a [String],
}

impl<'a> HostAllowList<'a> {
    /// The list of a configuration.
    pub fn of(config: &'a crate::Config) -> Self {
        HostAllowList {
            bound: config.http.iter().chain(config.https.iter()).copied().collect(),
            names: &config.allowed_hosts,
        }
    }

    /// Whether `host` (a `Host` value: a name or IP literal, with an optional port) is ours.
    pub fn allows(&self, host: &str) -> bool {
        let name = host_name(host).to_ascii_lowercase();
        if name.is_empty() {
            return false;
        }
        if self.names.iter().any(|n| n == "*" || n.eq_ignore_ascii_case(&name)) {
            return true;
        }
        if name == "localhost" || name.ends_with(".localhost") {
            return true;
        }
        let literal = name.trim_start_matches('[').trim_end_matches(']');
        match literal.parse::<IpAddr>() {
            Ok(ip) => {
                let ip = ip.to_canonical();
                ip.is_loopback()
                    || self
                        .bound
                        .iter()
                        .any(|bound| bound.ip().is_unspecified() || bound.ip().to_canonical() == ip)
            }
            Err(_) => false,
        }
    }
}

/// The name part of a `Host` value: `[::1]:8080` → `[::1]`, `example:80` → `example`.
fn host_name(host: &str) -> &str {
    let host = host.trim();
    if host.starts_with('[') {
        return match host.find(']') {
            Some(end) => &host[..=end],
            None => host,
        };
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) => name,
        _ => host,
    }
}

pub async fn check(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    match refusal(&state, &request) {
        Some(refusal) => crate::signin::pre_routing_refusal(&state, request.uri().path(), refusal),
        None => next.run(request).await,
    }
}

fn refusal(state: &AppState, request: &Request) -> Option<ApiError> {
    let headers = request.headers();
    let mut hosts = headers.get_all(header::HOST).iter();
    let host = match (hosts.next(), hosts.next()) {
        (Some(_), Some(_)) => {
            return Some(ApiError::bad_request(
                "The request has more than one Host header (RFC 9112 §3.2)",
                "host guard: several Host headers",
            ))
        }
        (Some(value), None) => match value.to_str() {
            Ok(text) => Some(text.to_string()),
            Err(_) => {
                return Some(ApiError::bad_request(
                    "The Host header is not valid text",
                    "host guard: Host not text",
                ))
            }
        },
        (None, _) => request.uri().authority().map(|a| a.to_string()),
    };
    match host {
        None if request.version() == Version::HTTP_10 || request.version() == Version::HTTP_09 => {}
        None => {
            return Some(ApiError::bad_request(
                "The request has no Host header (RFC 9112 §3.2)",
                "host guard: no Host",
            ))
        }
        Some(host) if !HostAllowList::of(&state.config).allows(&host) => {
            tracing::warn!(host = %host, "request for a host Palisade does not answer to");
            return Some(ApiError::bad_request(
                format!(
                    "Palisade does not answer to host '{host}'; it answers to localhost, loopback and its bound addresses, and to names given with --allowed-host"
                ),
                "host guard: host not allowed",
            ));
        }
        Some(_) => {}
    }
    if let Some(name) = request.uri().query().and_then(non_utf8_parameter) {
        return Some(ApiError::bad_request(
            format!("Invalid query: parameter '{name}' is not UTF-8 once percent-decoded"),
            "query not UTF-8",
        ));
    }
    if request.uri().path().starts_with("/_palisade/") && is_write(request.method()) {
        return admin_write_refusal(state, headers);
    }
    None
}

/// The first query parameter whose name or value does not percent-decode to UTF-8 (its name,
/// lossily). The form decoder everything downstream uses would turn such bytes into U+FFFD, and a
/// `$filter` literal would then match nothing (an empty 200); a path with the same bytes is
/// already `400 BadRequest`, and so is this.
fn non_utf8_parameter(query: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let ok = |part: &str| std::str::from_utf8(&percent_decode(part)).is_ok();
        (!ok(name) || !ok(value)).then(|| String::from_utf8_lossy(&percent_decode(name)).into_owned())
    })
}

fn percent_decode(part: &str) -> Vec<u8> {
    let bytes = part.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(high), Some(low)) => {
                out.push((high * 16 + low) as u8);
                i += 3;
            }
            (byte, _, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    out
}

fn is_write(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

fn admin_write_refusal(state: &AppState, headers: &HeaderMap) -> Option<ApiError> {
    let cross_site = headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|site| site.eq_ignore_ascii_case("cross-site"));
    let foreign_origin = headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|origin| {
            // `null` (sandboxed frames, file pages) is foreign too.
            let authority = origin.split_once("://").map(|(_, rest)| rest).unwrap_or("");
            authority.is_empty() || !HostAllowList::of(&state.config).allows(authority)
        });
    if cross_site || foreign_origin {
        return Some(ApiError::new(
            ErrorCode::Forbidden,
            "The admin API refuses writes from another origin (Origin or Sec-Fetch-Site): a web page must not change the emulator",
            "admin guard: cross-origin write",
        ));
    }
    let has_body = headers
        .get(header::CONTENT_LENGTH)
        .is_some_and(|length| length.as_bytes() != b"0")
        || headers.contains_key(header::TRANSFER_ENCODING);
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|media| {
            let media = media.trim().to_ascii_lowercase();
            media == "application/json" || (media.starts_with("application/") && media.ends_with("+json"))
        });
    if has_body && !json {
        return Some(ApiError::new(
            ErrorCode::InvalidRequestBody,
            "Invalid request body: admin API bodies must be sent with Content-Type: application/json",
            "admin guard: content type",
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::{non_utf8_parameter, HostAllowList};

    #[test]
    fn query_parameters_must_decode_to_utf8() {
        assert_eq!(non_utf8_parameter("$filter=id%20eq%20'%FF'"), Some("$filter".into()));
        assert_eq!(non_utf8_parameter("a=1&%FF=2"), Some("\u{FFFD}".into()));
        assert_eq!(non_utf8_parameter("$filter=name%20eq%20'%C3%A9'&b=%zz&c=%"), None);
    }

    #[test]
    fn hosts_palisade_answers_to() {
        let names = vec!["palisade".to_string()];
        let list = HostAllowList {
            bound: vec!["127.0.0.1:8080".parse().unwrap()],
            names: &names,
        };
        for host in [
            "localhost",
            "LOCALHOST:8080",
            "api.localhost:1",
            "127.0.0.1:8080",
            "[::1]:8443",
            "palisade:8080",
        ] {
            assert!(list.allows(host), "{host}");
        }
        for host in ["rebind.example:8080", "10.0.0.1", "", ":80", "localhost.example"] {
            assert!(!list.allows(host), "{host}");
        }
        let any = HostAllowList {
            bound: vec!["0.0.0.0:8080".parse().unwrap()],
            names: &[],
        };
        assert!(any.allows("10.0.0.1:8080"));
        assert!(!any.allows("rebind.example"));
        let star = vec!["*".to_string()];
        let open = HostAllowList {
            bound: vec![],
            names: &star,
        };
        assert!(open.allows("rebind.example"));
    }
}
