//! The authentication layer of the API routes: bearer token → [`Principal`](palisade_auth::Principal)
//! in the extensions.
//! Authorisation (roles) is the domain's business: each operation says which roles it needs.

use crate::error::from_auth;
use crate::layers::journal::RequestContext;
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use palisade_auth::Api;
use palisade_error::ApiError;
use std::sync::Arc;

/// Authentication of the Defender routes (MDE and XDR): a Defender token is required.
pub async fn authenticate(state: State<Arc<AppState>>, request: Request, next: Next) -> Response {
    authenticate_for(Api::Defender, state, request, next).await
}

/// Authentication of the Graph routes: a token for `https://graph.microsoft.com` is required.
pub async fn authenticate_graph(state: State<Arc<AppState>>, request: Request, next: Next) -> Response {
    authenticate_for(Api::Graph, state, request, next).await
}

async fn authenticate_for(api: Api, State(state): State<Arc<AppState>>, mut request: Request, next: Next) -> Response {
    let header = request
        .headers()
        .get(AUTHORIZATION)
        .map(|h| h.to_str().unwrap_or("\u{FFFD}"));
    match state
        .core
        .verifier
        .verify_header_for(api, header, state.core.clock.unix())
    {
        Ok(principal) => {
            if let Some(context) = request.extensions().get::<Arc<RequestContext>>() {
                context.set_caller(principal.tenant_id.clone(), Some(principal.app_id.clone()));
            }
            if let Err(refusal) = require_registered(&state, &principal).await {
                return refusal.into_response();
            }
            request.extensions_mut().insert(principal);
            next.run(request).await
        }
        Err(refusal) => from_auth(refusal).into_response(),
    }
}

/// A well-signed token is refused once its app (or tenant) has been deleted, as Entra refuses
/// tokens of a deleted service principal.
async fn require_registered(state: &AppState, principal: &palisade_auth::Principal) -> Result<(), ApiError> {
    if state
        .core
        .registration_confirmed(&principal.tenant_id, &principal.app_id)
    {
        return Ok(());
    }
    let (tenant, app) = (principal.tenant_id.clone(), principal.app_id.clone());
    if state
        .read_inline(move |core| core.app_is_registered(&tenant, &app))
        .await?
    {
        Ok(())
    } else {
        Err(ApiError::unauthorized(
            format!(
                "the token's app {} is not registered in tenant {} (deleted?)",
                principal.app_id, principal.tenant_id
            ),
            "app registration check",
        ))
    }
}
