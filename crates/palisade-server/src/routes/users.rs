//! `/api/users/{id}/...` (`shared/reference/mde-api.md` §9).

use crate::state::AppState;
use axum::Router;

pub fn router() -> Router<AppState> {
    Router::new()
}
