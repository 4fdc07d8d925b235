//! library (being built).
