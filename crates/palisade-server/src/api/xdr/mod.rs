//! Defender XDR (`https://api.security.microsoft.com/api/...`), one route module per API family
//! as under [`crate::api::mde`], each paired with its family in [`crate::families`]:
//! [`incidents`] (advanced hunting to come).

pub mod incidents;
