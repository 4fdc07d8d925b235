//! Aggregation functions of `summarize`: result types, default column names and
//! accumulator state.
//!
//! `stdev`/`variance` are the sample forms (`stdevp`/`variancep` the population
//! ones), computed with Welford's method.
//! Names follow Kusto (checked against Kusto.Language): `count_`, `countif_X`,
//! `dcount_X`, `sum_X`, `avg_X`, `min_X`, `max_X`, `set_X` (`make_set`), `list_X`
//! (`make_list`), `any_X`, `X` (`take_any`), `percentile_X_95`, where `X` is the
//! argument's derived name (empty when it has none: `sum(N + 1)` is `sum_`). Nulls are
//! ignored by every aggregate; `sum`/`count`/`dcount` of nothing are 0, `make_*`
//! of nothing is `[]`, others null. `dcount` is exact (Kusto's is an estimate).
//! `percentile` uses nearest-rank on the sorted values (Kusto's is an estimate).

use std::collections::HashSet;

use crate::functions::{as_f64, compare_values};
use crate::types::KqlType;
use crate::value::{total_cmp, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AggFunc {
    Count,
    CountIf,
    DCount,
    DCountIf,
    Sum,
    SumIf,
    Avg,
    AvgIf,
    Min,
    Max,
    MakeSet,
    MakeList,
    MakeSetIf,
    MakeListIf,
    ArgMax,
    ArgMin,
    Any,
    Percentile,
    Stdev,
    StdevP,
    Variance,
    VarianceP,
    StdevIf,
    VarianceIf,
    MaxIf,
    MinIf,
    AnyIf,
}

impl AggFunc {
    /// Takes a predicate as its last argument, the row counting only when true
    /// (for the functions whose state does not check it itself).
    fn generic_if(self) -> bool {
        matches!(
            self,
            AggFunc::StdevIf | AggFunc::VarianceIf | AggFunc::MaxIf | AggFunc::MinIf | AggFunc::AnyIf
        )
    }
}

/// (name, func, min args, max args, column-name prefix)
const AGGS: &[(&str, AggFunc, usize, usize, &str)] = &[
    ("count", AggFunc::Count, 0, 1, "count"),
    ("countif", AggFunc::CountIf, 1, 1, "countif"),
    ("dcount", AggFunc::DCount, 1, 2, "dcount"),
    ("dcountif", AggFunc::DCountIf, 2, 3, "dcountif"),
    ("count_distinct", AggFunc::DCount, 1, 1, "count_distinct"),
    ("sum", AggFunc::Sum, 1, 1, "sum"),
    ("sumif", AggFunc::SumIf, 2, 2, "sumif"),
    ("avg", AggFunc::Avg, 1, 1, "avg"),
    ("avgif", AggFunc::AvgIf, 2, 2, "avgif"),
    ("min", AggFunc::Min, 1, 1, "min"),
    ("max", AggFunc::Max, 1, 1, "max"),
    ("make_set", AggFunc::MakeSet, 1, 2, "set"),
    ("makeset", AggFunc::MakeSet, 1, 2, "set"),
    ("make_list", AggFunc::MakeList, 1, 2, "list"),
    ("makelist", AggFunc::MakeList, 1, 2, "list"),
    ("make_set_if", AggFunc::MakeSetIf, 2, 3, "set"),
    ("make_list_if", AggFunc::MakeListIf, 2, 3, "list"),
    ("arg_max", AggFunc::ArgMax, 2, 64, "max"),
    ("arg_min", AggFunc::ArgMin, 2, 64, "min"),
    ("any", AggFunc::Any, 1, 1, "any"),
    // Named after its argument alone (Kusto.Language does so).
    ("take_any", AggFunc::Any, 1, 1, ""),
    ("percentile", AggFunc::Percentile, 2, 2, "percentile"),
    ("stdev", AggFunc::Stdev, 1, 1, "stdev"),
    ("stdevp", AggFunc::StdevP, 1, 1, "stdevp"),
    ("variance", AggFunc::Variance, 1, 1, "variance"),
    ("variancep", AggFunc::VarianceP, 1, 1, "variancep"),
    ("stdevif", AggFunc::StdevIf, 2, 2, "stdevif"),
    ("varianceif", AggFunc::VarianceIf, 2, 2, "varianceif"),
    ("maxif", AggFunc::MaxIf, 2, 2, "maxif"),
    ("minif", AggFunc::MinIf, 2, 2, "minif"),
    ("anyif", AggFunc::AnyIf, 2, 2, "anyif"),
    ("take_anyif", AggFunc::AnyIf, 2, 2, ""),
];

/// Kusto aggregation functions Palisade does not implement (a "not supported"
/// error rather than "unknown").
pub(crate) const KNOWN_UNSUPPORTED: &[&str] = &[
    "percentiles",
    "percentiles_array",
    "percentilew",
    "percentilesw",
    "make_bag",
    "make_bag_if",
    "make_list_with_nulls",
    "hll",
    "hll_merge",
    "tdigest",
    "tdigest_merge",
    "dcount_hll",
    "binary_all_and",
    "binary_all_or",
    "binary_all_xor",
    "buildschema",
    "covariance",
];

pub(crate) fn lookup(name: &str) -> Option<(AggFunc, usize, usize, &'static str)> {
    AGGS.iter().find(|a| a.0 == name).map(|a| (a.1, a.2, a.3, a.4))
}

pub(crate) fn names() -> impl Iterator<Item = &'static str> {
    AGGS.iter().map(|a| a.0)
}

/// Result type of an aggregate (for `arg_max`/`arg_min`, of its first column).
pub(crate) fn result_type(f: AggFunc, args: &[KqlType]) -> Result<KqlType, String> {
    use KqlType::*;
    let a0 = args.first().copied().unwrap_or(Long);
    Ok(match f {
        AggFunc::Count | AggFunc::CountIf | AggFunc::DCount | AggFunc::DCountIf => {
            if matches!(f, AggFunc::CountIf) && a0 != Bool {
                return Err(format!("countif() expects a bool predicate, got {a0}"));
            }
            if matches!(f, AggFunc::DCountIf) && args.get(1) != Some(&Bool) {
                return Err("dcountif() expects a bool predicate as its second argument".into());
            }
            Long
        }
        AggFunc::Sum | AggFunc::SumIf => match a0 {
            Int | Long => Long,
            Real | Dynamic => Real,
            TimeSpan => TimeSpan,
            other => return Err(format!("sum() cannot be applied to a value of type {other}")),
        },
        AggFunc::Avg | AggFunc::AvgIf => match a0 {
            Int | Long | Real | Dynamic => Real,
            TimeSpan => TimeSpan,
            other => return Err(format!("avg() cannot be applied to a value of type {other}")),
        },
        AggFunc::Min | AggFunc::Max | AggFunc::ArgMax | AggFunc::ArgMin | AggFunc::Any => a0,
        AggFunc::MaxIf | AggFunc::MinIf | AggFunc::AnyIf => {
            if args.get(1).is_some_and(|t| *t != Bool && *t != Dynamic) {
                return Err("the second argument must be a bool predicate".into());
            }
            a0
        }
        AggFunc::Stdev
        | AggFunc::StdevP
        | AggFunc::Variance
        | AggFunc::VarianceP
        | AggFunc::StdevIf
        | AggFunc::VarianceIf => {
            if !matches!(a0, Int | Long | Real | Dynamic) {
                return Err(format!("stdev()/variance() cannot be applied to a value of type {a0}"));
            }
            if matches!(f, AggFunc::StdevIf | AggFunc::VarianceIf)
                && args.get(1).is_some_and(|t| *t != Bool && *t != Dynamic)
            {
                return Err("the second argument must be a bool predicate".into());
            }
            Real
        }
        AggFunc::MakeSet | AggFunc::MakeList => Dynamic,
        AggFunc::MakeSetIf | AggFunc::MakeListIf => {
            if args.get(1).is_some_and(|t| *t != Bool && *t != Dynamic) {
                return Err("make_set_if()/make_list_if() expect a bool predicate as their second argument".into());
            }
            Dynamic
        }
        AggFunc::Percentile => match a0 {
            Int => Long,
            Long | Real | DateTime | TimeSpan | Dynamic => a0,
            other => return Err(format!("percentile() cannot be applied to a value of type {other}")),
        },
    })
}

/// Accumulator of one aggregate in one group.
#[derive(Debug, Clone)]
pub(crate) enum AggState {
    Count(i64),
    Distinct(HashSet<Value>),
    SumLong(i64),
    SumReal(f64),
    SumTs(i64),
    Avg(f64, i64, bool),
    Extreme(Option<Value>),
    /// arg_max / arg_min: best key and the captured row values.
    Arg(Option<Value>, Vec<Value>),
    Set(Vec<Value>, HashSet<Value>, usize),
    List(Vec<Value>, usize),
    Any(Option<Value>),
    Values(Vec<Value>),
    /// Welford's running count, mean and sum of squared deviations.
    Moments(i64, f64, f64),
}

/// Default cap of `make_set`/`make_list` elements (Kusto: 1,048,576).
pub(crate) const MAKE_MAX: usize = 1_048_576;

impl AggState {
    pub(crate) fn new(f: AggFunc, ty: KqlType, max_size: Option<usize>) -> AggState {
        match f {
            AggFunc::Count | AggFunc::CountIf => AggState::Count(0),
            AggFunc::DCount | AggFunc::DCountIf => AggState::Distinct(HashSet::new()),
            AggFunc::Sum | AggFunc::SumIf => match ty {
                KqlType::Long => AggState::SumLong(0),
                KqlType::TimeSpan => AggState::SumTs(0),
                _ => AggState::SumReal(0.0),
            },
            AggFunc::Avg | AggFunc::AvgIf => AggState::Avg(0.0, 0, ty == KqlType::TimeSpan),
            AggFunc::Min | AggFunc::Max | AggFunc::MinIf | AggFunc::MaxIf => AggState::Extreme(None),
            AggFunc::AnyIf => AggState::Any(None),
            AggFunc::Stdev
            | AggFunc::StdevP
            | AggFunc::Variance
            | AggFunc::VarianceP
            | AggFunc::StdevIf
            | AggFunc::VarianceIf => AggState::Moments(0, 0.0, 0.0),
            AggFunc::ArgMax | AggFunc::ArgMin => AggState::Arg(None, Vec::new()),
            AggFunc::MakeSet | AggFunc::MakeSetIf => {
                AggState::Set(Vec::new(), HashSet::new(), max_size.unwrap_or(MAKE_MAX))
            }
            AggFunc::MakeList | AggFunc::MakeListIf => AggState::List(Vec::new(), max_size.unwrap_or(MAKE_MAX)),
            AggFunc::Any => AggState::Any(None),
            AggFunc::Percentile => AggState::Values(Vec::new()),
        }
    }

    /// Feeds one row: `args` are the evaluated arguments (for `*if`, the predicate
    /// is the last; for arg_max, the key then the captured values).
    pub(crate) fn update(&mut self, f: AggFunc, args: &mut Vec<Value>) {
        if f.generic_if() && !matches!(args.get(1), Some(Value::Bool(true))) {
            return;
        }
        match (self, f) {
            (AggState::Moments(n, mean, m2), _) => {
                if let Some(x) = args.first().and_then(as_f64) {
                    *n += 1;
                    let d = x - *mean;
                    *mean += d / *n as f64;
                    *m2 += d * (x - *mean);
                }
            }
            (AggState::Count(n), AggFunc::Count) => *n += 1,
            (AggState::Count(n), AggFunc::CountIf) => {
                if matches!(args.first(), Some(Value::Bool(true))) {
                    *n += 1
                }
            }
            (AggState::Distinct(set), _) => {
                if f == AggFunc::DCountIf && !matches!(args.get(1), Some(Value::Bool(true))) {
                    return;
                }
                if let Some(v) = args.first() {
                    if !v.is_null() && !set.contains(v) {
                        set.insert(v.clone());
                    }
                }
            }
            (state @ (AggState::SumLong(..) | AggState::SumReal(_) | AggState::SumTs(_) | AggState::Avg(..)), _) => {
                if matches!(f, AggFunc::SumIf | AggFunc::AvgIf) && !matches!(args.get(1), Some(Value::Bool(true))) {
                    return;
                }
                let Some(v) = args.first() else { return };
                match state {
                    AggState::SumLong(acc) => {
                        if let Value::Long(i) = v {
                            *acc = acc.wrapping_add(*i);
                        }
                    }
                    AggState::SumReal(acc) => {
                        if let Some(x) = as_f64(v) {
                            *acc += x;
                        }
                    }
                    AggState::SumTs(acc) => {
                        if let Value::TimeSpan(t) = v {
                            *acc = acc.wrapping_add(*t);
                        }
                    }
                    AggState::Avg(acc, n, _) => {
                        let x = match v {
                            Value::TimeSpan(t) => Some(*t as f64),
                            other => as_f64(other),
                        };
                        if let Some(x) = x {
                            *acc += x;
                            *n += 1;
                        }
                    }
                    _ => {}
                }
            }
            (AggState::Extreme(best), _) => {
                let Some(v) = args.first() else { return };
                if v.is_null() {
                    return;
                }
                let better = match best {
                    None => true,
                    Some(b) => {
                        let o = compare_values(v, b).unwrap_or_else(|| total_cmp(v, b));
                        if matches!(f, AggFunc::Max | AggFunc::MaxIf) {
                            o == std::cmp::Ordering::Greater
                        } else {
                            o == std::cmp::Ordering::Less
                        }
                    }
                };
                if better {
                    *best = Some(v.clone());
                }
            }
            (AggState::Arg(best, row), _) => {
                let Some(k) = args.first() else { return };
                if k.is_null() {
                    return;
                }
                let better = match best {
                    None => true,
                    Some(b) => {
                        let o = compare_values(k, b).unwrap_or_else(|| total_cmp(k, b));
                        if f == AggFunc::ArgMax {
                            o == std::cmp::Ordering::Greater
                        } else {
                            o == std::cmp::Ordering::Less
                        }
                    }
                };
                if better {
                    *best = Some(k.clone());
                    *row = std::mem::take(args);
                }
            }
            (AggState::Set(..) | AggState::List(..), AggFunc::MakeSetIf | AggFunc::MakeListIf)
                if !matches!(args.get(1), Some(Value::Bool(true))) => {}
            (AggState::Set(list, seen, cap), _) => {
                if let Some(v) = args.first() {
                    if !v.is_null() && list.len() < *cap && !seen.contains(v) {
                        seen.insert(v.clone());
                        list.push(v.clone());
                    }
                }
            }
            (AggState::List(list, cap), _) => {
                if let Some(v) = args.first() {
                    if !v.is_null() && list.len() < *cap {
                        list.push(v.clone());
                    }
                }
            }
            (AggState::Any(slot), _) if slot.is_none() => {
                if let Some(v) = args.first() {
                    *slot = Some(v.clone());
                }
            }
            (AggState::Values(vals), _) => {
                if let Some(v) = args.first() {
                    if !v.is_null() {
                        vals.push(v.clone());
                    }
                }
            }
            _ => {}
        }
    }

    /// Final values: one for most aggregates, `1 + captured` for arg_max/arg_min.
    pub(crate) fn finish(self, f: AggFunc, n_out: usize, pct: f64, ty: KqlType) -> Vec<Value> {
        let one = |v: Value| vec![v];
        match self {
            AggState::Count(n) => one(Value::Long(n)),
            AggState::Distinct(s) => one(Value::Long(s.len() as i64)),
            AggState::SumLong(n) => one(Value::Long(n)),
            AggState::SumReal(x) => one(Value::Real(x)),
            AggState::SumTs(t) => one(Value::TimeSpan(t)),
            AggState::Avg(acc, n, ts) => one(if n == 0 {
                Value::Null
            } else if ts {
                Value::TimeSpan((acc / n as f64).round() as i64)
            } else {
                Value::Real(acc / n as f64)
            }),
            AggState::Extreme(v) => one(v.unwrap_or(null_of(ty))),
            AggState::Moments(n, _, m2) => {
                let population = matches!(f, AggFunc::StdevP | AggFunc::VarianceP);
                let var = if population {
                    (n > 0).then(|| m2 / n as f64)
                } else if n > 1 {
                    Some(m2 / (n - 1) as f64)
                } else {
                    // Kusto: the sample variance of a single value is 0.
                    (n == 1).then_some(0.0)
                };
                let sqrt = matches!(f, AggFunc::Stdev | AggFunc::StdevP | AggFunc::StdevIf);
                one(match var {
                    Some(v) => Value::Real(if sqrt { v.sqrt() } else { v }),
                    None => Value::Null,
                })
            }
            AggState::Arg(best, row) => {
                let mut out = Vec::with_capacity(n_out);
                match best {
                    Some(_) => out.extend(row),
                    None => out.resize(n_out, Value::Null),
                }
                out.resize(n_out, Value::Null);
                out
            }
            AggState::Set(list, _, _) | AggState::List(list, _) => one(Value::Dynamic(serde_json::Value::Array(
                list.iter().map(Value::to_json).collect(),
            ))),
            AggState::Any(v) => one(v.unwrap_or(null_of(ty))),
            AggState::Values(mut vals) => {
                if vals.is_empty() {
                    return one(Value::Null);
                }
                vals.sort_by(total_cmp);
                let p = pct.clamp(0.0, 100.0);
                // Nearest rank.
                let rank = ((p / 100.0) * vals.len() as f64).ceil() as usize;
                let idx = rank.saturating_sub(1).min(vals.len() - 1);
                let _ = f;
                one(vals.swap_remove(idx))
            }
        }
    }
}

/// Null of a type: `""` for strings (never null).
pub(crate) fn null_of(ty: KqlType) -> Value {
    if ty == KqlType::String {
        Value::String(String::new())
    } else {
        Value::Null
    }
}
