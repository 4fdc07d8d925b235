//! Tenants and app registrations; tenant deletion and data clearing (every tenant-owned table
//! references `tenants(id) ON DELETE CASCADE`).

use crate::{decode, SqliteStore};
use palisade_model::tenant::{AppRegistration, Tenant};
use palisade_store::{StoreError, TenantStore};
use rusqlite::{params, OptionalExtension};

impl TenantStore for SqliteStore {
    fn insert_tenant(&self, tenant: &Tenant) -> Result<(), StoreError> {
        let doc = serde_json::to_string(tenant)?;
        self.write(|c| {
            let inserted = c.execute(
                "INSERT OR IGNORE INTO tenants (id, domain, doc) VALUES (?1, ?2, ?3)",
                params![tenant.id, tenant.domain, doc],
            )?;
            if inserted == 0 {
                return Err(
                    StoreError::Conflict(format!("tenant {} or domain {} exists", tenant.id, tenant.domain)).into(),
                );
            }
            Ok(())
        })
    }

    fn update_tenant(&self, tenant: &Tenant) -> Result<(), StoreError> {
        let doc = serde_json::to_string(tenant)?;
        self.write(|c| {
            c.execute("UPDATE tenants SET doc = ?2 WHERE id = ?1", params![tenant.id, doc])?;
            Ok(())
        })
    }

    fn find_tenant(&self, id_or_domain: &str) -> Result<Option<Tenant>, StoreError> {
        let doc: Option<String> = self.read(|c| {
            Ok(
                c.prepare_cached("SELECT doc FROM tenants WHERE id = lower(?1) OR domain = ?1")?
                    .query_row([id_or_domain], |r| r.get(0))
                    .optional()?,
            )
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
            Ok(c.prepare_cached("SELECT doc FROM apps WHERE client_id = lower(?1)")?
                .query_row([client_id], |r| r.get(0))
                .optional()?)
        })?;
        doc.map(decode).transpose()
    }

    fn tenant_ids(&self) -> Result<Vec<String>, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare_cached("SELECT id FROM tenants ORDER BY id")?;
            let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    fn list_tenants(&self) -> Result<Vec<Tenant>, StoreError> {
        let docs: Vec<String> = self.read(|c| {
            let mut stmt = c.prepare_cached("SELECT doc FROM tenants ORDER BY id")?;
            let rows = stmt.query_map([], |r| r.get(0))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })?;
        docs.into_iter().map(decode).collect()
    }

    fn delete_tenant(&self, tenant_id: &str) -> Result<bool, StoreError> {
        // Every tenant-owned table references tenants(id) ON DELETE CASCADE.
        self.write(|c| Ok(c.execute("DELETE FROM tenants WHERE id = lower(?1)", [tenant_id])? > 0))
    }

    fn list_apps(&self, tenant_id: &str) -> Result<Vec<AppRegistration>, StoreError> {
        let docs: Vec<String> = self.read(|c| {
            let mut stmt = c.prepare_cached("SELECT doc FROM apps WHERE tenant_id = ?1 ORDER BY client_id")?;
            let rows = stmt.query_map([tenant_id], |r| r.get(0))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })?;
        docs.into_iter().map(decode).collect()
    }

    fn delete_app(&self, tenant_id: &str, client_id: &str) -> Result<bool, StoreError> {
        self.write(|c| {
            Ok(c.execute(
                "DELETE FROM apps WHERE tenant_id = ?1 AND client_id = lower(?2)",
                [tenant_id, client_id],
            )? > 0)
        })
    }

    fn clear_tenant_data(&self, tenant_id: &str) -> Result<(), StoreError> {
        self.write(|c| {
            let tx = c.transaction()?;
            // Every table with a tenant_id column holds tenant data, whichever family added it;
            // the registration itself (tenants, apps) stays.
            let tables: Vec<String> = {
                let mut stmt = tx.prepare(
                    "SELECT m.name FROM sqlite_master m JOIN pragma_table_info(m.name) p
                     WHERE m.type = 'table' AND p.name = 'tenant_id' AND m.name NOT IN ('tenants', 'apps')",
                )?;
                let names = stmt.query_map([], |r| r.get(0))?;
                names.collect::<Result<Vec<_>, _>>()?
            };
            for table in tables {
                // Table names come from the schema itself, never from a caller.
                tx.execute(&format!("DELETE FROM \"{table}\" WHERE tenant_id = ?1"), [tenant_id])?;
            }
            tx.commit()?;
            Ok(())
        })
    }

    fn clear_all(&self) -> Result<(), StoreError> {
        self.write(|c| {
            let tx = c.transaction()?;
            tx.execute("DELETE FROM tenants", [])?;
            tx.execute("DELETE FROM error_journal", [])?;
            tx.commit()?;
            Ok(())
        })
    }
}
