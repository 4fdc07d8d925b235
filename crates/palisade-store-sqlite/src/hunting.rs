//! The advanced-hunting tables ([`HuntingStore`]): one SQL table per hunting table
//! (`hunting_<name in lower case>`, DDL in `hunting.sql`, migration 10), one column per documented
//! column named as documented, in the storage encoding `palisade_kql::sql` assumes, with absent
//! strings stored as `''` (so the rendered SQL needs no `COALESCE` and indexes stay usable).
//!
//! Rows carry the tenant's small integer key (`hunting_tenants`), not its id: see `hunting.sql`.
//! Scans and aggregates are rendered by `palisade_kql::sql` for SQLite, with the tenant condition
//! ANDed in; rows stream from the statement into the caller's sink, never collected whole. A
//! request's deadline is enforced inside SQLite too (a progress handler), so one long `GROUP BY`
//! stops at it. Hunting reads map the database file (`mmap_size`), which spares a copy of every
//! page a large scan reads.

use crate::error::Result;
use crate::SqliteStore;
use palisade_kql::sql::{self, Dialect, SqlOptions, SqlValue};
use palisade_kql::{AggregateRequest, Catalog, KqlType, Row, ScanRequest, TableSchema, Value};
use palisade_store::{HuntingRow, HuntingStore, StoreError};
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, ToSql};
use std::time::Instant;

/// The DDL of the hunting tables (migration 10).
pub(crate) const MIGRATION: &str = include_str!("hunting.sql");

/// How much of the database file hunting reads map into memory.
const MMAP_BYTES: i64 = 4 << 30;

/// How many SQLite virtual-machine steps run between two deadline checks.
const DEADLINE_CHECK_STEPS: i32 = 20_000;

const OPTIONS: SqlOptions = SqlOptions {
    dialect: Dialect::Sqlite,
    strings_not_null: true,
    // ?1 is the tenant's key, ?2 the start of the look-back window.
    first_param: 3,
};

/// The tenant and look-back conditions, ANDed into every statement. The window is written with a
/// unary `+` so that SQLite never picks the time index for it: it covers 30 days, nearly every
/// row, and choosing that index for a `GROUP BY DeviceName` (instead of the covering
/// `(tenant_id, DeviceName, Timestamp)` index) costs a row lookup per row. A query's own time
/// filter (`Timestamp > ago(1h)`) is rendered without it and still uses the index.
fn scope(request: &ScanRequest) -> (ScanRequest, String, i64) {
    let mut rest = request.clone();
    match rest.time_window.take() {
        Some(w) => (
            rest,
            format!("tenant_key = ?1 AND +{} >= ?2", column(&w.column)),
            w.from,
        ),
        None => (rest, "tenant_key = ?1 AND ?2 IS NOT NULL".into(), 0),
    }
}

/// The SQL table of a hunting table, or `UnknownColumn` naming it (the neutral "not part of the
/// schema" error).
fn table(name: &str) -> Result<(&'static TableSchema, String), StoreError> {
    let schema = Catalog::defender_hunting_shared()
        .table(name)
        .ok_or_else(|| StoreError::UnknownColumn(format!("hunting table {name}")))?;
    Ok((schema, sql_table(name)))
}

fn sql_table(name: &str) -> String {
    format!("hunting_{}", name.to_ascii_lowercase())
}

/// Column names come from the catalog (the engine only asks for catalog columns); quoting keeps
/// them exactly as documented.
fn column(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

struct Bind<'a>(&'a SqlValue);

impl ToSql for Bind<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self.0 {
            SqlValue::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            SqlValue::Int(i) => ToSqlOutput::Borrowed(ValueRef::Integer(*i)),
            SqlValue::Real(r) => ToSqlOutput::Borrowed(ValueRef::Real(*r)),
            SqlValue::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
        })
    }
}

/// The tenant's key, if it has hunting rows (-1 otherwise, which matches no row, so aggregates
/// still answer their empty result). Also maps the file for the read that follows.
fn tenant_key(c: &Connection, tenant_id: &str) -> Result<i64> {
    c.pragma_update(None, "mmap_size", MMAP_BYTES)?;
    use rusqlite::OptionalExtension;
    let key = c
        .prepare_cached("SELECT tenant_key FROM hunting_tenants WHERE tenant_id = ?1")?
        .query_row([tenant_id], |r| r.get(0))
        .optional()?;
    Ok(key.unwrap_or(-1))
}

/// A stored value as the engine reads it (it converts integers, 0/1 and JSON text by column type).
fn read_value(v: ValueRef<'_>) -> Value {
    match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Long(i),
        ValueRef::Real(r) => Value::Real(r),
        ValueRef::Text(t) | ValueRef::Blob(t) => Value::String(String::from_utf8_lossy(t).into_owned()),
    }
}

/// The value written for a column: strings never NULL.
fn stored_value(v: &Value, ty: KqlType) -> SqlValue {
    match (v, ty) {
        (Value::Null, KqlType::String) => SqlValue::Text(String::new()),
        (v, _) => sql::sql_value(v),
    }
}

/// Runs `f` with a progress handler that interrupts SQLite once `deadline` passes.
fn with_deadline<T>(conn: &Connection, deadline: Option<Instant>, f: impl FnOnce() -> Result<T>) -> Result<T> {
    let Some(deadline) = deadline else { return f() };
    conn.progress_handler(DEADLINE_CHECK_STEPS, Some(move || Instant::now() >= deadline));
    let result = f();
    conn.progress_handler(DEADLINE_CHECK_STEPS, None::<fn() -> bool>);
    match result {
        Err(crate::error::Error::Sqlite(rusqlite::Error::SqliteFailure(e, _)))
            if e.code == rusqlite::ErrorCode::OperationInterrupted =>
        {
            Err(StoreError::Backend("the query passed its deadline".into()).into())
        }
        other => other,
    }
}

impl HuntingStore for SqliteStore {
    fn append_hunting_rows(&self, tenant_id: &str, name: &str, rows: &[HuntingRow]) -> Result<(), StoreError> {
        let (schema, table) = table(name)?;
        if let Some(bad) = rows.iter().find(|r| r.len() != schema.columns.len()) {
            return Err(StoreError::Backend(format!(
                "a {name} row has {} values for {} columns",
                bad.len(),
                schema.columns.len()
            )));
        }
        let names: Vec<String> = schema.columns.iter().map(|(n, _)| column(n)).collect();
        let marks: Vec<String> = (2..=schema.columns.len() + 1).map(|i| format!("?{i}")).collect();
        let insert = format!(
            "INSERT INTO {table} (tenant_key, {}) VALUES (?1, {})",
            names.join(", "),
            marks.join(", ")
        );
        self.write(|c| {
            let tx = c.transaction()?;
            tx.prepare_cached(
                "INSERT INTO hunting_tenants (tenant_id) VALUES (?1) ON CONFLICT (tenant_id) DO NOTHING",
            )?
            .execute([tenant_id])?;
            let key: i64 = tx
                .prepare_cached("SELECT tenant_key FROM hunting_tenants WHERE tenant_id = ?1")?
                .query_row([tenant_id], |r| r.get(0))?;
            {
                let mut stmt = tx.prepare_cached(&insert)?;
                let mut values: Vec<SqlValue> = Vec::with_capacity(schema.columns.len());
                for row in rows {
                    values.clear();
                    values.extend(row.iter().zip(&schema.columns).map(|(v, (_, ty))| stored_value(v, *ty)));
                    let mut params: Vec<&dyn ToSql> = Vec::with_capacity(values.len() + 1);
                    params.push(&key);
                    let binds: Vec<Bind<'_>> = values.iter().map(Bind).collect();
                    params.extend(binds.iter().map(|b| b as &dyn ToSql));
                    stmt.execute(params.as_slice())?;
                }
            }
            tx.commit()?;
            Ok(())
        })
    }

    fn scan_hunting(
        &self,
        tenant_id: &str,
        request: &ScanRequest,
        sink: &mut dyn FnMut(Row) -> bool,
    ) -> Result<(), StoreError> {
        let (schema, table) = table(&request.table)?;
        if let Some(unknown) = request.columns.iter().find(|c| schema.column(c).is_none()) {
            return Err(StoreError::UnknownColumn(unknown.clone()));
        }
        let (rest, scoped, from) = scope(request);
        let fragment = sql::scan_sql(&rest, &table, Some(&scoped), &column, OPTIONS);
        let width = request.columns.len();
        self.read(|c| {
            let key = tenant_key(c, tenant_id)?;
            with_deadline(c, request.deadline, || {
                let mut stmt = c.prepare_cached(&fragment.sql)?;
                let mut params: Vec<&dyn ToSql> = vec![&key, &from];
                let binds: Vec<Bind<'_>> = fragment.params.iter().map(Bind).collect();
                params.extend(binds.iter().map(|b| b as &dyn ToSql));
                let mut rows = stmt.query(params.as_slice())?;
                while let Some(r) = rows.next()? {
                    let row: Row = if width == 0 {
                        Vec::new()
                    } else {
                        (0..width)
                            .map(|i| r.get_ref(i).map(read_value))
                            .collect::<rusqlite::Result<_>>()?
                    };
                    if !sink(row) {
                        break;
                    }
                }
                Ok(())
            })
        })
    }

    fn aggregate_hunting(&self, tenant_id: &str, request: &AggregateRequest) -> Result<Option<Vec<Row>>, StoreError> {
        let (schema, table) = table(&request.scan.table)?;
        let is_string = |c: &str| schema.column(c).is_some_and(|(_, t)| t == KqlType::String);
        let (rest, scoped, from) = scope(&request.scan);
        let rest = AggregateRequest {
            scan: rest,
            ..request.clone()
        };
        let Some(fragment) = sql::aggregate_sql(&rest, &table, Some(&scoped), &column, &is_string, OPTIONS) else {
            return Ok(None);
        };
        let width = request.group_by.len() + request.aggregates.len();
        self.read(|c| {
            let key = tenant_key(c, tenant_id)?;
            with_deadline(c, request.scan.deadline, || {
                let mut stmt = c.prepare_cached(&fragment.sql)?;
                let mut params: Vec<&dyn ToSql> = vec![&key, &from];
                let binds: Vec<Bind<'_>> = fragment.params.iter().map(Bind).collect();
                params.extend(binds.iter().map(|b| b as &dyn ToSql));
                let mut rows = stmt.query(params.as_slice())?;
                let mut out = Vec::new();
                while let Some(r) = rows.next()? {
                    out.push(
                        (0..width)
                            .map(|i| r.get_ref(i).map(read_value))
                            .collect::<rusqlite::Result<Row>>()?,
                    );
                }
                Ok(Some(out))
            })
        })
    }

    fn count_hunting_rows(&self, tenant_id: &str, name: &str) -> Result<u64, StoreError> {
        let (_, table) = table(name)?;
        self.read(|c| {
            let key = tenant_key(c, tenant_id)?;
            let n: i64 = c
                .prepare_cached(&format!("SELECT COUNT(*) FROM {table} WHERE tenant_key = ?1"))?
                .query_row([key], |r| r.get(0))?;
            Ok(n as u64)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The DDL and the engine's catalog describe the same tables, columns and storage types.
    #[test]
    fn hunting_tables_match_the_catalog() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("p.db")).unwrap();
        for t in &Catalog::defender_hunting().tables {
            let columns: Vec<(String, String, bool)> = store
                .read(|c| {
                    let mut stmt = c.prepare(&format!(
                        "SELECT name, type, \"notnull\" FROM pragma_table_info('{}') ORDER BY cid",
                        sql_table(&t.name)
                    ))?;
                    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
                    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
                })
                .unwrap();
            assert_eq!(columns[0].0, "tenant_key", "{}", t.name);
            let expected: Vec<(String, String, bool)> = t
                .columns
                .iter()
                .map(|(n, ty)| {
                    let sql = match ty {
                        KqlType::String | KqlType::Dynamic | KqlType::Guid => "TEXT",
                        KqlType::Real => "REAL",
                        _ => "INTEGER",
                    };
                    (n.clone(), sql.to_string(), *ty == KqlType::String)
                })
                .collect();
            assert_eq!(&columns[1..], &expected[..], "{}", t.name);
        }
    }
}
