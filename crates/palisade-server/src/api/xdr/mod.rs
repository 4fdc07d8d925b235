//! Defender XDR (`https://api.security.microsoft.com/api/...`), one route module per API family
//! as under [`crate::api::mde`]: [`incidents`] (advanced hunting to come).

pub mod incidents;

use crate::routing::Routes;

/// Every Defender XDR route.
pub fn router() -> Routes {
    Routes::new().merge(incidents::router())
}
