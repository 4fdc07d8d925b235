//! Machine actions (`shared/reference/mde-api.md` §4): `/api/machineactions` and the action verbs under `/api/machines/{id}/`.

use crate::state::AppState;
use axum::Router;

pub fn router() -> Router<AppState> {
    Router::new()
}
