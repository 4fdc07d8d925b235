//! Fault injection and rate-limit middleware (being built).
