//! The router builder every route module uses: [`Routes`] registers a handler with axum and
//! records the `(method, path)` it registered, so the server can list what it really routes
//! ([`crate::routed`]) and a test can hold that list against the OpenAPI table
//! ([`crate::openapi::operations`]) in both directions. It replaces a test that scanned the
//! route modules' source text for `.route(` calls, which a helper function or a macro could
//! slip past.

use crate::state::AppState;
use axum::handler::Handler;
use axum::routing::{self, MethodRouter};
use axum::Router;

/// One registered route: the lower-case method and the path as axum spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Routed {
    pub method: &'static str,
    pub path: &'static str,
}

/// An axum router with the list of what it routes.
pub struct Routes {
    router: Router<AppState>,
    routed: Vec<Routed>,
}

impl Default for Routes {
    fn default() -> Self {
        Routes::new()
    }
}

impl Routes {
    pub fn new() -> Self {
        Routes {
            router: Router::new(),
            routed: Vec::new(),
        }
    }

    pub fn get<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, handler: H) -> Self {
        self.on("get", path, routing::get(handler))
    }

    pub fn post<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, handler: H) -> Self {
        self.on("post", path, routing::post(handler))
    }

    pub fn patch<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, handler: H) -> Self {
        self.on("patch", path, routing::patch(handler))
    }

    pub fn delete<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, handler: H) -> Self {
        self.on("delete", path, routing::delete(handler))
    }

    /// A handler that carries its own layers (a body limit, an extra check): `method_router` must
    /// answer `method` only. Several registrations of one path merge, as in axum.
    pub fn on(mut self, method: &'static str, path: &'static str, method_router: MethodRouter<AppState>) -> Self {
        self.routed.push(Routed { method, path });
        self.router = self.router.route(path, method_router);
        self
    }

    pub fn merge(mut self, other: Routes) -> Self {
        self.router = self.router.merge(other.router);
        self.routed.extend(other.routed);
        self
    }

    /// Applies `layers` to the routes so far (`route_layer`, never new routes: those must be
    /// registered through [`Routes`] to be listed).
    pub fn layered(mut self, layers: impl FnOnce(Router<AppState>) -> Router<AppState>) -> Self {
        self.router = layers(self.router);
        self
    }

    pub fn routed(&self) -> &[Routed] {
        &self.routed
    }

    pub fn into_router(self) -> Router<AppState> {
        self.router
    }
}
