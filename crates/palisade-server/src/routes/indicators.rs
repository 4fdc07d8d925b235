//! `/api/indicators` (`shared/reference/mde-api.md` §8): list, submit, import, delete, batch delete.

use crate::state::AppState;
use axum::Router;

pub fn router() -> Router<AppState> {
    Router::new()
}
