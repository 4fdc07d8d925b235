//! `/security/incidents` (Graph's `security-incident.md`): built on the Defender XDR incidents
//! domain once it lands; no routes yet.

use crate::routing::Routes;

pub fn router() -> Routes {
    Routes::new()
}
