//! Black-box tests: each starts the real server on random ports with a fresh data directory and
//! talks HTTP(S) to it like a client would, through `palisade-testkit`. One binary, many modules, to
//! keep link time down.

mod actions;
mod admin;
mod alerts;
mod auth;
mod clock;
mod envelope;
mod families;
mod faults;
mod fidelity;
mod graph;
mod hardening;
mod hunting;
mod incidents;
mod indicators;
mod investigations;
mod journal;
mod library;
mod lookups;
mod machines;
mod odata;
mod openapi;
mod persistence;
mod ratelimits;
mod signin;
mod tenants;
mod tls;
mod users;
mod validators;
