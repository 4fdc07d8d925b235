//! Execution: a pull-based row pipeline over a [`RowSource`].
//!
//! `where`, `project`, `extend`, `take`, `union`, `mv-expand`, `parse` stream;
//! `summarize`, `sort`/`top`, `join` (right side) hold rows in memory within
//! [`ExecOptions::memory_rows`]. The deadline is checked every 1,024 rows.
//! Filters directly on a table are offered to the source ([`ScanRequest`]) and
//! re-checked here; `take` right after them becomes the scan limit when the whole
//! filter could be pushed; `summarize` of `count()`/`dcount`/`sum`/`min`/`max` by
//! plain columns or `bin(column, size)` on such a scan is offered to
//! [`RowSource::aggregate`].

use std::cell::Cell;
use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use crate::aggregates::{AggFunc, AggState};
use crate::ast::{BinOp, StrOp};
use crate::error::{ErrorKind, KqlError};
use crate::functions::{as_f64, call, compare_values, convert, eq_ci, str_match, EvalCtx};
use crate::plan::*;
use crate::source::*;
use crate::types::KqlType;
use crate::value::*;

/// Limits and context of one execution.
#[derive(Debug, Clone)]
pub struct ExecOptions {
    /// The query's `now()` (and the end of the look-back window).
    pub now: chrono::DateTime<chrono::Utc>,
    /// Rows older than `now - lookback` (by each table's time column) are invisible;
    /// advanced hunting uses 30 days. `None`: no window.
    pub lookback: Option<Duration>,
    /// Result rows kept (the API documents 100,000); extra rows are cut and the
    /// result is marked truncated.
    pub max_rows: usize,
    /// Deadline for the whole execution ("Query exceeded the timeout period.").
    pub timeout: Option<Duration>,
    /// Most rows or groups held in memory by one `summarize`, `sort`, `top` or the
    /// right side of a `join`.
    pub memory_rows: usize,
}

impl ExecOptions {
    /// Advanced hunting defaults: 30-day window, 100,000 rows, 3 minutes,
    /// 2,000,000 rows in memory per operator.
    pub fn hunting(now: chrono::DateTime<chrono::Utc>) -> Self {
        ExecOptions {
            now,
            lookback: Some(Duration::from_secs(30 * 24 * 3600)),
            max_rows: 100_000,
            timeout: Some(Duration::from_secs(180)),
            memory_rows: 2_000_000,
        }
    }
}

/// Counters of one execution.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExecStats {
    /// Rows received from the source.
    pub rows_read: u64,
    /// Scans issued.
    pub scans: u64,
    /// Aggregations answered by the source.
    pub pushed_aggregates: u64,
    pub elapsed: Duration,
}

/// Evaluates a column-free expression at bind time (counts, patterns).
pub(crate) fn eval_const(t: &TExpr) -> Option<Value> {
    if !t.is_const() {
        return None;
    }
    Some(eval(t, &[], &EvalCtx { now: 0 }))
}

type Rows<'a> = Box<dyn Iterator<Item = Result<Vec<Value>, KqlError>> + 'a>;

pub(crate) struct Exec<'a> {
    pub source: &'a dyn RowSource,
    pub ctx: EvalCtx,
    pub window_from: Option<i64>,
    pub deadline: Option<Instant>,
    pub memory_rows: usize,
    pub rows_read: Cell<u64>,
    pub scans: Cell<u64>,
    pub pushed_aggs: Cell<u64>,
    ticker: Cell<u32>,
}

impl<'a> Exec<'a> {
    pub(crate) fn new(source: &'a dyn RowSource, opts: &ExecOptions) -> Self {
        let now = datetime_to_ticks(opts.now);
        let window_from = opts.lookback.map(|d| {
            let t = i64::try_from(d.as_nanos() / 100).unwrap_or(i64::MAX);
            now.saturating_sub(t)
        });
        Exec {
            source,
            ctx: EvalCtx { now },
            window_from,
            deadline: opts.timeout.map(|t| Instant::now() + t),
            memory_rows: opts.memory_rows,
            rows_read: Cell::new(0),
            scans: Cell::new(0),
            pushed_aggs: Cell::new(0),
            ticker: Cell::new(0),
        }
    }

    fn check_time(&self) -> Result<(), KqlError> {
        let t = self.ticker.get().wrapping_add(1);
        self.ticker.set(t);
        if t % 1024 == 0 {
            if let Some(d) = self.deadline {
                if Instant::now() > d {
                    return Err(KqlError::timeout());
                }
            }
        }
        Ok(())
    }

    /// A source failure; reported as the timeout when the deadline has passed (the
    /// source stopped because of it).
    fn source_error(&self, e: SourceError) -> KqlError {
        if self.deadline.is_some_and(|d| Instant::now() > d) {
            KqlError::timeout()
        } else {
            source_err(e)
        }
    }

    fn budget(&self, n: usize) -> Result<(), KqlError> {
        if n > self.memory_rows {
            return Err(KqlError::exec(
                ErrorKind::ResourceLimit,
                "Query stopped due to excessive resource consumption.",
            ));
        }
        Ok(())
    }
}

fn source_err(e: SourceError) -> KqlError {
    KqlError::exec(
        ErrorKind::Source,
        format!("An unexpected error occurred during query execution: {e}"),
    )
}

// ---------------- expression evaluation ----------------

pub(crate) fn eval(e: &TExpr, row: &[Value], ctx: &EvalCtx) -> Value {
    match e {
        TExpr::Lit(v) => v.clone(),
        TExpr::Col(i) => row.get(*i).cloned().unwrap_or(Value::Null),
        TExpr::Bin(op, a, b) => {
            match op {
                BinOp::And => {
                    let x = eval(a, row, ctx);
                    if matches!(x, Value::Bool(false)) {
                        return Value::Bool(false);
                    }
                    let y = eval(b, row, ctx);
                    return match (truth(&x), truth(&y)) {
                        (_, Some(false)) => Value::Bool(false),
                        (Some(true), Some(true)) => Value::Bool(true),
                        _ => Value::Null,
                    };
                }
                BinOp::Or => {
                    let x = eval(a, row, ctx);
                    if matches!(x, Value::Bool(true)) {
                        return Value::Bool(true);
                    }
                    let y = eval(b, row, ctx);
                    return match (truth(&x), truth(&y)) {
                        (_, Some(true)) => Value::Bool(true),
                        (Some(false), Some(false)) => Value::Bool(false),
                        _ => Value::Null,
                    };
                }
                _ => {}
            }
            let x = eval(a, row, ctx);
            let y = eval(b, row, ctx);
            binary(*op, &x, &y)
        }
        TExpr::Regex(a, re) => {
            let x = eval(a, row, ctx);
            if x.is_null() {
                return Value::Null;
            }
            Value::Bool(re.is_match(&x.to_kql_string()))
        }
        TExpr::Neg(a) => match eval(a, row, ctx) {
            Value::Long(i) => Value::Long(i.wrapping_neg()),
            Value::Real(r) => Value::Real(-r),
            Value::TimeSpan(t) => Value::TimeSpan(t.wrapping_neg()),
            v @ Value::Dynamic(_) => as_f64(&v).map(|f| Value::Real(-f)).unwrap_or(Value::Null),
            _ => Value::Null,
        },
        TExpr::In { e, list, neg, ci } => {
            let x = eval(e, row, ctx);
            if x.is_null() {
                return Value::Null;
            }
            let found = list_values(list, row, ctx).iter().any(|y| {
                if *ci {
                    eq_ci(&x.to_kql_string(), &y.to_kql_string()) && !y.is_null()
                } else {
                    compare_values(&x, y) == Some(Ordering::Equal)
                }
            });
            Value::Bool(found != *neg)
        }
        TExpr::HasAny { e, list, all } => {
            let x = eval(e, row, ctx).to_kql_string();
            let items = list_values(list, row, ctx);
            let hit = |y: &Value| str_match(StrOp::Has, &x, &y.to_kql_string(), false);
            Value::Bool(if *all {
                items.iter().all(hit)
            } else {
                items.iter().any(hit)
            })
        }
        TExpr::Between { e, lo, hi, neg } => {
            let x = eval(e, row, ctx);
            let l = eval(lo, row, ctx);
            let h = eval(hi, row, ctx);
            match (compare_values(&x, &l), compare_values(&x, &h)) {
                (Some(a), Some(b)) => Value::Bool((a != Ordering::Less && b != Ordering::Greater) != *neg),
                _ => Value::Null,
            }
        }
        TExpr::Member(a, name) => match eval(a, row, ctx) {
            Value::Dynamic(serde_json::Value::Object(m)) => {
                m.get(name).cloned().map(Value::Dynamic).unwrap_or(Value::Null)
            }
            _ => Value::Null,
        },
        TExpr::Index(a, i) => {
            let base = eval(a, row, ctx);
            let idx = eval(i, row, ctx);
            match (base, idx) {
                (Value::Dynamic(serde_json::Value::Array(arr)), Value::Long(k)) => {
                    let k = if k < 0 { arr.len() as i64 + k } else { k };
                    usize::try_from(k)
                        .ok()
                        .and_then(|k| arr.get(k))
                        .cloned()
                        .map(Value::Dynamic)
                        .unwrap_or(Value::Null)
                }
                (Value::Dynamic(serde_json::Value::Object(m)), Value::String(k)) => {
                    m.get(&k).cloned().map(Value::Dynamic).unwrap_or(Value::Null)
                }
                (Value::Dynamic(serde_json::Value::Object(m)), Value::Dynamic(serde_json::Value::String(k))) => {
                    m.get(&k).cloned().map(Value::Dynamic).unwrap_or(Value::Null)
                }
                _ => Value::Null,
            }
        }
        TExpr::Call(f, args) => {
            let vals: Vec<Value> = args.iter().map(|a| eval(a, row, ctx)).collect();
            call(*f, &vals, ctx)
        }
        TExpr::RegexFn { func, re, args } => {
            let src = args
                .first()
                .map(|a| eval(a, row, ctx).to_kql_string())
                .unwrap_or_default();
            if *func == crate::functions::Func::ReplaceRegex {
                let rw = args
                    .get(1)
                    .map(|a| eval(a, row, ctx).to_kql_string())
                    .unwrap_or_default();
                Value::String(re.replace_all(&src, kusto_rewrite(&rw).as_str()).into_owned())
            } else {
                let groups = re.captures_len() - 1;
                let items: Vec<serde_json::Value> = re
                    .captures_iter(&src)
                    .map(|c| {
                        let g = |i: usize| serde_json::Value::String(c.get(i).map_or("", |m| m.as_str()).to_string());
                        match groups {
                            0 => g(0),
                            1 => g(1),
                            n => serde_json::Value::Array((1..=n).map(g).collect()),
                        }
                    })
                    .collect();
                if items.is_empty() {
                    Value::Null
                } else {
                    Value::Dynamic(serde_json::Value::Array(items))
                }
            }
        }
        TExpr::Extract { re, group, src, ty } => {
            let s = eval(src, row, ctx).to_kql_string();
            match re.captures(&s).and_then(|c| c.get(*group)) {
                Some(m) => convert(&Value::String(m.as_str().to_string()), *ty),
                None => crate::aggregates::null_of(*ty),
            }
        }
        TExpr::SearchAny { term, cs } => Value::Bool(
            row.iter()
                .any(|v| !v.is_null() && str_match(StrOp::Has, &v.to_kql_string(), term, *cs)),
        ),
        // Replaced before execution by `resolve_subqueries`.
        TExpr::InSub { .. } | TExpr::ToScalar(_) => Value::Null,
        TExpr::Convert(a, ty) => {
            let v = eval(a, row, ctx);
            if v.natural_type() == *ty || (ty.is_integer() && matches!(v, Value::Long(_))) {
                v
            } else {
                convert(&v, *ty)
            }
        }
    }
}

/// Kusto's `\\1` group references in a rewrite become the regex crate's `${1}`;
/// a literal `$` is escaped.
fn kusto_rewrite(rw: &str) -> String {
    let mut out = String::with_capacity(rw.len());
    let mut it = rw.chars().peekable();
    while let Some(c) = it.next() {
        match c {
            '\\' if it.peek().is_some_and(|d| d.is_ascii_digit()) => {
                let mut n = String::new();
                while let Some(d) = it.peek().filter(|d| d.is_ascii_digit()) {
                    n.push(*d);
                    it.next();
                }
                out.push_str(&format!("${{{n}}}"));
            }
            '$' => out.push_str("$$"),
            other => out.push(other),
        }
    }
    out
}

/// The items an `mv-expand` makes of a value: array elements, one-entry bags of a
/// property bag, the value itself otherwise; an empty array gives no item.
fn expand_items(v: Value) -> Vec<Value> {
    match v {
        Value::Dynamic(serde_json::Value::Array(a)) => a.into_iter().map(Value::Dynamic).collect(),
        Value::Dynamic(serde_json::Value::Object(m)) => m
            .into_iter()
            .map(|(k, v)| {
                let mut o = serde_json::Map::new();
                o.insert(k, v);
                Value::Dynamic(serde_json::Value::Object(o))
            })
            .collect(),
        other => vec![other],
    }
}

/// The values of an `in`/`has_any` list; a dynamic array (a `let` holding
/// `dynamic([...])`) contributes its elements, as in Kusto.
fn list_values(list: &[TExpr], row: &[Value], ctx: &EvalCtx) -> Vec<Value> {
    let mut out = Vec::with_capacity(list.len());
    for it in list {
        match eval(it, row, ctx) {
            Value::Dynamic(serde_json::Value::Array(a)) => out.extend(a.into_iter().map(Value::Dynamic)),
            v => out.push(v),
        }
    }
    out
}

fn truth(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::Dynamic(serde_json::Value::Bool(b)) => Some(*b),
        _ => None,
    }
}

/// Arithmetic, comparison and string operators on two values.
pub(crate) fn binary(op: BinOp, x: &Value, y: &Value) -> Value {
    use Value as V;
    match op {
        BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
            let Some(o) = compare_values(x, y) else {
                return V::Null;
            };
            V::Bool(match op {
                BinOp::Eq => o == Ordering::Equal,
                BinOp::Ne => o != Ordering::Equal,
                BinOp::Lt => o == Ordering::Less,
                BinOp::Le => o != Ordering::Greater,
                BinOp::Gt => o == Ordering::Greater,
                _ => o != Ordering::Less,
            })
        }
        BinOp::EqCi | BinOp::NeCi => {
            if x.is_null() || y.is_null() {
                return V::Null;
            }
            V::Bool(eq_ci(&x.to_kql_string(), &y.to_kql_string()) == (op == BinOp::EqCi))
        }
        BinOp::Str { op, neg, cs } => {
            if matches!(x, V::Null) {
                return V::Null;
            }
            V::Bool(str_match(op, &x.to_kql_string(), &y.to_kql_string(), cs) != neg)
        }
        BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Mod => arith(op, x, y),
        _ => V::Null,
    }
}

fn arith(op: BinOp, x: &Value, y: &Value) -> Value {
    use Value as V;
    match (x, y) {
        (V::Long(a), V::Long(b)) => {
            let (a, b) = (*a, *b);
            match op {
                BinOp::Add => V::Long(a.wrapping_add(b)),
                BinOp::Sub => V::Long(a.wrapping_sub(b)),
                BinOp::Mul => V::Long(a.wrapping_mul(b)),
                BinOp::Div => a.checked_div(b).map(V::Long).unwrap_or(V::Null),
                _ => a.checked_rem(b).map(V::Long).unwrap_or(V::Null),
            }
        }
        (V::DateTime(a), V::DateTime(b)) if op == BinOp::Sub => V::TimeSpan(a.wrapping_sub(*b)),
        (V::DateTime(a), V::TimeSpan(b)) => match op {
            BinOp::Add => V::DateTime(a.wrapping_add(*b)),
            BinOp::Sub => V::DateTime(a.wrapping_sub(*b)),
            _ => V::Null,
        },
        (V::TimeSpan(a), V::DateTime(b)) if op == BinOp::Add => V::DateTime(a.wrapping_add(*b)),
        (V::TimeSpan(a), V::TimeSpan(b)) => match op {
            BinOp::Add => V::TimeSpan(a.wrapping_add(*b)),
            BinOp::Sub => V::TimeSpan(a.wrapping_sub(*b)),
            BinOp::Div if *b != 0 => V::Real(*a as f64 / *b as f64),
            BinOp::Mod => a.checked_rem(*b).map(V::TimeSpan).unwrap_or(V::Null),
            _ => V::Null,
        },
        (V::TimeSpan(a), n @ (V::Long(_) | V::Real(_))) => {
            let f = as_f64(n).unwrap_or(0.0);
            match op {
                BinOp::Mul => V::TimeSpan((*a as f64 * f) as i64),
                BinOp::Div if f != 0.0 => V::TimeSpan((*a as f64 / f) as i64),
                _ => V::Null,
            }
        }
        (n @ (V::Long(_) | V::Real(_)), V::TimeSpan(a)) if op == BinOp::Mul => {
            V::TimeSpan((*a as f64 * as_f64(n).unwrap_or(0.0)) as i64)
        }
        (V::Dynamic(_), _) | (_, V::Dynamic(_)) => {
            let a = if let V::Dynamic(_) = x {
                convert(x, KqlType::Real)
            } else {
                x.clone()
            };
            let b = if let V::Dynamic(_) = y {
                convert(y, KqlType::Real)
            } else {
                y.clone()
            };
            if matches!(a, V::Dynamic(_)) || matches!(b, V::Dynamic(_)) || a.is_null() || b.is_null() {
                return V::Null;
            }
            arith(op, &a, &b)
        }
        _ => match (as_f64(x), as_f64(y)) {
            (Some(a), Some(b)) => V::Real(match op {
                BinOp::Add => a + b,
                BinOp::Sub => a - b,
                BinOp::Mul => a * b,
                BinOp::Div => a / b,
                _ => a % b,
            }),
            _ => V::Null,
        },
    }
}

// ---------------- sub-queries ----------------

/// Runs the sub-queries of a plan (`in (T | ...)`, `toscalar(T)`) and replaces them
/// by literals, innermost first, so the main plan sees constants (which can then
/// be pushed down to the source).
pub(crate) fn resolve_subqueries(plan: &mut Plan, ex: &Exec) -> Result<(), KqlError> {
    let mut err = None;
    plan.exprs_mut(&mut |e| {
        if err.is_none() {
            if let Err(x) = resolve_expr(e, ex) {
                err = Some(x);
            }
        }
    });
    err.map_or(Ok(()), Err)
}

fn resolve_expr(e: &mut TExpr, ex: &Exec) -> Result<(), KqlError> {
    let mut err = None;
    e.children_mut(&mut |c| {
        if err.is_none() {
            if let Err(x) = resolve_expr(c, ex) {
                err = Some(x);
            }
        }
    });
    if let Some(x) = err {
        return Err(x);
    }
    let rows_of = |p: &mut Plan| -> Result<Vec<Vec<Value>>, KqlError> {
        resolve_subqueries(p, ex)?;
        let mut out = Vec::new();
        for r in open(p, ex)? {
            out.push(r?);
            ex.budget(out.len())?;
        }
        Ok(out)
    };
    match e {
        TExpr::InSub {
            e: inner,
            plan,
            neg,
            ci,
            has,
        } => {
            let rows = rows_of(plan)?;
            let mut seen = HashSet::new();
            let list: Vec<TExpr> = rows
                .into_iter()
                .filter_map(|mut r| if r.is_empty() { None } else { Some(r.swap_remove(0)) })
                .filter(|v| !v.is_null() && seen.insert(v.clone()))
                .map(TExpr::Lit)
                .collect();
            let inner = std::mem::replace(inner, Box::new(TExpr::Lit(Value::Null)));
            *e = match has {
                Some(all) => TExpr::HasAny {
                    e: inner,
                    list,
                    all: *all,
                },
                None => TExpr::In {
                    e: inner,
                    list,
                    neg: *neg,
                    ci: *ci,
                },
            };
        }
        TExpr::ToScalar(plan) => {
            let rows = rows_of(plan)?;
            let v = rows
                .into_iter()
                .next()
                .and_then(|r| r.into_iter().next())
                .unwrap_or(Value::Null);
            *e = TExpr::Lit(v);
        }
        _ => {}
    }
    Ok(())
}

// ---------------- column pruning ----------------

/// Marks, in every scan, the table columns the plan reads given which output
/// columns are needed.
pub(crate) fn prune(plan: &mut Plan, need: &[bool]) {
    let width = plan.schema.len();
    let mark = |cols: &mut Vec<bool>, e: &TExpr| {
        let mut v = Vec::new();
        e.columns(&mut v);
        for c in v {
            if c == usize::MAX {
                cols.iter_mut().for_each(|x| *x = true);
            } else if c < cols.len() {
                cols[c] = true;
            }
        }
    };
    match &mut plan.node {
        Node::Scan {
            needed, time_column, ..
        } => {
            // The look-back window reads the time column.
            if let Some(t) = time_column {
                needed[*t] = true;
            }
            for (i, n) in need.iter().enumerate() {
                if *n && i < needed.len() {
                    needed[i] = true;
                }
            }
        }
        Node::Values(_) => {}
        Node::Filter(input, pred) => {
            let mut n = need.to_vec();
            n.resize(input.schema.len(), false);
            mark(&mut n, pred);
            prune(input, &n);
        }
        Node::Project(input, exprs) => {
            let mut n = vec![false; input.schema.len()];
            for (i, e) in exprs.iter().enumerate() {
                if need.get(i).copied().unwrap_or(true) {
                    mark(&mut n, e);
                }
            }
            prune(input, &n);
        }
        Node::Extend(input, items) => {
            let w = input.schema.len();
            let mut n: Vec<bool> = need.iter().take(w).copied().collect();
            n.resize(width.max(w), false);
            for (e, _) in items.iter() {
                mark(&mut n, e);
            }
            n.truncate(w);
            prune(input, &n);
        }
        Node::Take(input, _) => prune(input, need),
        Node::Sort(input, keys, _) => {
            let mut n = need.to_vec();
            for k in keys.iter() {
                mark(&mut n, &k.expr);
            }
            prune(input, &n);
        }
        Node::Summarize { input, keys, aggs } => {
            let mut n = vec![false; input.schema.len()];
            for k in keys.iter() {
                mark(&mut n, k);
            }
            for a in aggs.iter() {
                for x in &a.args {
                    mark(&mut n, x);
                }
            }
            prune(input, &n);
        }
        Node::Join {
            left,
            right,
            kind,
            left_keys,
            right_keys,
        } => {
            let lw = left.schema.len();
            let (mut ln, mut rn) = match kind {
                JoinKind::LeftSemi | JoinKind::LeftAnti => (need.to_vec(), vec![false; right.schema.len()]),
                JoinKind::RightSemi | JoinKind::RightAnti => (vec![false; lw], need.to_vec()),
                _ => (
                    need[..lw.min(need.len())].to_vec(),
                    need.get(lw..).unwrap_or(&[]).to_vec(),
                ),
            };
            ln.resize(lw, false);
            rn.resize(right.schema.len(), false);
            for k in left_keys.iter() {
                ln[*k] = true;
            }
            for k in right_keys.iter() {
                rn[*k] = true;
            }
            prune(left, &ln);
            prune(right, &rn);
        }
        Node::Union { inputs, source_names } => {
            let off = usize::from(source_names.is_some());
            for (p, map) in inputs.iter_mut() {
                let mut n = vec![false; p.schema.len()];
                for (j, m) in map.iter().enumerate() {
                    if let Some(i) = m {
                        if need.get(j + off).copied().unwrap_or(true) {
                            n[*i] = true;
                        }
                    }
                }
                prune(p, &n);
            }
        }
        Node::MvExpand { input, items, .. } => {
            let w = input.schema.len();
            let mut n: Vec<bool> = need.iter().take(w).copied().collect();
            n.resize(w, false);
            for it in items.iter() {
                mark(&mut n, &it.src);
            }
            prune(input, &n);
        }
        Node::Parse { input, src, .. } => {
            let w = input.schema.len();
            let mut n: Vec<bool> = need.iter().take(w).copied().collect();
            n.resize(w, false);
            mark(&mut n, src);
            prune(input, &n);
        }
        Node::Window(input, cols) => {
            let w = input.schema.len();
            let mut n: Vec<bool> = need.iter().take(w).copied().collect();
            n.resize(w, false);
            for c in cols.iter() {
                if let WindowCol::Shift { expr, .. } = c {
                    mark(&mut n, expr);
                }
            }
            prune(input, &n);
        }
    }
}

/// Index map from a node's old output columns to its narrowed ones.
type ColMap = Vec<Option<usize>>;

fn remap(e: &mut TExpr, m: &ColMap) {
    match e {
        TExpr::Lit(_) | TExpr::SearchAny { .. } | TExpr::ToScalar(_) => {}
        TExpr::InSub { e, .. } => remap(e, m),
        TExpr::Col(i) => *i = m.get(*i).copied().flatten().unwrap_or(usize::MAX),
        TExpr::Bin(_, a, b) | TExpr::Index(a, b) => {
            remap(a, m);
            remap(b, m);
        }
        TExpr::Regex(a, _) | TExpr::Neg(a) | TExpr::Member(a, _) | TExpr::Convert(a, _) => remap(a, m),
        TExpr::In { e, list, .. } | TExpr::HasAny { e, list, .. } => {
            remap(e, m);
            list.iter_mut().for_each(|x| remap(x, m));
        }
        TExpr::Between { e, lo, hi, .. } => {
            remap(e, m);
            remap(lo, m);
            remap(hi, m);
        }
        TExpr::Call(_, args) | TExpr::RegexFn { args, .. } => args.iter_mut().for_each(|x| remap(x, m)),
        TExpr::Extract { src, .. } => remap(src, m),
    }
}

fn identity(n: usize) -> ColMap {
    (0..n).map(Some).collect()
}

/// Appends computed columns after a narrowed input: existing targets are remapped
/// (a pruned target becomes an appended slot); returns the output map.
fn narrow_targets(targets: &mut [Option<usize>], m: &ColMap, old_width: usize, out_width: usize) -> ColMap {
    let mut new_width = m.iter().flatten().count();
    let mut out: ColMap = m.clone();
    out.resize(out_width, None);
    let mut appended = old_width;
    for t in targets.iter_mut() {
        match *t {
            Some(i) => match m.get(i).copied().flatten() {
                Some(j) => *t = Some(j),
                None => {
                    *t = None;
                    out[i] = Some(new_width);
                    new_width += 1;
                }
            },
            None => {
                if appended < out_width {
                    out[appended] = Some(new_width);
                }
                appended += 1;
                new_width += 1;
            }
        }
    }
    out
}

/// Drops unread columns from scans (after [`prune`]) so rows carry only what is
/// read, and rewrites column indices above them. Returns the plan's output map.
pub(crate) fn narrow(plan: &mut Plan) -> ColMap {
    let width = plan.schema.len();
    let map = match &mut plan.node {
        Node::Scan {
            needed, time_column, ..
        } => {
            let mut m = Vec::with_capacity(width);
            let mut k = 0;
            for n in needed.iter() {
                if *n {
                    m.push(Some(k));
                    k += 1;
                } else {
                    m.push(None);
                }
            }
            *time_column = time_column.and_then(|t| m[t]);
            let kept: Vec<(String, KqlType)> = plan
                .schema
                .iter()
                .zip(needed.iter())
                .filter(|(_, n)| **n)
                .map(|(c, _)| c.clone())
                .collect();
            *needed = vec![true; kept.len()];
            plan.schema = kept;
            return m;
        }
        Node::Values(_) => identity(width),
        Node::Filter(input, pred) => {
            let m = narrow(input);
            remap(pred, &m);
            m
        }
        Node::Project(input, exprs) => {
            let m = narrow(input);
            exprs.iter_mut().for_each(|e| remap(e, &m));
            identity(width)
        }
        Node::Extend(input, items) => {
            let old_width = input.schema.len();
            let m = narrow(input);
            items.iter_mut().for_each(|(e, _)| remap(e, &m));
            let mut targets: Vec<Option<usize>> = items.iter().map(|(_, t)| *t).collect();
            let out = narrow_targets(&mut targets, &m, old_width, width);
            for ((_, t), nt) in items.iter_mut().zip(targets) {
                *t = nt;
            }
            out
        }
        Node::Take(input, _) => narrow(input),
        Node::Sort(input, keys, _) => {
            let m = narrow(input);
            keys.iter_mut().for_each(|k| remap(&mut k.expr, &m));
            m
        }
        Node::Summarize { input, keys, aggs } => {
            let m = narrow(input);
            keys.iter_mut().for_each(|k| remap(k, &m));
            aggs.iter_mut()
                .for_each(|a| a.args.iter_mut().for_each(|x| remap(x, &m)));
            identity(width)
        }
        Node::Join {
            left,
            right,
            kind,
            left_keys,
            right_keys,
        } => {
            let ml = narrow(left);
            let mr = narrow(right);
            for k in left_keys.iter_mut() {
                *k = ml[*k].unwrap_or(usize::MAX);
            }
            for k in right_keys.iter_mut() {
                *k = mr[*k].unwrap_or(usize::MAX);
            }
            match kind {
                JoinKind::LeftSemi | JoinKind::LeftAnti => ml,
                JoinKind::RightSemi | JoinKind::RightAnti => mr,
                _ => {
                    let lw = ml.iter().flatten().count();
                    let mut m = ml;
                    m.extend(mr.iter().map(|x| x.map(|j| j + lw)));
                    m
                }
            }
        }
        Node::Union { inputs, .. } => {
            for (p, cols) in inputs.iter_mut() {
                let m = narrow(p);
                for c in cols.iter_mut() {
                    *c = c.and_then(|i| m.get(i).copied().flatten());
                }
            }
            identity(width)
        }
        Node::MvExpand {
            input, items, index, ..
        } => {
            let old_width = input.schema.len();
            let m = narrow(input);
            let mut targets: Vec<Option<usize>> = Vec::new();
            for it in items.iter_mut() {
                remap(&mut it.src, &m);
                targets.push(it.target);
            }
            if *index {
                targets.push(None);
            }
            let out = narrow_targets(&mut targets, &m, old_width, width);
            for (it, t) in items.iter_mut().zip(targets) {
                it.target = t;
            }
            out
        }
        Node::Parse {
            input, src, targets, ..
        } => {
            let old_width = input.schema.len();
            let m = narrow(input);
            remap(src, &m);
            let mut ts: Vec<Option<usize>> = targets.iter().map(|(t, _)| *t).collect();
            let out = narrow_targets(&mut ts, &m, old_width, width);
            for ((t, _), nt) in targets.iter_mut().zip(ts) {
                *t = nt;
            }
            out
        }
        Node::Window(input, cols) => {
            let m = narrow(input);
            for c in cols.iter_mut() {
                if let WindowCol::Shift { expr, .. } = c {
                    remap(expr, &m);
                }
            }
            let new_base = m.iter().flatten().count();
            let mut out = m;
            for k in 0..cols.len() {
                out.push(Some(new_base + k));
            }
            out
        }
    };
    map
}

// ---------------- push-down ----------------

fn conjuncts<'p>(e: &'p TExpr, out: &mut Vec<&'p TExpr>) {
    if let TExpr::Bin(BinOp::And, a, b) = e {
        conjuncts(a, out);
        conjuncts(b, out);
    } else {
        out.push(e);
    }
}

/// A literal of the column's type family, or None.
fn pushable_value(v: Value, ty: KqlType) -> Option<Value> {
    match (ty, &v) {
        (KqlType::String, Value::String(_))
        | (KqlType::Int | KqlType::Long, Value::Long(_))
        | (KqlType::Real, Value::Real(_))
        | (KqlType::DateTime, Value::DateTime(_))
        | (KqlType::TimeSpan, Value::TimeSpan(_))
        | (KqlType::Bool, Value::Bool(_))
        | (KqlType::Guid, Value::Guid(_)) => Some(v),
        (KqlType::Real, Value::Long(i)) => Some(Value::Real(*i as f64)),
        _ => None,
    }
}

/// Translates one conjunct into a [`Predicate`] with identical semantics, if it has
/// a supported shape.
fn to_predicate(e: &TExpr, schema: &Schema, ctx: &EvalCtx) -> Option<Predicate> {
    let col = |t: &TExpr| match t {
        TExpr::Col(i) => schema.get(*i).map(|(n, ty)| (n.clone(), *ty)),
        _ => None,
    };
    let cst = |t: &TExpr| if t.is_const() { Some(eval(t, &[], ctx)) } else { None };
    match e {
        TExpr::Bin(op, a, b) => {
            let (c, v, flipped) = match (col(a), col(b)) {
                (Some(c), None) => (c, cst(b)?, false),
                (None, Some(c)) => (c, cst(a)?, true),
                _ => return None,
            };
            let (name, ty) = c;
            if ty == KqlType::Dynamic {
                return None;
            }
            let cmp = |o: CmpOp| {
                let o = if flipped {
                    match o {
                        CmpOp::Lt => CmpOp::Gt,
                        CmpOp::Le => CmpOp::Ge,
                        CmpOp::Gt => CmpOp::Lt,
                        CmpOp::Ge => CmpOp::Le,
                        x => x,
                    }
                } else {
                    o
                };
                Some(Predicate::Compare {
                    column: name.clone(),
                    op: o,
                    value: pushable_value(v.clone(), ty)?,
                })
            };
            match op {
                BinOp::Eq => cmp(CmpOp::Eq),
                BinOp::Ne => cmp(CmpOp::Ne),
                BinOp::Lt => cmp(CmpOp::Lt),
                BinOp::Le => cmp(CmpOp::Le),
                BinOp::Gt => cmp(CmpOp::Gt),
                BinOp::Ge => cmp(CmpOp::Ge),
                BinOp::EqCi | BinOp::NeCi if ty == KqlType::String => match v {
                    Value::String(s) => Some(Predicate::EqualsCi {
                        column: name,
                        value: s,
                        negated: *op == BinOp::NeCi,
                    }),
                    _ => None,
                },
                BinOp::Str { op: sop, neg, cs } if ty == KqlType::String && !flipped => match v {
                    Value::String(s) => Some(Predicate::Text {
                        column: name,
                        op: *sop,
                        needle: s,
                        case_sensitive: *cs,
                        negated: *neg,
                    }),
                    _ => None,
                },
                _ => None,
            }
        }
        TExpr::Between { e, lo, hi, neg } => {
            let (name, ty) = col(e)?;
            if matches!(ty, KqlType::Dynamic | KqlType::String | KqlType::Bool) {
                return None;
            }
            Some(Predicate::Between {
                column: name,
                low: pushable_value(cst(lo)?, ty)?,
                high: pushable_value(cst(hi)?, ty)?,
                negated: *neg,
            })
        }
        TExpr::In { e, list, neg, ci } => {
            let (name, ty) = col(e)?;
            if ty == KqlType::Dynamic || (*ci && ty != KqlType::String) || list.is_empty() {
                return None;
            }
            let mut values = Vec::new();
            for x in list {
                match cst(x)? {
                    // A constant dynamic array: its elements, if each is exactly of
                    // the column's kind (otherwise the engine alone decides).
                    Value::Dynamic(serde_json::Value::Array(a)) => {
                        for j in &a {
                            let exact = match (ty, j) {
                                (KqlType::String, serde_json::Value::String(_)) => true,
                                (KqlType::Int | KqlType::Long, serde_json::Value::Number(n)) => n.is_i64(),
                                (KqlType::Real, serde_json::Value::Number(_)) => true,
                                (KqlType::Bool, serde_json::Value::Bool(_)) => true,
                                _ => false,
                            };
                            if !exact {
                                return None;
                            }
                            values.push(Value::from_json(j, ty));
                        }
                    }
                    v => values.push(pushable_value(v, ty)?),
                }
            }
            if values.is_empty() {
                return None;
            }
            Some(Predicate::In {
                column: name,
                values,
                case_insensitive: *ci,
                negated: *neg,
            })
        }
        _ => None,
    }
}

/// Filters stacked directly on a scan: the scan and all their predicates.
fn filters_on_scan(plan: &Plan) -> Option<(&Plan, Vec<&TExpr>)> {
    match &plan.node {
        Node::Scan { .. } => Some((plan, Vec::new())),
        Node::Filter(input, pred) => {
            let (scan, mut preds) = filters_on_scan(input)?;
            preds.push(pred);
            Some((scan, preds))
        }
        _ => None,
    }
}

/// Builds the scan request; returns it and whether every conjunct was pushed.
fn scan_request(ex: &Exec, scan: &Plan, preds: &[&TExpr]) -> (ScanRequest, bool) {
    let Node::Scan {
        table,
        time_column,
        needed,
    } = &scan.node
    else {
        unreachable!("scan_request is only called on scans")
    };
    let mut columns = Vec::new();
    for (i, (n, _)) in scan.schema.iter().enumerate() {
        if needed[i] || Some(i) == *time_column && ex.window_from.is_some() {
            columns.push(n.clone());
        }
    }
    let mut all = true;
    let mut predicates = Vec::new();
    for p in preds {
        let mut cs = Vec::new();
        conjuncts(p, &mut cs);
        for c in cs {
            match to_predicate(c, &scan.schema, &ex.ctx) {
                Some(pr) => predicates.push(pr),
                None => all = false,
            }
        }
    }
    let time_window = match (time_column, ex.window_from) {
        (Some(tc), Some(from)) => Some(TimeWindow {
            column: scan.schema[*tc].0.clone(),
            from,
        }),
        _ => None,
    };
    (
        ScanRequest {
            table: table.clone(),
            columns,
            predicates,
            time_window,
            limit: None,
            order_by: Vec::new(),
            deadline: ex.deadline,
        },
        all,
    )
}

/// Normalises a source value to the column type (strings never null; JSON text in
/// dynamic columns parsed; SQLite's 0/1 Booleans; text date-times).
fn coerce(v: Value, ty: KqlType) -> Value {
    match (ty, v) {
        (KqlType::String, Value::Null) => Value::String(String::new()),
        (KqlType::Dynamic, Value::String(s)) => serde_json::from_str(&s)
            .map(Value::Dynamic)
            .unwrap_or(Value::Dynamic(serde_json::Value::String(s))),
        (KqlType::Dynamic, Value::Dynamic(serde_json::Value::Null)) => Value::Null,
        (KqlType::Bool, Value::Long(i)) => Value::Bool(i != 0),
        (KqlType::DateTime, Value::String(s)) => parse_datetime(&s).map(Value::DateTime).unwrap_or(Value::Null),
        (KqlType::Guid, Value::String(s)) => parse_guid(&s).map(Value::Guid).unwrap_or(Value::Null),
        (KqlType::Real, Value::Long(i)) => Value::Real(i as f64),
        // SQL stores date-times and time spans as integer ticks.
        (KqlType::DateTime, Value::Long(i)) => Value::DateTime(i),
        (KqlType::TimeSpan, Value::Long(i)) => Value::TimeSpan(i),
        (KqlType::Int | KqlType::Long, Value::Real(r)) if r.fract() == 0.0 && r.abs() < 9e15 => Value::Long(r as i64),
        (_, v) => v,
    }
}

fn open_scan<'a>(ex: &'a Exec<'a>, scan: &'a Plan, req: ScanRequest) -> Result<Rows<'a>, KqlError> {
    let Node::Scan { time_column, .. } = &scan.node else {
        unreachable!("open_scan is only called on scans")
    };
    ex.scans.set(ex.scans.get() + 1);
    let positions: Vec<usize> = req
        .columns
        .iter()
        .filter_map(|c| scan.schema.iter().position(|(n, _)| n == c))
        .collect();
    let width = scan.schema.len();
    let types: Vec<KqlType> = scan.schema.iter().map(|(_, t)| *t).collect();
    let it = ex.source.scan(&req).map_err(|e| ex.source_error(e))?;
    let from = ex.window_from.filter(|_| time_column.is_some());
    let tc = *time_column;
    Ok(Box::new(it.filter_map(move |r| {
        let r = match r {
            Ok(r) => r,
            Err(e) => return Some(Err(ex.source_error(e))),
        };
        if let Err(e) = ex.check_time() {
            return Some(Err(e));
        }
        ex.rows_read.set(ex.rows_read.get() + 1);
        let mut row: Vec<Value> = types
            .iter()
            .map(|t| {
                if *t == KqlType::String {
                    Value::String(String::new())
                } else {
                    Value::Null
                }
            })
            .collect();
        row.truncate(width);
        for (v, p) in r.into_iter().zip(&positions) {
            row[*p] = coerce(v, types[*p]);
        }
        if let (Some(from), Some(tc)) = (from, tc) {
            match &row[tc] {
                Value::DateTime(t) if *t >= from => {}
                _ => return None,
            }
        }
        Some(Ok(row))
    })))
}

/// `top N` / `sort | take N` directly on filters over a scan, with plain-column
/// keys and the whole filter pushed: the source may sort and cut itself.
fn open_top<'a>(ex: &'a Exec<'a>, input: &'a Plan, keys: &'a [SortKey], n: u64) -> Result<Vec<Vec<Value>>, KqlError> {
    if let Some((scan, preds)) = filters_on_scan(input) {
        let (mut req, all) = scan_request(ex, scan, &preds);
        let order: Option<Vec<OrderKey>> = keys
            .iter()
            .map(|k| match &k.expr {
                TExpr::Col(i) => {
                    let (name, ty) = scan.schema.get(*i)?;
                    (*ty != KqlType::Dynamic).then(|| OrderKey {
                        column: name.clone(),
                        descending: k.desc,
                        nulls_first: k.nulls_first,
                        is_string: *ty == KqlType::String,
                    })
                }
                _ => None,
            })
            .collect();
        if let (true, Some(order)) = (all, order) {
            req.limit = Some(n);
            req.order_by = order;
        }
        let mut it = open_scan(ex, scan, req)?;
        for p in preds {
            it = filter_rows(ex, it, p);
        }
        return sort_rows(ex, it, keys, Some(n));
    }
    sort_rows(ex, open(input, ex)?, keys, Some(n))
}

fn filter_rows<'a>(ex: &'a Exec<'a>, input: Rows<'a>, pred: &'a TExpr) -> Rows<'a> {
    Box::new(input.filter(move |r| match r {
        Ok(row) => matches!(
            eval(pred, row, &ex.ctx),
            Value::Bool(true) | Value::Dynamic(serde_json::Value::Bool(true))
        ),
        Err(_) => true,
    }))
}

/// Opens a plan as a row iterator.
pub(crate) fn open<'a>(plan: &'a Plan, ex: &'a Exec<'a>) -> Result<Rows<'a>, KqlError> {
    match &plan.node {
        Node::Scan { .. } => {
            let (req, _) = scan_request(ex, plan, &[]);
            open_scan(ex, plan, req)
        }
        Node::Values(rows) => Ok(Box::new(rows.iter().cloned().map(Ok))),
        Node::Filter(..) => {
            if let Some((scan, preds)) = filters_on_scan(plan) {
                let (req, _) = scan_request(ex, scan, &preds);
                let mut it = open_scan(ex, scan, req)?;
                for p in preds {
                    it = filter_rows(ex, it, p);
                }
                return Ok(it);
            }
            let Node::Filter(input, pred) = &plan.node else {
                unreachable!()
            };
            Ok(filter_rows(ex, open(input, ex)?, pred))
        }
        Node::Project(input, exprs) => {
            let it = open(input, ex)?;
            Ok(Box::new(it.map(move |r| {
                r.map(|row| exprs.iter().map(|e| eval(e, &row, &ex.ctx)).collect())
            })))
        }
        Node::Extend(input, items) => {
            let it = open(input, ex)?;
            Ok(Box::new(it.map(move |r| {
                r.map(|mut row| {
                    // All items read the input row; then they are written.
                    let vals: Vec<Value> = items.iter().map(|(e, _)| eval(e, &row, &ex.ctx)).collect();
                    for ((_, target), v) in items.iter().zip(vals) {
                        match target {
                            Some(i) => set_at(&mut row, *i, v),
                            None => row.push(v),
                        }
                    }
                    row
                })
            })))
        }
        Node::Take(input, n) => {
            // `sort by ... | take N` is `top N`: keep N rows instead of sorting all.
            if let Node::Sort(inner, keys, limit) = &input.node {
                let l = limit.map_or(*n, |l| l.min(*n));
                let rows = open_top(ex, inner, keys, l)?;
                return Ok(Box::new(rows.into_iter().map(Ok)));
            }
            let n = usize::try_from(*n).unwrap_or(usize::MAX);
            if let Some((scan, preds)) = filters_on_scan(input) {
                let (mut req, all) = scan_request(ex, scan, &preds);
                if all {
                    req.limit = Some(n as u64);
                }
                let mut it = open_scan(ex, scan, req)?;
                for p in preds {
                    it = filter_rows(ex, it, p);
                }
                return Ok(Box::new(it.take(n)));
            }
            Ok(Box::new(open(input, ex)?.take(n)))
        }
        Node::Sort(input, keys, limit) => {
            let rows = match limit {
                Some(n) => open_top(ex, input, keys, *n)?,
                None => sort_rows(ex, open(input, ex)?, keys, None)?,
            };
            Ok(Box::new(rows.into_iter().map(Ok)))
        }
        Node::Summarize { input, keys, aggs } => {
            if let Some(rows) = try_pushed_aggregate(ex, input, keys, aggs, &plan.schema)? {
                return Ok(rows);
            }
            let it = open(input, ex)?;
            let rows = summarize(ex, it, keys, aggs)?;
            Ok(Box::new(rows.into_iter().map(Ok)))
        }
        Node::Join {
            left,
            right,
            kind,
            left_keys,
            right_keys,
        } => join(ex, left, right, *kind, left_keys, right_keys),
        Node::Union { inputs, source_names } => {
            let mut its: Vec<Rows<'a>> = Vec::new();
            for (k, (p, map)) in inputs.iter().enumerate() {
                let name = source_names.as_ref().map(|n| n[k].clone());
                let it = open(p, ex)?;
                its.push(Box::new(it.map(move |r| {
                    r.map(|row| {
                        let mut out = Vec::with_capacity(map.len() + 1);
                        if let Some(n) = &name {
                            out.push(Value::String(n.clone()));
                        }
                        for m in map {
                            out.push(m.and_then(|i| row.get(i).cloned()).unwrap_or(Value::Null));
                        }
                        out
                    })
                })));
            }
            // Strings absent from an input are "" (never null).
            let types: Vec<KqlType> = plan.schema.iter().map(|(_, t)| *t).collect();
            Ok(Box::new(its.into_iter().flatten().map(move |r| {
                r.map(|mut row| {
                    for (v, t) in row.iter_mut().zip(&types) {
                        if *t == KqlType::String && matches!(v, Value::Null) {
                            *v = Value::String(String::new());
                        }
                    }
                    row
                })
            })))
        }
        Node::MvExpand {
            input,
            items,
            index,
            limit,
        } => {
            let it = open(input, ex)?;
            let limit = limit
                .map(|l| usize::try_from(l).unwrap_or(usize::MAX))
                .unwrap_or(usize::MAX);
            Ok(Box::new(it.flat_map(move |r| -> Vec<Result<Vec<Value>, KqlError>> {
                let row = match r {
                    Ok(r) => r,
                    Err(e) => return vec![Err(e)],
                };
                let lists: Vec<Vec<Value>> = items
                    .iter()
                    .map(|it| expand_items(eval(&it.src, &row, &ex.ctx)))
                    .collect();
                let n = lists.iter().map(Vec::len).max().unwrap_or(0).min(limit);
                let mut out = Vec::with_capacity(n);
                for k in 0..n {
                    let mut r = row.clone();
                    for (it, list) in items.iter().zip(&lists) {
                        let v = list.get(k).cloned().unwrap_or(Value::Null);
                        let v = match it.ty {
                            Some(t) => convert(&v, t),
                            None => v,
                        };
                        match it.target {
                            Some(i) => set_at(&mut r, i, v),
                            None => r.push(v),
                        }
                    }
                    if *index {
                        r.push(Value::Long(k as i64));
                    }
                    out.push(Ok(r));
                }
                out
            })))
        }
        Node::Window(input, cols) => {
            let mut rows = Vec::new();
            for r in open(input, ex)? {
                rows.push(r?);
                ex.check_time()?;
                ex.budget(rows.len())?;
            }
            if cols.is_empty() {
                return Ok(Box::new(rows.into_iter().map(Ok)));
            }
            let n = rows.len();
            let mut extra: Vec<Vec<Value>> = Vec::with_capacity(cols.len());
            for c in cols {
                let vals: Vec<Value> = match c {
                    WindowCol::RowNumber { start } => {
                        (0..n).map(|i| Value::Long(start.saturating_add(i as i64))).collect()
                    }
                    WindowCol::Shift { expr, offset, default } => (0..n)
                        .map(|i| {
                            let j = i as i64 - offset;
                            match usize::try_from(j).ok().filter(|j| *j < n) {
                                Some(j) => eval(expr, &rows[j], &ex.ctx),
                                None => default.clone(),
                            }
                        })
                        .collect(),
                };
                extra.push(vals);
            }
            for (i, row) in rows.iter_mut().enumerate() {
                for col in extra.iter_mut() {
                    row.push(std::mem::replace(&mut col[i], Value::Null));
                }
            }
            Ok(Box::new(rows.into_iter().map(Ok)))
        }
        Node::Parse {
            input,
            src,
            re,
            targets,
        } => {
            let it = open(input, ex)?;
            Ok(Box::new(it.map(move |r| {
                r.map(|mut row| {
                    let text = eval(src, &row, &ex.ctx).to_kql_string();
                    let caps = re.captures(&text);
                    for (k, (target, ty)) in targets.iter().enumerate() {
                        let v = match caps.as_ref().and_then(|c| c.get(k + 1)) {
                            Some(m) => convert(&Value::String(m.as_str().to_string()), *ty),
                            None => crate::aggregates::null_of(*ty),
                        };
                        match target {
                            Some(i) => set_at(&mut row, *i, v),
                            None => row.push(v),
                        }
                    }
                    row
                })
            })))
        }
    }
}

/// Writes a computed column; indices come from the plan, so they are in range.
fn set_at(row: &mut [Value], i: usize, v: Value) {
    if let Some(slot) = row.get_mut(i) {
        *slot = v;
    }
}

fn cmp_keys(a: &[Value], b: &[Value], keys: &[SortKey]) -> Ordering {
    for (i, k) in keys.iter().enumerate() {
        let (x, y) = (&a[i], &b[i]);
        let o = match (x.is_null(), y.is_null()) {
            (true, true) => Ordering::Equal,
            (true, false) => {
                if k.nulls_first {
                    Ordering::Less
                } else {
                    Ordering::Greater
                }
            }
            (false, true) => {
                if k.nulls_first {
                    Ordering::Greater
                } else {
                    Ordering::Less
                }
            }
            _ => {
                let o = total_cmp(x, y);
                if k.desc {
                    o.reverse()
                } else {
                    o
                }
            }
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

fn sort_rows<'a>(
    ex: &'a Exec<'a>,
    it: Rows<'a>,
    keys: &[SortKey],
    limit: Option<u64>,
) -> Result<Vec<Vec<Value>>, KqlError> {
    let limit = limit.map(|l| usize::try_from(l).unwrap_or(usize::MAX));
    let mut buf: Vec<(Vec<Value>, Vec<Value>)> = Vec::new();
    match limit {
        // `top N`: keep the best N sorted; a row that does not beat the worst kept
        // one is dropped at once. Ties keep arrival order (stable).
        Some(l) if l <= 10_000 => {
            if l == 0 {
                for r in it {
                    r?;
                    ex.check_time()?;
                }
                return Ok(Vec::new());
            }
            for r in it {
                let row = r?;
                ex.check_time()?;
                let k: Vec<Value> = keys.iter().map(|k| eval(&k.expr, &row, &ex.ctx)).collect();
                if buf.len() == l {
                    let worst = &buf[l - 1].0;
                    if cmp_keys(&k, worst, keys) != Ordering::Less {
                        continue;
                    }
                    buf.pop();
                }
                let pos = buf.partition_point(|(bk, _)| cmp_keys(bk, &k, keys) != Ordering::Greater);
                buf.insert(pos, (k, row));
            }
        }
        _ => {
            for r in it {
                let row = r?;
                ex.check_time()?;
                let k: Vec<Value> = keys.iter().map(|k| eval(&k.expr, &row, &ex.ctx)).collect();
                buf.push((k, row));
                ex.budget(buf.len())?;
            }
            buf.sort_by(|a, b| cmp_keys(&a.0, &b.0, keys));
            if let Some(l) = limit {
                buf.truncate(l);
            }
        }
    }
    Ok(buf.into_iter().map(|(_, r)| r).collect())
}

fn summarize<'a>(
    ex: &'a Exec<'a>,
    it: Rows<'a>,
    keys: &[TExpr],
    aggs: &[AggCall],
) -> Result<Vec<Vec<Value>>, KqlError> {
    let mut index: HashMap<Vec<Value>, usize> = HashMap::new();
    let mut groups: Vec<(Vec<Value>, Vec<AggState>)> = Vec::new();
    let fresh = || {
        aggs.iter()
            .map(|a| AggState::new(a.func, a.ty, a.max_size))
            .collect::<Vec<_>>()
    };
    if keys.is_empty() {
        groups.push((Vec::new(), fresh()));
    }
    let mut args = Vec::new();
    // One plain-column key (the common `by DeviceName`): look the group up by
    // reference and clone the key only for a new group.
    let single_col = match keys {
        [TExpr::Col(i)] => Some(*i),
        _ => None,
    };
    let hasher = std::collections::hash_map::RandomState::new();
    let mut by_hash: HashMap<u64, Vec<usize>> = HashMap::new();
    let null = Value::Null;
    for r in it {
        let row = r?;
        ex.check_time()?;
        let g = if keys.is_empty() {
            0
        } else if let Some(c) = single_col {
            let v = row.get(c).unwrap_or(&null);
            let h = std::hash::BuildHasher::hash_one(&hasher, v);
            let bucket = by_hash.entry(h).or_default();
            match bucket.iter().find(|g| groups[**g].0[0] == *v) {
                Some(g) => *g,
                None => {
                    groups.push((vec![v.clone()], fresh()));
                    bucket.push(groups.len() - 1);
                    ex.budget(groups.len())?;
                    groups.len() - 1
                }
            }
        } else {
            let k: Vec<Value> = keys.iter().map(|k| eval(k, &row, &ex.ctx)).collect();
            match index.get(&k) {
                Some(g) => *g,
                None => {
                    groups.push((k.clone(), fresh()));
                    index.insert(k, groups.len() - 1);
                    ex.budget(groups.len())?;
                    groups.len() - 1
                }
            }
        };
        let states = &mut groups[g].1;
        for (a, st) in aggs.iter().zip(states.iter_mut()) {
            args.clear();
            args.extend(a.args.iter().map(|x| eval(x, &row, &ex.ctx)));
            st.update(a.func, &mut args);
        }
    }
    Ok(groups
        .into_iter()
        .map(|(mut k, states)| {
            for (a, st) in aggs.iter().zip(states) {
                k.extend(st.finish(a.func, a.n_out, a.pct, a.ty));
            }
            k
        })
        .collect())
}

fn try_pushed_aggregate<'a>(
    ex: &'a Exec<'a>,
    input: &'a Plan,
    keys: &[TExpr],
    aggs: &[AggCall],
    out_schema: &Schema,
) -> Result<Option<Rows<'a>>, KqlError> {
    let Some((scan, preds)) = filters_on_scan(input) else {
        return Ok(None);
    };
    let col = |t: &TExpr| match t {
        TExpr::Col(i) => scan.schema.get(*i).cloned(),
        _ => None,
    };
    let mut group_by = Vec::new();
    for k in keys {
        let key = match k {
            TExpr::Col(_) => match col(k) {
                Some((n, t)) if !matches!(t, KqlType::Dynamic | KqlType::Real) => GroupKey::Column(n),
                _ => return Ok(None),
            },
            // startofday(column) is bin(column, 1d).
            TExpr::Call(crate::functions::Func::StartOfDay, args) if args.len() == 1 => match col(&args[0]) {
                Some((n, KqlType::DateTime)) => GroupKey::Bin {
                    column: n,
                    size: TICKS_PER_DAY,
                    datetime: true,
                },
                _ => return Ok(None),
            },
            // bin(column, constant size) on a long/int or datetime column.
            TExpr::Call(crate::functions::Func::Bin, args) if args.len() == 2 => {
                let Some((n, t)) = col(&args[0]) else { return Ok(None) };
                let size = if args[1].is_const() {
                    Some(eval(&args[1], &[], &ex.ctx))
                } else {
                    None
                };
                match (t, size) {
                    (KqlType::Int | KqlType::Long, Some(Value::Long(sz))) if sz > 0 => GroupKey::Bin {
                        column: n,
                        size: sz,
                        datetime: false,
                    },
                    (KqlType::DateTime, Some(Value::TimeSpan(sz))) if sz > 0 => GroupKey::Bin {
                        column: n,
                        size: sz,
                        datetime: true,
                    },
                    _ => return Ok(None),
                }
            }
            _ => return Ok(None),
        };
        group_by.push(key);
    }
    let mut pushed = Vec::new();
    for a in aggs {
        let p = match a.func {
            AggFunc::Count if a.args.is_empty() => PushedAggregate::Count,
            AggFunc::DCount | AggFunc::Sum | AggFunc::Min | AggFunc::Max if a.args.len() == 1 => {
                let Some((n, t)) = col(&a.args[0]) else { return Ok(None) };
                let ok = match a.func {
                    AggFunc::DCount => !matches!(t, KqlType::Dynamic | KqlType::Real),
                    AggFunc::Sum => matches!(t, KqlType::Int | KqlType::Long),
                    _ => matches!(t, KqlType::Int | KqlType::Long | KqlType::DateTime | KqlType::TimeSpan),
                };
                if !ok {
                    return Ok(None);
                }
                match a.func {
                    AggFunc::DCount => PushedAggregate::DCount(n),
                    AggFunc::Sum => PushedAggregate::Sum(n),
                    AggFunc::Min => PushedAggregate::Min(n),
                    _ => PushedAggregate::Max(n),
                }
            }
            _ => return Ok(None),
        };
        pushed.push(p);
    }
    let (scan_req, all) = scan_request(ex, scan, &preds);
    if !all {
        return Ok(None);
    }
    let req = AggregateRequest {
        scan: scan_req,
        group_by,
        aggregates: pushed,
    };
    let Some(it) = ex.source.aggregate(&req).map_err(|e| ex.source_error(e))? else {
        return Ok(None);
    };
    ex.pushed_aggs.set(ex.pushed_aggs.get() + 1);
    let types: Vec<KqlType> = out_schema.iter().map(|(_, t)| *t).collect();
    let no_keys = keys.is_empty();
    let mut rows = Vec::new();
    for r in it {
        let r = r.map_err(|e| ex.source_error(e))?;
        ex.check_time()?;
        rows.push(
            r.into_iter()
                .zip(&types)
                .map(|(v, t)| coerce(v, *t))
                .collect::<Vec<_>>(),
        );
        ex.budget(rows.len())?;
    }
    if no_keys && rows.is_empty() {
        // Summarize without keys always yields one row.
        rows.push(
            aggs.iter()
                .map(|a| match a.func {
                    AggFunc::Count | AggFunc::DCount | AggFunc::Sum => Value::Long(0),
                    _ => Value::Null,
                })
                .collect(),
        );
    }
    // Sums over no non-null values are 0 in Kusto, NULL in SQL.
    for row in rows.iter_mut() {
        for (j, a) in aggs.iter().enumerate() {
            let i = keys.len() + j;
            if a.func == AggFunc::Sum && row.get(i).is_some_and(Value::is_null) {
                row[i] = Value::Long(0);
            }
        }
    }
    Ok(Some(Box::new(rows.into_iter().map(Ok))))
}

fn join<'a>(
    ex: &'a Exec<'a>,
    left: &'a Plan,
    right: &'a Plan,
    kind: JoinKind,
    lk: &'a [usize],
    rk: &'a [usize],
) -> Result<Rows<'a>, KqlError> {
    // Build side: the right input, held in memory (within the budget). The left
    // input streams; unmatched right rows (right/full outer, right semi/anti) come
    // after it.
    let mut rrows: Vec<Vec<Value>> = Vec::new();
    let mut index: HashMap<Vec<Value>, Vec<usize>> = HashMap::new();
    for r in open(right, ex)? {
        let row = r?;
        ex.check_time()?;
        let key: Vec<Value> = rk.iter().map(|i| row.get(*i).cloned().unwrap_or(Value::Null)).collect();
        if !key.iter().any(Value::is_null) {
            index.entry(key).or_default().push(rrows.len());
        }
        rrows.push(row);
        ex.budget(rrows.len())?;
    }
    let state = std::rc::Rc::new(std::cell::RefCell::new(JoinState {
        matched: vec![false; rrows.len()],
        seen_left: HashSet::new(),
    }));
    let rrows = std::rc::Rc::new(rrows);
    let right_nulls: Vec<Value> = right
        .schema
        .iter()
        .map(|(_, t)| crate::aggregates::null_of(*t))
        .collect();
    let left_nulls: Vec<Value> = left
        .schema
        .iter()
        .map(|(_, t)| crate::aggregates::null_of(*t))
        .collect();
    let st = state.clone();
    let rr = rrows.clone();
    let probe = open(left, ex)?.flat_map(move |r| -> Vec<Result<Vec<Value>, KqlError>> {
        let row = match r {
            Ok(r) => r,
            Err(e) => return vec![Err(e)],
        };
        let key: Vec<Value> = lk.iter().map(|i| row.get(*i).cloned().unwrap_or(Value::Null)).collect();
        let mut st = st.borrow_mut();
        if kind == JoinKind::InnerUnique {
            if st.seen_left.contains(&key) {
                return Vec::new();
            }
            st.seen_left.insert(key.clone());
        }
        let hits: &[usize] = if key.iter().any(Value::is_null) {
            &[]
        } else {
            index.get(&key).map(Vec::as_slice).unwrap_or(&[])
        };
        for h in hits {
            st.matched[*h] = true;
        }
        match kind {
            JoinKind::Inner
            | JoinKind::InnerUnique
            | JoinKind::LeftOuter
            | JoinKind::RightOuter
            | JoinKind::FullOuter => {
                let mut out: Vec<Result<Vec<Value>, KqlError>> = hits
                    .iter()
                    .map(|h| {
                        let mut o = row.clone();
                        o.extend(rr[*h].iter().cloned());
                        Ok(o)
                    })
                    .collect();
                if hits.is_empty() && matches!(kind, JoinKind::LeftOuter | JoinKind::FullOuter) {
                    let mut o = row;
                    o.extend(right_nulls.iter().cloned());
                    out.push(Ok(o));
                }
                out
            }
            JoinKind::LeftSemi if !hits.is_empty() => vec![Ok(row)],
            JoinKind::LeftAnti if hits.is_empty() => vec![Ok(row)],
            _ => Vec::new(),
        }
    });
    // After the left side is exhausted: right rows by their matched flag.
    let tail = std::iter::once(()).flat_map(move |_| -> Vec<Result<Vec<Value>, KqlError>> {
        let st = state.borrow();
        match kind {
            JoinKind::RightOuter | JoinKind::FullOuter => rrows
                .iter()
                .enumerate()
                .filter(|(i, _)| !st.matched[*i])
                .map(|(_, r)| {
                    let mut o = left_nulls.clone();
                    o.extend(r.iter().cloned());
                    Ok(o)
                })
                .collect(),
            JoinKind::RightSemi | JoinKind::RightAnti => rrows
                .iter()
                .enumerate()
                .filter(|(i, _)| st.matched[*i] == (kind == JoinKind::RightSemi))
                .map(|(_, r)| Ok(r.clone()))
                .collect(),
            _ => Vec::new(),
        }
    });
    Ok(Box::new(probe.chain(tail)))
}

struct JoinState {
    matched: Vec<bool>,
    seen_left: HashSet<Vec<Value>>,
}
