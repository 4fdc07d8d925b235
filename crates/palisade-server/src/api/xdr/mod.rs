//! Defender XDR (`https://api.security.microsoft.com/api/...`): one route module per API family,
//! as under [`crate::api::mde`]. [`hunting`] also serves Defender for Endpoint's advanced queries.

pub mod hunting;

use crate::routing::Routes;

/// Every Defender XDR route.
pub fn router() -> Routes {
    Routes::new().merge(hunting::router())
}
