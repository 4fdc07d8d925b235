//! Entity tables: upserts with their query columns, OData queries as paged SQL (the page's keys
//! chosen from the narrow columns and indexes, then only its documents read), counts, point finds
//! and deletes.

use crate::params::{refs, Param};
use crate::PostgresStore;
use palisade_model::observation::{Observed, ObservedVia};
use palisade_model::schemas::EntityTable;
use palisade_odata::{Dialect, Query, SqlValue};
use palisade_store::{DocStore, StoreError};

/// Tables whose key compares case-insensitively (file names, as on the Windows devices the
/// live-response library serves); their unique key index is on `lower(key)`.
const NOCASE_KEYS: &[&str] = &["library_files"];

/// The key column as the unique index sees it: `lower(..)` for case-insensitive keys.
pub(crate) fn key_expr(table: EntityTable) -> String {
    let key = table.schema.key_column;
    if NOCASE_KEYS.contains(&table.table) {
        format!("lower({key} COLLATE \"C\")")
    } else {
        key.to_string()
    }
}

/// ` AND (<filter>)` and the values to bind (tenant first), for a query's `$filter`, plus the
/// restriction to observed entities when there is one.
fn filter_clause(
    table: EntityTable,
    tenant_id: &str,
    query: &Query,
    observed: Option<&Observed<'_>>,
) -> (String, Vec<Param>) {
    let mut values = vec![Param(SqlValue::Text(tenant_id.to_string()))];
    let mut sql = match query.where_sql(table.schema, Dialect::Postgres, 2) {
        Some(fragment) => {
            values.extend(fragment.params.into_iter().map(Param));
            format!(" AND {}", fragment.sql)
        }
        None => String::new(),
    };
    if let Some(observed) = observed {
        let n = values.len();
        let key = table.schema.key_column;
        let related = match observed.via {
            ObservedVia::Alert => format!(
                " AND {key} IN (SELECT o.alert_id FROM observations o WHERE o.tenant_id = $1 AND o.kind = ${} AND o.key = ${})",
                n + 1,
                n + 2
            ),
            ObservedVia::Machine => format!(
                " AND {key} IN (SELECT DISTINCT o.machine_id FROM observations o WHERE o.tenant_id = $1 AND o.kind = ${} AND o.key = ${} ORDER BY o.machine_id LIMIT ${})",
                n + 1,
                n + 2,
                n + 3
            ),
        };
        sql.push_str(&related);
        values.push(Param(SqlValue::Text(observed.kind.to_string())));
        values.push(Param(SqlValue::Text(observed.key.to_string())));
        if observed.via == ObservedVia::Machine {
            let cap = observed.cap.map_or(i64::MAX, |c| i64::try_from(c).unwrap_or(i64::MAX));
            values.push(Param(SqlValue::Int(cap)));
        }
    }
    (sql, values)
}

fn clamp(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl PostgresStore {
    pub(crate) fn query_docs_where(
        &self,
        table: EntityTable,
        tenant_id: &str,
        query: &Query,
        observed: Option<&Observed<'_>>,
        offset: u64,
        limit: u64,
    ) -> Result<Vec<String>, StoreError> {
        let (filter, mut values) = filter_clause(table, tenant_id, query, observed);
        let n = values.len();
        let order = query.order_by_sql(table.schema, Dialect::Postgres);
        let key = table.schema.key_column;
        // The page's keys are chosen (filtered, ordered, offset) from the indexes and narrow
        // columns; only then are its documents read, in the page's order.
        let sql = format!(
            "SELECT t.doc FROM unnest(ARRAY(SELECT {key} FROM {t} WHERE tenant_id = $1{filter} ORDER BY {order} LIMIT ${} OFFSET ${})) WITH ORDINALITY AS page(k, n) \
             JOIN {t} t ON t.tenant_id = $1 AND t.{key} = page.k ORDER BY page.n",
            n + 1,
            n + 2,
            t = table.table,
        );
        values.push(Param(SqlValue::Int(clamp(limit))));
        values.push(Param(SqlValue::Int(clamp(offset))));
        self.read(|c| {
            let statement = c.statement(&sql)?;
            let rows = c.client.query(&statement, &refs(&values))?;
            Ok(rows.iter().map(|r| r.get::<_, String>(0)).collect())
        })
    }

    pub(crate) fn count_docs_where(
        &self,
        table: EntityTable,
        tenant_id: &str,
        query: &Query,
        observed: Option<&Observed<'_>>,
    ) -> Result<u64, StoreError> {
        let (filter, values) = filter_clause(table, tenant_id, query, observed);
        let sql = format!("SELECT count(*) FROM {} WHERE tenant_id = $1{filter}", table.table);
        self.read(|c| {
            let statement = c.statement(&sql)?;
            let count: i64 = c.client.query_one(&statement, &refs(&values))?.get(0);
            Ok(count.max(0) as u64)
        })
    }
}

impl DocStore for PostgresStore {
    fn upsert_docs(&self, table: EntityTable, tenant_id: &str, docs: &[serde_json::Value]) -> Result<(), StoreError> {
        if docs.is_empty() {
            return Ok(());
        }
        let columns: Vec<&str> = table.schema.properties.iter().filter_map(|p| p.column).collect();
        let placeholders: Vec<String> = (1..=columns.len() + 2).map(|n| format!("${n}")).collect();
        let updates: Vec<String> = columns
            .iter()
            .chain(["doc"].iter())
            .map(|c| format!("{c} = excluded.{c}"))
            .collect();
        let sql = format!(
            "INSERT INTO {} (tenant_id, {}, doc) VALUES ({}) ON CONFLICT (tenant_id, {}) DO UPDATE SET {}",
            table.table,
            columns.join(", "),
            placeholders.join(", "),
            key_expr(table),
            updates.join(", ")
        );
        let rows = docs
            .iter()
            .map(|doc| {
                let mut values: Vec<Param> = Vec::with_capacity(columns.len() + 2);
                values.push(Param(SqlValue::Text(tenant_id.to_string())));
                values.extend(
                    palisade_odata::column_values(table.schema, doc)
                        .into_iter()
                        .map(|(_, v)| Param(v)),
                );
                values.push(Param(SqlValue::Text(serde_json::to_string(doc)?)));
                Ok(values)
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        self.write(|c| {
            let statement = c.statement(&sql)?;
            let mut tx = c.client.transaction()?;
            for values in &rows {
                tx.execute(&statement, &refs(values))?;
            }
            tx.commit()?;
            Ok(())
        })
    }

    fn query_docs(
        &self,
        table: EntityTable,
        tenant_id: &str,
        query: &Query,
        offset: u64,
        limit: u64,
    ) -> Result<Vec<String>, StoreError> {
        self.query_docs_where(table, tenant_id, query, None, offset, limit)
    }

    fn count_docs(&self, table: EntityTable, tenant_id: &str, query: &Query) -> Result<u64, StoreError> {
        self.count_docs_where(table, tenant_id, query, None)
    }

    fn find_doc(
        &self,
        table: EntityTable,
        tenant_id: &str,
        column: &str,
        value: &str,
        ignore_case: bool,
    ) -> Result<Option<String>, StoreError> {
        // Only schema columns reach the SQL text; the value is bound.
        if !table.schema.properties.iter().any(|p| p.column == Some(column)) {
            return Err(StoreError::UnknownColumn(column.to_string()));
        }
        let nocase = ignore_case || (column == table.schema.key_column && NOCASE_KEYS.contains(&table.table));
        let test = if nocase {
            format!("lower({column} COLLATE \"C\") = lower($2 COLLATE \"C\")")
        } else {
            format!("{column} = $2")
        };
        let sql = format!(
            "SELECT doc FROM {} WHERE tenant_id = $1 AND {test} ORDER BY {} LIMIT 1",
            table.table, table.schema.key_column
        );
        self.read(|c| {
            let statement = c.statement(&sql)?;
            Ok(c.client
                .query_opt(&statement, &[&tenant_id, &value])?
                .map(|r| r.get::<_, String>(0)))
        })
    }

    fn delete_doc(&self, table: EntityTable, tenant_id: &str, key: &str) -> Result<bool, StoreError> {
        Ok(self.delete_docs(table, tenant_id, &[key.to_string()])? > 0)
    }

    fn delete_docs(&self, table: EntityTable, tenant_id: &str, keys: &[String]) -> Result<u64, StoreError> {
        let key = key_expr(table);
        let bound = if NOCASE_KEYS.contains(&table.table) {
            "lower($2 COLLATE \"C\")"
        } else {
            "$2"
        };
        let sql = format!("DELETE FROM {} WHERE tenant_id = $1 AND {key} = {bound}", table.table);
        self.write(|c| {
            let statement = c.statement(&sql)?;
            let mut tx = c.client.transaction()?;
            let mut deleted = 0u64;
            for key in keys {
                deleted += tx.execute(&statement, &[&tenant_id, key])?;
            }
            tx.commit()?;
            Ok(deleted)
        })
    }
}
