//! indicators (being built).
