//! Connection handling limits: how many connections are served at once, derived from the
//! process's open-file limit, and the deadline on a request body. Slow clients are bounded at every
//! stage: the TLS handshake (`Timeouts::tls_handshake`), the headers (hyper's header read timeout,
//! HTTP/1, which also closes a keep-alive connection idle that long), the body ([`DeadlineBody`]),
//! an HTTP/2 connection whose peer stops answering pings (hyper's keep-alive), and any connection
//! that sends no request for `Timeouts::idle`, pings or not ([`drive`]).

use axum::body::{Body, Bytes};
use hyper::body::{Body as HttpBody, Frame, SizeHint};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// Descriptors kept back from the connection limit for the store, the journal files, TLS material
/// and logging, so a full house of connections never starves them (SQLite "unable to open").
const RESERVED_DESCRIPTORS: u64 = 128;
/// The connection limit when the open-file limit cannot be read, or is unlimited.
const DEFAULT_CONNECTION_LIMIT: usize = 4096;

/// Raises the soft open-file limit to the hard limit (what an unprivileged process may do) and
/// returns how many connections to serve at once: the limit less [`RESERVED_DESCRIPTORS`].
/// Beyond that, connections wait in the listen backlog instead of failing `accept` with `EMFILE`.
pub fn raise_fd_limit_and_derive_connection_limit() -> usize {
    match raise_fd_limit() {
        Some(limit) => {
            let derived = limit.saturating_sub(RESERVED_DESCRIPTORS).max(16);
            usize::try_from(derived).unwrap_or(usize::MAX).min(65_536)
        }
        None => DEFAULT_CONNECTION_LIMIT,
    }
}

#[cfg(unix)]
fn raise_fd_limit() -> Option<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `getrlimit` writes into the struct we own and pass by pointer.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return None;
    }
    let mut wanted = limit.rlim_max;
    // macOS refuses a soft limit above OPEN_MAX (10240) even when the hard limit is unlimited.
    if cfg!(target_os = "macos") {
        wanted = wanted.min(10_240);
    }
    if wanted != limit.rlim_cur {
        let raised = libc::rlimit {
            rlim_cur: wanted,
            rlim_max: limit.rlim_max,
        };
        // SAFETY: `setrlimit` reads the struct we pass by pointer.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            tracing::info!(from = limit.rlim_cur, to = wanted, "raised the open-file limit");
            limit.rlim_cur = wanted;
        } else {
            tracing::warn!(
                soft = limit.rlim_cur,
                hard = limit.rlim_max,
                "could not raise the open-file limit"
            );
        }
    }
    if limit.rlim_cur == libc::RLIM_INFINITY {
        return None;
    }
    // `rlim_t` is `u64` on Linux and macOS, but not on every Unix.
    #[allow(clippy::unnecessary_cast)]
    Some(limit.rlim_cur as u64)
}

#[cfg(not(unix))]
fn raise_fd_limit() -> Option<u64> {
    None
}

/// A request body that fails once `limit` has passed since it was first read: a client declaring a
/// body and sending it a byte at a time would otherwise hold the connection for as long as it
/// likes. The clock starts at the first read, so a handler that refuses a request before reading
/// its body is not affected, and `Expect: 100-continue` clients are not timed before `100`.
pub fn with_deadline(body: Body, limit: Duration) -> Body {
    Body::new(DeadlineBody {
        inner: body,
        limit,
        deadline: None,
    })
}

struct DeadlineBody {
    inner: Body,
    limit: Duration,
    deadline: Option<Pin<Box<tokio::time::Sleep>>>,
}

/// The error a body past its deadline ends with; the body reader turns it into the envelope.
#[derive(Debug, thiserror::Error)]
#[error("the body did not arrive within {0:?}")]
pub struct BodyTimedOut(Duration);

impl HttpBody for DeadlineBody {
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let limit = self.limit;
        let deadline = self.deadline.get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        if deadline.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Some(Err(Box::new(BodyTimedOut(limit)))));
        }
        Pin::new(&mut self.inner).poll_frame(cx).map_err(Into::into)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// When a connection last started or answered a request. HTTP/2 keep-alive pings prove only that
/// the peer is alive, so a client that pings but never asks would hold its connection (a
/// descriptor and a task) forever; [`drive`] closes it once no request has come for the idle limit.
#[derive(Debug)]
pub struct Activity {
    opened: std::time::Instant,
    /// Milliseconds since `opened` of the last request start or response.
    last_millis: std::sync::atomic::AtomicU64,
}

impl Activity {
    pub fn new() -> std::sync::Arc<Activity> {
        std::sync::Arc::new(Activity {
            opened: std::time::Instant::now(),
            last_millis: std::sync::atomic::AtomicU64::new(0),
        })
    }

    /// Records that a request started or was answered now.
    pub fn touch(&self) {
        let millis = u64::try_from(self.opened.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_millis.store(millis, std::sync::atomic::Ordering::Relaxed);
    }

    /// How long since the last request started or was answered.
    fn quiet_for(&self) -> Duration {
        let last = Duration::from_millis(self.last_millis.load(std::sync::atomic::Ordering::Relaxed));
        self.opened.elapsed().saturating_sub(last)
    }
}

/// A served connection that can be asked to finish what it is doing and close (hyper's own
/// graceful-shutdown trait is sealed).
pub trait GracefulConnection: Future<Output = Result<(), Box<dyn std::error::Error + Send + Sync>>> {
    fn begin_shutdown(self: Pin<&mut Self>);
}

impl<I, S, B> GracefulConnection
    for hyper_util::server::conn::auto::UpgradeableConnection<'static, I, S, hyper_util::rt::TokioExecutor>
where
    S: hyper::service::Service<hyper::Request<hyper::body::Incoming>, Response = hyper::Response<B>>,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: HttpBody + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    fn begin_shutdown(self: Pin<&mut Self>) {
        self.graceful_shutdown();
    }
}

/// Serves a connection until it ends, asking it to finish and close when the server stops or when
/// no request has started or been answered for `idle` (HTTP/1 keep-alive connections are closed
/// sooner, by hyper's header read timeout). A graceful close lets requests in flight finish.
pub async fn drive<C: GracefulConnection>(
    connection: C,
    activity: &Activity,
    idle: Duration,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let mut connection = std::pin::pin!(connection);
    let mut closing = *shutdown.borrow();
    if closing {
        connection.as_mut().begin_shutdown();
    }
    loop {
        let quiet = activity.quiet_for();
        tokio::select! {
            _ = connection.as_mut() => return,
            changed = shutdown.changed(), if !closing => {
                // A dropped sender (the server is gone) counts as a shutdown too.
                if changed.is_err() || *shutdown.borrow() {
                    closing = true;
                    connection.as_mut().begin_shutdown();
                }
            }
            _ = tokio::time::sleep(idle.saturating_sub(quiet)), if !closing => {
                if activity.quiet_for() >= idle {
                    closing = true;
                    connection.as_mut().begin_shutdown();
                }
            }
        }
    }
}
