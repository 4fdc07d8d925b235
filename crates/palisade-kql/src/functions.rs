//! Scalar functions and operator semantics: typing ([`check`]) and evaluation
//! ([`call`], [`binary`], [`compare_values`], [`str_match`]).
//!
//! Kusto behaviours followed (Kusto docs "Scalar functions", "String operators",
//! "Null values"):
//! - `==`/`!=` on strings are case-sensitive; `=~`, `!~`, `in~` and the `has`,
//!   `contains`, `startswith`, `endswith` families (without `_cs`) are not.
//! - `has` matches whole terms: the needle must start and end at term boundaries
//!   (a term is a maximal run of letters and digits) unless the needle itself
//!   starts/ends with a non-alphanumeric character. The real service indexes only
//!   terms of 3+ characters but the documented semantics are what is implemented.
//! - Comparisons and arithmetic with null give null (a `where` drops the row);
//!   strings are never null, `isnull("")` is false and `isempty("")` true.
//! - Integer division truncates toward zero; division or modulo by integer zero is
//!   null (Palisade choice; Kusto raises a runtime error for some forms).
//! - Case folding is Unicode simple lowercase (`str::to_lowercase`).

use std::cmp::Ordering;

use crate::types::KqlType;
use crate::value::*;

/// .NET ticks at the Unix epoch (0001-01-01 to 1970-01-01); `bin` on date-times
/// aligns to 0001-01-01, as Kusto does (matters for 7d bins).
const EPOCH_NET_TICKS: i64 = 621_355_968_000_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Func {
    Ago,
    Now,
    Bin,
    StartOfDay,
    StartOfWeek,
    StartOfMonth,
    StartOfYear,
    EndOfDay,
    FormatDatetime,
    DatetimeDiff,
    DatetimeAdd,
    DayOfWeek,
    GetYear,
    GetMonth,
    HourOfDay,
    ToLower,
    ToUpper,
    Strlen,
    Substring,
    Strcat,
    StrcatDelim,
    Split,
    ReplaceString,
    Trim,
    IndexOf,
    ParseJson,
    ToString,
    ToInt,
    ToLong,
    ToReal,
    ToBool,
    ToDatetime,
    ToTimespan,
    ToGuid,
    Iff,
    Case,
    Coalesce,
    IsNull,
    IsNotNull,
    IsEmpty,
    IsNotEmpty,
    ArrayLength,
    Pack,
    PackArray,
    Not,
    Abs,
    Round,
    Sqrt,
    Log10,
    Typeof,
    BagKeys,
    Ipv4IsPrivate,
    Ipv4IsInRange,
    ReplaceRegex,
    ExtractAll,
    CountOf,
    Base64Decode,
    Base64Encode,
    UnixSeconds,
    UnixMillis,
    DayOfMonth,
    DayOfYear,
    EndOfWeek,
    EndOfMonth,
    ArrayConcat,
    Reverse,
}

/// (name, function, min args, max args)
const FUNCS: &[(&str, Func, usize, usize)] = &[
    ("ago", Func::Ago, 1, 1),
    ("now", Func::Now, 0, 1),
    ("bin", Func::Bin, 2, 2),
    ("floor", Func::Bin, 2, 2),
    ("startofday", Func::StartOfDay, 1, 2),
    ("startofweek", Func::StartOfWeek, 1, 2),
    ("startofmonth", Func::StartOfMonth, 1, 2),
    ("startofyear", Func::StartOfYear, 1, 2),
    ("endofday", Func::EndOfDay, 1, 2),
    ("format_datetime", Func::FormatDatetime, 2, 2),
    ("datetime_diff", Func::DatetimeDiff, 3, 3),
    ("datetime_add", Func::DatetimeAdd, 3, 3),
    ("dayofweek", Func::DayOfWeek, 1, 1),
    ("getyear", Func::GetYear, 1, 1),
    ("getmonth", Func::GetMonth, 1, 1),
    ("hourofday", Func::HourOfDay, 1, 1),
    ("tolower", Func::ToLower, 1, 1),
    ("toupper", Func::ToUpper, 1, 1),
    ("strlen", Func::Strlen, 1, 1),
    ("substring", Func::Substring, 2, 3),
    ("strcat", Func::Strcat, 1, 64),
    ("strcat_delim", Func::StrcatDelim, 3, 65),
    ("split", Func::Split, 2, 3),
    ("replace_string", Func::ReplaceString, 3, 3),
    ("trim", Func::Trim, 2, 2),
    ("indexof", Func::IndexOf, 2, 2),
    ("parse_json", Func::ParseJson, 1, 1),
    ("todynamic", Func::ParseJson, 1, 1),
    ("tostring", Func::ToString, 1, 1),
    ("toint", Func::ToInt, 1, 1),
    ("tolong", Func::ToLong, 1, 1),
    ("todouble", Func::ToReal, 1, 1),
    ("toreal", Func::ToReal, 1, 1),
    ("tobool", Func::ToBool, 1, 1),
    ("toboolean", Func::ToBool, 1, 1),
    ("todatetime", Func::ToDatetime, 1, 1),
    ("totimespan", Func::ToTimespan, 1, 1),
    ("toguid", Func::ToGuid, 1, 1),
    ("iff", Func::Iff, 3, 3),
    ("iif", Func::Iff, 3, 3),
    ("case", Func::Case, 3, 255),
    ("coalesce", Func::Coalesce, 1, 64),
    ("isnull", Func::IsNull, 1, 1),
    ("isnotnull", Func::IsNotNull, 1, 1),
    ("isempty", Func::IsEmpty, 1, 1),
    ("isnotempty", Func::IsNotEmpty, 1, 1),
    ("array_length", Func::ArrayLength, 1, 1),
    ("pack", Func::Pack, 0, 128),
    ("bag_pack", Func::Pack, 0, 128),
    ("pack_array", Func::PackArray, 0, 128),
    ("not", Func::Not, 1, 1),
    ("abs", Func::Abs, 1, 1),
    ("round", Func::Round, 1, 2),
    ("sqrt", Func::Sqrt, 1, 1),
    ("log10", Func::Log10, 1, 1),
    ("gettype", Func::Typeof, 1, 1),
    ("bag_keys", Func::BagKeys, 1, 1),
    ("ipv4_is_private", Func::Ipv4IsPrivate, 1, 1),
    ("ipv4_is_in_range", Func::Ipv4IsInRange, 2, 2),
    ("replace_regex", Func::ReplaceRegex, 3, 3),
    ("extract_all", Func::ExtractAll, 2, 2),
    ("countof", Func::CountOf, 2, 2),
    ("base64_decode_tostring", Func::Base64Decode, 1, 1),
    ("base64_encode_tostring", Func::Base64Encode, 1, 1),
    ("unixtime_seconds_todatetime", Func::UnixSeconds, 1, 1),
    ("unixtime_milliseconds_todatetime", Func::UnixMillis, 1, 1),
    ("dayofmonth", Func::DayOfMonth, 1, 1),
    ("dayofyear", Func::DayOfYear, 1, 1),
    ("endofweek", Func::EndOfWeek, 1, 2),
    ("endofmonth", Func::EndOfMonth, 1, 2),
    ("array_concat", Func::ArrayConcat, 1, 64),
    ("reverse", Func::Reverse, 1, 1),
];

/// Kusto scalar functions Palisade knows by name but does not implement; they get
/// a "not supported" error rather than "unknown function".
pub(crate) const KNOWN_UNSUPPORTED: &[&str] = &[
    "ipv4_is_match",
    "ipv4_compare",
    "parse_ipv4",
    "parse_ipv4_mask",
    "ipv6_compare",
    "ipv6_is_match",
    "parse_ipv6",
    "parse_url",
    "parse_urlquery",
    "parse_path",
    "parse_command_line",
    "parse_csv",
    "parse_xml",
    "parse_user_agent",
    "parse_version",
    "hash",
    "hash_sha256",
    "hash_sha1",
    "hash_md5",
    "hash_xxhash64",
    "url_decode",
    "url_encode",
    "url_encode_component",
    "array_slice",
    "array_index_of",
    "array_sort_asc",
    "array_sort_desc",
    "array_split",
    "array_sum",
    "array_iff",
    "array_reverse",
    "array_shift_left",
    "array_rotate_left",
    "set_union",
    "set_intersect",
    "set_difference",
    "set_has_element",
    "bag_merge",
    "bag_remove_keys",
    "bag_has_key",
    "bag_set_key",
    "make_datetime",
    "make_timespan",
    "todecimal",
    "tohex",
    "unixtime_microseconds_todatetime",
    "unixtime_nanoseconds_todatetime",
    "datetime_part",
    "week_of_year",
    "monthofyear",
    "endofyear",
    "endofday_utc",
    "strrep",
    "strcmp",
    "string_size",
    "has_any_index",
    "isascii",
    "isutf8",
    "extract_json",
    "translate",
    "zip",
    "row_number",
    "row_cumsum",
    "prev",
    "next",
    "rand",
    "new_guid",
    "current_principal",
    "cursor_current",
    "ingestion_time",
    "extent_id",
    "toscalar_cached",
    "series_stats",
    "series_decompose",
    "geo_point_in_circle",
    "geo_distance_2points",
    "format_timespan",
    "format_bytes",
    "to_utf8",
    "unicode_codepoints_from_string",
    "exp",
    "exp2",
    "exp10",
    "log",
    "log2",
    "pow",
    "sign",
    "ceiling",
    "pi",
    "cos",
    "sin",
    "tan",
    "isnan",
    "isinf",
    "isfinite",
    "bin_at",
    "bin_auto",
    "range",
    "indexof_regex",
    "substring_regex",
    "trim_start",
    "trim_end",
    "split_path",
    "columnifexists",
    "column_ifexists",
    "assert",
    "materialized_view",
];

/// Names of all scalar functions, for "did you mean".
pub(crate) fn names() -> impl Iterator<Item = &'static str> {
    FUNCS.iter().map(|f| f.0)
}

pub(crate) fn lookup(name: &str) -> Option<(Func, usize, usize)> {
    FUNCS.iter().find(|f| f.0 == name).map(|f| (f.1, f.2, f.3))
}

/// How an unnamed column computed by a function is named (Kusto.Language's
/// result-name kinds, checked against it): after the first argument
/// (`bin(Timestamp, 1h)` is `Timestamp`), after it with a prefix (`strlen(S)` is
/// `strlen_S`), or not at all (`Column1`...).
pub(crate) enum ResultName {
    FirstArg,
    Prefixed(&'static str),
    None,
}

pub(crate) fn result_name(f: Func) -> ResultName {
    match f {
        Func::Bin
        | Func::StartOfDay
        | Func::FormatDatetime
        | Func::Split
        | Func::ParseJson
        | Func::ToString
        | Func::ToInt
        | Func::ToLong
        | Func::ToReal
        | Func::ToBool
        | Func::ToDatetime
        | Func::ToTimespan
        | Func::ToGuid
        | Func::Abs
        | Func::Round
        | Func::Sqrt
        | Func::Log10 => ResultName::FirstArg,
        Func::Strlen => ResultName::Prefixed("strlen"),
        Func::Typeof => ResultName::Prefixed("type"),
        _ => ResultName::None,
    }
}

/// Result type of `f` applied to `args`, or a message saying what is wrong.
pub(crate) fn check(f: Func, name: &str, args: &[KqlType]) -> Result<KqlType, std::string::String> {
    use KqlType::*;
    let want = |i: usize, ok: &[KqlType], what: &str| -> Result<(), std::string::String> {
        match args.get(i) {
            Some(t) if ok.contains(t) || *t == Dynamic => Ok(()),
            Some(t) => Err(format!(
                "The function '{name}' expects argument {} of type {what}, got {t}",
                i + 1
            )),
            None => Ok(()),
        }
    };
    let num = [Int, Long, Real];
    Ok(match f {
        Func::Ago => {
            want(0, &[TimeSpan], "timespan")?;
            DateTime
        }
        Func::Now => {
            want(0, &[TimeSpan], "timespan")?;
            DateTime
        }
        Func::Bin => {
            let t = args.first().copied().unwrap_or(Dynamic);
            match t {
                DateTime => {
                    want(1, &[TimeSpan], "timespan")?;
                    DateTime
                }
                TimeSpan => {
                    want(1, &[TimeSpan], "timespan")?;
                    TimeSpan
                }
                Int | Long | Real => {
                    want(1, &num, "a number")?;
                    if t == Real || args.get(1) == Some(&Real) {
                        Real
                    } else {
                        Long
                    }
                }
                Dynamic => Dynamic,
                other => {
                    return Err(format!(
                        "The function '{name}' cannot be applied to a value of type {other}"
                    ))
                }
            }
        }
        Func::StartOfDay | Func::StartOfWeek | Func::StartOfMonth | Func::StartOfYear | Func::EndOfDay => {
            want(0, &[DateTime], "datetime")?;
            want(1, &num, "a number")?;
            DateTime
        }
        Func::FormatDatetime => {
            want(0, &[DateTime], "datetime")?;
            want(1, &[String], "string")?;
            String
        }
        Func::DatetimeDiff => {
            want(0, &[String], "string")?;
            want(1, &[DateTime], "datetime")?;
            want(2, &[DateTime], "datetime")?;
            Long
        }
        Func::DatetimeAdd => {
            want(0, &[String], "string")?;
            want(1, &num, "a number")?;
            want(2, &[DateTime], "datetime")?;
            DateTime
        }
        Func::DayOfWeek => {
            want(0, &[DateTime], "datetime")?;
            TimeSpan
        }
        Func::GetYear | Func::GetMonth | Func::HourOfDay => {
            want(0, &[DateTime], "datetime")?;
            Int
        }
        Func::ToLower | Func::ToUpper => {
            want(0, &[String], "string")?;
            String
        }
        Func::Strlen => {
            want(0, &[String], "string")?;
            Long
        }
        Func::Substring => {
            want(1, &num, "a number")?;
            want(2, &num, "a number")?;
            String
        }
        Func::Strcat | Func::StrcatDelim => String,
        Func::Split => {
            want(0, &[String], "string")?;
            want(1, &[String], "string")?;
            want(2, &num, "a number")?;
            Dynamic
        }
        Func::ReplaceString => {
            for i in 0..3 {
                want(i, &[String], "string")?;
            }
            String
        }
        Func::Trim => {
            want(0, &[String], "string")?;
            want(1, &[String], "string")?;
            String
        }
        Func::IndexOf => {
            want(1, &[String], "string")?;
            Long
        }
        Func::ParseJson | Func::Pack | Func::PackArray | Func::BagKeys | Func::ArrayConcat => Dynamic,
        Func::Ipv4IsPrivate => {
            want(0, &[String], "string")?;
            Bool
        }
        Func::Ipv4IsInRange => {
            want(0, &[String], "string")?;
            want(1, &[String], "string")?;
            Bool
        }
        Func::ReplaceRegex | Func::ExtractAll => {
            // Checked and compiled by the semantic pass (constant pattern).
            if f == Func::ExtractAll {
                Dynamic
            } else {
                String
            }
        }
        Func::CountOf => {
            want(0, &[String], "string")?;
            want(1, &[String], "string")?;
            Long
        }
        Func::Base64Decode | Func::Base64Encode | Func::Reverse => String,
        Func::UnixSeconds | Func::UnixMillis => {
            want(0, &num, "a number")?;
            DateTime
        }
        Func::DayOfMonth | Func::DayOfYear => {
            want(0, &[DateTime], "datetime")?;
            Int
        }
        Func::EndOfWeek | Func::EndOfMonth => {
            want(0, &[DateTime], "datetime")?;
            want(1, &num, "a number")?;
            DateTime
        }
        Func::ToString | Func::Typeof => String,
        Func::ToInt => Int,
        Func::ToLong => Long,
        Func::ToReal => Real,
        Func::ToBool => Bool,
        Func::ToDatetime => DateTime,
        Func::ToTimespan => TimeSpan,
        Func::ToGuid => Guid,
        Func::Iff => {
            want(0, &[Bool], "bool")?;
            unify(args[1], args[2]).ok_or_else(|| {
                format!(
                    "The function '{name}' expects its 2nd and 3rd arguments of the same type, got {} and {}",
                    args[1], args[2]
                )
            })?
        }
        Func::Case => {
            if args.len() % 2 == 0 {
                return Err(format!(
                    "The function '{name}' expects an odd number of arguments (predicate, value pairs then a default)"
                ));
            }
            let mut t = args[args.len() - 1];
            for i in (0..args.len() - 1).step_by(2) {
                want(i, &[Bool], "bool")?;
                t = unify(t, args[i + 1]).ok_or_else(|| {
                    format!(
                        "The function '{name}' expects all values of the same type, got {t} and {}",
                        args[i + 1]
                    )
                })?;
            }
            t
        }
        Func::Coalesce => {
            let mut t = args[0];
            for a in &args[1..] {
                t = unify(t, *a).ok_or_else(|| {
                    format!("The function '{name}' expects all arguments of the same type, got {t} and {a}")
                })?;
            }
            t
        }
        Func::IsNull | Func::IsNotNull | Func::IsEmpty | Func::IsNotEmpty | Func::Not => {
            if f == Func::Not {
                want(0, &[Bool], "bool")?;
            }
            Bool
        }
        Func::ArrayLength => Long,
        Func::Abs => {
            want(0, &[Int, Long, Real, TimeSpan], "a number")?;
            if args[0] == Int {
                Long
            } else {
                args[0]
            }
        }
        Func::Round => {
            want(0, &num, "a number")?;
            want(1, &num, "a number")?;
            if args[0] == Dynamic {
                Real
            } else {
                args[0]
            }
        }
        Func::Sqrt | Func::Log10 => {
            want(0, &num, "a number")?;
            Real
        }
    })
}

/// Common type of two branches: equal types, numbers widen, dynamic absorbs.
pub(crate) fn unify(a: KqlType, b: KqlType) -> Option<KqlType> {
    use KqlType::*;
    if a == b {
        return Some(a);
    }
    match (a, b) {
        (Dynamic, x) | (x, Dynamic) => Some(x),
        (Int, Long) | (Long, Int) => Some(Long),
        (Real, Int | Long) | (Int | Long, Real) => Some(Real),
        _ => None,
    }
}

/// Context of an evaluation: the query's `now`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct EvalCtx {
    pub now: i64,
}

fn s(v: &Value) -> std::borrow::Cow<'_, str> {
    match v {
        Value::String(s) => std::borrow::Cow::Borrowed(s.as_str()),
        other => std::borrow::Cow::Owned(other.to_kql_string()),
    }
}

pub(crate) fn as_i64(v: &Value) -> Option<i64> {
    match v {
        Value::Long(i) => Some(*i),
        Value::Real(r) if r.is_finite() => Some(r.trunc() as i64),
        Value::Bool(b) => Some(i64::from(*b)),
        Value::Dynamic(j) => j
            .as_i64()
            .or_else(|| j.as_f64().filter(|f| f.is_finite()).map(|f| f.trunc() as i64)),
        _ => None,
    }
}

pub(crate) fn as_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Long(i) => Some(*i as f64),
        Value::Real(r) => Some(*r),
        Value::Dynamic(j) => j.as_f64(),
        _ => None,
    }
}

fn dt_of(v: &Value) -> Option<i64> {
    match v {
        Value::DateTime(t) => Some(*t),
        Value::Dynamic(serde_json::Value::String(s)) => parse_datetime(s),
        _ => None,
    }
}

fn ts_of(v: &Value) -> Option<i64> {
    match v {
        Value::TimeSpan(t) => Some(*t),
        Value::Dynamic(serde_json::Value::String(s)) => parse_timespan(s),
        _ => None,
    }
}

/// Converts a value to a column type (for `dynamic` results assigned to typed
/// contexts and the `to*` functions). Unconvertible values become null.
pub(crate) fn convert(v: &Value, ty: KqlType) -> Value {
    match ty {
        KqlType::String => Value::String(v.to_kql_string()),
        KqlType::Int => to_long(v)
            .map(|i| Value::Long(i64::from(i as i32)))
            .unwrap_or(Value::Null),
        KqlType::Long => to_long(v).map(Value::Long).unwrap_or(Value::Null),
        KqlType::Real => match v {
            Value::String(s) => s.trim().parse::<f64>().map(Value::Real).unwrap_or(Value::Null),
            Value::Dynamic(serde_json::Value::String(s)) => {
                s.trim().parse::<f64>().map(Value::Real).unwrap_or(Value::Null)
            }
            Value::Bool(b) => Value::Real(f64::from(u8::from(*b))),
            Value::DateTime(t) | Value::TimeSpan(t) => Value::Real(*t as f64),
            _ => as_f64(v).map(Value::Real).unwrap_or(Value::Null),
        },
        KqlType::Bool => match v {
            Value::Bool(b) => Value::Bool(*b),
            Value::Long(i) => Value::Bool(*i != 0),
            Value::Real(r) => Value::Bool(*r != 0.0),
            Value::String(_) | Value::Dynamic(serde_json::Value::String(_)) => {
                match s(v).trim().to_ascii_lowercase().as_str() {
                    "true" | "1" => Value::Bool(true),
                    "false" | "0" => Value::Bool(false),
                    _ => Value::Null,
                }
            }
            Value::Dynamic(serde_json::Value::Bool(b)) => Value::Bool(*b),
            Value::Dynamic(serde_json::Value::Number(n)) => Value::Bool(n.as_f64() != Some(0.0)),
            _ => Value::Null,
        },
        KqlType::DateTime => match v {
            Value::DateTime(t) => Value::DateTime(*t),
            Value::String(_) | Value::Dynamic(serde_json::Value::String(_)) => {
                parse_datetime(&s(v)).map(Value::DateTime).unwrap_or(Value::Null)
            }
            _ => Value::Null,
        },
        KqlType::TimeSpan => match v {
            Value::TimeSpan(t) => Value::TimeSpan(*t),
            Value::Long(i) => Value::TimeSpan(*i),
            Value::String(_) | Value::Dynamic(serde_json::Value::String(_)) => {
                parse_timespan(&s(v)).map(Value::TimeSpan).unwrap_or(Value::Null)
            }
            _ => Value::Null,
        },
        KqlType::Guid => match v {
            Value::Guid(g) => Value::Guid(g.clone()),
            Value::String(_) | Value::Dynamic(serde_json::Value::String(_)) => {
                parse_guid(&s(v)).map(Value::Guid).unwrap_or(Value::Null)
            }
            _ => Value::Null,
        },
        KqlType::Dynamic => match v {
            Value::Null => Value::Null,
            Value::Dynamic(j) => Value::Dynamic(j.clone()),
            other => Value::Dynamic(other.to_json()),
        },
    }
}

fn to_long(v: &Value) -> Option<i64> {
    match v {
        Value::String(_) | Value::Dynamic(serde_json::Value::String(_)) => {
            let t = s(v);
            let t = t.trim();
            t.parse::<i64>().ok().or_else(|| {
                t.parse::<f64>()
                    .ok()
                    .filter(|f| f.is_finite())
                    .map(|f| f.trunc() as i64)
            })
        }
        Value::DateTime(t) | Value::TimeSpan(t) => Some(*t),
        _ => as_i64(v),
    }
}

/// Compares two values of comparable types: numbers with numbers, strings with
/// strings (ordinal, case-sensitive), date-times, time spans, Booleans, GUIDs
/// (also with strings), dynamic scalars with the other side's kind. `None` when
/// either is null or the kinds do not compare.
pub(crate) fn compare_values(a: &Value, b: &Value) -> Option<Ordering> {
    use Value as V;
    match (a, b) {
        (V::Null, _) | (_, V::Null) => None,
        (V::Long(x), V::Long(y)) => Some(x.cmp(y)),
        (V::Long(_) | V::Real(_), V::Long(_) | V::Real(_)) => as_f64(a)?.partial_cmp(&as_f64(b)?),
        (V::String(x), V::String(y)) => Some(x.as_str().cmp(y.as_str())),
        (V::DateTime(x), V::DateTime(y)) | (V::TimeSpan(x), V::TimeSpan(y)) => Some(x.cmp(y)),
        (V::Bool(x), V::Bool(y)) => Some(x.cmp(y)),
        (V::Guid(x), V::Guid(y)) => Some(x.cmp(y)),
        (V::Guid(x), V::String(y)) => Some(x.as_str().cmp(y.to_ascii_lowercase().as_str())),
        (V::String(x), V::Guid(y)) => Some(x.to_ascii_lowercase().as_str().cmp(y.as_str())),
        (V::Dynamic(x), V::Dynamic(y)) => {
            if x.is_null() || y.is_null() {
                return None;
            }
            match (x, y) {
                (serde_json::Value::String(p), serde_json::Value::String(q)) => Some(p.cmp(q)),
                (serde_json::Value::Number(p), serde_json::Value::Number(q)) => p.as_f64()?.partial_cmp(&q.as_f64()?),
                (serde_json::Value::Bool(p), serde_json::Value::Bool(q)) => Some(p.cmp(q)),
                _ => (x == y).then_some(Ordering::Equal),
            }
        }
        (V::Dynamic(j), other) => {
            if j.is_null() {
                return None;
            }
            compare_values(&convert(a, other.natural_type()), other)
        }
        (other, V::Dynamic(j)) => {
            if j.is_null() {
                return None;
            }
            compare_values(other, &convert(b, other.natural_type()))
        }
        _ => None,
    }
}

pub(crate) fn eq_ci(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        a.eq_ignore_ascii_case(b)
    } else {
        a.to_lowercase() == b.to_lowercase()
    }
}

fn fold(s: &str, cs: bool) -> std::borrow::Cow<'_, str> {
    if cs {
        std::borrow::Cow::Borrowed(s)
    } else {
        std::borrow::Cow::Owned(s.to_lowercase())
    }
}

/// The string operators (`has`, `contains`...), case-sensitive or not.
pub(crate) fn str_match(op: crate::ast::StrOp, hay: &str, needle: &str, cs: bool) -> bool {
    use crate::ast::StrOp;
    if !cs && hay.is_ascii() && needle.is_ascii() {
        return ascii_ci_match(op, hay.as_bytes(), needle.as_bytes());
    }
    let h = fold(hay, cs);
    let n = fold(needle, cs);
    match op {
        StrOp::Contains => h.contains(n.as_ref()),
        StrOp::StartsWith => h.starts_with(n.as_ref()),
        StrOp::EndsWith => h.ends_with(n.as_ref()),
        StrOp::Has => has_term(&h, &n, true, true),
        StrOp::HasPrefix => has_term(&h, &n, true, false),
        StrOp::HasSuffix => has_term(&h, &n, false, true),
    }
}

/// Case-insensitive string operators on ASCII text without allocating (same
/// results as lowercasing both sides).
fn ascii_ci_match(op: crate::ast::StrOp, h: &[u8], n: &[u8]) -> bool {
    use crate::ast::StrOp;
    let eq = |a: &[u8]| a.eq_ignore_ascii_case(n);
    match op {
        StrOp::StartsWith => h.len() >= n.len() && eq(&h[..n.len()]),
        StrOp::EndsWith => h.len() >= n.len() && eq(&h[h.len() - n.len()..]),
        StrOp::Contains | StrOp::Has | StrOp::HasPrefix | StrOp::HasSuffix => {
            if n.is_empty() {
                return true;
            }
            if h.len() < n.len() {
                return false;
            }
            let (start, end) = match op {
                StrOp::Has => (true, true),
                StrOp::HasPrefix => (true, false),
                StrOp::HasSuffix => (false, true),
                _ => (false, false),
            };
            let first_alnum = n[0].is_ascii_alphanumeric();
            let last_alnum = n[n.len() - 1].is_ascii_alphanumeric();
            let f = n[0].to_ascii_lowercase();
            (0..=h.len() - n.len()).any(|i| {
                h[i].to_ascii_lowercase() == f
                    && eq(&h[i..i + n.len()])
                    && (!start || !first_alnum || i == 0 || !h[i - 1].is_ascii_alphanumeric())
                    && (!end || !last_alnum || i + n.len() == h.len() || !h[i + n.len()].is_ascii_alphanumeric())
            })
        }
    }
}

/// Whether `needle` occurs in `hay` at term boundaries (`start`: must begin a term,
/// `end`: must end one). An empty needle matches everything, as in Kusto.
pub(crate) fn has_term(hay: &str, needle: &str, start: bool, end: bool) -> bool {
    if needle.is_empty() {
        return true;
    }
    let n_first_alnum = needle.chars().next().is_some_and(char::is_alphanumeric);
    let n_last_alnum = needle.chars().next_back().is_some_and(char::is_alphanumeric);
    let mut from = 0;
    while let Some(off) = hay[from..].find(needle) {
        let i = from + off;
        let j = i + needle.len();
        let before_ok = !start || !n_first_alnum || !hay[..i].chars().next_back().is_some_and(char::is_alphanumeric);
        let after_ok = !end || !n_last_alnum || !hay[j..].chars().next().is_some_and(char::is_alphanumeric);
        if before_ok && after_ok {
            return true;
        }
        // Advance by one character.
        from = i + hay[i..].chars().next().map_or(1, char::len_utf8);
        if from > hay.len() {
            break;
        }
    }
    false
}

/// Evaluates a function on evaluated arguments.
pub(crate) fn call(f: Func, args: &[Value], ctx: &EvalCtx) -> Value {
    use Value as V;
    let a0 = args.first().unwrap_or(&V::Null);
    let a1 = args.get(1).unwrap_or(&V::Null);
    let a2 = args.get(2).unwrap_or(&V::Null);
    match f {
        Func::Ago => ts_of(a0)
            .map(|t| V::DateTime(ctx.now.saturating_sub(t)))
            .unwrap_or(V::Null),
        Func::Now => V::DateTime(ctx.now.saturating_add(ts_of(a0).unwrap_or(0))),
        Func::Bin => bin(a0, a1),
        Func::StartOfDay | Func::StartOfWeek | Func::StartOfMonth | Func::StartOfYear | Func::EndOfDay => {
            let Some(t) = dt_of(a0) else { return V::Null };
            let off = as_i64(a1).unwrap_or(0);
            start_of(f, t, off).map(V::DateTime).unwrap_or(V::Null)
        }
        Func::FormatDatetime => match dt_of(a0) {
            Some(t) => V::String(format_datetime(t, &s(a1))),
            None => V::String(String::new()),
        },
        Func::DatetimeDiff => match (dt_of(a1), dt_of(a2)) {
            (Some(x), Some(y)) => datetime_diff(&s(a0), x, y).map(V::Long).unwrap_or(V::Null),
            _ => V::Null,
        },
        Func::DatetimeAdd => match (dt_of(a2), as_i64(a1)) {
            (Some(t), Some(n)) => datetime_add(&s(a0), n, t).map(V::DateTime).unwrap_or(V::Null),
            _ => V::Null,
        },
        Func::DayOfWeek => dt_of(a0)
            .map(|t| {
                let days = t.saturating_add(EPOCH_NET_TICKS).div_euclid(TICKS_PER_DAY);
                // 0001-01-01 was a Monday; Sunday is 0.
                V::TimeSpan(((days + 1).rem_euclid(7)) * TICKS_PER_DAY)
            })
            .unwrap_or(V::Null),
        Func::GetYear | Func::GetMonth | Func::HourOfDay => {
            use chrono::{Datelike, Timelike};
            let Some(d) = dt_of(a0).and_then(ticks_to_datetime) else {
                return V::Null;
            };
            V::Long(match f {
                Func::GetYear => i64::from(d.year()),
                Func::GetMonth => i64::from(d.month()),
                _ => i64::from(d.hour()),
            })
        }
        Func::ToLower => V::String(s(a0).to_lowercase()),
        Func::ToUpper => V::String(s(a0).to_uppercase()),
        Func::Strlen => V::Long(s(a0).chars().count() as i64),
        Func::Substring => {
            let text = s(a0);
            let n = text.chars().count() as i64;
            let start = as_i64(a1).unwrap_or(0).clamp(0, n);
            let len = if args.len() > 2 { as_i64(a2).unwrap_or(0) } else { n };
            let len = len.clamp(0, n - start);
            V::String(text.chars().skip(start as usize).take(len as usize).collect())
        }
        Func::Strcat => V::String(args.iter().map(|a| s(a).into_owned()).collect()),
        Func::StrcatDelim => {
            let d = s(a0);
            V::String(args[1..].iter().map(|a| s(a).into_owned()).collect::<Vec<_>>().join(&d))
        }
        Func::Split => {
            let text = s(a0);
            let sep = s(a1);
            let parts: Vec<serde_json::Value> = if sep.is_empty() {
                vec![serde_json::Value::String(text.into_owned())]
            } else {
                text.split(sep.as_ref())
                    .map(|p| serde_json::Value::String(p.to_string()))
                    .collect()
            };
            if args.len() > 2 {
                let i = as_i64(a2).unwrap_or(-1);
                return match usize::try_from(i).ok().and_then(|i| parts.get(i)) {
                    Some(p) => V::Dynamic(serde_json::Value::Array(vec![p.clone()])),
                    None => V::Dynamic(serde_json::Value::Array(vec![])),
                };
            }
            V::Dynamic(serde_json::Value::Array(parts))
        }
        Func::ReplaceString => {
            let from = s(a1);
            if from.is_empty() {
                return V::String(s(a0).into_owned());
            }
            V::String(s(a0).replace(from.as_ref(), &s(a2)))
        }
        Func::Trim => {
            // The pattern is a regex in Kusto; Palisade trims a literal string.
            let pat = s(a0);
            let mut t: &str = &s(a1);
            if !pat.is_empty() {
                while let Some(r) = t.strip_prefix(pat.as_ref()) {
                    t = r;
                }
                while let Some(r) = t.strip_suffix(pat.as_ref()) {
                    t = r;
                }
            }
            V::String(t.to_string())
        }
        Func::IndexOf => {
            let h = s(a0);
            let n = s(a1);
            V::Long(h.find(n.as_ref()).map(|b| h[..b].chars().count() as i64).unwrap_or(-1))
        }
        Func::ParseJson => match a0 {
            V::String(t) => serde_json::from_str(t)
                .map(V::Dynamic)
                .unwrap_or_else(|_| V::Dynamic(serde_json::Value::String(t.clone()))),
            V::Dynamic(serde_json::Value::String(t)) => serde_json::from_str(t)
                .map(V::Dynamic)
                .unwrap_or_else(|_| V::Dynamic(serde_json::Value::String(t.clone()))),
            other => convert(other, KqlType::Dynamic),
        },
        Func::ToString => V::String(a0.to_kql_string()),
        Func::ToInt => convert(a0, KqlType::Int),
        Func::ToLong => convert(a0, KqlType::Long),
        Func::ToReal => convert(a0, KqlType::Real),
        Func::ToBool => convert(a0, KqlType::Bool),
        Func::ToDatetime => convert(a0, KqlType::DateTime),
        Func::ToTimespan => convert(a0, KqlType::TimeSpan),
        Func::ToGuid => convert(a0, KqlType::Guid),
        Func::Iff => {
            if matches!(a0, V::Bool(true)) {
                a1.clone()
            } else {
                a2.clone()
            }
        }
        Func::Case => {
            let n = args.len();
            for i in (0..n.saturating_sub(1)).step_by(2) {
                if matches!(args[i], V::Bool(true)) {
                    return args[i + 1].clone();
                }
            }
            args.last().cloned().unwrap_or(V::Null)
        }
        Func::Coalesce => args
            .iter()
            .find(|a| !a.is_null() && !matches!(a, V::String(s) if s.is_empty()))
            .cloned()
            .unwrap_or_else(|| args.last().cloned().unwrap_or(V::Null)),
        Func::IsNull => V::Bool(a0.is_null()),
        Func::IsNotNull => V::Bool(!a0.is_null()),
        Func::IsEmpty => V::Bool(is_empty(a0)),
        Func::IsNotEmpty => V::Bool(!is_empty(a0)),
        Func::ArrayLength => match a0 {
            V::Dynamic(serde_json::Value::Array(a)) => V::Long(a.len() as i64),
            _ => V::Null,
        },
        Func::Pack => {
            let mut m = serde_json::Map::new();
            for pair in args.chunks(2) {
                if let [k, v] = pair {
                    m.insert(s(k).into_owned(), v.to_json());
                }
            }
            V::Dynamic(serde_json::Value::Object(m))
        }
        Func::PackArray => V::Dynamic(serde_json::Value::Array(args.iter().map(Value::to_json).collect())),
        Func::Ipv4IsPrivate => match parse_ipv4(&s(a0)) {
            Some((ip, _)) => V::Bool(
                ip >> 24 == 10
                    || ip >> 20 == (172 << 4 | 1)
                    || ip >> 16 == (192 << 8 | 168)
                    || ip >> 16 == (169 << 8 | 254),
            ),
            None => V::Null,
        },
        Func::Ipv4IsInRange => match (parse_ipv4(&s(a0)), parse_ipv4(&s(a1))) {
            (Some((ip, _)), Some((net, bits))) => {
                let mask = if bits == 0 { 0 } else { u32::MAX << (32 - bits) };
                V::Bool(ip & mask == net & mask)
            }
            _ => V::Null,
        },
        // Regex forms are evaluated by `TExpr::RegexCall` (constant pattern).
        Func::ReplaceRegex | Func::ExtractAll => V::Null,
        Func::CountOf => {
            let h = s(a0);
            let n = s(a1);
            if n.is_empty() {
                V::Long(0)
            } else {
                V::Long(h.matches(n.as_ref()).count() as i64)
            }
        }
        Func::Base64Decode => match base64_decode(&s(a0)) {
            Some(b) => String::from_utf8(b).map(V::String).unwrap_or(V::Null),
            None => V::Null,
        },
        Func::Base64Encode => V::String(base64_encode(s(a0).as_bytes())),
        Func::UnixSeconds | Func::UnixMillis => {
            let per = if f == Func::UnixSeconds {
                TICKS_PER_SECOND
            } else {
                TICKS_PER_MILLISECOND
            };
            match a0 {
                V::Long(i) => i.checked_mul(per).map(V::DateTime).unwrap_or(V::Null),
                other => as_f64(other)
                    .map(|x| x * per as f64)
                    .filter(|t| t.is_finite() && t.abs() < 9.2e18)
                    .map(|t| V::DateTime(t as i64))
                    .unwrap_or(V::Null),
            }
        }
        Func::DayOfMonth | Func::DayOfYear => {
            use chrono::Datelike;
            match dt_of(a0).and_then(ticks_to_datetime) {
                Some(d) => V::Long(i64::from(if f == Func::DayOfMonth { d.day() } else { d.ordinal() })),
                None => V::Null,
            }
        }
        Func::EndOfWeek | Func::EndOfMonth => {
            let Some(t) = dt_of(a0) else { return V::Null };
            let off = as_i64(a1).unwrap_or(0);
            let start = if f == Func::EndOfWeek {
                Func::StartOfWeek
            } else {
                Func::StartOfMonth
            };
            start_of(start, t, off.saturating_add(1))
                .and_then(|x| x.checked_sub(1))
                .map(V::DateTime)
                .unwrap_or(V::Null)
        }
        Func::ArrayConcat => {
            let mut out = Vec::new();
            for a in args {
                match a {
                    V::Dynamic(serde_json::Value::Array(x)) => out.extend(x.iter().cloned()),
                    _ => return V::Null,
                }
            }
            V::Dynamic(serde_json::Value::Array(out))
        }
        Func::Reverse => V::String(s(a0).chars().rev().collect()),
        Func::BagKeys => match a0 {
            V::Dynamic(serde_json::Value::Object(m)) => V::Dynamic(serde_json::Value::Array(
                m.keys().map(|k| serde_json::Value::String(k.clone())).collect(),
            )),
            _ => V::Null,
        },
        Func::Not => match a0 {
            V::Bool(b) => V::Bool(!b),
            _ => V::Null,
        },
        Func::Abs => match a0 {
            V::Long(i) => V::Long(i.wrapping_abs()),
            V::Real(r) => V::Real(r.abs()),
            V::TimeSpan(t) => V::TimeSpan(t.wrapping_abs()),
            other => as_f64(other).map(|f| V::Real(f.abs())).unwrap_or(V::Null),
        },
        Func::Round => {
            let p = as_i64(a1).unwrap_or(0).clamp(-15, 15) as i32;
            match a0 {
                V::Long(i) => V::Long(*i),
                other => as_f64(other)
                    .map(|f| {
                        let m = 10f64.powi(p);
                        V::Real((f * m).round() / m)
                    })
                    .unwrap_or(V::Null),
            }
        }
        Func::Sqrt => as_f64(a0).map(|f| V::Real(f.sqrt())).unwrap_or(V::Null),
        Func::Log10 => as_f64(a0).map(|f| V::Real(f.log10())).unwrap_or(V::Null),
        Func::Typeof => V::String(
            match a0 {
                V::Null => "null",
                V::Dynamic(serde_json::Value::Array(_)) => "array",
                V::Dynamic(serde_json::Value::Object(_)) => "dictionary",
                V::Dynamic(serde_json::Value::String(_)) | V::String(_) => "string",
                V::Dynamic(serde_json::Value::Number(n)) if n.is_i64() => "long",
                V::Dynamic(serde_json::Value::Number(_)) | V::Real(_) => "real",
                V::Dynamic(serde_json::Value::Bool(_)) | V::Bool(_) => "bool",
                V::Dynamic(serde_json::Value::Null) => "null",
                V::Long(_) => "long",
                V::DateTime(_) => "datetime",
                V::TimeSpan(_) => "timespan",
                V::Guid(_) => "guid",
            }
            .into(),
        ),
    }
}

/// `a.b.c.d` or `a.b.c.d/n` as (address, prefix bits).
fn parse_ipv4(text: &str) -> Option<(u32, u32)> {
    let (addr, bits) = match text.trim().split_once('/') {
        Some((a, b)) => (a, b.parse::<u32>().ok().filter(|b| *b <= 32)?),
        None => (text.trim(), 32),
    };
    let parts: Vec<u8> = addr
        .split('.')
        .map(|p| p.parse::<u8>())
        .collect::<Result<_, _>>()
        .ok()?;
    if parts.len() != 4 {
        return None;
    }
    Some((u32::from_be_bytes([parts[0], parts[1], parts[2], parts[3]]), bits))
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn base64_encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(B64[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for c in text.trim().bytes() {
        if c == b'=' {
            break;
        }
        let v = B64.iter().position(|x| *x == c)? as u32;
        acc = acc << 6 | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits & 0xff) as u8);
        }
    }
    Some(out)
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Dynamic(serde_json::Value::Null) => true,
        Value::Dynamic(serde_json::Value::String(s)) => s.is_empty(),
        _ => false,
    }
}

fn bin(v: &Value, size: &Value) -> Value {
    match (v, size) {
        (Value::DateTime(t), Value::TimeSpan(sz)) if *sz > 0 => {
            let n = t.saturating_add(EPOCH_NET_TICKS);
            Value::DateTime(n.div_euclid(*sz).saturating_mul(*sz).saturating_sub(EPOCH_NET_TICKS))
        }
        (Value::TimeSpan(t), Value::TimeSpan(sz)) if *sz > 0 => t
            .div_euclid(*sz)
            .checked_mul(*sz)
            .map(Value::TimeSpan)
            .unwrap_or(Value::Null),
        (Value::Long(x), Value::Long(sz)) if *sz > 0 => x
            .div_euclid(*sz)
            .checked_mul(*sz)
            .map(Value::Long)
            .unwrap_or(Value::Null),
        (Value::Long(_) | Value::Real(_), Value::Long(_) | Value::Real(_)) => match (as_f64(v), as_f64(size)) {
            (Some(x), Some(sz)) if sz > 0.0 => Value::Real((x / sz).floor() * sz),
            _ => Value::Null,
        },
        (Value::Dynamic(_), _) => {
            let x = convert(v, KqlType::Real);
            bin(&x, size)
        }
        _ => Value::Null,
    }
}

fn start_of(f: Func, t: i64, offset: i64) -> Option<i64> {
    use chrono::{Datelike, Months, NaiveDate};
    let d = ticks_to_datetime(t)?.date_naive();
    let day_ticks = |nd: NaiveDate| nd.and_hms_opt(0, 0, 0).map(|n| datetime_to_ticks(n.and_utc()));
    Some(match f {
        Func::StartOfDay => day_ticks(d)?.checked_add(offset.checked_mul(TICKS_PER_DAY)?)?,
        Func::EndOfDay => day_ticks(d)?
            .checked_add((offset.checked_add(1)?).checked_mul(TICKS_PER_DAY)?)?
            .checked_sub(1)?,
        Func::StartOfWeek => {
            let back = i64::from(d.weekday().num_days_from_sunday());
            day_ticks(d)?
                .checked_sub(back * TICKS_PER_DAY)?
                .checked_add(offset.checked_mul(7 * TICKS_PER_DAY)?)?
        }
        Func::StartOfMonth => {
            let first = NaiveDate::from_ymd_opt(d.year(), d.month(), 1)?;
            let m = if offset >= 0 {
                first.checked_add_months(Months::new(u32::try_from(offset).ok()?))?
            } else {
                first.checked_sub_months(Months::new(u32::try_from(offset.unsigned_abs()).ok()?))?
            };
            day_ticks(m)?
        }
        Func::StartOfYear => {
            let y = i32::try_from(i64::from(d.year()).checked_add(offset)?).ok()?;
            day_ticks(NaiveDate::from_ymd_opt(y, 1, 1)?)?
        }
        _ => return None,
    })
}

fn unit_ticks(part: &str) -> Option<i64> {
    Some(match part.to_ascii_lowercase().as_str() {
        "week" => 7 * TICKS_PER_DAY,
        "day" => TICKS_PER_DAY,
        "hour" => TICKS_PER_HOUR,
        "minute" => TICKS_PER_MINUTE,
        "second" => TICKS_PER_SECOND,
        "millisecond" => TICKS_PER_MILLISECOND,
        "microsecond" => TICKS_PER_MICROSECOND,
        "nanosecond" => 1,
        _ => return None,
    })
}

/// Number of `part` boundaries between `b` and `a` (`a - b`), as Kusto's
/// `datetime_diff`. Nanoseconds are counted in ticks times 100.
fn datetime_diff(part: &str, a: i64, b: i64) -> Option<i64> {
    use chrono::Datelike;
    let p = part.to_ascii_lowercase();
    match p.as_str() {
        "year" | "quarter" | "month" => {
            let da = ticks_to_datetime(a)?;
            let db = ticks_to_datetime(b)?;
            let ma = i64::from(da.year()) * 12 + i64::from(da.month0());
            let mb = i64::from(db.year()) * 12 + i64::from(db.month0());
            Some(match p.as_str() {
                "year" => i64::from(da.year()) - i64::from(db.year()),
                "quarter" => ma.div_euclid(3) - mb.div_euclid(3),
                _ => ma - mb,
            })
        }
        "week" => {
            // Weeks start on Sunday; 0001-01-01 was a Monday, so shift by one day.
            let w = |t: i64| {
                t.saturating_add(EPOCH_NET_TICKS + TICKS_PER_DAY)
                    .div_euclid(7 * TICKS_PER_DAY)
            };
            Some(w(a) - w(b))
        }
        "nanosecond" => a.checked_sub(b)?.checked_mul(100),
        _ => {
            let u = unit_ticks(&p)?;
            let f = |t: i64| t.saturating_add(EPOCH_NET_TICKS).div_euclid(u);
            Some(f(a) - f(b))
        }
    }
}

fn datetime_add(part: &str, n: i64, t: i64) -> Option<i64> {
    use chrono::Months;
    let p = part.to_ascii_lowercase();
    match p.as_str() {
        "year" | "quarter" | "month" => {
            let months = match p.as_str() {
                "year" => n.checked_mul(12)?,
                "quarter" => n.checked_mul(3)?,
                _ => n,
            };
            let d = ticks_to_datetime(t)?;
            let r = if months >= 0 {
                d.checked_add_months(Months::new(u32::try_from(months).ok()?))?
            } else {
                d.checked_sub_months(Months::new(u32::try_from(months.unsigned_abs()).ok()?))?
            };
            Some(datetime_to_ticks(r))
        }
        "nanosecond" => t.checked_add(n / 100),
        _ => t.checked_add(n.checked_mul(unit_ticks(&p)?)?),
    }
}

/// `format_datetime` with the .NET-style specifiers Kusto documents: `yyyy yy MM M
/// dd d HH H hh h mm m ss s f..fffffff F..FFFFFFF tt`; other characters are copied.
pub(crate) fn format_datetime(t: i64, fmt: &str) -> String {
    use chrono::{Datelike, Timelike};
    let Some(d) = ticks_to_datetime(t) else {
        return String::new();
    };
    let frac = t.rem_euclid(TICKS_PER_SECOND);
    let chars: Vec<char> = fmt.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let mut n = 1;
        while i + n < chars.len() && chars[i + n] == c {
            n += 1;
        }
        let two = |v: u32| format!("{v:02}");
        match c {
            'y' => {
                let y = d.year();
                if n <= 2 {
                    out.push_str(&format!("{:02}", y.rem_euclid(100)));
                } else {
                    out.push_str(&format!("{y:0width$}", width = n));
                }
            }
            'M' => out.push_str(&if n >= 2 { two(d.month()) } else { d.month().to_string() }),
            'd' => out.push_str(&if n >= 2 { two(d.day()) } else { d.day().to_string() }),
            'H' => out.push_str(&if n >= 2 { two(d.hour()) } else { d.hour().to_string() }),
            'h' => {
                let h = match d.hour() % 12 {
                    0 => 12,
                    x => x,
                };
                out.push_str(&if n >= 2 { two(h) } else { h.to_string() });
            }
            'm' => out.push_str(&if n >= 2 {
                two(d.minute())
            } else {
                d.minute().to_string()
            }),
            's' => out.push_str(&if n >= 2 {
                two(d.second())
            } else {
                d.second().to_string()
            }),
            'f' | 'F' => {
                let digits = format!("{frac:07}");
                let k = n.min(7);
                let part = &digits[..k];
                if c == 'F' {
                    out.push_str(part.trim_end_matches('0'));
                } else {
                    out.push_str(part);
                }
            }
            't' => out.push_str(if d.hour() < 12 { "AM" } else { "PM" }),
            _ => {
                for _ in 0..n {
                    out.push(c);
                }
            }
        }
        i += n;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ast::StrOp;

    #[test]
    fn ascii_fast_path_agrees() {
        let hays = [
            "C:\\Windows\\cmd.exe",
            "cmd",
            "",
            "xcmd.exe",
            "a-b_c",
            "CMD.EXE /c",
            "ab",
        ];
        let needles = ["cmd", "CMD.exe", "", ".exe", "b_c", "x", "a-b", "abc"];
        for op in [
            StrOp::Has,
            StrOp::HasPrefix,
            StrOp::HasSuffix,
            StrOp::Contains,
            StrOp::StartsWith,
            StrOp::EndsWith,
        ] {
            for h in hays {
                for n in needles {
                    let slow = {
                        let (h, n) = (h.to_lowercase(), n.to_lowercase());
                        match op {
                            StrOp::Contains => h.contains(&n),
                            StrOp::StartsWith => h.starts_with(&n),
                            StrOp::EndsWith => h.ends_with(&n),
                            StrOp::Has => has_term(&h, &n, true, true),
                            StrOp::HasPrefix => has_term(&h, &n, true, false),
                            StrOp::HasSuffix => has_term(&h, &n, false, true),
                        }
                    };
                    assert_eq!(str_match(op, h, n, false), slow, "{op:?} {h:?} {n:?}");
                }
            }
        }
    }

    #[test]
    fn has_semantics() {
        assert!(str_match(StrOp::Has, "C:\\Windows\\cmd.exe", "cmd", false));
        assert!(str_match(StrOp::Has, "C:\\Windows\\cmd.exe", "CMD.EXE", false));
        assert!(!str_match(StrOp::Has, "powershell.exe", "shell", false));
        assert!(str_match(StrOp::Has, "cmd.exe", ".exe", false));
        assert!(!str_match(StrOp::Has, "abc", "ABC", true));
        assert!(str_match(StrOp::HasPrefix, "powershell.exe", "power", false));
        assert!(str_match(StrOp::HasSuffix, "powershell.exe", "shell", false));
    }

    #[test]
    fn datetime_functions() {
        let t = parse_datetime("2025-03-05T13:45:12.1234567Z").unwrap();
        assert_eq!(format_datetime(t, "yyyy-MM-dd HH:mm:ss.fff"), "2025-03-05 13:45:12.123");
        let b = bin(&Value::DateTime(t), &Value::TimeSpan(TICKS_PER_HOUR));
        assert_eq!(b, Value::DateTime(parse_datetime("2025-03-05T13:00:00Z").unwrap()));
        let u = parse_datetime("2025-03-04T23:00:00Z").unwrap();
        assert_eq!(datetime_diff("day", t, u), Some(1));
        assert_eq!(datetime_diff("hour", t, u), Some(14));
        assert_eq!(datetime_diff("month", t, u), Some(0));
        let w = start_of(Func::StartOfWeek, t, 0).unwrap();
        assert_eq!(format_datetime_ticks(w), "2025-03-02T00:00:00.0000000Z");
    }
}
