//! SQL rendering of push-down requests: [`scan_sql`] (a filtered, projected,
//! optionally limited `SELECT`) and [`aggregate_sql`] (`GROUP BY`), with bound
//! parameters, for SQLite and PostgreSQL, as palisade-odata's `sql.rs` does.
//!
//! # Storage encoding the SQL assumes
//! One SQL column per KQL column (the caller maps names): `string` TEXT, `int`/`long`
//! INTEGER/BIGINT, `real` REAL/DOUBLE PRECISION, `bool` INTEGER 0/1, `datetime` and
//! `timespan` INTEGER/BIGINT 100 ns ticks (since the Unix epoch for date-times),
//! `guid` lowercase TEXT, `dynamic` JSON TEXT. Absent strings may be NULL or `''`
//! (say which with [`SqlOptions::strings_not_null`]).
//!
//! # Exactness
//! Each predicate renders to SQL that is TRUE exactly when [`Predicate::matches`]
//! is, or is left out, or (for `has`-family operators, which SQL cannot express)
//! renders to a superset (`LIKE '%term%'`). The engine re-checks every row, so
//! supersets and omissions are safe for scans; [`SqlFragment::exact`] says whether
//! the WHERE clause is exactly the request's conjunction, which is required before
//! applying a LIMIT or answering an aggregate. Case-insensitive predicates are only
//! rendered for ASCII literals (SQLite's `LIKE`/`lower()` fold ASCII only); the one
//! known residual difference is Unicode characters whose lowercase is ASCII (the
//! Kelvin sign K), which the engine folds and SQL does not.

use crate::ast::StrOp;
use crate::source::{AggregateRequest, CmpOp, GroupKey, Predicate, PushedAggregate, ScanRequest};
use crate::value::Value;

/// Target SQL dialect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// Placeholders `?N`.
    Sqlite,
    /// Placeholders `$N`; text comparisons use `COLLATE "C"` (code point order).
    Postgres,
}

/// A value to bind.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlValue {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
}

/// SQL text with its parameters, numbered from the requested index.
#[derive(Debug, Clone, PartialEq)]
pub struct SqlFragment {
    pub sql: String,
    pub params: Vec<SqlValue>,
    /// Whether the WHERE clause is exactly the requested conjunction and window.
    pub exact: bool,
}

/// Rendering options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SqlOptions {
    pub dialect: Dialect,
    /// The store never writes NULL into string columns (absent strings are `''`),
    /// so no `COALESCE` is needed (keeps indexes usable).
    pub strings_not_null: bool,
    /// Index of the first placeholder.
    pub first_param: usize,
}

/// Encodes a value for binding (see the module's storage encoding).
pub fn sql_value(v: &Value) -> SqlValue {
    match v {
        Value::Null => SqlValue::Null,
        Value::Bool(b) => SqlValue::Int(i64::from(*b)),
        Value::Long(i) | Value::DateTime(i) | Value::TimeSpan(i) => SqlValue::Int(*i),
        Value::Real(r) => SqlValue::Real(*r),
        Value::String(s) | Value::Guid(s) => SqlValue::Text(s.clone()),
        Value::Dynamic(j) => SqlValue::Text(j.to_string()),
    }
}

struct W<'a> {
    o: SqlOptions,
    params: Vec<SqlValue>,
    col: &'a dyn Fn(&str) -> String,
}

impl W<'_> {
    fn p(&mut self, v: SqlValue) -> String {
        self.params.push(v);
        let n = self.o.first_param + self.params.len() - 1;
        match self.o.dialect {
            Dialect::Sqlite => format!("?{n}"),
            Dialect::Postgres => format!("${n}"),
        }
    }

    /// The column expression; strings wrapped in COALESCE when the predicate is true
    /// on `""` and NULLs may be stored.
    fn c(&self, pred: &Predicate, text: bool) -> String {
        let name = (self.col)(pred.column());
        // Only string columns read a stored NULL as "" (GUID columns stay null).
        let base =
            if text && pred.is_on_string() && !self.o.strings_not_null && pred.matches(&Value::String(String::new())) {
                format!("COALESCE({name}, '')")
            } else {
                name
            };
        if text && self.o.dialect == Dialect::Postgres {
            format!("{base} COLLATE \"C\"")
        } else {
            base
        }
    }

    fn like(&mut self, pattern: String, ci: bool) -> String {
        let p = self.p(SqlValue::Text(pattern));
        match (self.o.dialect, ci) {
            (Dialect::Sqlite, true) => format!("LIKE {p} ESCAPE '\\'"),
            (Dialect::Postgres, true) => format!("ILIKE {p} ESCAPE '\\'"),
            // Case-sensitive LIKE: GLOB would need another escaping; use LIKE with
            // the pragma-free form only in PostgreSQL.
            (Dialect::Postgres, false) => format!("LIKE {p} ESCAPE '\\'"),
            (Dialect::Sqlite, false) => unreachable!("case-sensitive LIKE is not used for SQLite"),
        }
    }

    /// SQL for one predicate and whether it is exact; None to leave it out.
    fn pred(&mut self, pr: &Predicate) -> Option<(String, bool)> {
        match pr {
            Predicate::Compare { op, value, .. } => {
                let text = matches!(value, Value::String(_) | Value::Guid(_));
                let c = self.c(pr, text);
                let p = self.p(sql_value(value));
                let o = match op {
                    CmpOp::Eq => "=",
                    CmpOp::Ne => "<>",
                    CmpOp::Lt => "<",
                    CmpOp::Le => "<=",
                    CmpOp::Gt => ">",
                    CmpOp::Ge => ">=",
                };
                // Real NaN compares differently in SQL; reals are pushed only finite.
                if let Value::Real(r) = value {
                    if !r.is_finite() {
                        return None;
                    }
                }
                Some((format!("{c} {o} {p}"), true))
            }
            Predicate::EqualsCi { value, negated, .. } => {
                if !value.is_ascii() {
                    return None;
                }
                let c = self.c(pr, true);
                let p = self.p(SqlValue::Text(value.to_ascii_lowercase()));
                let o = if *negated { "<>" } else { "=" };
                Some((format!("lower({c}) {o} {p}"), true))
            }
            Predicate::Between { low, high, negated, .. } => {
                let c = self.c(pr, false);
                let a = self.p(sql_value(low));
                let b = self.p(sql_value(high));
                let n = if *negated { "NOT " } else { "" };
                Some((format!("{c} {n}BETWEEN {a} AND {b}"), true))
            }
            Predicate::In {
                values,
                case_insensitive,
                negated,
                ..
            } => {
                let text = matches!(values.first(), Some(Value::String(_) | Value::Guid(_)));
                if *case_insensitive && values.iter().any(|v| !matches!(v, Value::String(s) if s.is_ascii())) {
                    return None;
                }
                let c = self.c(pr, text);
                let c = if *case_insensitive { format!("lower({c})") } else { c };
                let ps: Vec<String> = values
                    .iter()
                    .map(|v| match v {
                        Value::String(s) if *case_insensitive => self.p(SqlValue::Text(s.to_ascii_lowercase())),
                        other => self.p(sql_value(other)),
                    })
                    .collect();
                let n = if *negated { "NOT " } else { "" };
                Some((format!("{c} {n}IN ({})", ps.join(", ")), true))
            }
            Predicate::Text {
                op,
                needle,
                case_sensitive,
                negated,
                ..
            } => {
                let ci = !*case_sensitive;
                if ci && !needle.is_ascii() {
                    return None;
                }
                let term = matches!(op, StrOp::Has | StrOp::HasPrefix | StrOp::HasSuffix);
                if term && *negated {
                    // NOT LIKE '%x%' would drop rows that contain x but not as a term.
                    return None;
                }
                if needle.is_empty() {
                    return Some((if *negated { "1 = 0".into() } else { "1 = 1".into() }, true));
                }
                let c = self.c(pr, true);
                let esc = needle.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
                let (pre, post) = match op {
                    StrOp::StartsWith => ("", "%"),
                    StrOp::EndsWith => ("%", ""),
                    _ => ("%", "%"),
                };
                let body = if ci || self.o.dialect == Dialect::Postgres {
                    let l = self.like(format!("{pre}{esc}{post}"), ci);
                    format!("{c} {l}")
                } else {
                    // SQLite case-sensitive: instr / substr on the raw text.
                    match op {
                        StrOp::StartsWith => {
                            let p = self.p(SqlValue::Text(needle.clone()));
                            format!("substr({c}, 1, length({p})) = {p}")
                        }
                        StrOp::EndsWith => {
                            let p = self.p(SqlValue::Text(needle.clone()));
                            format!("(length({c}) >= length({p}) AND substr({c}, -length({p})) = {p})")
                        }
                        _ => {
                            let p = self.p(SqlValue::Text(needle.clone()));
                            format!("instr({c}, {p}) > 0")
                        }
                    }
                };
                let sql = if *negated { format!("NOT ({body})") } else { body };
                Some((sql, !term))
            }
        }
    }

    fn where_clause(&mut self, req: &ScanRequest) -> (String, bool) {
        let mut parts = Vec::new();
        let mut exact = true;
        if let Some(w) = &req.time_window {
            let c = (self.col)(&w.column);
            let p = self.p(SqlValue::Int(w.from));
            parts.push(format!("{c} >= {p}"));
        }
        for pr in &req.predicates {
            match self.pred(pr) {
                Some((s, ex)) => {
                    parts.push(format!("({s})"));
                    exact &= ex;
                }
                None => exact = false,
            }
        }
        if parts.is_empty() {
            ("1 = 1".into(), exact)
        } else {
            (parts.join(" AND "), exact)
        }
    }
}

/// The WHERE condition of a request (without the keyword): window and predicates.
pub fn where_sql(req: &ScanRequest, col: &dyn Fn(&str) -> String, opts: SqlOptions) -> SqlFragment {
    let mut w = W {
        o: opts,
        params: Vec::new(),
        col,
    };
    let (sql, exact) = w.where_clause(req);
    SqlFragment {
        sql,
        params: w.params,
        exact,
    }
}

/// `SELECT <columns> FROM <table> WHERE ... [LIMIT n]`. `extra_where` (e.g. the
/// tenant condition, already with its own placeholders before `first_param`) is
/// ANDed in. The LIMIT is only emitted when the WHERE clause is exact.
pub fn scan_sql(
    req: &ScanRequest,
    table: &str,
    extra_where: Option<&str>,
    col: &dyn Fn(&str) -> String,
    opts: SqlOptions,
) -> SqlFragment {
    let mut f = where_sql(req, col, opts);
    let cols: Vec<String> = req.columns.iter().map(|c| col(c)).collect();
    let cols = if cols.is_empty() {
        "1".to_string()
    } else {
        cols.join(", ")
    };
    let mut sql = format!("SELECT {cols} FROM {table} WHERE ");
    if let Some(x) = extra_where {
        sql.push_str(&format!("({x}) AND "));
    }
    sql.push_str(&f.sql);
    if let (Some(n), true) = (req.limit, f.exact) {
        if !req.order_by.is_empty() {
            let terms: Vec<String> = req
                .order_by
                .iter()
                .map(|k| {
                    let c = col(&k.column);
                    let (c, nullable) = if k.is_string && !opts.strings_not_null {
                        (format!("COALESCE({c}, '')"), false)
                    } else {
                        (c, !k.is_string)
                    };
                    let c = if k.is_string && opts.dialect == Dialect::Postgres {
                        format!("{c} COLLATE \"C\"")
                    } else {
                        c
                    };
                    let dir = if k.descending { "DESC" } else { "ASC" };
                    if nullable {
                        // `x IS NULL` is 1 for nulls: DESC puts them first.
                        let nulls = if k.nulls_first { "DESC" } else { "ASC" };
                        format!("{} IS NULL {nulls}, {c} {dir}", col(&k.column))
                    } else {
                        format!("{c} {dir}")
                    }
                })
                .collect();
            sql.push_str(&format!(" ORDER BY {}", terms.join(", ")));
        }
        sql.push_str(&format!(" LIMIT {n}"));
    }
    f.sql = sql;
    f
}

/// `SELECT <group cols>, <aggregates> FROM <table> WHERE ... GROUP BY ...`, or None
/// when the WHERE clause cannot be exact (the engine then aggregates itself).
/// `string_columns` says which group/aggregate columns are strings (grouped as
/// `COALESCE(c, '')` unless [`SqlOptions::strings_not_null`]).
pub fn aggregate_sql(
    req: &AggregateRequest,
    table: &str,
    extra_where: Option<&str>,
    col: &dyn Fn(&str) -> String,
    is_string: &dyn Fn(&str) -> bool,
    opts: SqlOptions,
) -> Option<SqlFragment> {
    let f = where_sql(&req.scan, col, opts);
    if !f.exact {
        return None;
    }
    let expr = |c: &str| {
        let n = col(c);
        if is_string(c) && !opts.strings_not_null {
            format!("COALESCE({n}, '')")
        } else {
            n
        }
    };
    // .NET ticks at the Unix epoch: date-time bins are aligned to 0001-01-01.
    const EPOCH_NET_TICKS: i64 = 621_355_968_000_000_000;
    let key = |k: &GroupKey| match k {
        GroupKey::Column(c) => expr(c),
        // The largest multiple not above: c - ((c % s) + s) % s, which is right for
        // negative values too (SQL `%` keeps the dividend's sign).
        GroupKey::Bin { column, size, datetime } => {
            let c = col(column);
            if *datetime {
                format!("({c} - ((({c} + {EPOCH_NET_TICKS}) % {size}) + {size}) % {size})")
            } else {
                format!("({c} - (({c} % {size}) + {size}) % {size})")
            }
        }
    };
    let mut select: Vec<String> = req.group_by.iter().map(key).collect();
    for a in &req.aggregates {
        select.push(match a {
            PushedAggregate::Count => "COUNT(*)".into(),
            PushedAggregate::DCount(c) => format!("COUNT(DISTINCT {})", expr(c)),
            PushedAggregate::Sum(c) => format!("COALESCE(SUM({}), 0)", col(c)),
            PushedAggregate::Min(c) => format!("MIN({})", col(c)),
            PushedAggregate::Max(c) => format!("MAX({})", col(c)),
        });
    }
    let mut sql = format!("SELECT {} FROM {table} WHERE ", select.join(", "));
    if let Some(x) = extra_where {
        sql.push_str(&format!("({x}) AND "));
    }
    sql.push_str(&f.sql);
    if !req.group_by.is_empty() {
        let g: Vec<String> = req.group_by.iter().map(key).collect();
        sql.push_str(&format!(" GROUP BY {}", g.join(", ")));
    }
    Some(SqlFragment {
        sql,
        params: f.params,
        exact: true,
    })
}
