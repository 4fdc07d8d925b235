//! ratelimits (being built).
