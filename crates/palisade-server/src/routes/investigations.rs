//! `/api/investigations` and `startInvestigation` (`shared/reference/mde-api.md` §10).

use crate::state::AppState;
use axum::Router;

pub fn router() -> Router<AppState> {
    Router::new()
}
