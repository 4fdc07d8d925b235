//! Translation of a validated query into SQL with bound parameters.
//!
//! Every user value becomes a placeholder; only schema constants (column names, JSON
//! keys, enum member names) appear in the SQL text.
//!
//! Three-valued logic: SQL comparisons with NULL yield NULL, which `NOT` would keep
//! NULL while the in-memory evaluator says `not false = true`. The translator
//! therefore never emits SQL `NOT` over a possibly-NULL expression: negation is pushed
//! down to the leaves (De Morgan), and each leaf has a positive form that is TRUE
//! exactly when the evaluator says true and a negative form that is TRUE exactly when
//! it says false. Under only AND/OR, a NULL leaf then behaves like FALSE, as required.

use crate::ast::{CmpOp, Expr, LambdaKind, Literal, Operand, StrFunc};
use crate::query::Query;
use crate::schema::{EntitySchema, PropType, Property};
use crate::validate::operand_type;

/// Name of the JSON document column.
pub const DOC_COLUMN: &str = "doc";

/// Target SQL dialect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// Placeholders `?N`; needs the JSON1 functions (built into modern SQLite).
    Sqlite,
    /// Placeholders `$N`.
    Postgres,
}

/// A value to bind to a placeholder.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlValue {
    Null,
    Int(i64),
    Text(String),
    /// Not produced by the translator (decimal literals are rejected); here for the
    /// store's convenience.
    Real(f64),
    /// Not produced by the translator (Booleans are INTEGER 0/1 in both dialects).
    Bool(bool),
}

/// SQL text with its parameters, numbered consecutively from the requested index.
#[derive(Debug, Clone, PartialEq)]
pub struct SqlFragment {
    pub sql: String,
    pub params: Vec<SqlValue>,
}

impl Query {
    /// The `$filter` as a parenthesised boolean SQL expression (to be `AND`ed after
    /// the caller's `tenant_id = ?1`), or `None` without a filter. Placeholders are
    /// numbered from `first_param_index`. One parameter per literal (at most
    /// [`crate::MAX_VALUES`]), except that an enum `gt`/`ge`/`lt`/`le` binds one per
    /// qualifying member.
    pub fn where_sql(&self, _schema: &EntitySchema, dialect: Dialect, first_param_index: usize) -> Option<SqlFragment> {
        self.filter.as_ref().map(|f| filter_sql(f, dialect, first_param_index))
    }

    /// The ORDER BY terms, without the `ORDER BY` keyword. Never empty: always ends
    /// with `key_column ASC` for stable paging (unless the key is already ordered on).
    /// NULLs sort first ascending and last descending via explicit `IS NULL` terms,
    /// enums sort by declaration order, and text sorts byte-wise (`COLLATE "C"` in
    /// PostgreSQL), all as [`crate::compare`] does.
    pub fn order_by_sql(&self, schema: &EntitySchema, dialect: Dialect) -> String {
        let mut terms: Vec<String> = Vec::with_capacity(self.orderby.len() * 2 + 1);
        for k in &self.orderby {
            let Some(col) = k.property.column else {
                continue;
            };
            let expr = sort_expr(k.property, col, dialect);
            if k.descending {
                terms.push(format!("{col} IS NULL ASC, {expr} DESC"));
            } else {
                terms.push(format!("{col} IS NULL DESC, {expr} ASC"));
            }
        }
        let keyed = self
            .orderby
            .iter()
            .any(|k| k.property.column == Some(schema.key_column));
        if !keyed {
            let expr = match schema.key_property() {
                Some(p) => sort_expr(p, schema.key_column, dialect),
                None => schema.key_column.to_string(),
            };
            terms.push(format!("{expr} ASC"));
        }
        terms.join(", ")
    }
}

fn sort_expr(p: &Property, col: &str, dialect: Dialect) -> String {
    match p.ty {
        PropType::Enum(members) => {
            let mut s = format!("CASE {col}");
            for (i, m) in members.iter().enumerate() {
                s.push_str(&format!(" WHEN {} THEN {i}", quote_sql(m)));
            }
            s.push_str(" END");
            s
        }
        PropType::String | PropType::Guid if dialect == Dialect::Postgres => {
            format!("{col} COLLATE \"C\"")
        }
        _ => col.to_string(),
    }
}

/// SQL string constant for schema-provided text.
fn quote_sql(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// Translates a filter expression; see [`Query::where_sql`].
pub fn filter_sql(expr: &Expr, dialect: Dialect, first_param_index: usize) -> SqlFragment {
    let mut em = Emitter {
        dialect,
        sql: String::with_capacity(128),
        params: Vec::new(),
        first: first_param_index,
    };
    em.sql.push('(');
    em.emit(expr, false);
    em.sql.push(')');
    SqlFragment {
        sql: em.sql,
        params: em.params,
    }
}

struct Emitter {
    dialect: Dialect,
    sql: String,
    params: Vec<SqlValue>,
    first: usize,
}

fn to_sql_value(l: &Literal) -> SqlValue {
    match l {
        Literal::Null => SqlValue::Null,
        Literal::Bool(b) => SqlValue::Int(i64::from(*b)),
        Literal::Int(i) | Literal::DateTime(i) => SqlValue::Int(*i),
        Literal::Text(s) => SqlValue::Text(s.clone()),
    }
}

impl Emitter {
    fn param(&mut self, v: SqlValue) -> String {
        self.params.push(v);
        let n = self.first + self.params.len() - 1;
        match self.dialect {
            Dialect::Sqlite => format!("?{n}"),
            Dialect::Postgres => format!("${n}"),
        }
    }

    /// A text parameter used as a function argument; PostgreSQL cannot infer its type
    /// there.
    fn text_param(&mut self, s: &str) -> String {
        let p = self.param(SqlValue::Text(s.to_string()));
        match self.dialect {
            Dialect::Sqlite => p,
            Dialect::Postgres => format!("{p}::text"),
        }
    }

    fn operand(&self, o: &Operand) -> String {
        match o {
            // Validation only admits properties with a column; "NULL" keeps this total.
            Operand::Property(p) => p.column.unwrap_or("NULL").to_string(),
            Operand::LambdaVar => "value".to_string(),
            // Under the "C" collation PostgreSQL folds ASCII letters only, like SQLite.
            Operand::ToLower(i) => match self.dialect {
                Dialect::Sqlite => format!("lower({})", self.operand(i)),
                Dialect::Postgres => format!("lower({} COLLATE \"C\")", self.operand(i)),
            },
            Operand::ToUpper(i) => match self.dialect {
                Dialect::Sqlite => format!("upper({})", self.operand(i)),
                Dialect::Postgres => format!("upper({} COLLATE \"C\")", self.operand(i)),
            },
        }
    }

    fn emit(&mut self, e: &Expr, neg: bool) {
        match e {
            Expr::And(ts) | Expr::Or(ts) => {
                let and = matches!(e, Expr::And(_)) != neg;
                self.sql.push('(');
                for (i, t) in ts.iter().enumerate() {
                    if i > 0 {
                        self.sql.push_str(if and { " AND " } else { " OR " });
                    }
                    self.emit(t, neg);
                }
                self.sql.push(')');
            }
            Expr::Not(inner) => self.emit(inner, !neg),
            Expr::Compare { left, op, right } => self.compare(left, *op, right, neg),
            Expr::In { left, values } => self.in_list(left, values, neg),
            Expr::StrFn { func, arg, pattern } => self.str_fn(*func, arg, pattern, neg),
            Expr::Lambda {
                collection, kind, body, ..
            } => self.lambda(collection, *kind, body.as_deref(), neg),
        }
    }

    fn compare(&mut self, left: &Operand, op: CmpOp, right: &Literal, neg: bool) {
        let c = self.operand(left);
        if *right == Literal::Null {
            let is_null = (op == CmpOp::Eq) != neg;
            let s = if is_null { "IS NULL" } else { "IS NOT NULL" };
            self.sql.push_str(&format!("{c} {s}"));
            return;
        }
        if let (Some(p), CmpOp::Gt | CmpOp::Ge | CmpOp::Lt | CmpOp::Le) = (left.bare_property(), op) {
            if let PropType::Enum(members) = p.ty {
                // Enums order by declaration, but are stored as text: compare as the
                // set of members satisfying the comparison.
                if let Some(j) = members.iter().position(|m| Literal::Text((*m).into()) == *right) {
                    let set: Vec<Literal> = members
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| op.holds(i.cmp(&j)))
                        .map(|(_, m)| Literal::Text((*m).to_string()))
                        .collect();
                    if set.is_empty() {
                        self.sql.push_str(if neg { "1 = 1" } else { "1 = 0" });
                    } else {
                        self.in_list(left, &set, neg);
                    }
                    return;
                }
            }
        }
        let ordered = !matches!(op, CmpOp::Eq | CmpOp::Ne);
        let cc = if ordered && self.dialect == Dialect::Postgres && is_text(left) {
            format!("{c} COLLATE \"C\"")
        } else {
            c.clone()
        };
        let p = self.param(to_sql_value(right));
        let s = match (op, neg) {
            // Null-safe inequality: a missing value is "not equal".
            (CmpOp::Ne, false) | (CmpOp::Eq, true) => match self.dialect {
                Dialect::Sqlite => format!("{c} IS NOT {p}"),
                Dialect::Postgres => format!("{c} IS DISTINCT FROM {p}"),
            },
            (CmpOp::Ne, true) => format!("{c} = {p}"),
            (op, false) => format!("{cc} {} {p}", op.sql()),
            (op, true) => format!("({c} IS NULL OR {cc} {} {p})", op.negated().sql()),
        };
        self.sql.push_str(&s);
    }

    fn in_list(&mut self, left: &Operand, values: &[Literal], neg: bool) {
        let c = self.operand(left);
        let has_null = values.contains(&Literal::Null);
        let mut list = String::new();
        for v in values.iter().filter(|v| **v != Literal::Null) {
            if !list.is_empty() {
                list.push_str(", ");
            }
            let p = self.param(to_sql_value(v));
            list.push_str(&p);
        }
        let s = match (list.is_empty(), has_null, neg) {
            (true, _, false) => format!("{c} IS NULL"),
            (true, _, true) => format!("{c} IS NOT NULL"),
            (false, false, false) => format!("{c} IN ({list})"),
            (false, true, false) => format!("({c} IS NULL OR {c} IN ({list}))"),
            (false, false, true) => format!("({c} IS NULL OR {c} NOT IN ({list}))"),
            (false, true, true) => format!("({c} IS NOT NULL AND {c} NOT IN ({list}))"),
        };
        self.sql.push_str(&s);
    }

    fn str_fn(&mut self, func: StrFunc, arg: &Operand, pattern: &str, neg: bool) {
        let c = self.operand(arg);
        if pattern.is_empty() {
            // Every string contains, starts and ends with ''; only NULL fails. Kept out of
            // SQL functions whose empty-argument behaviour varies between engines.
            let s = if neg { "IS NULL" } else { "IS NOT NULL" };
            self.sql.push_str(&format!("{c} {s}"));
            return;
        }
        let p = self.text_param(pattern);
        // Case-sensitive and free of LIKE wildcards in both dialects.
        let test = match (self.dialect, func) {
            (Dialect::Sqlite, StrFunc::Contains) => format!("instr({c}, {p}) > 0"),
            (Dialect::Sqlite, StrFunc::StartsWith) => {
                format!("substr({c}, 1, length({p})) = {p}")
            }
            (Dialect::Sqlite, StrFunc::EndsWith) => format!("substr({c}, -length({p})) = {p}"),
            (Dialect::Postgres, StrFunc::Contains) => format!("strpos({c}, {p}) > 0"),
            (Dialect::Postgres, StrFunc::StartsWith) => {
                format!("left({c}, char_length({p})) = {p}")
            }
            (Dialect::Postgres, StrFunc::EndsWith) => {
                format!("right({c}, char_length({p})) = {p}")
            }
        };
        if neg {
            self.sql.push_str(&format!("({c} IS NULL OR NOT ({test}))"));
        } else {
            self.sql.push_str(&test);
        }
    }

    fn lambda(&mut self, coll: &Property, kind: LambdaKind, body: Option<&Expr>, neg: bool) {
        if kind == LambdaKind::All && body.is_none() {
            // Rejected by validation; vacuously true like the evaluator.
            self.sql.push_str(if neg { "1 = 0" } else { "1 = 1" });
            return;
        }
        // `all(p)` is "no element violates p".
        let (exists, body_neg) = match kind {
            LambdaKind::Any => (!neg, false),
            LambdaKind::All => (neg, true),
        };
        self.sql.push_str(if exists { "EXISTS (" } else { "NOT EXISTS (" });
        let key = coll.json_key.replace('\'', "''");
        // Only arrays have elements, as in memory: SQLite's json_each would yield a
        // row for a scalar (even null), PostgreSQL would raise an error.
        let mut conds = match self.dialect {
            Dialect::Sqlite => {
                self.sql
                    .push_str(&format!("SELECT 1 FROM json_each({DOC_COLUMN}, '$.{key}')"));
                vec![format!("json_type({DOC_COLUMN}, '$.{key}') = 'array'")]
            }
            Dialect::Postgres => {
                self.sql.push_str(&format!(
                    "SELECT 1 FROM jsonb_array_elements_text(CASE WHEN \
                     jsonb_typeof({DOC_COLUMN}::jsonb -> '{key}') = 'array' THEN \
                     {DOC_COLUMN}::jsonb -> '{key}' END) AS e(value)"
                ));
                Vec::new()
            }
        };
        if let Some(b) = body {
            let mut sub = Emitter {
                dialect: self.dialect,
                sql: String::new(),
                params: std::mem::take(&mut self.params),
                first: self.first,
            };
            sub.emit(b, body_neg);
            self.params = sub.params;
            conds.push(format!("({})", sub.sql));
        }
        if !conds.is_empty() {
            self.sql.push_str(" WHERE ");
            self.sql.push_str(&conds.join(" AND "));
        }
        self.sql.push(')');
    }
}

fn is_text(o: &Operand) -> bool {
    matches!(operand_type(o), PropType::String | PropType::Guid)
}
