//! Admin endpoints of fault injection and rate limits (`/_palisade/faults`, `/_palisade/ratelimits`).

use crate::state::AppState;
use axum::Router;

pub fn router() -> Router<AppState> {
    Router::new()
}
