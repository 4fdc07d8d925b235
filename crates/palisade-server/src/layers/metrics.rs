//! Prometheus metrics at `GET /metrics`, in the text exposition format (version 0.0.4):
//! - `palisade_http_requests_total{route,method,status}`: requests by matched route template
//!   (`/api/machines/{id}`, never the raw path, so cardinality stays bounded; `unmatched` when no
//!   route matched) and status;
//! - `palisade_http_errors_total{code}`: error responses by contract code;
//! - `palisade_http_request_duration_seconds{route}`: latency histogram per route template.
//!
//! A small registry of our own rather than a crate: three metric families with fixed label sets
//! are a hundred lines, while the crates pull in their own encoders and macros for far more.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

/// Upper bounds of the latency buckets, in seconds (sub-millisecond answers are the norm here).
const BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The label of requests no route matched (unknown paths must not create new series).
pub const UNMATCHED: &str = "unmatched";

#[derive(Default)]
pub struct Metrics {
    inner: Mutex<Registry>,
}

#[derive(Default)]
struct Registry {
    requests: BTreeMap<(String, String, u16), u64>,
    errors: BTreeMap<String, u64>,
    latency: BTreeMap<String, Histogram>,
}

#[derive(Default)]
struct Histogram {
    /// Per bucket (not cumulative); cumulated when rendered.
    buckets: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

impl Metrics {
    /// Counts one answered request.
    pub fn observe(&self, route: Option<&str>, method: &str, status: u16, code: Option<&str>, seconds: f64) {
        let route = route.unwrap_or(UNMATCHED);
        // Unknown methods would be new series too; the framework only routes the standard ones.
        let method = if method.len() <= 10 { method } else { "OTHER" };
        let mut registry = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        *registry
            .requests
            .entry((route.to_string(), method.to_string(), status))
            .or_default() += 1;
        if let Some(code) = code {
            *registry.errors.entry(code.to_string()).or_default() += 1;
        }
        let histogram = registry.latency.entry(route.to_string()).or_default();
        if let Some(bucket) = BUCKETS.iter().position(|bound| seconds <= *bound) {
            histogram.buckets[bucket] += 1;
        }
        histogram.sum += seconds;
        histogram.count += 1;
    }

    /// The text exposition of every series.
    pub fn render(&self) -> String {
        let registry = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = String::with_capacity(4096);
        out.push_str(
            "# HELP palisade_http_requests_total HTTP requests answered, by route template, method and status.\n",
        );
        out.push_str("# TYPE palisade_http_requests_total counter\n");
        for ((route, method, status), count) in &registry.requests {
            let _ = writeln!(
                out,
                "palisade_http_requests_total{{route=\"{}\",method=\"{}\",status=\"{status}\"}} {count}",
                escape(route),
                escape(method)
            );
        }
        out.push_str("# HELP palisade_http_errors_total Error responses, by error code.\n");
        out.push_str("# TYPE palisade_http_errors_total counter\n");
        for (code, count) in &registry.errors {
            let _ = writeln!(out, "palisade_http_errors_total{{code=\"{}\"}} {count}", escape(code));
        }
        out.push_str("# HELP palisade_http_request_duration_seconds Time to answer, by route template.\n");
        out.push_str("# TYPE palisade_http_request_duration_seconds histogram\n");
        for (route, histogram) in &registry.latency {
            let route = escape(route);
            let mut cumulative = 0;
            for (bound, count) in BUCKETS.iter().zip(histogram.buckets) {
                cumulative += count;
                let _ = writeln!(
                    out,
                    "palisade_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {cumulative}"
                );
            }
            let _ = writeln!(
                out,
                "palisade_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}",
                histogram.count
            );
            let _ = writeln!(
                out,
                "palisade_http_request_duration_seconds_sum{{route=\"{route}\"}} {}",
                histogram.sum
            );
            let _ = writeln!(
                out,
                "palisade_http_request_duration_seconds_count{{route=\"{route}\"}} {}",
                histogram.count
            );
        }
        out
    }
}

/// A label value as the exposition format escapes it.
fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_and_cumulative_histogram_buckets() {
        let metrics = Metrics::default();
        metrics.observe(Some("/api/machines/{id}"), "GET", 200, None, 0.0004);
        metrics.observe(Some("/api/machines/{id}"), "GET", 404, Some("ResourceNotFound"), 0.003);
        metrics.observe(None, "GET", 404, Some("NotFound"), 20.0);
        let text = metrics.render();
        assert!(
            text.contains("palisade_http_requests_total{route=\"/api/machines/{id}\",method=\"GET\",status=\"404\"} 1")
        );
        assert!(text.contains("palisade_http_errors_total{code=\"ResourceNotFound\"} 1"));
        assert!(text
            .contains("palisade_http_request_duration_seconds_bucket{route=\"/api/machines/{id}\",le=\"0.0005\"} 1"));
        assert!(
            text.contains("palisade_http_request_duration_seconds_bucket{route=\"/api/machines/{id}\",le=\"0.005\"} 2")
        );
        assert!(text.contains("palisade_http_request_duration_seconds_bucket{route=\"unmatched\",le=\"10\"} 0"));
        assert!(text.contains("palisade_http_request_duration_seconds_count{route=\"unmatched\"} 1"));
        assert_eq!(escape("a\"b\\"), "a\\\"b\\\\");
    }
}
