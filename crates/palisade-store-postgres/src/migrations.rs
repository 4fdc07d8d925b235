//! The schema: migrations applied in order, the `schema_version` table recording how many ran.
//!
//! Many processes may start at once on an empty database: each runs the migrations in one
//! transaction that first takes a transaction-level advisory lock, so exactly one applies them and
//! the others, once it commits, find them applied (DDL is transactional in PostgreSQL).

use crate::error::Result;
use crate::pool::Conn;

/// Schema migrations, applied in order.
pub(crate) const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/001_schema.sql"),
    include_str!("../migrations/002_locks_and_blobs.sql"),
    include_str!("../migrations/003_hunting.sql"),
    include_str!("../migrations/004_incidents.sql"),
];

/// The advisory lock key migrations take (any constant works; this one spells "palisade").
pub(crate) const MIGRATION_LOCK: i64 = 0x7061_6c69_7361_6465;

pub(crate) fn migrate(conn: &mut Conn) -> Result<()> {
    let mut tx = conn.client.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)")?;
    let applied: Option<i64> = tx
        .query_opt("SELECT version FROM schema_version", &[])?
        .map(|row| row.get(0));
    let applied = applied.unwrap_or(0);
    if applied == 0 {
        tx.execute("INSERT INTO schema_version (version) VALUES (0)", &[])?;
    }
    for (n, sql) in MIGRATIONS.iter().enumerate().skip(applied.max(0) as usize) {
        tx.batch_execute(sql)?;
        tx.execute("UPDATE schema_version SET version = $1", &[&(n as i64 + 1)])?;
    }
    tx.commit()?;
    Ok(())
}
