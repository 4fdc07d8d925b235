//! Defender for Endpoint (`https://api.securitycenter.microsoft.com/api/...`): one route module per
//! API family, each calling its `palisade_domain::mde` operations. `crate::families` pairs each
//! route module with its family's descriptor; the router is built from that list.

pub mod actions;
pub mod alerts;
pub mod indicators;
pub mod investigations;
pub mod library;
pub mod lookups;
pub mod machines;
pub mod users;
