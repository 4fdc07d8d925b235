//! Prometheus metrics (being built).
