//! Connections: how one is opened (timeouts, the statement timeout, TLS), and a fixed set of them
//! lent out per call, each with its own cache of prepared statements.
//!
//! The set is bounded: at most [`Options::pool_size`] connections are ever open, opened lazily
//! and kept. A call that finds none free waits (at most [`Options::pool_wait`]) for one to come
//! back, then answers [`StoreError::Unavailable`]. A connection whose call fails because the
//! connection itself is gone (the server restarted, the network broke) is dropped rather than
//! lent again; when that happens to a connection that had been idle, every idle connection is
//! dropped too (they died with it) and the call is tried once more on a new connection, so
//! service resumes by itself when the database comes back.

use crate::error::Result;
use crate::Options;
use palisade_store::StoreError;
use postgres::{Client, Statement};
use std::collections::HashMap;
use std::sync::{Condvar, Mutex};
use std::time::Instant;

/// One connection and the statements prepared on it.
pub(crate) struct Conn {
    pub(crate) client: Client,
    statements: HashMap<String, Statement>,
}

impl Conn {
    /// The statement for `sql`, prepared once per connection.
    pub(crate) fn statement(&mut self, sql: &str) -> Result<Statement> {
        if let Some(statement) = self.statements.get(sql) {
            return Ok(statement.clone());
        }
        let statement = self.client.prepare(sql)?;
        self.statements.insert(sql.to_string(), statement.clone());
        Ok(statement)
    }
}

pub(crate) struct Pool {
    config: postgres::Config,
    tls: crate::tls::Connector,
    options: Options,
    state: Mutex<PoolState>,
    returned: Condvar,
}

struct PoolState {
    idle: Vec<Conn>,
    open: usize,
}

impl Pool {
    pub(crate) fn new(config: postgres::Config, tls: crate::tls::Connector, options: Options) -> Self {
        Pool {
            config,
            tls,
            state: Mutex::new(PoolState {
                idle: Vec::new(),
                open: 0,
            }),
            returned: Condvar::new(),
            options,
        }
    }

    pub(crate) fn options(&self) -> &Options {
        &self.options
    }

    /// Opens a connection outside the set (migrations, tests).
    pub(crate) fn connect(&self) -> Result<Conn, StoreError> {
        let client = self
            .tls
            .connect(&self.config)
            .map_err(|e| StoreError::Unavailable(format!("cannot connect to PostgreSQL: {}", describe_connect(&e))))?;
        Ok(Conn {
            client,
            statements: HashMap::new(),
        })
    }

    fn borrow(&self) -> Result<(Conn, bool), StoreError> {
        // An idle connection, or `None`: the right to open one.
        let lent: Option<Conn> = {
            let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            let deadline = Instant::now() + self.options.pool_wait;
            loop {
                if let Some(conn) = state.idle.pop() {
                    break Some(conn);
                }
                if state.open < self.options.pool_size.max(1) {
                    state.open += 1;
                    break None;
                }
                let now = Instant::now();
                if now >= deadline {
                    return Err(StoreError::Unavailable(format!(
                        "all {} PostgreSQL connections stayed busy for {:?}",
                        self.options.pool_size, self.options.pool_wait
                    )));
                }
                state = self
                    .returned
                    .wait_timeout(state, deadline - now)
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
            }
        };
        match lent {
            Some(conn) => Ok((conn, false)),
            None => match self.connect() {
                Ok(conn) => Ok((conn, true)),
                Err(e) => {
                    // The slot was reserved: give it back, or the set shrinks for good.
                    self.forget(1);
                    Err(e)
                }
            },
        }
    }

    fn give_back(&self, conn: Conn) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.idle.push(conn);
        drop(state);
        self.returned.notify_one();
    }

    /// Frees `n` slots of connections that were dropped.
    fn forget(&self, n: usize) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.open = state.open.saturating_sub(n);
        drop(state);
        self.returned.notify_all();
    }

    /// Drops every idle connection (after one of them turned out dead).
    fn drop_idle(&self) {
        let idle = {
            let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            let idle = std::mem::take(&mut state.idle);
            state.open = state.open.saturating_sub(idle.len());
            idle
        };
        drop(idle);
        self.returned.notify_all();
    }

    /// Runs `f` on a connection of the set (see the module docs for waits and retries).
    pub(crate) fn run<T>(&self, mut f: impl FnMut(&mut Conn) -> Result<T>) -> Result<T, StoreError> {
        let mut retried = false;
        loop {
            let (mut conn, fresh) = self.borrow()?;
            // A panic inside `f` drops the connection (it may be inside a transaction) and frees
            // its slot.
            struct Slot<'a>(&'a Pool, bool);
            impl Drop for Slot<'_> {
                fn drop(&mut self) {
                    if self.1 {
                        self.0.forget(1);
                    }
                }
            }
            let mut slot = Slot(self, true);
            let result = f(&mut conn);
            match result {
                Err(e) if e.connection_lost() || conn.client.is_closed() => {
                    drop(conn);
                    drop(slot);
                    if !fresh && !retried {
                        retried = true;
                        self.drop_idle();
                        continue;
                    }
                    return Err(e.into());
                }
                other => {
                    slot.1 = false;
                    self.give_back(conn);
                    return other.map_err(StoreError::from);
                }
            }
        }
    }
}

/// A connection error with its cause (the bare error often says only "error connecting").
fn describe_connect(e: &postgres::Error) -> String {
    match std::error::Error::source(e) {
        Some(source) => format!("{e}: {source}"),
        None => e.to_string(),
    }
}

impl Drop for Pool {
    /// Closing a connection blocks on the driver's own runtime, which panics on an async worker
    /// (where a server may drop its store): idle connections close on a thread of their own.
    fn drop(&mut self) {
        let idle = std::mem::take(&mut self.state.get_mut().unwrap_or_else(|e| e.into_inner()).idle);
        if !idle.is_empty() {
            let _ = std::thread::Builder::new()
                .name("palisade-pg-close".into())
                .spawn(move || drop(idle));
        }
    }
}
