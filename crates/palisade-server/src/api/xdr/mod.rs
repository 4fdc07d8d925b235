//! Defender XDR (`https://api.security.microsoft.com/api/...`): one route module per API family,
//! as under [`crate::api::mde`]. [`hunting`] (its own family, `families::FAMILIES`) also serves
//! Defender for Endpoint's advanced queries; incidents are being built.

pub mod hunting;

use crate::routing::Routes;

/// The incidents family's routes (none yet); hunting routes through [`hunting::router`].
pub fn router() -> Routes {
    Routes::new()
}
