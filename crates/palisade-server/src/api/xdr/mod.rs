//! Defender XDR (`https://api.security.microsoft.com/api/...`): one route module per API family,
//! as under [`crate::api::mde`]: [`incidents`], and [`hunting`], which also serves Defender for
//! Endpoint's advanced queries.

pub mod hunting;
pub mod incidents;

use crate::routing::Routes;

/// Every Defender XDR route.
pub fn router() -> Routes {
    Routes::new().merge(hunting::router()).merge(incidents::router())
}
