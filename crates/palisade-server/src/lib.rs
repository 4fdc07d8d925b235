//! Palisade's HTTP(S) server: the emulated Defender APIs, the sign-in endpoints, the admin API and
//! the OpenAPI document, on one origin so a client sets one base URL for all of them. Handlers are
//! thin: they extract, call one `palisade-domain` operation and shape the answer; none touches the
//! store.
//!
//! Tour: [`api`] the emulated APIs by product ([`api::mde`], [`api::xdr`], [`api::graph`]), routed
//! through [`families`] (each family's routes beside its domain descriptor); [`signin`] the
//! Entra-style token and discovery endpoints; [`admin`] the emulator's `/_palisade/` API (tenants,
//! apps, data, clock, faults, journals); [`layers`] the middleware (auth, injection, journal,
//! metrics, normalize); [`openapi`] the document; [`extract`] our extractors; [`error`] the one
//! conversion of lower errors into the contract; [`state`], [`config`], [`tls`].
//!
//! A request passes, in order: path normalisation → journal (errors, requests, metrics; bodies are
//! read here, within the body limit) → host and cross-origin guard → panic catcher → routing → for API routes, authentication →
//! rate limits and fault rules (`injection`) → handler → domain operation; sign-in routes meet the
//! fault rules too. Every error response, whichever layer made it, is an
//! [`ApiError`](palisade_error::ApiError) envelope recorded by the journal layer.

pub mod admin;
pub mod api;
pub mod config;
pub mod conn;
pub mod error;
pub mod extract;
pub mod families;
pub mod layers;
pub mod openapi;
pub mod routing;
pub mod signin;
pub mod state;
pub mod tls;

pub use config::{Config, IpNetwork, StoreConfig};

use axum::extract::ConnectInfo;
use axum::http::Method;
use axum::middleware::from_fn_with_state;
use axum::response::IntoResponse;
use axum::Router;
use extract::Scheme;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder as ConnectionBuilder;
use hyper_util::service::TowerToHyperService;
use layers::{auth, injection, journal, normalize};
use palisade_domain::control::clock::Clock;
use palisade_domain::Core;
use palisade_error::ApiError;
use palisade_store_postgres::PostgresStore;
use palisade_store_sqlite::SqliteStore;
use routing::Routes;
use state::AppState;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower_http::catch_panic::CatchPanicLayer;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot open the store: {0}")]
    Store(String),
    #[error("cannot prepare TLS: {0}")]
    Tls(#[from] tls::TlsError),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
}

/// Opens the configured store (the data directory's SQLite file, or PostgreSQL), running its
/// migrations.
pub fn open_store(config: &Config) -> Result<Arc<dyn palisade_store::Store>, StartError> {
    Ok(match &config.store.postgres_url {
        Some(url) => {
            use secrecy::ExposeSecret;
            Arc::new(
                PostgresStore::open(url.expose_secret(), config.store.postgres.clone())
                    .map_err(|e| StartError::Store(e.to_string()))?,
            )
        }
        None => Arc::new(SqliteStore::open(&config.database_path()).map_err(|e| StartError::Store(e.to_string()))?),
    })
}

/// Opens the store and domain, initialising both on first start.
pub fn open_core(config: &Config) -> Result<Arc<Core>, StartError> {
    Ok(open_core_and_store(config)?.0)
}

/// As [`open_core`], also handing out the SQLite store itself when the store is SQLite (bulk
/// loads drive it directly); `None` on PostgreSQL.
pub fn open_core_and_store(config: &Config) -> Result<(Arc<Core>, Option<Arc<SqliteStore>>), StartError> {
    let (store, sqlite): (Arc<dyn palisade_store::Store>, Option<Arc<SqliteStore>>) = match config.store.postgres_url {
        Some(_) => (open_store(config)?, None),
        None => {
            let sqlite =
                Arc::new(SqliteStore::open(&config.database_path()).map_err(|e| StartError::Store(e.to_string()))?);
            (sqlite.clone(), Some(sqlite))
        }
    };
    let mut settings = config.core.clone();
    settings
        .extra_families
        .extend(config.extra_families.iter().map(|served| served.family));
    let core = Core::open(store, Arc::new(Clock::new()), settings).map_err(|e| StartError::Store(e.to_string()))?;
    Ok((Arc::new(core), sqlite))
}

/// Moves everything of one store into another, empty one (`palisade migrate`); see
/// [`palisade_store::transfer`]. The lookups' observations are rebuilt by the target's first
/// start; the error journal and rate-limit windows are not moved.
pub fn migrate_store(
    from: &Config,
    to: &Config,
    progress: &mut dyn FnMut(palisade_store::transfer::Progress<'_>),
) -> Result<palisade_store::transfer::Moved, StartError> {
    let source = open_store(from)?;
    let target = open_store(to)?;
    let links = [
        palisade_model::links::MACHINE_USERS,
        palisade_model::links::USER_MACHINES,
        palisade_model::links::USER_ALERTS,
    ];
    palisade_store::transfer::transfer(
        source.as_ref(),
        target.as_ref(),
        &[palisade_domain::mde::lookups::BACKFILL_META],
        &links,
        progress,
    )
    .map_err(|e| StartError::Store(e.to_string()))
}

/// Every route the server answers, with the list of what it routes (see [`routing`]); the API
/// routes come from the families ([`families`]).
pub fn routes(state: AppState) -> Routes {
    // The layers share one state behind an `Arc`: a clone per request and layer is then one
    // counter, not one per field.
    let shared = Arc::new(state.clone());
    let api = families::routes(&state.config.extra_families).layered(|router| {
        router
            .route_layer(from_fn_with_state(shared.clone(), injection::api_calls))
            .route_layer(from_fn_with_state(shared.clone(), auth::authenticate))
    });
    // Graph's routes carry Graph's authentication (a Graph token), so they are mounted apart from
    // the families' Defender routes; the Graph family's other registries are in its descriptor.
    let graph = api::graph::router().layered(|router| {
        router
            .route_layer(from_fn_with_state(shared.clone(), injection::api_calls))
            .route_layer(from_fn_with_state(shared.clone(), auth::authenticate_graph))
    });
    let signin = signin::router().layered(|router| {
        router
            .route_layer(from_fn_with_state(shared.clone(), injection::signin_calls))
            .route_layer(from_fn_with_state(state.clone(), signin::entra_errors))
    });
    Routes::new()
        .merge(api)
        .merge(graph)
        .merge(signin)
        .get("/openapi.json", openapi::serve_document)
        .get("/_palisade/docs", openapi::serve_page)
        .merge(admin::router(state))
}

/// The whole application as one router.
pub fn app(state: AppState) -> Router {
    let shared = Arc::new(state.clone());
    routes(state.clone())
        .into_router()
        .route_layer(axum::middleware::from_fn(journal::record_route))
        .fallback(no_route)
        .method_not_allowed_fallback(wrong_method)
        .layer(CatchPanicLayer::custom(|payload: Box<dyn std::any::Any + Send>| {
            ApiError::internal(format!("handler panicked: {}", error::describe_panic(payload.as_ref()))).into_response()
        }))
        .layer(from_fn_with_state(shared.clone(), layers::guard::check))
        // Outside the guard and the fallbacks, so every failure on a Graph path, whichever layer
        // raised it, leaves in Graph's shape; inside the journal, which records it so.
        .layer(from_fn_with_state(shared.clone(), api::graph::graph_shape))
        .layer(from_fn_with_state(shared, journal::journal_errors))
        .with_state(state)
}

async fn no_route(method: Method, uri: axum::http::Uri) -> ApiError {
    ApiError::not_found(format!("No API route matches {method} {}", uri.path()))
}

async fn wrong_method(
    axum::extract::State(state): axum::extract::State<AppState>,
    method: Method,
    uri: axum::http::Uri,
) -> axum::response::Response {
    let error = ApiError::new(
        palisade_error::ErrorCode::MethodNotAllowed,
        format!(
            "The requested resource {} does not support http method '{method}'",
            uri.path()
        ),
        "method not allowed",
    );
    let mut response = error.into_response();
    // `Allow` from the documented operations, not from axum's route: `findbyip(...)` shares the
    // `/api/machines/{id}` route but takes GET only. axum keeps an `Allow` the fallback set.
    if let Some(allow) = openapi::allowed_methods(uri.path(), &state.config.extra_families)
        .and_then(|methods| axum::http::HeaderValue::from_str(&methods.join(",")).ok())
    {
        response.headers_mut().insert(axum::http::header::ALLOW, allow);
    }
    response
}

/// A running server.
pub struct Server {
    pub http_addr: Option<SocketAddr>,
    pub https_addr: Option<SocketAddr>,
    pub ca_bundle: PathBuf,
    pub ca_cert: PathBuf,
    pub core: Arc<Core>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Server {
    /// Opens the store, prepares TLS, binds the listeners and starts serving.
    pub async fn start(config: Config) -> Result<Server, StartError> {
        let setup_config = config.clone();
        let (core, store, tls) = tokio::task::spawn_blocking(move || {
            let (core, store) = open_core_and_store(&setup_config)?;
            let tls = tls::ensure(&setup_config.data_dir)?;
            Ok::<_, StartError>((core, store, tls))
        })
        .await
        .map_err(|e| StartError::Store(format!("initialisation panicked: {e}")))??;
        let (tls_config, tls_files) = tls;
        let (requests, metrics) = journal::observability(&config);
        let requests_seen = requests.clone();
        let state = AppState {
            core: core.clone(),
            config: Arc::new(config.clone()),
            requests,
            metrics,
            blocking: state::blocking_permits(),
        };
        let router = app(state);
        let (shutdown, _) = watch::channel(false);
        let trimming = tokio::spawn(release_memory_when_idle(store, requests_seen, shutdown.subscribe()));
        // One budget of connections for both listeners, derived from the open-file limit.
        let connection_limit = conn::raise_fd_limit_and_derive_connection_limit();
        tracing::info!(connection_limit, "connection limit");
        let limits = Limits {
            connections: Arc::new(tokio::sync::Semaphore::new(connection_limit)),
            timeouts: config.timeouts,
        };
        let mut server = Server {
            http_addr: None,
            https_addr: None,
            ca_bundle: tls_files.ca_bundle,
            ca_cert: tls_files.ca_cert,
            core,
            shutdown,
            tasks: vec![trimming],
        };
        if let Some(addr) = config.http {
            let listener = TcpListener::bind(addr)
                .await
                .map_err(|source| StartError::Bind { addr, source })?;
            server.http_addr = listener.local_addr().ok();
            server.tasks.push(tokio::spawn(serve(
                listener,
                None,
                server.core.clone(),
                router.clone(),
                limits.clone(),
                server.shutdown.subscribe(),
            )));
        }
        if let Some(addr) = config.https {
            let listener = TcpListener::bind(addr)
                .await
                .map_err(|source| StartError::Bind { addr, source })?;
            server.https_addr = listener.local_addr().ok();
            let acceptor = tokio_rustls::TlsAcceptor::from(tls_config);
            server.tasks.push(tokio::spawn(serve(
                listener,
                Some(acceptor),
                server.core.clone(),
                router,
                limits,
                server.shutdown.subscribe(),
            )));
        }
        Ok(server)
    }

    /// Stops accepting, lets requests in flight finish (up to a few seconds), then returns.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
        // Error records still queued for the journal's group commit reach the store, so their
        // targets stay traceable after a restart.
        let core = self.core.clone();
        let _ = tokio::task::spawn_blocking(move || core.flush_journal()).await;
    }
}

const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// How long without a request before the store's page caches are released.
const IDLE_BEFORE_RELEASE: Duration = Duration::from_secs(5);

/// Gives the memory of a burst back once the server has been idle for [`IDLE_BEFORE_RELEASE`]
/// (issue 15): the store's page caches are the bulk of what a burst leaves resident. Once per
/// quiet spell, until the server stops.
async fn release_memory_when_idle(
    store: Option<Arc<SqliteStore>>,
    requests: Arc<layers::requests::RequestJournal>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut seen = requests.next_sequence();
    let mut released = true;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(IDLE_BEFORE_RELEASE) => {}
            _ = shutdown.changed() => return,
        }
        let now = requests.next_sequence();
        if now != seen {
            (seen, released) = (now, false);
        } else if !released {
            released = true;
            // SQLite's caches are the store's memory worth releasing; PostgreSQL keeps its own.
            if let Some(store) = store.clone() {
                let _ = tokio::task::spawn_blocking(move || store.release_memory()).await;
            }
        }
    }
}

/// What bounds the serve loops: connections at once (shared by the listeners) and the timeouts.
#[derive(Clone)]
struct Limits {
    connections: Arc<tokio::sync::Semaphore>,
    timeouts: config::Timeouts,
}

async fn serve(
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    core: Arc<Core>,
    router: Router,
    limits: Limits,
    mut shutdown: watch::Receiver<bool>,
) {
    let scheme = if tls.is_some() { Scheme::Https } else { Scheme::Http };
    // Every connection task holds a sender; the drain ends when the last one is dropped.
    let (live, mut drained) = tokio::sync::mpsc::channel::<()>(1);
    let timeouts = limits.timeouts;
    let mut builder = ConnectionBuilder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        // Also the keep-alive idle limit: hyper starts it when it waits for the next request.
        .header_read_timeout(timeouts.headers);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(timeouts.idle)
        .keep_alive_timeout(timeouts.headers);
    loop {
        // A permit before accepting: at the limit, new connections wait in the listen backlog
        // rather than failing accept with EMFILE.
        let permit = tokio::select! {
            permit = limits.connections.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            _ = shutdown.changed() => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => break,
        };
        let _ = stream.set_nodelay(true);
        let body_timeout = timeouts.body;
        let activity = conn::Activity::new();
        let (started, answered) = (activity.clone(), activity.clone());
        let core = core.clone();
        let service = tower::ServiceBuilder::new()
            .map_response(move |response| {
                answered.touch();
                response
            })
            .map_request(move |request: axum::http::Request<hyper::body::Incoming>| {
                started.touch();
                let (mut parts, body) = request.into_parts();
                parts.extensions.insert(ConnectInfo(peer));
                parts.extensions.insert(scheme);
                let body = conn::with_deadline(axum::body::Body::new(body), body_timeout);
                normalize::normalize_request(axum::http::Request::from_parts(parts, body), core.families())
            })
            .service(router.clone());
        let hyper_service = TowerToHyperService::new(service);
        let builder = builder.clone();
        let shutdown = shutdown.clone();
        let live = live.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let _live = live;
            match tls {
                None => {
                    let connection = builder
                        .serve_connection_with_upgrades(TokioIo::new(stream), hyper_service)
                        .into_owned();
                    conn::drive(connection, &activity, timeouts.idle, shutdown).await;
                }
                Some(acceptor) => {
                    let Ok(Ok(stream)) = tokio::time::timeout(timeouts.tls_handshake, acceptor.accept(stream)).await
                    else {
                        return;
                    };
                    let connection = builder
                        .serve_connection_with_upgrades(TokioIo::new(stream), hyper_service)
                        .into_owned();
                    conn::drive(connection, &activity, timeouts.idle, shutdown).await;
                }
            }
        });
    }
    drop(listener);
    drop(live);
    let _ = tokio::time::timeout(DRAIN_TIMEOUT, drained.recv()).await;
}
