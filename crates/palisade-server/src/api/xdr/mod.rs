//! Defender XDR (`https://api.security.microsoft.com/api/...`): one route module per API family,
//! as under [`crate::api::mde`], each paired with its family in [`crate::families`]:
//! [`incidents`], and [`hunting`] (which also serves Defender for Endpoint's advanced queries).

pub mod hunting;
pub mod incidents;
