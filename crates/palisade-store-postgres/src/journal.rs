//! The persistent error journal, bounded by sequence numbers: a record appended by any process is
//! found by every other.

use crate::{decode, PostgresStore};
use palisade_model::journal::ErrorRecord;
use palisade_store::{JournalStore, StoreError};

const INSERT: &str =
    "INSERT INTO error_journal (target, doc) VALUES ($1, $2) ON CONFLICT (target) DO NOTHING RETURNING seq";
const TRIM: &str = "DELETE FROM error_journal WHERE seq <= $1";

impl JournalStore for PostgresStore {
    fn record_error(&self, record: &ErrorRecord, capacity: usize) -> Result<(), StoreError> {
        self.record_errors(std::slice::from_ref(record), capacity)
    }

    fn record_errors(&self, records: &[ErrorRecord], capacity: usize) -> Result<(), StoreError> {
        if records.is_empty() {
            return Ok(());
        }
        let docs = records
            .iter()
            .map(|r| Ok((r.target.as_str(), serde_json::to_string(r)?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        let capacity = i64::try_from(capacity).unwrap_or(i64::MAX);
        self.write(|c| {
            let insert = c.statement(INSERT)?;
            let trim = c.statement(TRIM)?;
            let mut tx = c.client.transaction()?;
            let mut last: Option<i64> = None;
            for (target, doc) in &docs {
                if let Some(row) = tx.query_opt(&insert, &[target, doc])? {
                    last = Some(row.get(0));
                }
            }
            // Identity values have gaps only where a transaction rolled back, so this keeps
            // at most `capacity` records (a few fewer after such gaps).
            if let Some(seq) = last {
                tx.execute(&trim, &[&(seq.saturating_sub(capacity))])?;
            }
            tx.commit()?;
            Ok(())
        })
    }

    fn find_error(&self, target: &str) -> Result<Option<ErrorRecord>, StoreError> {
        let doc: Option<String> = self.read(|c| {
            let statement = c.statement("SELECT doc FROM error_journal WHERE target = lower($1 COLLATE \"C\")")?;
            Ok(c.client.query_opt(&statement, &[&target])?.map(|r| r.get(0)))
        })?;
        doc.map(decode).transpose()
    }
}
