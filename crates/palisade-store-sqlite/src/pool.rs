//! Connections: how one is opened (WAL, busy timeout, statement cache), the one writer behind a
//! lock, and the idle readers lent out per call.

use crate::error::Result;
use crate::SqliteStore;
use palisade_store::StoreError;
use rusqlite::{Connection, OpenFlags};
use std::path::Path;

/// Most idle reader connections kept for reuse.
const MAX_IDLE_READERS: usize = 8;

/// Prepared statements kept per connection.
const STATEMENT_CACHE_CAPACITY: usize = 256;

/// Page cache of the one writer connection (SQLite's default is 2 MiB). Each alert touches ten
/// indexes; with a small cache, bulk loads into a large store spend their time re-reading and
/// re-writing index pages.
pub(crate) const WRITER_CACHE_KIB: i64 = 64 * 1024;

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

impl SqliteStore {
    /// Runs `f` on an idle reader connection (opening one if none is idle).
    pub(crate) fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T, StoreError> {
        let idle = self.readers.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let conn = match idle {
            Some(conn) => conn,
            None => connect(&self.path)?,
        };
        let result = f(&conn);
        let mut readers = self.readers.lock().unwrap_or_else(|e| e.into_inner());
        if readers.len() < MAX_IDLE_READERS {
            readers.push(conn);
        }
        Ok(result?)
    }

    /// Runs `f` on the one writer connection.
    pub(crate) fn write<T>(&self, f: impl FnOnce(&mut Connection) -> Result<T>) -> Result<T, StoreError> {
        let mut conn = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        Ok(f(&mut conn)?)
    }
}
