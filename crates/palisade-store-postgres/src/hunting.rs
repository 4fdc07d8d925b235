//! The advanced-hunting tables ([`HuntingStore`]), as SQLite's `hunting.rs` lays them out: one SQL
//! table per hunting table (`hunting_<name in lower case>`, DDL in `migrations/003_hunting.sql`),
//! one column per documented column in the encoding `palisade_kql::sql` assumes, absent strings
//! stored as `''`, rows keyed by the tenant's small integer key (`hunting_tenants`).
//!
//! Scans and aggregates are rendered by `palisade_kql::sql` for PostgreSQL with the tenant
//! condition ANDed in. A scan runs through a portal fetched in chunks, so rows stream into the
//! sink and a sink that stops early stops the fetching (a plain query would make the server send,
//! and the client drain, every row). A request's deadline becomes the transaction's
//! `statement_timeout`, so one long `GROUP BY` stops inside the server at it.

use crate::error::{Error, Result};
use crate::params::{refs, Param};
use crate::PostgresStore;
use palisade_kql::sql::{self, Dialect, SqlOptions, SqlValue};
use palisade_kql::{AggregateRequest, Catalog, KqlType, Row, ScanRequest, TableSchema, Value};
use palisade_store::{HuntingRow, HuntingStore, StoreError};
use postgres::error::SqlState;
use postgres::types::{FromSql, Type};
use postgres::Transaction;
use std::time::Instant;

const OPTIONS: SqlOptions = SqlOptions {
    dialect: Dialect::Postgres,
    strings_not_null: true,
    // $1 is the tenant's key, $2 the start of the look-back window.
    first_param: 3,
};

/// Rows fetched from a scan's portal per round trip: large enough that the round trips cost little
/// next to the rows, small enough that a sink stopping after a few rows wastes little.
const FETCH_ROWS: i32 = 1_000;

/// Rows per multi-row `INSERT` (one round trip each instead of one per row); PostgreSQL allows
/// 65 535 parameters per statement, which bounds it for the widest tables.
const INSERT_ROWS: usize = 500;

/// The tenant and look-back conditions, ANDed into every statement. `$2` is cast because
/// PostgreSQL cannot infer the type of a parameter that only appears in `IS NOT NULL`.
fn scope(request: &ScanRequest) -> (ScanRequest, String, i64) {
    let mut rest = request.clone();
    match rest.time_window.take() {
        Some(w) => (rest, format!("tenant_key = $1 AND {} >= $2", column(&w.column)), w.from),
        None => (rest, "tenant_key = $1 AND $2::bigint IS NOT NULL".into(), 0),
    }
}

/// The SQL table of a hunting table, or `UnknownColumn` naming it (the neutral "not part of the
/// schema" error).
fn table(name: &str) -> Result<(&'static TableSchema, String), StoreError> {
    let schema = Catalog::defender_hunting_shared()
        .table(name)
        .ok_or_else(|| StoreError::UnknownColumn(format!("hunting table {name}")))?;
    Ok((schema, format!("hunting_{}", name.to_ascii_lowercase())))
}

/// Column names come from the catalog (the engine only asks for catalog columns); quoting keeps
/// them exactly as documented.
fn column(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The engine's bind value as the OData layer's, which [`Param`] writes as whatever type the
/// server inferred for its placeholder.
fn param(v: &SqlValue) -> Param {
    Param(match v {
        SqlValue::Null => palisade_odata::SqlValue::Null,
        SqlValue::Int(i) => palisade_odata::SqlValue::Int(*i),
        SqlValue::Real(r) => palisade_odata::SqlValue::Real(*r),
        SqlValue::Text(s) => palisade_odata::SqlValue::Text(s.clone()),
    })
}

/// The value written for a column: strings never NULL.
fn stored_value(v: &Value, ty: KqlType) -> SqlValue {
    match (v, ty) {
        (Value::Null, KqlType::String) => SqlValue::Text(String::new()),
        (v, _) => sql::sql_value(v),
    }
}

/// The tenant's key, if it has hunting rows (-1 otherwise, which matches no row, so aggregates
/// still answer their empty result).
fn tenant_key(tx: &mut Transaction<'_>, tenant_id: &str) -> Result<i64> {
    let row = tx.query_opt(
        "SELECT tenant_key FROM hunting_tenants WHERE tenant_id = $1",
        &[&tenant_id],
    )?;
    Ok(row.map_or(-1, |r| r.get(0)))
}

/// A `NUMERIC` (what `SUM` of a `BIGINT` column answers) in PostgreSQL's binary form: base-10 000
/// digits with a weight and a sign; integral values read as `Long`, others as `Real`.
struct Numeric(Value);

impl<'a> FromSql<'a> for Numeric {
    fn from_sql(_: &Type, raw: &'a [u8]) -> std::result::Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        let word = |i: usize| -> std::result::Result<u16, Box<dyn std::error::Error + Sync + Send>> {
            raw.get(i * 2..i * 2 + 2)
                .map(|b| u16::from_be_bytes([b[0], b[1]]))
                .ok_or_else(|| "a truncated numeric".into())
        };
        let digits = usize::from(word(0)?);
        let weight = i32::from(word(1)? as i16);
        let sign = word(2)?;
        let scale = word(3)?;
        if sign == 0xC000 {
            return Ok(Numeric(Value::Real(f64::NAN)));
        }
        let mut int: i128 = 0;
        let mut real = 0f64;
        let mut integral = scale == 0;
        for i in 0..digits {
            let d = i128::from(word(4 + i)?);
            let power = weight - i as i32;
            real += d as f64 * 10_000f64.powi(power);
            if power < 0 {
                integral &= d == 0;
            } else {
                int = int.saturating_add(d.saturating_mul(10_000i128.saturating_pow(power as u32)));
            }
        }
        let negative = sign == 0x4000;
        Ok(Numeric(match i64::try_from(int) {
            Ok(i) if integral => Value::Long(if negative { -i } else { i }),
            _ => Value::Real(if negative { -real } else { real }),
        }))
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::NUMERIC
    }
}

/// A stored value as the engine reads it (it converts integers, 0/1 and JSON text by column type).
fn read_value(row: &postgres::Row, i: usize) -> Result<Value> {
    let ty = row.columns()[i].type_().clone();
    let value = match ty {
        Type::INT8 => row.try_get::<_, Option<i64>>(i)?.map(Value::Long),
        Type::INT4 => row.try_get::<_, Option<i32>>(i)?.map(|v| Value::Long(v.into())),
        Type::INT2 => row.try_get::<_, Option<i16>>(i)?.map(|v| Value::Long(v.into())),
        Type::FLOAT8 => row.try_get::<_, Option<f64>>(i)?.map(Value::Real),
        Type::FLOAT4 => row.try_get::<_, Option<f32>>(i)?.map(|v| Value::Real(v.into())),
        Type::BOOL => row.try_get::<_, Option<bool>>(i)?.map(|v| Value::Long(v.into())),
        Type::NUMERIC => row.try_get::<_, Option<Numeric>>(i)?.map(|n| n.0),
        _ => row.try_get::<_, Option<String>>(i)?.map(Value::String),
    };
    Ok(value.unwrap_or(Value::Null))
}

fn read_row(row: &postgres::Row, width: usize) -> Result<Row> {
    (0..width).map(|i| read_value(row, i)).collect()
}

/// Opens a read transaction whose statements stop at `deadline` (the server cancels them), so a
/// long scan or `GROUP BY` does not outlive the request.
fn begin<'a>(c: &'a mut crate::pool::Conn, deadline: Option<Instant>) -> Result<Transaction<'a>> {
    let mut tx = c.client.transaction()?;
    if let Some(deadline) = deadline {
        let left = deadline.saturating_duration_since(Instant::now()).as_millis().max(1);
        // SET takes no parameters; `left` is a number we computed.
        tx.batch_execute(&format!("SET LOCAL statement_timeout = {left}"))?;
    }
    Ok(tx)
}

/// A statement cancelled by the deadline's timeout says so, as SQLite's progress handler does.
fn deadline_error<T>(deadline: Option<Instant>, result: Result<T>) -> Result<T> {
    match result {
        Err(Error::Postgres(e)) if deadline.is_some() && e.code() == Some(&SqlState::QUERY_CANCELED) => {
            Err(StoreError::Backend("the query passed its deadline".into()).into())
        }
        other => other,
    }
}

impl HuntingStore for PostgresStore {
    fn append_hunting_rows(&self, tenant_id: &str, name: &str, rows: &[HuntingRow]) -> Result<(), StoreError> {
        let (schema, table) = table(name)?;
        if let Some(bad) = rows.iter().find(|r| r.len() != schema.columns.len()) {
            return Err(StoreError::Backend(format!(
                "a {name} row has {} values for {} columns",
                bad.len(),
                schema.columns.len()
            )));
        }
        let width = schema.columns.len();
        let names: Vec<String> = schema.columns.iter().map(|(n, _)| column(n)).collect();
        let per_statement = INSERT_ROWS.min(65_000 / width.max(1));
        let insert = |count: usize| {
            let tuples: Vec<String> = (0..count)
                .map(|r| {
                    let marks: Vec<String> = (0..width).map(|c| format!("${}", 2 + r * width + c)).collect();
                    format!("($1, {})", marks.join(", "))
                })
                .collect();
            format!(
                "INSERT INTO {table} (tenant_key, {}) VALUES {}",
                names.join(", "),
                tuples.join(", ")
            )
        };
        self.write(|c| {
            let mut tx = c.client.transaction()?;
            // ON CONFLICT .. DO NOTHING returns no row for an existing tenant, hence the SELECT.
            tx.execute(
                "INSERT INTO hunting_tenants (tenant_id) VALUES ($1) ON CONFLICT (tenant_id) DO NOTHING",
                &[&tenant_id],
            )?;
            let key: i64 = tx
                .query_one(
                    "SELECT tenant_key FROM hunting_tenants WHERE tenant_id = $1",
                    &[&tenant_id],
                )?
                .get(0);
            for chunk in rows.chunks(per_statement) {
                let statement = tx.prepare(&insert(chunk.len()))?;
                let mut values = Vec::with_capacity(1 + chunk.len() * width);
                values.push(Param(palisade_odata::SqlValue::Int(key)));
                for row in chunk {
                    values.extend(
                        row.iter()
                            .zip(&schema.columns)
                            .map(|(v, (_, ty))| param(&stored_value(v, *ty))),
                    );
                }
                tx.execute(&statement, &refs(&values))?;
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
        let deadline = request.deadline;
        self.read(|c| {
            let mut tx = begin(c, deadline)?;
            let key = tenant_key(&mut tx, tenant_id)?;
            let mut values = vec![
                Param(palisade_odata::SqlValue::Int(key)),
                Param(palisade_odata::SqlValue::Int(from)),
            ];
            values.extend(fragment.params.iter().map(param));
            let mut run = |tx: &mut Transaction<'_>| -> Result<()> {
                let portal = tx.bind(fragment.sql.as_str(), &refs(&values))?;
                loop {
                    let rows = tx.query_portal(&portal, FETCH_ROWS)?;
                    let last = rows.len() < FETCH_ROWS as usize;
                    for r in &rows {
                        let row = if width == 0 { Vec::new() } else { read_row(r, width)? };
                        if !sink(row) {
                            return Ok(());
                        }
                    }
                    if last {
                        return Ok(());
                    }
                    // The server only times a statement while it runs; time the sink takes
                    // between fetches counts too.
                    if deadline.is_some_and(|d| Instant::now() >= d) {
                        return Err(StoreError::Backend("the query passed its deadline".into()).into());
                    }
                }
            };
            let result = deadline_error(deadline, run(&mut tx));
            // Read only: nothing to commit (and a failed transaction could not).
            drop(tx);
            result
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
        let deadline = request.scan.deadline;
        self.read(|c| {
            let mut tx = begin(c, deadline)?;
            let key = tenant_key(&mut tx, tenant_id)?;
            let mut values = vec![
                Param(palisade_odata::SqlValue::Int(key)),
                Param(palisade_odata::SqlValue::Int(from)),
            ];
            values.extend(fragment.params.iter().map(param));
            let rows = deadline_error(
                deadline,
                tx.query(fragment.sql.as_str(), &refs(&values)).map_err(Error::from),
            )?;
            let out = rows.iter().map(|r| read_row(r, width)).collect::<Result<Vec<Row>>>()?;
            Ok(Some(out))
        })
    }

    fn count_hunting_rows(&self, tenant_id: &str, name: &str) -> Result<u64, StoreError> {
        let (_, table) = table(name)?;
        self.read(|c| {
            let statement = c.statement(&format!(
                "SELECT COUNT(*) FROM {table} t JOIN hunting_tenants k USING (tenant_key) WHERE k.tenant_id = $1"
            ))?;
            let n: i64 = c.client.query_one(&statement, &[&tenant_id])?.get(0);
            Ok(n as u64)
        })
    }
}
