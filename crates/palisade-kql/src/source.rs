//! Where rows come from: the [`RowSource`] trait the store implements, the
//! [`ScanRequest`] the engine sends (table, needed columns, a pushed-down filter, the
//! look-back window, an optional limit), optional aggregate push-down
//! ([`AggregateRequest`]), and [`MemorySource`] for tests.
//!
//! # Contract
//! - Rows come back with one value per requested column, in request order. A `Null`
//!   for a string column is read as `""` (Kusto strings are never null).
//! - `predicates` (a conjunction) and `time_window` MAY be applied or ignored, in any
//!   subset: the engine re-checks the whole `where` clause and the window on every
//!   row it receives, so results are the same either way.
//! - `limit` is only set when the pushed predicates are the whole filter; a source
//!   that applies `limit` MUST also apply all predicates and the window (otherwise it
//!   could return fewer matching rows than asked). A source may ignore `limit`.
//! - [`RowSource::aggregate`] is optional (default: not supported, the engine
//!   aggregates itself). A source that answers it MUST apply all predicates and the
//!   window exactly, since the engine cannot re-check grouped rows.

use crate::ast::StrOp;
use crate::functions::{compare_values, str_match};
use crate::value::Value;

/// One row, values in the order of [`ScanRequest::columns`].
pub type Row = Vec<Value>;

/// A failure reported by a [`RowSource`]; surfaces as an execution error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SourceError(pub String);

/// Comparison operators of pushed predicates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// A condition on one column against literal values, with exact Kusto semantics
/// ([`Predicate::matches`]). Values are already of the column's type (an `int`
/// column compared with `1.5` is not pushed).
#[derive(Debug, Clone, PartialEq)]
pub enum Predicate {
    /// `col op value`; strings compare case-sensitively and ordinally. A null column
    /// value never matches.
    Compare { column: String, op: CmpOp, value: Value },
    /// `col =~ value` / `col !~ value` (strings, case-insensitive).
    EqualsCi {
        column: String,
        value: String,
        negated: bool,
    },
    /// `col between (low .. high)`, inclusive; `negated` for `!between`.
    Between {
        column: String,
        low: Value,
        high: Value,
        negated: bool,
    },
    /// `col in (...)`, `!in`, `in~`, `!in~`.
    In {
        column: String,
        values: Vec<Value>,
        case_insensitive: bool,
        negated: bool,
    },
    /// String operators (`has`, `contains`, `startswith`...), see [`StrOp`].
    Text {
        column: String,
        op: StrOp,
        needle: String,
        case_sensitive: bool,
        negated: bool,
    },
}

impl Predicate {
    pub fn column(&self) -> &str {
        match self {
            Predicate::Compare { column, .. }
            | Predicate::EqualsCi { column, .. }
            | Predicate::Between { column, .. }
            | Predicate::In { column, .. }
            | Predicate::Text { column, .. } => column,
        }
    }

    pub(crate) fn is_on_string(&self) -> bool {
        match self {
            Predicate::Compare { value, .. } | Predicate::Between { low: value, .. } => {
                matches!(value, Value::String(_))
            }
            Predicate::EqualsCi { .. } | Predicate::Text { .. } => true,
            Predicate::In { values, .. } => matches!(values.first(), Some(Value::String(_))),
        }
    }

    /// Whether a row whose column holds `v` satisfies the predicate, exactly as the
    /// engine's `where` would decide (null results count as false).
    pub fn matches(&self, v: &Value) -> bool {
        use std::cmp::Ordering::*;
        let empty = Value::String(String::new());
        // A null read for a string column is the empty string.
        let v = if matches!(v, Value::Null) && self.is_on_string() {
            &empty
        } else {
            v
        };
        match self {
            Predicate::Compare { op, value, .. } => match compare_values(v, value) {
                None => false,
                Some(o) => match op {
                    CmpOp::Eq => o == Equal,
                    CmpOp::Ne => o != Equal,
                    CmpOp::Lt => o == Less,
                    CmpOp::Le => o != Greater,
                    CmpOp::Gt => o == Greater,
                    CmpOp::Ge => o != Less,
                },
            },
            Predicate::EqualsCi { value, negated, .. } => match v {
                Value::String(s) => crate::functions::eq_ci(s, value) != *negated,
                _ => false,
            },
            Predicate::Between { low, high, negated, .. } => match (compare_values(v, low), compare_values(v, high)) {
                (Some(a), Some(b)) => (a != Less && b != Greater) != *negated,
                _ => false,
            },
            Predicate::In {
                values,
                case_insensitive,
                negated,
                ..
            } => {
                if v.is_null() {
                    return false;
                }
                let found = values.iter().any(|x| match (v, x) {
                    (Value::String(a), Value::String(b)) if *case_insensitive => crate::functions::eq_ci(a, b),
                    _ => compare_values(v, x) == Some(Equal),
                });
                found != *negated
            }
            Predicate::Text {
                op,
                needle,
                case_sensitive,
                negated,
                ..
            } => match v {
                Value::String(s) => str_match(*op, s, needle, *case_sensitive) != *negated,
                _ => false,
            },
        }
    }
}

/// Rows at or after `from` (ticks) in `column` (the look-back window).
#[derive(Debug, Clone, PartialEq)]
pub struct TimeWindow {
    pub column: String,
    /// Inclusive lower bound, ticks since the epoch.
    pub from: i64,
}

/// What the engine asks of a table.
#[derive(Debug, Clone, PartialEq)]
pub struct ScanRequest {
    pub table: String,
    /// Columns needed downstream (projection push-down), in the order rows must have.
    pub columns: Vec<String>,
    /// Conjuncts the source may apply (see the module contract).
    pub predicates: Vec<Predicate>,
    pub time_window: Option<TimeWindow>,
    pub limit: Option<u64>,
    /// With `limit`: which rows are the first ones (`top N by`, `sort by | take N`).
    /// Empty otherwise.
    pub order_by: Vec<OrderKey>,
    /// When the query must end. The engine checks it between rows; a source that
    /// runs one long statement (a SQL `GROUP BY`, a sort) should stop at it too (a
    /// SQLite progress handler, a PostgreSQL `statement_timeout`) and fail with a
    /// [`SourceError`].
    pub deadline: Option<std::time::Instant>,
}

/// One sort key of a pushed `top`: a plain column.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderKey {
    pub column: String,
    pub descending: bool,
    pub nulls_first: bool,
    /// A string column (never null in Kusto: a stored NULL sorts as `""`).
    pub is_string: bool,
}

impl ScanRequest {
    /// Whether a row (values in [`ScanRequest::columns`] order) passes every predicate
    /// and the window; what a source that applies the push-down should do.
    pub fn row_matches(&self, row: &[Value]) -> bool {
        let get = |c: &str| self.columns.iter().position(|x| x == c).and_then(|i| row.get(i));
        if let Some(w) = &self.time_window {
            match get(&w.column) {
                Some(Value::DateTime(t)) if *t >= w.from => {}
                Some(_) => return false,
                None => {}
            }
        }
        self.predicates.iter().all(|p| match get(p.column()) {
            Some(v) => p.matches(v),
            None => true,
        })
    }
}

/// Aggregates a source may compute itself (`summarize` push-down).
#[derive(Debug, Clone, PartialEq)]
pub enum PushedAggregate {
    /// `count()`: long.
    Count,
    /// `dcount(col)`: exact distinct count of non-null values, long.
    DCount(String),
    /// `sum(col)` over non-null values (0 when there are none); long for int/long
    /// columns, real for real.
    Sum(String),
    /// `min(col)` / `max(col)` over non-null values; null if none.
    Min(String),
    Max(String),
}

/// A `summarize` group key a source may compute.
#[derive(Debug, Clone, PartialEq)]
pub enum GroupKey {
    /// A column (strings: a stored NULL groups with `""`).
    Column(String),
    /// `bin(column, size)` on an `int`/`long` column (`datetime: false`, `size` in
    /// the column's units) or a `datetime` column (`datetime: true`, `size` in ticks,
    /// bins aligned to 0001-01-01 as Kusto does): the largest multiple of `size` not
    /// above the value. `size` is positive.
    Bin { column: String, size: i64, datetime: bool },
}

impl GroupKey {
    pub fn column(&self) -> &str {
        match self {
            GroupKey::Column(c) | GroupKey::Bin { column: c, .. } => c,
        }
    }
}

/// `T | where <pushed> | summarize aggs by group_by` computed by the source.
/// Result rows: group-by values then aggregate values, in order. Groups may come
/// in any order.
#[derive(Debug, Clone, PartialEq)]
pub struct AggregateRequest {
    pub scan: ScanRequest,
    pub group_by: Vec<GroupKey>,
    pub aggregates: Vec<PushedAggregate>,
}

/// Iterator of rows a source returns.
pub type RowIter<'a> = Box<dyn Iterator<Item = Result<Row, SourceError>> + 'a>;

/// A table store the engine reads from.
pub trait RowSource {
    /// Streams the rows of a table (see the module contract).
    fn scan(&self, request: &ScanRequest) -> Result<RowIter<'_>, SourceError>;

    /// Computes an aggregate itself, or `Ok(None)` to let the engine do it.
    fn aggregate(&self, request: &AggregateRequest) -> Result<Option<RowIter<'_>>, SourceError> {
        let _ = request;
        Ok(None)
    }
}

/// An in-memory source: rows per table, in insertion order.
#[derive(Debug, Clone, Default)]
pub struct MemorySource {
    tables: Vec<(String, Vec<String>, Vec<Row>)>,
    /// Apply pushed predicates, window and limit (true) or ignore them (false); the
    /// results must not differ, which tests check.
    pub apply_pushdown: bool,
}

impl MemorySource {
    pub fn new() -> Self {
        MemorySource {
            tables: Vec::new(),
            apply_pushdown: true,
        }
    }

    /// Adds (or replaces) a table with its column names and rows (values in that
    /// column order; missing trailing values are null).
    pub fn add_table(&mut self, name: &str, columns: Vec<String>, rows: Vec<Row>) {
        self.tables.retain(|(n, _, _)| n != name);
        self.tables.push((name.to_string(), columns, rows));
    }
}

impl RowSource for MemorySource {
    fn scan(&self, req: &ScanRequest) -> Result<RowIter<'_>, SourceError> {
        let Some((_, cols, rows)) = self.tables.iter().find(|(n, _, _)| *n == req.table) else {
            return Ok(Box::new(std::iter::empty()));
        };
        let idx: Vec<Option<usize>> = req.columns.iter().map(|c| cols.iter().position(|x| x == c)).collect();
        let apply = self.apply_pushdown;
        // Positions in the source row of the window column and predicate columns.
        let pos = |c: &str| cols.iter().position(|x| x == c);
        let window = req.time_window.as_ref().and_then(|w| Some((pos(&w.column)?, w.from)));
        let preds: Vec<(Option<usize>, Predicate)> =
            req.predicates.iter().map(|p| (pos(p.column()), p.clone())).collect();
        let limit = if apply { req.limit.unwrap_or(u64::MAX) } else { u64::MAX };
        let mut ordered: Vec<&Row> = rows.iter().collect();
        if apply && req.limit.is_some() && !req.order_by.is_empty() {
            let keys: Vec<(Option<usize>, &OrderKey)> = req.order_by.iter().map(|k| (pos(&k.column), k)).collect();
            ordered.sort_by(|a, b| {
                for (i, k) in &keys {
                    let get = |r: &Row| {
                        let v = i.and_then(|i| r.get(i)).cloned().unwrap_or(Value::Null);
                        if k.is_string && v.is_null() {
                            Value::String(String::new())
                        } else {
                            v
                        }
                    };
                    let (x, y) = (get(a), get(b));
                    let o = match (x.is_null(), y.is_null()) {
                        (true, true) => std::cmp::Ordering::Equal,
                        (true, false) => {
                            if k.nulls_first {
                                std::cmp::Ordering::Less
                            } else {
                                std::cmp::Ordering::Greater
                            }
                        }
                        (false, true) => {
                            if k.nulls_first {
                                std::cmp::Ordering::Greater
                            } else {
                                std::cmp::Ordering::Less
                            }
                        }
                        _ => {
                            let o = crate::value::total_cmp(&x, &y);
                            if k.descending {
                                o.reverse()
                            } else {
                                o
                            }
                        }
                    };
                    if o != std::cmp::Ordering::Equal {
                        return o;
                    }
                }
                std::cmp::Ordering::Equal
            });
        }
        let it = ordered
            .into_iter()
            .filter(move |r| {
                if !apply {
                    return true;
                }
                if let Some((i, from)) = window {
                    if !matches!(r.get(i), Some(Value::DateTime(t)) if *t >= from) {
                        return false;
                    }
                }
                preds
                    .iter()
                    .all(|(i, p)| p.matches(i.and_then(|i| r.get(i)).unwrap_or(&Value::Null)))
            })
            .take(usize::try_from(limit).unwrap_or(usize::MAX))
            .map(move |r| {
                Ok(idx
                    .iter()
                    .map(|i| i.and_then(|i| r.get(i).cloned()).unwrap_or(Value::Null))
                    .collect::<Row>())
            });
        Ok(Box::new(it))
    }
}
