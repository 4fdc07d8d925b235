//! `/api/alerts` (`shared/reference/mde-api.md` §3).

use crate::state::AppState;
use axum::Router;

pub fn router() -> Router<AppState> {
    Router::new()
}
