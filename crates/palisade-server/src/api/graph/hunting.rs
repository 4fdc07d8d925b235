//! `/security/runHuntingQuery` (Graph's `security-security-runhuntingquery.md`): built on the
//! advanced-hunting domain once it lands; no routes yet.

use crate::routing::Routes;

pub fn router() -> Routes {
    Routes::new()
}
