//! The embedded store: one SQLite file in WAL mode, one writer connection and a few readers.

use super::{Store, StoreError};
use crate::entities::Machine;
use crate::journal::ErrorRecord;
use crate::tenant::{AppRegistration, Tenant};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Schema migrations, applied in order; `PRAGMA user_version` records how many ran.
const MIGRATIONS: &[&str] = &[r#"
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE tenants (
    id TEXT PRIMARY KEY,
    domain TEXT NOT NULL UNIQUE COLLATE NOCASE,
    doc TEXT NOT NULL
);
CREATE TABLE apps (
    client_id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    doc TEXT NOT NULL
);
-- Entity tables keep the entity as the API serialises it in `doc`, plus one column per filterable
-- scalar property (date-times as Unix microseconds) so queries run on indexes.
CREATE TABLE machines (
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    id TEXT NOT NULL,
    computer_dns_name TEXT,
    first_seen INTEGER,
    last_seen INTEGER,
    os_platform TEXT,
    version TEXT,
    health_status TEXT,
    device_value TEXT,
    rbac_group_id INTEGER,
    risk_score TEXT,
    exposure_level TEXT,
    aad_device_id TEXT,
    onboarding_status TEXT,
    last_ip_address TEXT,
    doc TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id)
) WITHOUT ROWID;
CREATE INDEX machines_by_name ON machines (tenant_id, computer_dns_name COLLATE NOCASE);
CREATE INDEX machines_by_last_seen ON machines (tenant_id, last_seen);
CREATE INDEX machines_by_health ON machines (tenant_id, health_status);
CREATE INDEX machines_by_platform ON machines (tenant_id, os_platform);
CREATE INDEX machines_by_risk ON machines (tenant_id, risk_score);
CREATE TABLE error_journal (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    target TEXT NOT NULL UNIQUE,
    doc TEXT NOT NULL
);
"#];

const MAX_IDLE_READERS: usize = 8;

pub struct SqliteStore {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and runs pending migrations.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut writer = Self::connect(path)?;
        migrate(&mut writer)?;
        Ok(SqliteStore {
            path: path.to_path_buf(),
            writer: Mutex::new(writer),
            readers: Mutex::new(Vec::new()),
        })
    }

    fn connect(path: &Path) -> Result<Connection, StoreError> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        // WAL lets readers run beside the writer; NORMAL sync is durable across process crashes.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        Ok(conn)
    }

    fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let idle = self.readers.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let conn = match idle {
            Some(conn) => conn,
            None => Self::connect(&self.path)?,
        };
        let result = f(&conn);
        let mut readers = self.readers.lock().unwrap_or_else(|e| e.into_inner());
        if readers.len() < MAX_IDLE_READERS {
            readers.push(conn);
        }
        result
    }

    fn write<T>(&self, f: impl FnOnce(&mut Connection) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let mut conn = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut conn)
    }
}

fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let applied: usize = tx.pragma_query_value(None, "user_version", |row| row.get(0))?;
    for (n, sql) in MIGRATIONS.iter().enumerate().skip(applied) {
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", n + 1)?;
    }
    tx.commit()?;
    Ok(())
}

fn decode<T: serde::de::DeserializeOwned>(doc: String) -> Result<T, StoreError> {
    Ok(serde_json::from_str(&doc)?)
}

impl Store for SqliteStore {
    fn get_meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.read(|c| {
            Ok(
                c.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
                    .optional()?,
            )
        })
    }

    fn init_meta(&self, key: &str, value: &str) -> Result<String, StoreError> {
        self.write(|c| {
            c.execute("INSERT OR IGNORE INTO meta (key, value) VALUES (?1, ?2)", [key, value])?;
            Ok(c.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))?)
        })
    }

    fn insert_tenant(&self, tenant: &Tenant) -> Result<(), StoreError> {
        let doc = serde_json::to_string(tenant)?;
        self.write(|c| {
            let inserted = c.execute(
                "INSERT OR IGNORE INTO tenants (id, domain, doc) VALUES (?1, ?2, ?3)",
                params![tenant.id, tenant.domain, doc],
            )?;
            if inserted == 0 {
                return Err(StoreError::Conflict(format!(
                    "tenant {} or domain {} exists",
                    tenant.id, tenant.domain
                )));
            }
            Ok(())
        })
    }

    fn find_tenant(&self, id_or_domain: &str) -> Result<Option<Tenant>, StoreError> {
        let doc: Option<String> = self.read(|c| {
            Ok(c.query_row(
                "SELECT doc FROM tenants WHERE id = lower(?1) OR domain = ?1",
                [id_or_domain],
                |r| r.get(0),
            )
            .optional()?)
        })?;
        doc.map(decode).transpose()
    }

    fn upsert_app(&self, app: &AppRegistration) -> Result<(), StoreError> {
        let doc = serde_json::to_string(app)?;
        self.write(|c| {
            c.execute(
                "INSERT INTO apps (client_id, tenant_id, doc) VALUES (?1, ?2, ?3)
                 ON CONFLICT (client_id) DO UPDATE SET tenant_id = excluded.tenant_id, doc = excluded.doc",
                params![app.client_id, app.tenant_id, doc],
            )?;
            Ok(())
        })
    }

    fn find_app(&self, client_id: &str) -> Result<Option<AppRegistration>, StoreError> {
        let doc: Option<String> = self.read(|c| {
            Ok(
                c.query_row("SELECT doc FROM apps WHERE client_id = lower(?1)", [client_id], |r| {
                    r.get(0)
                })
                .optional()?,
            )
        })?;
        doc.map(decode).transpose()
    }

    fn upsert_machines(&self, tenant_id: &str, machines: &[Machine]) -> Result<(), StoreError> {
        self.write(|c| {
            let tx = c.transaction()?;
            {
                let mut stmt = tx.prepare_cached(
                    "INSERT OR REPLACE INTO machines (tenant_id, id, computer_dns_name, first_seen, last_seen,
                        os_platform, version, health_status, device_value, rbac_group_id, risk_score,
                        exposure_level, aad_device_id, onboarding_status, last_ip_address, doc)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
                )?;
                for m in machines {
                    stmt.execute(params![
                        tenant_id,
                        m.id,
                        m.computer_dns_name,
                        m.first_seen.micros(),
                        m.last_seen.micros(),
                        m.os_platform,
                        m.version,
                        m.health_status.as_str(),
                        m.device_value.map(|v| v.as_str()),
                        m.rbac_group_id,
                        m.risk_score.map(|v| v.as_str()),
                        m.exposure_level.map(|v| v.as_str()),
                        m.aad_device_id,
                        m.onboarding_status.as_str(),
                        m.last_ip_address,
                        serde_json::to_string(m)?,
                    ])?;
                }
            }
            tx.commit()?;
            Ok(())
        })
    }

    fn list_machines(&self, tenant_id: &str) -> Result<Vec<Machine>, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare_cached("SELECT doc FROM machines WHERE tenant_id = ?1 ORDER BY id")?;
            let docs = stmt.query_map([tenant_id], |r| r.get::<_, String>(0))?;
            docs.map(|doc| decode(doc?)).collect()
        })
    }

    fn find_machine(&self, tenant_id: &str, id_or_name: &str) -> Result<Option<Machine>, StoreError> {
        let doc: Option<String> = self.read(|c| {
            let by_id = c
                .prepare_cached("SELECT doc FROM machines WHERE tenant_id = ?1 AND id = lower(?2)")?
                .query_row([tenant_id, id_or_name], |r| r.get(0))
                .optional()?;
            if by_id.is_some() {
                return Ok(by_id);
            }
            Ok(c.prepare_cached(
                "SELECT doc FROM machines WHERE tenant_id = ?1 AND computer_dns_name = ?2 COLLATE NOCASE
                 ORDER BY id LIMIT 1",
            )?
            .query_row([tenant_id, id_or_name], |r| r.get(0))
            .optional()?)
        })?;
        doc.map(decode).transpose()
    }

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
    use crate::time::Timestamp;

    fn record(target: &str) -> ErrorRecord {
        ErrorRecord {
            target: target.into(),
            time: Timestamp(chrono::Utc::now()),
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
    fn migrations_are_idempotent_and_data_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.db");
        {
            let store = SqliteStore::open(&path).unwrap();
            let tenant = Tenant {
                id: "t1".into(),
                display_name: "T".into(),
                domain: "t1.example".into(),
            };
            store.insert_tenant(&tenant).unwrap();
            assert!(matches!(store.insert_tenant(&tenant), Err(StoreError::Conflict(_))));
            assert_eq!(store.init_meta("k", "first").unwrap(), "first");
        }
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(store.find_tenant("T1.EXAMPLE").unwrap().unwrap().id, "t1");
        assert_eq!(
            store.init_meta("k", "second").unwrap(),
            "first",
            "init_meta keeps the first value"
        );
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
