//! Connections: how one is opened (WAL, busy timeout, statement cache), the one writer behind a
//! lock, and a fixed set of readers lent out per call.
//!
//! The readers are bounded: at most [`max_readers`] connections are ever open, opened lazily and
//! kept. A call that finds none free waits (at most [`READER_WAIT`]) for one to come back, then
//! answers [`StoreError::Unavailable`]: a saturated store refuses traceably instead of opening
//! descriptors until the process runs out of them (`unable to open database file`).
//!
//! Borrowing a free reader takes a mutex held only to pop or push a connection (no syscall, no
//! futex wait unless two threads collide in those few instructions), which is why the store
//! answers [`Execution::Inline`](palisade_store::Execution): a point read may run on the calling
//! async worker, on a connection that is free at once as long as the server keeps its own blocking
//! work below the reader count (it sizes its blocking permits from [`max_readers`]).

use crate::error::Result;
use crate::SqliteStore;
use palisade_store::StoreError;
use rusqlite::{Connection, OpenFlags};
use std::path::Path;
use std::sync::{Condvar, Mutex};
use std::time::Duration;

/// Prepared statements kept per connection.
const STATEMENT_CACHE_CAPACITY: usize = 256;

/// Longest wait for a free reader before a call answers `Unavailable`.
pub(crate) const READER_WAIT: Duration = Duration::from_secs(5);

/// Page cache of the one writer connection (SQLite's default is 2 MiB). Each alert touches ten
/// indexes; with a small cache, bulk loads into a large store spend their time re-reading and
/// re-writing index pages.
pub(crate) const WRITER_CACHE_KIB: i64 = 64 * 1024;

/// How many reader connections a store opens at most: 8 for the server's blocking work plus two
/// per core for point reads on the async workers (one per worker, and slack for the CLI and
/// background threads). Each costs two descriptors (database and WAL) and its page cache.
pub fn max_readers() -> usize {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    8 + 2 * cores
}

/// Opens a connection to the database file, configured as every connection of the store is.
pub(crate) fn connect(path: &Path) -> Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    // rusqlite keeps 16 prepared statements per connection by default; the API issues more
    // distinct ones than that, and planning a statement again costs more than running it.
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE_CAPACITY);
    // WAL lets readers run beside the writer; NORMAL sync is durable across process crashes.
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(conn)
}

/// The reader connections: the idle ones, and how many exist (idle or lent out).
pub(crate) struct Readers {
    state: Mutex<ReaderState>,
    returned: Condvar,
    max: usize,
}

struct ReaderState {
    idle: Vec<Connection>,
    open: usize,
}

impl Readers {
    pub(crate) fn new(max: usize) -> Self {
        Readers {
            state: Mutex::new(ReaderState {
                idle: Vec::with_capacity(max),
                open: 0,
            }),
            returned: Condvar::new(),
            max: max.max(1),
        }
    }
}

/// What a borrower gets: an idle connection, or the right to open one.
enum Lent {
    Idle(Connection),
    OpenOne,
}

impl SqliteStore {
    fn borrow_reader(&self) -> Result<Connection, StoreError> {
        let readers = &self.readers;
        let lent = {
            let mut state = readers.state.lock().unwrap_or_else(|e| e.into_inner());
            let deadline = std::time::Instant::now() + READER_WAIT;
            loop {
                if let Some(conn) = state.idle.pop() {
                    break Lent::Idle(conn);
                }
                if state.open < readers.max {
                    state.open += 1;
                    break Lent::OpenOne;
                }
                let now = std::time::Instant::now();
                if now >= deadline {
                    return Err(StoreError::Unavailable(format!(
                        "all {} reader connections stayed busy for {:?}",
                        readers.max, READER_WAIT
                    )));
                }
                state = readers
                    .returned
                    .wait_timeout(state, deadline - now)
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
            }
        };
        match lent {
            Lent::Idle(conn) => Ok(conn),
            Lent::OpenOne => connect(&self.path).map_err(|e| {
                // The slot was reserved: give it back, or the set shrinks for good.
                let mut state = readers.state.lock().unwrap_or_else(|e| e.into_inner());
                state.open -= 1;
                readers.returned.notify_one();
                StoreError::from(e)
            }),
        }
    }

    fn give_back(&self, conn: Connection) {
        let mut state = self.readers.state.lock().unwrap_or_else(|e| e.into_inner());
        state.idle.push(conn);
        drop(state);
        self.readers.returned.notify_one();
    }

    /// Runs `f` on a reader connection, waiting (bounded) for one when all are lent out.
    pub(crate) fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T, StoreError> {
        let conn = self.borrow_reader()?;
        // Given back by a guard, so a panic inside `f` does not shrink the set.
        struct Lend<'a> {
            store: &'a SqliteStore,
            conn: Option<Connection>,
        }
        impl Drop for Lend<'_> {
            fn drop(&mut self) {
                if let Some(conn) = self.conn.take() {
                    self.store.give_back(conn);
                }
            }
        }
        let slot = Lend {
            store: self,
            conn: Some(conn),
        };
        let result = f(slot.conn.as_ref().expect("lent connection"));
        drop(slot);
        Ok(result?)
    }

    /// Runs `f` on the one writer connection.
    /// Frees the page caches of the connections not in use, so that the memory a burst of
    /// requests filled goes back to the allocator (and the system) instead of staying resident
    /// until the next burst; the pages are read again from the file (the OS cache) when needed.
    /// The server calls it once it has been idle a while (`PRAGMA shrink_memory`, which is
    /// `sqlite3_db_release_memory`).
    pub fn release_memory(&self) {
        {
            let state = self.readers.state.lock().unwrap_or_else(|e| e.into_inner());
            for conn in &state.idle {
                let _ = conn.execute_batch("PRAGMA shrink_memory;");
            }
        }
        if let Ok(writer) = self.writer.try_lock() {
            let _ = writer.execute_batch("PRAGMA shrink_memory;");
        }
    }

    pub(crate) fn write<T>(&self, f: impl FnOnce(&mut Connection) -> Result<T>) -> Result<T, StoreError> {
        let mut conn = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        Ok(f(&mut conn)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn concurrent_reads_never_use_more_connections_than_the_set() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("p.db")).unwrap();
        let (inside, most) = (AtomicUsize::new(0), AtomicUsize::new(0));
        let threads = 3 * store.readers.max;
        std::thread::scope(|scope| {
            for _ in 0..threads {
                scope.spawn(|| {
                    store
                        .read(|c| {
                            let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                            most.fetch_max(now, Ordering::SeqCst);
                            c.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))?;
                            std::thread::sleep(Duration::from_millis(20));
                            inside.fetch_sub(1, Ordering::SeqCst);
                            Ok(())
                        })
                        .unwrap();
                });
            }
        });
        let most = most.load(Ordering::SeqCst);
        assert!(most <= store.readers.max, "{most} connections in use at once");
        assert!(most > 1, "reads ran side by side");
        assert!(store.readers.state.lock().unwrap().open <= store.readers.max);
    }
}
