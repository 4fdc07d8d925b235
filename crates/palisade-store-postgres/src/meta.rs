//! Small named values, sequences (kept in `meta` as `sequence:<name>`), and upkeep.

use crate::PostgresStore;
use palisade_store::{Execution, MetaStore, SequenceStore, StoreError};

impl MetaStore for PostgresStore {
    /// Every call waits on the network (and maybe on a full connection set): the server runs
    /// them on its bounded blocking pool.
    fn execution(&self) -> Execution {
        Execution::Blocking
    }

    fn get_meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.read(|c| {
            let statement = c.statement("SELECT value FROM meta WHERE key = $1")?;
            Ok(c.client.query_opt(&statement, &[&key])?.map(|r| r.get(0)))
        })
    }

    fn init_meta(&self, key: &str, value: &str) -> Result<String, StoreError> {
        self.write(|c| {
            // `DO NOTHING` waits for a concurrent inserter of the same key to commit, so the
            // read after it sees whichever value won.
            let insert = c.statement("INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING")?;
            c.client.execute(&insert, &[&key, &value])?;
            let select = c.statement("SELECT value FROM meta WHERE key = $1")?;
            Ok(c.client.query_one(&select, &[&key])?.get(0))
        })
    }

    /// `VACUUM (ANALYZE)`: statistics for the planner, and the visibility map that lets deep
    /// pages and counts read only indexes. After a bulk load of a million alerts it takes longer
    /// than a statement may, so the statement timeout is lifted for it.
    fn analyze(&self) -> Result<(), StoreError> {
        self.write(|c| {
            c.client.batch_execute("SET statement_timeout = 0")?;
            let vacuumed = c.client.batch_execute("VACUUM (ANALYZE)");
            c.client.batch_execute("RESET statement_timeout")?;
            Ok(vacuumed?)
        })
    }

    fn all_meta(&self) -> Result<Vec<(String, String)>, StoreError> {
        self.read(|c| {
            let statement = c.statement("SELECT key, value FROM meta ORDER BY key")?;
            Ok(c.client
                .query(&statement, &[])?
                .iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect())
        })
    }

    fn set_meta(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.write(|c| {
            let statement = c.statement(
                "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            )?;
            c.client.execute(&statement, &[&key, &value])?;
            Ok(())
        })
    }

    fn backend(&self) -> &'static str {
        "postgres"
    }
}

impl SequenceStore for PostgresStore {
    fn next_sequence(&self, name: &str, count: u64) -> Result<u64, StoreError> {
        let count = i64::try_from(count).unwrap_or(i64::MAX);
        let key = format!("sequence:{name}");
        let last: i64 = self.write(|c| {
            let statement = c.statement(
                "INSERT INTO meta (key, value) VALUES ($1, $2::bigint::text) \
                 ON CONFLICT (key) DO UPDATE SET value = (meta.value::bigint + $2::bigint)::text RETURNING value::bigint",
            )?;
            Ok(c.client.query_one(&statement, &[&key, &count])?.get(0))
        })?;
        Ok((last - count + 1).max(1) as u64)
    }
}
