//! validators (being built).
