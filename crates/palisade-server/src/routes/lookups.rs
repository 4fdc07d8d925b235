//! `/api/files`, `/api/ips`, `/api/domains`, `/api/urls` (`shared/reference/mde-api.md` §5–§7): entity lookups and statistics derived from stored alerts and machines.

use crate::state::AppState;
use axum::Router;

pub fn router() -> Router<AppState> {
    Router::new()
}
