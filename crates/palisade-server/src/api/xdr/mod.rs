//! Defender XDR (`https://api.security.microsoft.com/api/...`): incidents and advanced hunting go
//! here, one route module per API family as under [`crate::api::mde`]. Nothing is routed yet.

use crate::routing::Routes;

/// Every Defender XDR route: none yet.
pub fn router() -> Routes {
    Routes::new()
}
