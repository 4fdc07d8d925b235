//! The persistent error journal, bounded by dense sequence numbers.

use crate::{decode, SqliteStore};
use palisade_model::journal::ErrorRecord;
use palisade_store::{JournalStore, StoreError};
use rusqlite::OptionalExtension;

impl JournalStore for SqliteStore {
    fn record_error(&self, record: &ErrorRecord, capacity: usize) -> Result<(), StoreError> {
        let doc = serde_json::to_string(record)?;
        self.write(|c| {
            c.prepare_cached("INSERT INTO error_journal (target, doc) VALUES (?1, ?2)")?
                .execute([&record.target, &doc])?;
            let seq = c.last_insert_rowid();
            // Sequence numbers are dense, so this keeps exactly the newest `capacity` records.
            c.prepare_cached("DELETE FROM error_journal WHERE seq <= ?1")?
                .execute([seq - capacity as i64])?;
            Ok(())
        })
    }

    fn record_errors(&self, records: &[ErrorRecord], capacity: usize) -> Result<(), StoreError> {
        let docs = records
            .iter()
            .map(|r| Ok((r.target.as_str(), serde_json::to_string(r)?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        self.write(|c| {
            let tx = c.transaction()?;
            let mut last = None;
            {
                let mut insert = tx.prepare_cached("INSERT INTO error_journal (target, doc) VALUES (?1, ?2)")?;
                for (target, doc) in &docs {
                    insert.execute([*target, doc.as_str()])?;
                    last = Some(tx.last_insert_rowid());
                }
            }
            if let Some(seq) = last {
                tx.prepare_cached("DELETE FROM error_journal WHERE seq <= ?1")?
                    .execute([seq - capacity as i64])?;
            }
            tx.commit()?;
            Ok(())
        })
    }

    fn find_error(&self, target: &str) -> Result<Option<ErrorRecord>, StoreError> {
        let doc: Option<String> = self.read(|c| {
            Ok(
                c.prepare_cached("SELECT doc FROM error_journal WHERE target = lower(?1)")?
                    .query_row([target], |r| r.get(0))
                    .optional()?,
            )
        })?;
        doc.map(decode).transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use palisade_model::time::Timestamp;

    fn record(target: &str) -> ErrorRecord {
        ErrorRecord {
            target: target.into(),
            time: Timestamp(palisade_model::time::fixed_now()),
            tenant_id: None,
            app_id: None,
            method: "GET".into(),
            path: "/".into(),
            status: 404,
            code: "NotFound".into(),
            message: "m".into(),
            cause: "c".into(),
        }
    }

    #[test]
    fn journal_keeps_only_the_newest_records() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("p.db")).unwrap();
        for n in 0..10 {
            store.record_error(&record(&format!("t{n}")), 4).unwrap();
        }
        assert!(store.find_error("t5").unwrap().is_none());
        for n in 6..10 {
            assert_eq!(
                store.find_error(&format!("t{n}")).unwrap().unwrap().target,
                format!("t{n}")
            );
        }
    }
}
