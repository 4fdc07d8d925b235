//! The request journal (`GET /_palisade/requests`): every request, bounded in number and in body
//! text, in memory. Test instrumentation written on every request, where a database write would
//! double the cost of a cheap GET; a restart empties it. The [`journal`](super::journal) layer
//! fills it; the admin API reads it.

use axum::extract::MatchedPath;
use axum::http::Method;
use palisade_model::time::Timestamp;
use serde::Serialize;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

/// One request as the journal keeps it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestRecord {
    /// Increases by one per journaled request since the server started (never reused, also
    /// across clears), so `after=` finds the requests made since a known point.
    pub sequence: u64,
    /// Emulator time of arrival.
    pub time: Timestamp,
    #[serde(serialize_with = "method_as_str")]
    pub method: Method,
    /// The path after normalisation (`/api/v1.0/Machines` is journaled as `/api/machines`).
    pub path: String,
    pub query: Option<String>,
    /// The matched route template, e.g. `/api/machines/{id}/isolate`; `null` when none matched.
    #[serde(serialize_with = "route_as_str")]
    pub route: Option<MatchedPath>,
    #[serde(serialize_with = "headers_as_object")]
    pub headers: HeaderLines,
    pub body_bytes: usize,
    pub body_sha256: Option<String>,
    /// The body as text when it is UTF-8 and at most
    /// [`BODY_TEXT_LIMIT`](super::journal::BODY_TEXT_LIMIT) bytes (secrets of sign-in forms
    /// redacted).
    pub body: Option<String>,
    pub status: u16,
    pub error_code: Option<String>,
    /// The `x-ms-request-id` answered (on errors, the envelope's `target`).
    pub request_id: String,
    pub latency_ms: f64,
    pub tenant_id: Option<String>,
    pub client_id: Option<String>,
    /// Body properties the API does not document, ignored under the lenient body policy.
    pub ignored_properties: Vec<String>,
}

fn method_as_str<S: serde::Serializer>(method: &Method, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(method.as_str())
}

fn route_as_str<S: serde::Serializer>(route: &Option<MatchedPath>, s: S) -> Result<S::Ok, S::Error> {
    match route {
        Some(route) => s.serialize_str(route.as_str()),
        None => s.serialize_none(),
    }
}

/// A request's headers as the journal keeps them: `name: value` lines in one string (one
/// allocation per request rather than two per header; neither names nor values may hold a line
/// break).
#[derive(Debug, Clone, Default)]
pub struct HeaderLines(String);

impl HeaderLines {
    pub fn push(&mut self, name: &str, value: &str) {
        self.0.reserve(name.len() + value.len() + 3);
        self.0.push_str(name);
        self.0.push_str(": ");
        self.0.push_str(value);
        self.0.push('\n');
    }

    /// `(name, value)` in the order sent.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.lines().filter_map(|line| line.split_once(": "))
    }
}

/// Headers as a JSON object; repeated headers are joined with ", " as HTTP allows.
fn headers_as_object<S: serde::Serializer>(headers: &HeaderLines, s: S) -> Result<S::Ok, S::Error> {
    let mut object = serde_json::Map::new();
    for (name, value) in headers.iter() {
        match object.get_mut(name) {
            Some(serde_json::Value::String(existing)) => {
                existing.push_str(", ");
                existing.push_str(value);
            }
            _ => {
                object.insert(name.to_string(), serde_json::Value::String(value.to_string()));
            }
        }
    }
    object.serialize(s)
}

/// The body text all journaled records may hold together. Without it, 10,000 records of 64 KiB
/// bodies (indicator imports, say) would hold 640 MiB; beyond it the oldest records go first.
pub const BODY_TEXT_BUDGET: usize = 64 * 1024 * 1024;

/// The bounded request journal: the newest `capacity` requests (and at most
/// [`BODY_TEXT_BUDGET`] of body text), oldest dropped first.
pub struct RequestJournal {
    capacity: usize,
    body_budget: usize,
    inner: Mutex<JournalInner>,
}

struct JournalInner {
    next_sequence: u64,
    records: VecDeque<Arc<RequestRecord>>,
    body_text_bytes: usize,
}

fn body_text_len(record: &RequestRecord) -> usize {
    record.body.as_ref().map_or(0, String::len)
}

impl RequestJournal {
    pub fn new(capacity: usize) -> Self {
        Self::with_body_budget(capacity, BODY_TEXT_BUDGET)
    }

    fn with_body_budget(capacity: usize, body_budget: usize) -> Self {
        RequestJournal {
            capacity: capacity.max(1),
            body_budget,
            inner: Mutex::new(JournalInner {
                next_sequence: 1,
                records: VecDeque::new(),
                body_text_bytes: 0,
            }),
        }
    }

    pub(crate) fn push(&self, mut record: RequestRecord) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        record.sequence = inner.next_sequence;
        inner.next_sequence += 1;
        inner.body_text_bytes += body_text_len(&record);
        inner.records.push_back(Arc::new(record));
        while inner.records.len() > self.capacity
            || (inner.body_text_bytes > self.body_budget && inner.records.len() > 1)
        {
            if let Some(dropped) = inner.records.pop_front() {
                inner.body_text_bytes -= body_text_len(&dropped);
            }
        }
    }

    /// The records matching `filter`, oldest first; with a limit, the newest `limit` of them.
    pub fn matching(&self, filter: &RequestFilter) -> Vec<Arc<RequestRecord>> {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let mut found: Vec<Arc<RequestRecord>> = inner
            .records
            .iter()
            .filter(|record| filter.accepts(record))
            .cloned()
            .collect();
        if let Some(limit) = filter.limit {
            let excess = found.len().saturating_sub(limit);
            found.drain(..excess);
        }
        found
    }

    /// The sequence number the next journaled request will get: unchanged while no request comes.
    pub fn next_sequence(&self) -> u64 {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).next_sequence
    }

    /// Forgets every record (sequence numbers keep counting).
    pub fn clear(&self) -> usize {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let cleared = inner.records.len();
        inner.records.clear();
        inner.body_text_bytes = 0;
        cleared
    }
}

/// The query of `GET /_palisade/requests`; every given condition must hold.
#[derive(Debug, Default, Clone)]
pub struct RequestFilter {
    pub method: Option<Method>,
    pub path: Option<String>,
    pub path_prefix: Option<String>,
    pub status: Option<u16>,
    pub code: Option<String>,
    pub client_id: Option<String>,
    pub tenant_id: Option<String>,
    pub body_contains: Option<String>,
    pub since: Option<chrono::DateTime<chrono::Utc>>,
    pub after: Option<u64>,
    pub limit: Option<usize>,
}

impl RequestFilter {
    fn accepts(&self, r: &RequestRecord) -> bool {
        let same = |want: &Option<String>, have: &Option<String>| match want {
            Some(want) => have.as_deref().is_some_and(|have| have.eq_ignore_ascii_case(want)),
            None => true,
        };
        self.method.as_ref().is_none_or(|m| *m == r.method)
            && self.path.as_ref().is_none_or(|p| *p == r.path)
            && self.path_prefix.as_ref().is_none_or(|p| r.path.starts_with(p.as_str()))
            && self.status.is_none_or(|s| s == r.status)
            && self
                .code
                .as_ref()
                .is_none_or(|c| r.error_code.as_deref() == Some(c.as_str()))
            && same(&self.client_id, &r.client_id)
            && same(&self.tenant_id, &r.tenant_id)
            && self
                .body_contains
                .as_ref()
                .is_none_or(|needle| r.body.as_deref().is_some_and(|body| body.contains(needle.as_str())))
            && self.since.is_none_or(|since| r.time.0 >= since)
            && self.after.is_none_or(|after| r.sequence > after)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(path: String, body: Option<String>) -> RequestRecord {
        RequestRecord {
            sequence: 0,
            time: Timestamp(palisade_model::time::fixed_now()),
            method: Method::GET,
            path,
            query: None,
            route: None,
            headers: HeaderLines::default(),
            body_bytes: body.as_ref().map_or(0, String::len),
            body_sha256: None,
            body,
            status: 200,
            error_code: None,
            request_id: String::new(),
            latency_ms: 0.0,
            tenant_id: None,
            client_id: None,
            ignored_properties: Vec::new(),
        }
    }

    #[test]
    fn the_journal_keeps_the_newest_and_limits_to_the_latest_matches() {
        let journal = RequestJournal::new(3);
        for n in 0..5 {
            journal.push(record(format!("/p{n}"), None));
        }
        let all = journal.matching(&RequestFilter::default());
        let paths: Vec<&str> = all.iter().map(|r| r.path.as_str()).collect();
        assert_eq!(paths, ["/p2", "/p3", "/p4"]);
        assert_eq!(all[0].sequence, 3);
        let latest = journal.matching(&RequestFilter {
            limit: Some(1),
            ..RequestFilter::default()
        });
        assert_eq!(latest[0].path, "/p4");
    }

    #[test]
    fn body_text_is_bounded_across_records() {
        let journal = RequestJournal::with_body_budget(100, 25);
        for n in 0..4 {
            journal.push(record(format!("/p{n}"), Some("x".repeat(10))));
        }
        let kept: Vec<String> = journal
            .matching(&RequestFilter::default())
            .iter()
            .map(|r| r.path.clone())
            .collect();
        assert_eq!(kept, ["/p2", "/p3"]);
        // One record larger than the whole budget is still kept, alone.
        journal.push(record("/big".into(), Some("y".repeat(40))));
        assert_eq!(journal.matching(&RequestFilter::default()).len(), 1);
        journal.clear();
        journal.push(record("/after".into(), Some("z".repeat(20))));
        assert_eq!(journal.matching(&RequestFilter::default()).len(), 1);
    }
}
