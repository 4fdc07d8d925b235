//! `/api/libraryfiles` (`shared/reference/mde-api.md` §11/§12): the live-response library.

use crate::state::AppState;
use axum::Router;

pub fn router() -> Router<AppState> {
    Router::new()
}
