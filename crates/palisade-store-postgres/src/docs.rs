//! Entity tables: upserts with their query columns, OData queries as paged SQL (the page's keys
//! chosen from the narrow columns and indexes, then only its documents read), counts, point finds
//! and deletes.

use crate::params::{refs, Param};
use crate::PostgresStore;
use palisade_model::observation::{Observed, ObservedVia};
use palisade_model::schemas::EntityTable;
use palisade_odata::{Dialect, PropType, Property, Query, SqlValue};
use palisade_store::{DocStore, StoreError};
use postgres::types::ToSql;

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

/// Whether a property's column is BIGINT (integers, Booleans as 0/1, date-times as Unix
/// microseconds) rather than text.
fn is_integer(property: &Property) -> bool {
    matches!(property.ty, PropType::Int | PropType::Bool | PropType::DateTime)
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

/// The bound arrays of one batched upsert: tenant ids, each query column, documents.
pub(crate) struct UpsertParams {
    tenants: Vec<String>,
    /// Per column, in schema order: its values as text or as integers.
    columns: Vec<ColumnArray>,
    docs: Vec<String>,
}

enum ColumnArray {
    Text(Vec<Option<String>>),
    Integer(Vec<Option<i64>>),
}

impl UpsertParams {
    pub(crate) fn refs(&self) -> Vec<&(dyn ToSql + Sync)> {
        let mut params: Vec<&(dyn ToSql + Sync)> = Vec::with_capacity(self.columns.len() + 2);
        params.push(&self.tenants);
        for column in &self.columns {
            match column {
                ColumnArray::Text(values) => params.push(values),
                ColumnArray::Integer(values) => params.push(values),
            }
        }
        params.push(&self.docs);
        params
    }
}

impl PostgresStore {
    /// One statement per batch: every column bound as an array and unnested, instead of a round
    /// trip per entity (bulk loads of a million alerts).
    pub(crate) fn upsert_sql(&self, table: EntityTable) -> String {
        let columns: Vec<&Property> = table.schema.properties.iter().filter(|p| p.column.is_some()).collect();
        let names: Vec<&str> = columns.iter().filter_map(|p| p.column).collect();
        let arrays: Vec<String> = std::iter::once("$1::text[]".to_string())
            .chain(
                columns
                    .iter()
                    .enumerate()
                    .map(|(n, p)| format!("${}::{}[]", n + 2, if is_integer(p) { "bigint" } else { "text" })),
            )
            .chain(std::iter::once(format!("${}::text[]", columns.len() + 2)))
            .collect();
        let updates: Vec<String> = names
            .iter()
            .chain(["doc"].iter())
            .map(|c| format!("{c} = excluded.{c}"))
            .collect();
        format!(
            "INSERT INTO {} (tenant_id, {}, doc) SELECT * FROM unnest({}) ON CONFLICT (tenant_id, {}) DO UPDATE SET {}",
            table.table,
            names.join(", "),
            arrays.join(", "),
            key_expr(table),
            updates.join(", ")
        )
    }

    /// The arrays [`PostgresStore::upsert_sql`] binds: one row per key, the last given winning,
    /// as one upsert after another would leave it (an upsert statement may not touch a row twice).
    pub(crate) fn upsert_params(
        &self,
        table: EntityTable,
        tenant_id: &str,
        docs: &[serde_json::Value],
    ) -> Result<UpsertParams, StoreError> {
        let columns: Vec<&Property> = table.schema.properties.iter().filter(|p| p.column.is_some()).collect();
        let nocase = NOCASE_KEYS.contains(&table.table);
        let key_index = columns.iter().position(|p| p.column == Some(table.schema.key_column));
        let mut rows: Vec<(Vec<SqlValue>, String)> = Vec::with_capacity(docs.len());
        let mut position: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
        for doc in docs {
            let values: Vec<SqlValue> = palisade_odata::column_values(table.schema, doc)
                .into_iter()
                .map(|(_, v)| v)
                .collect();
            let key = match key_index.map(|k| &values[k]) {
                Some(SqlValue::Text(t)) if nocase => Some(t.to_ascii_lowercase()),
                Some(SqlValue::Text(t)) => Some(t.clone()),
                Some(SqlValue::Int(i)) => Some(i.to_string()),
                _ => None,
            };
            let row = (values, serde_json::to_string(doc)?);
            match key.as_ref().and_then(|k| position.get(k)) {
                Some(&at) => rows[at] = row,
                None => {
                    if let Some(key) = key {
                        position.insert(key, rows.len());
                    }
                    rows.push(row);
                }
            }
        }
        let columns = columns
            .iter()
            .enumerate()
            .map(|(n, property)| {
                if is_integer(property) {
                    ColumnArray::Integer(
                        rows.iter()
                            .map(|(values, _)| match &values[n] {
                                SqlValue::Int(i) => Some(*i),
                                SqlValue::Bool(b) => Some(i64::from(*b)),
                                _ => None,
                            })
                            .collect(),
                    )
                } else {
                    ColumnArray::Text(
                        rows.iter()
                            .map(|(values, _)| match &values[n] {
                                SqlValue::Text(t) => Some(t.clone()),
                                SqlValue::Int(i) => Some(i.to_string()),
                                SqlValue::Real(r) => Some(r.to_string()),
                                SqlValue::Bool(b) => Some(b.to_string()),
                                SqlValue::Null => None,
                            })
                            .collect(),
                    )
                }
            })
            .collect();
        Ok(UpsertParams {
            tenants: vec![tenant_id.to_string(); rows.len()],
            columns,
            docs: rows.into_iter().map(|(_, doc)| doc).collect(),
        })
    }
}

/// The bound key as the key column compares it (`lower($n)` for case-insensitive keys).
pub(crate) fn key_param(table: EntityTable, n: usize) -> String {
    if NOCASE_KEYS.contains(&table.table) {
        format!("lower(${n} COLLATE \"C\")")
    } else {
        text_param(table, table.schema.key_column, n)
    }
}

/// Placeholder `n`, bound as text, compared with `column`: an integer column (the incidents' key)
/// gets the text as a number, or NULL (no match) when it is not one, as SQLite's affinity does
/// for a text key compared with an INTEGER column.
fn text_param(table: EntityTable, column: &str, n: usize) -> String {
    let integer = table
        .schema
        .properties
        .iter()
        .any(|p| p.column == Some(column) && is_integer(p));
    if integer {
        format!("(CASE WHEN ${n}::text ~ '^-?[0-9]{{1,18}}$' THEN ${n}::text::bigint END)")
    } else {
        format!("${n}")
    }
}

impl DocStore for PostgresStore {
    fn ensure_table(&self, table: EntityTable) -> Result<(), StoreError> {
        // Names come from the static schema, never from a request.
        let columns: Vec<String> = table
            .schema
            .properties
            .iter()
            .filter_map(|p| {
                let ty = if is_integer(p) { "BIGINT" } else { "TEXT COLLATE \"C\"" };
                p.column.map(|c| format!("{c} {ty},"))
            })
            .collect();
        let sql = format!(
            "CREATE TABLE IF NOT EXISTS {t} (tenant_id TEXT COLLATE \"C\" NOT NULL REFERENCES tenants(id) ON DELETE CASCADE, {columns} doc TEXT COLLATE \"C\" NOT NULL);
             CREATE UNIQUE INDEX IF NOT EXISTS {t}_key ON {t} (tenant_id, {key});",
            t = table.table,
            columns = columns.join(" "),
            key = key_expr(table),
        );
        self.write(|c| {
            // Two processes starting at once would race on the catalog: the migrations' lock
            // makes them take turns, and the second finds the table there.
            let mut tx = c.client.transaction()?;
            tx.execute(
                "SELECT pg_advisory_xact_lock($1)",
                &[&crate::migrations::MIGRATION_LOCK],
            )?;
            tx.batch_execute(&sql)?;
            tx.commit()?;
            Ok(())
        })
    }

    fn upsert_docs(&self, table: EntityTable, tenant_id: &str, docs: &[serde_json::Value]) -> Result<(), StoreError> {
        if docs.is_empty() {
            return Ok(());
        }
        let sql = self.upsert_sql(table);
        let params = self.upsert_params(table, tenant_id, docs)?;
        self.write(|c| {
            let statement = c.statement(&sql)?;
            c.client.execute(&statement, &params.refs())?;
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
            format!("{column} = {}", text_param(table, column, 2))
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
        let sql = format!(
            "DELETE FROM {} WHERE tenant_id = $1 AND {} = {}",
            table.table,
            key_expr(table),
            key_param(table, 2)
        );
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
