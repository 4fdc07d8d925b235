//! The middleware every request passes through, outermost first: path normalisation
//! ([`normalize`]), the journals and metrics ([`journal`], [`metrics`]), the host and cross-origin
//! guard ([`guard`]), and for API routes
//! authentication ([`auth`]) then rate limits and fault rules ([`injection`]). [`requests`] is the
//! in-memory request journal the journal layer fills.

pub mod auth;
pub mod guard;
pub mod injection;
pub mod journal;
pub mod metrics;
pub mod normalize;
pub mod requests;
