//! The rows behind file, IP and domain lookups: what alerts' evidence observed, with when and on
//! which machine, read as index ranges, never alert documents.

use crate::PostgresStore;
use palisade_model::observation::{Observation, Observed, ObservedStats};
use palisade_model::schemas::EntityTable;
use palisade_odata::Query;
use palisade_store::{ObservationStore, StoreError};

const OBSERVATION_COLUMNS: &str = "kind, key, alert_id, machine_id, seen, file_name, sha1, sha256, threat_name";

fn observation_row(r: &postgres::Row) -> Observation {
    Observation {
        kind: r.get(0),
        key: r.get(1),
        alert_id: r.get(2),
        machine_id: r.get(3),
        seen: r.get(4),
        file_name: r.get(5),
        sha1: r.get(6),
        sha256: r.get(7),
        threat_name: r.get(8),
    }
}

impl ObservationStore for PostgresStore {
    fn add_observations(&self, tenant_id: &str, rows: &[Observation]) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        let sql = format!(
            "INSERT INTO observations (tenant_id, {OBSERVATION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING"
        );
        self.write(|c| {
            let statement = c.statement(&sql)?;
            let mut tx = c.client.transaction()?;
            for row in rows {
                tx.execute(
                    &statement,
                    &[
                        &tenant_id,
                        &row.kind,
                        &row.key,
                        &row.alert_id,
                        &row.machine_id,
                        &row.seen,
                        &row.file_name,
                        &row.sha1,
                        &row.sha256,
                        &row.threat_name,
                    ],
                )?;
            }
            tx.commit()?;
            Ok(())
        })
    }

    fn latest_observation(&self, tenant_id: &str, kind: &str, key: &str) -> Result<Option<Observation>, StoreError> {
        let sql = format!(
            "SELECT {OBSERVATION_COLUMNS} FROM observations WHERE tenant_id = $1 AND kind = $2 AND key = $3 ORDER BY seen DESC LIMIT 1"
        );
        self.read(|c| {
            let statement = c.statement(&sql)?;
            Ok(c.client
                .query_opt(&statement, &[&tenant_id, &kind, &key])?
                .as_ref()
                .map(observation_row))
        })
    }

    fn observed_stats(
        &self,
        tenant_id: Option<&str>,
        kind: &str,
        key: &str,
        since: Option<i64>,
        machine_addresses: bool,
    ) -> Result<ObservedStats, StoreError> {
        // All tenants through the leading index column, one probe per tenant.
        let scope = if tenant_id.is_some() {
            "tenant_id = $1::text"
        } else {
            "tenant_id IN (SELECT id FROM tenants) AND $1::text IS NULL"
        };
        let addresses = if machine_addresses {
            format!(
                " UNION ALL SELECT tenant_id, id, greatest(first_seen, $4::bigint), last_seen FROM machines WHERE {scope} AND (last_ip_address = $3 OR last_external_ip_address = $3) AND last_seen >= $4::bigint"
            )
        } else {
            String::new()
        };
        // Machine ids are unique within a tenant only.
        let sql = format!(
            "SELECT count(DISTINCT (t, m)), min(f), max(l) FROM (SELECT tenant_id AS t, machine_id AS m, seen AS f, seen AS l FROM observations WHERE {scope} AND kind = $2 AND key = $3 AND seen >= $4::bigint{addresses}) s"
        );
        let since = since.unwrap_or(i64::MIN);
        self.read(|c| {
            let statement = c.statement(&sql)?;
            let row = c.client.query_one(&statement, &[&tenant_id, &kind, &key, &since])?;
            let devices: i64 = row.get(0);
            Ok(ObservedStats {
                devices: devices.max(0) as u64,
                first: row.get(1),
                last: row.get(2),
            })
        })
    }

    fn top_observed_names(
        &self,
        tenant_id: &str,
        kind: &str,
        key: &str,
        since: i64,
        limit: u64,
    ) -> Result<Vec<String>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(|c| {
            let statement = c.statement(
                "SELECT file_name FROM observations WHERE tenant_id = $1 AND kind = $2 AND key = $3 AND seen >= $4 AND file_name IS NOT NULL GROUP BY file_name ORDER BY count(*) DESC, file_name LIMIT $5",
            )?;
            Ok(c.client
                .query(&statement, &[&tenant_id, &kind, &key, &since, &limit])?
                .iter()
                .map(|r| r.get(0))
                .collect())
        })
    }

    fn query_observed_docs(
        &self,
        table: EntityTable,
        tenant_id: &str,
        observed: &Observed<'_>,
        query: &Query,
        offset: u64,
        limit: u64,
    ) -> Result<Vec<String>, StoreError> {
        self.query_docs_where(table, tenant_id, query, Some(observed), offset, limit)
    }

    fn count_observed_docs(
        &self,
        table: EntityTable,
        tenant_id: &str,
        observed: &Observed<'_>,
        query: &Query,
    ) -> Result<u64, StoreError> {
        self.count_docs_where(table, tenant_id, query, Some(observed))
    }
}
