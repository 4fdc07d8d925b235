//! The backend's own error while it works, and the one mapping onto the neutral [`StoreError`].

use palisade_store::StoreError;
use postgres::error::SqlState;

/// A failure inside the backend: PostgreSQL's own, or one already neutral.
#[derive(Debug)]
pub(crate) enum Error {
    Postgres(postgres::Error),
    Store(StoreError),
}

pub(crate) type Result<T, E = Error> = std::result::Result<T, E>;

impl From<postgres::Error> for Error {
    fn from(e: postgres::Error) -> Self {
        Error::Postgres(e)
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        Error::Store(e)
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error::Store(StoreError::Corrupt(e))
    }
}

impl Error {
    /// Whether the connection this error came from is unusable (closed, reset, the server shut
    /// down): the pool drops it instead of lending it again.
    pub(crate) fn connection_lost(&self) -> bool {
        match self {
            Error::Postgres(e) => connection_lost(e),
            Error::Store(_) => false,
        }
    }
}

/// Closed sockets, I/O failures and the server's own shutdown codes.
pub(crate) fn connection_lost(e: &postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    match e.code() {
        Some(code) => [
            SqlState::ADMIN_SHUTDOWN,
            SqlState::CRASH_SHUTDOWN,
            SqlState::CANNOT_CONNECT_NOW,
            SqlState::CONNECTION_FAILURE,
            SqlState::CONNECTION_EXCEPTION,
            SqlState::CONNECTION_DOES_NOT_EXIST,
        ]
        .contains(code),
        // No server error: the client side failed (I/O, a timeout, a broken protocol stream).
        None => std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>()),
    }
}

/// The server's message with its detail, or the client's error with its cause.
fn describe(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => match db.detail() {
            Some(detail) => format!("postgres: {} ({detail})", db.message()),
            None => format!("postgres: {}", db.message()),
        },
        None => match std::error::Error::source(e) {
            Some(source) => format!("postgres: {e}: {source}"),
            None => format!("postgres: {e}"),
        },
    }
}

impl From<Error> for StoreError {
    fn from(e: Error) -> Self {
        match e {
            Error::Store(e) => e,
            Error::Postgres(e) => {
                let message = describe(&e);
                if connection_lost(&e) {
                    return StoreError::Unavailable(message);
                }
                match e.code() {
                    Some(code) if *code == SqlState::UNIQUE_VIOLATION => StoreError::Conflict(message),
                    // The statement timeout, a lock wait timeout, too many connections, a
                    // deadlock or serialization failure: the database is there but busy.
                    Some(code)
                        if [
                            SqlState::QUERY_CANCELED,
                            SqlState::LOCK_NOT_AVAILABLE,
                            SqlState::TOO_MANY_CONNECTIONS,
                            SqlState::T_R_DEADLOCK_DETECTED,
                            SqlState::T_R_SERIALIZATION_FAILURE,
                        ]
                        .contains(code) =>
                    {
                        StoreError::Unavailable(message)
                    }
                    _ => StoreError::Backend(message),
                }
            }
        }
    }
}
