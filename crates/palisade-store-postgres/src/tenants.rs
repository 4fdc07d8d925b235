//! Tenants and app registrations; tenant deletion and data clearing (every tenant-owned table
//! references `tenants(id) ON DELETE CASCADE`).

use crate::{decode, PostgresStore};
use palisade_model::tenant::{AppRegistration, Tenant};
use palisade_store::{StoreError, TenantStore};

impl PostgresStore {
    fn docs(&self, sql: &str, params: &[&(dyn postgres::types::ToSql + Sync)]) -> Result<Vec<String>, StoreError> {
        self.read(|c| {
            let statement = c.statement(sql)?;
            Ok(c.client
                .query(&statement, params)?
                .iter()
                .map(|r| r.get::<_, String>(0))
                .collect())
        })
    }
}

impl TenantStore for PostgresStore {
    fn insert_tenant(&self, tenant: &Tenant) -> Result<(), StoreError> {
        let doc = serde_json::to_string(tenant)?;
        // Both unique indexes (id, lower(domain)) decide, even against another process.
        let inserted = self.write(|c| {
            let statement =
                c.statement("INSERT INTO tenants (id, domain, doc) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")?;
            Ok(c.client.execute(&statement, &[&tenant.id, &tenant.domain, &doc])?)
        })?;
        if inserted == 0 {
            return Err(StoreError::Conflict(format!(
                "tenant {} or domain {} exists",
                tenant.id, tenant.domain
            )));
        }
        Ok(())
    }

    fn update_tenant(&self, tenant: &Tenant) -> Result<(), StoreError> {
        let doc = serde_json::to_string(tenant)?;
        self.write(|c| {
            let statement = c.statement("UPDATE tenants SET doc = $2 WHERE id = $1")?;
            c.client.execute(&statement, &[&tenant.id, &doc])?;
            Ok(())
        })
    }

    fn find_tenant(&self, id_or_domain: &str) -> Result<Option<Tenant>, StoreError> {
        let docs = self.docs(
            "SELECT doc FROM tenants WHERE id = lower($1 COLLATE \"C\") OR lower(domain COLLATE \"C\") = lower($1 COLLATE \"C\") LIMIT 1",
            &[&id_or_domain],
        )?;
        docs.into_iter().next().map(decode).transpose()
    }

    fn list_tenants(&self) -> Result<Vec<Tenant>, StoreError> {
        self.docs("SELECT doc FROM tenants ORDER BY id", &[])?
            .into_iter()
            .map(decode)
            .collect()
    }

    fn tenant_ids(&self) -> Result<Vec<String>, StoreError> {
        self.docs("SELECT id FROM tenants ORDER BY id", &[])
    }

    fn delete_tenant(&self, tenant_id: &str) -> Result<bool, StoreError> {
        self.write(|c| {
            let statement = c.statement("DELETE FROM tenants WHERE id = lower($1 COLLATE \"C\")")?;
            Ok(c.client.execute(&statement, &[&tenant_id])? > 0)
        })
    }

    fn clear_tenant_data(&self, tenant_id: &str) -> Result<(), StoreError> {
        self.write(|c| {
            let mut tx = c.client.transaction()?;
            // Every table with a tenant_id column holds tenant data, whichever family added it;
            // the registration itself (tenants, apps) stays.
            let tables: Vec<String> = tx
                .query(
                    "SELECT table_name::text FROM information_schema.columns WHERE table_schema = current_schema() \
                     AND column_name = 'tenant_id' AND table_name NOT IN ('tenants', 'apps') ORDER BY 1",
                    &[],
                )?
                .iter()
                .map(|r| r.get(0))
                .collect();
            for table in tables {
                // Table names come from the schema itself, never from a caller.
                tx.execute(&format!("DELETE FROM \"{table}\" WHERE tenant_id = $1"), &[&tenant_id])?;
            }
            tx.commit()?;
            Ok(())
        })
    }

    fn clear_all(&self) -> Result<(), StoreError> {
        self.write(|c| {
            let mut tx = c.client.transaction()?;
            tx.execute("DELETE FROM tenants", &[])?;
            tx.execute("DELETE FROM error_journal", &[])?;
            tx.commit()?;
            Ok(())
        })
    }

    fn upsert_app(&self, app: &AppRegistration) -> Result<(), StoreError> {
        let doc = serde_json::to_string(app)?;
        self.write(|c| {
            let statement = c.statement(
                "INSERT INTO apps (client_id, tenant_id, doc) VALUES ($1, $2, $3) \
                 ON CONFLICT (client_id) DO UPDATE SET tenant_id = excluded.tenant_id, doc = excluded.doc",
            )?;
            c.client.execute(&statement, &[&app.client_id, &app.tenant_id, &doc])?;
            Ok(())
        })
    }

    fn find_app(&self, client_id: &str) -> Result<Option<AppRegistration>, StoreError> {
        let docs = self.docs(
            "SELECT doc FROM apps WHERE client_id = lower($1 COLLATE \"C\")",
            &[&client_id],
        )?;
        docs.into_iter().next().map(decode).transpose()
    }

    fn list_apps(&self, tenant_id: &str) -> Result<Vec<AppRegistration>, StoreError> {
        self.docs(
            "SELECT doc FROM apps WHERE tenant_id = $1 ORDER BY client_id",
            &[&tenant_id],
        )?
        .into_iter()
        .map(decode)
        .collect()
    }

    fn delete_app(&self, tenant_id: &str, client_id: &str) -> Result<bool, StoreError> {
        self.write(|c| {
            let statement =
                c.statement("DELETE FROM apps WHERE tenant_id = $1 AND client_id = lower($2 COLLATE \"C\")")?;
            Ok(c.client.execute(&statement, &[&tenant_id, &client_id])? > 0)
        })
    }
}
