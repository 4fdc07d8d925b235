//! Defender for Endpoint (`https://api.securitycenter.microsoft.com/api/...`): one route module per
//! API family, each calling its `palisade_domain::mde` operations.

pub mod actions;
pub mod alerts;
pub mod indicators;
pub mod investigations;
pub mod library;
pub mod lookups;
pub mod machines;
pub mod users;

use crate::routing::Routes;

/// Every Defender for Endpoint route (authentication and injection are layered on by the caller).
pub fn router() -> Routes {
    Routes::new()
        .merge(machines::router())
        .merge(alerts::router())
        .merge(actions::router())
        .merge(investigations::router())
        .merge(users::router())
        .merge(indicators::router())
        .merge(lookups::router())
        .merge(library::router())
}
