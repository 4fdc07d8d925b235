//! Prometheus metrics at `GET /metrics`, in the text exposition format (version 0.0.4):
//! - `palisade_http_requests_total{route,method,status}`: requests by matched route template
//!   (`/api/machines/{id}`, never the raw path, so cardinality stays bounded; `unmatched` when no
//!   route matched) and status;
//! - `palisade_http_errors_total{code}`: error responses by contract code;
//! - `palisade_http_request_duration_seconds{route}`: latency histogram per route template.
//!
//! A small registry of our own rather than a crate: three metric families with fixed label sets
//! are a hundred lines, while the crates pull in their own encoders and macros for far more.

use std::collections::HashMap;
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

/// Keyed so that counting a request of a known series allocates nothing (looked up by `&str`);
/// sorted only when rendered.
#[derive(Default)]
struct Registry {
    routes: HashMap<String, RouteSeries>,
    errors: HashMap<String, u64>,
}

#[derive(Default)]
struct RouteSeries {
    /// `(method, status, count)`: a handful per route, searched in order.
    requests: Vec<(String, u16, u64)>,
    latency: Histogram,
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
        let mut guard = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let registry = &mut *guard;
        let series = match registry.routes.get_mut(route) {
            Some(series) => series,
            None => registry.routes.entry(route.to_string()).or_default(),
        };
        match series.requests.iter_mut().find(|(m, s, _)| *s == status && m == method) {
            Some((_, _, count)) => *count += 1,
            None => series.requests.push((method.to_string(), status, 1)),
        }
        let histogram = &mut series.latency;
        if let Some(bucket) = BUCKETS.iter().position(|bound| seconds <= *bound) {
            histogram.buckets[bucket] += 1;
        }
        histogram.sum += seconds;
        histogram.count += 1;
        if let Some(code) = code {
            match registry.errors.get_mut(code) {
                Some(count) => *count += 1,
                None => {
                    registry.errors.insert(code.to_string(), 1);
                }
            }
        }
    }

    /// The text exposition of every series.
    pub fn render(&self) -> String {
        let registry = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = String::with_capacity(4096);
        out.push_str(
            "# HELP palisade_http_requests_total HTTP requests answered, by route template, method and status.\n",
        );
        out.push_str("# TYPE palisade_http_requests_total counter\n");
        let mut routes: Vec<(&String, &RouteSeries)> = registry.routes.iter().collect();
        routes.sort_by(|a, b| a.0.cmp(b.0));
        let mut requests: Vec<(&String, &String, u16, u64)> = routes
            .iter()
            .flat_map(|(route, series)| series.requests.iter().map(move |(m, s, c)| (*route, m, *s, *c)))
            .collect();
        requests.sort();
        for (route, method, status, count) in requests {
            let _ = writeln!(
                out,
                "palisade_http_requests_total{{route=\"{}\",method=\"{}\",status=\"{status}\"}} {count}",
                escape(route),
                escape(method)
            );
        }
        out.push_str("# HELP palisade_http_errors_total Error responses, by error code.\n");
        out.push_str("# TYPE palisade_http_errors_total counter\n");
        let mut errors: Vec<(&String, &u64)> = registry.errors.iter().collect();
        errors.sort();
        for (code, count) in errors {
            let _ = writeln!(out, "palisade_http_errors_total{{code=\"{}\"}} {count}", escape(code));
        }
        out.push_str("# HELP palisade_http_request_duration_seconds Time to answer, by route template.\n");
        out.push_str("# TYPE palisade_http_request_duration_seconds histogram\n");
        for (route, series) in routes {
            let histogram = &series.latency;
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
