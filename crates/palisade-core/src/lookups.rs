//! lookups (being built).
