//! Path normalisation before routing, so clients may write paths the way the docs do:
//! `/api/v1.0/...` equals `/api/...`, and the fixed words of API paths match case-insensitively
//! (the docs themselves mix `/API/machines`, `StopAndQuarantineFile`, `getPackageUri`).
//! Identifiers in paths are left exactly as sent. The words are the families' path words
//! (`palisade_domain::family`, added families' too).

use axum::http::{Request, Uri};
use palisade_domain::family::{self, Family};

/// `request` with its path in canonical form (see [`normalize_path`]).
pub fn normalize_request<B>(
    mut request: Request<B>,
    families: impl Iterator<Item = &'static Family> + Clone,
) -> Request<B> {
    if let Some(normalized) = normalize_path(request.uri().path(), families) {
        let mut parts = request.uri().clone().into_parts();
        let path_and_query = match request.uri().query() {
            Some(q) => format!("{normalized}?{q}"),
            None => normalized,
        };
        if let Ok(pq) = path_and_query.parse() {
            parts.path_and_query = Some(pq);
            if let Ok(uri) = Uri::from_parts(parts) {
                *request.uri_mut() = uri;
            }
        }
    }
    request
}

/// The canonical form of a Graph path (`/v1.0/...`, `/beta/...`: Graph matches path segments
/// without regard to case, and its own docs write `alerts_V2`), or `None` when it is one already.
fn normalize_graph_path(path: &str, families: impl Iterator<Item = &'static Family> + Clone) -> Option<String> {
    let mut out = String::with_capacity(path.len());
    for segment in path.split('/').skip(1) {
        out.push('/');
        match family::path_words(families.clone()).find(|w| w.eq_ignore_ascii_case(segment)) {
            Some(word) => out.push_str(word),
            None => out.push_str(segment),
        }
    }
    (out != path).then_some(out)
}

/// The canonical form of an API path, or `None` when it is already canonical (or not an API path).
/// `families` spell the words (see the module docs).
pub fn normalize_path(path: &str, families: impl Iterator<Item = &'static Family> + Clone) -> Option<String> {
    let mut segments = path.split('/').skip(1);
    let first = segments.next()?;
    if first.eq_ignore_ascii_case("v1.0") || first.eq_ignore_ascii_case("beta") {
        return normalize_graph_path(path, families);
    }
    if !first.eq_ignore_ascii_case("api") {
        return None;
    }
    let mut out = String::from("/api");
    let mut rest = segments.peekable();
    if rest.peek().is_some_and(|s| s.eq_ignore_ascii_case("v1.0")) {
        rest.next();
    }
    for segment in rest {
        out.push('/');
        // Function-call segments (`findbyip(ip='...',timestamp=...)`) have their name normalised
        // and their arguments left alone.
        let (name, args) = match segment.find('(') {
            Some(open) => segment.split_at(open),
            None => (segment, ""),
        };
        match family::path_words(families.clone()).find(|w| w.eq_ignore_ascii_case(name)) {
            Some(word) => out.push_str(word),
            None => out.push_str(name),
        }
        out.push_str(args);
    }
    (out != path).then_some(out)
}

#[cfg(test)]
mod tests {
    use palisade_domain::family;

    fn normalize_path(path: &str) -> Option<String> {
        super::normalize_path(path, family::all(&[]))
    }

    #[test]
    fn version_segment_and_word_case_are_normalised() {
        assert_eq!(normalize_path("/api/v1.0/machines").as_deref(), Some("/api/machines"));
        assert_eq!(
            normalize_path("/API/Machines/AbC/TAGS").as_deref(),
            Some("/api/machines/AbC/tags")
        );
        assert_eq!(normalize_path("/api/machines"), None);
        assert_eq!(
            normalize_path("/api/machines/FindByIp(ip='10.0.0.1',timestamp=2024-01-01T00:00:00Z)").as_deref(),
            Some("/api/machines/findbyip(ip='10.0.0.1',timestamp=2024-01-01T00:00:00Z)")
        );
        assert_eq!(
            normalize_path("/API/machineactions/abc/getliveresponseresultdownloadlink(index=0)").as_deref(),
            Some("/api/machineactions/abc/GetLiveResponseResultDownloadLink(index=0)")
        );
        assert_eq!(normalize_path("/tenant/oauth2/token"), None);
        assert_eq!(
            normalize_path("/V1.0/Security/alerts_V2/AbC").as_deref(),
            Some("/v1.0/security/alerts_v2/AbC")
        );
        assert_eq!(normalize_path("/beta/security/incidents"), None);
        assert_eq!(
            normalize_path("/api/machines/abc/setdevicevalue").as_deref(),
            Some("/api/machines/abc/setDeviceValue")
        );
    }
}
