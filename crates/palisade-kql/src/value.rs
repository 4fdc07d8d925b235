//! Runtime values ([`Value`]), date-time and time-span text forms, ordering and
//! equality.
//!
//! Date-times are 100 ns ticks since the Unix epoch, UTC (Kusto's precision), and are
//! written as ISO 8601 with 7 fractional digits and `Z`, as the advanced hunting API
//! does. Time spans are ticks too, written `[-][d.]hh:mm:ss[.fffffff]` like .NET.
//! `int` and `long` share [`Value::Long`]; the column type says which it is.

use std::cmp::Ordering;
use std::hash::{Hash, Hasher};

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

use crate::types::KqlType;

/// Ticks (100 ns) per unit.
pub const TICKS_PER_MICROSECOND: i64 = 10;
pub const TICKS_PER_MILLISECOND: i64 = 10_000;
pub const TICKS_PER_SECOND: i64 = 10_000_000;
pub const TICKS_PER_MINUTE: i64 = 60 * TICKS_PER_SECOND;
pub const TICKS_PER_HOUR: i64 = 60 * TICKS_PER_MINUTE;
pub const TICKS_PER_DAY: i64 = 24 * TICKS_PER_HOUR;

/// One scalar value.
///
/// Strings are never null in Kusto: an absent string is `String("")`; the engine
/// normalises `Null` read from a source for a string column to `""`.
#[derive(Debug, Clone)]
pub enum Value {
    Null,
    Bool(bool),
    /// `int` or `long`.
    Long(i64),
    Real(f64),
    String(String),
    /// Ticks since 1970-01-01T00:00:00Z.
    DateTime(i64),
    /// Ticks.
    TimeSpan(i64),
    /// Lowercase canonical text `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`.
    Guid(String),
    Dynamic(serde_json::Value),
}

impl Value {
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null) || matches!(self, Value::Dynamic(serde_json::Value::Null))
    }

    /// A date-time value from a chrono UTC date-time.
    pub fn from_datetime(dt: DateTime<Utc>) -> Value {
        Value::DateTime(datetime_to_ticks(dt))
    }

    /// A string value.
    pub fn str(s: impl Into<String>) -> Value {
        Value::String(s.into())
    }

    /// The string content, if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The natural type of this value (`Long` for integers, `Dynamic` for null).
    pub fn natural_type(&self) -> KqlType {
        match self {
            Value::Null | Value::Dynamic(_) => KqlType::Dynamic,
            Value::Bool(_) => KqlType::Bool,
            Value::Long(_) => KqlType::Long,
            Value::Real(_) => KqlType::Real,
            Value::String(_) => KqlType::String,
            Value::DateTime(_) => KqlType::DateTime,
            Value::TimeSpan(_) => KqlType::TimeSpan,
            Value::Guid(_) => KqlType::Guid,
        }
    }

    /// The text `tostring()` gives: strings as is, date-times ISO 8601, dynamic as
    /// compact JSON (a dynamic string without quotes), null as `""`.
    pub fn to_kql_string(&self) -> String {
        match self {
            Value::Null => String::new(),
            Value::Bool(b) => if *b { "true" } else { "false" }.to_string(),
            Value::Long(i) => i.to_string(),
            Value::Real(r) => format_real(*r),
            Value::String(s) => s.clone(),
            Value::DateTime(t) => format_datetime_ticks(*t),
            Value::TimeSpan(t) => format_timespan(*t),
            Value::Guid(g) => g.clone(),
            Value::Dynamic(serde_json::Value::String(s)) => s.clone(),
            Value::Dynamic(serde_json::Value::Null) => String::new(),
            Value::Dynamic(j) => j.to_string(),
        }
    }

    /// Reads a JSON value (as a store might keep documents) as a value of column type
    /// `ty`: strings for date-times, time spans and GUIDs are parsed, numbers are
    /// taken as they are, `dynamic` keeps the JSON (a string holding JSON, the
    /// hunting schema's `json` columns, is parsed). Anything that does not fit is
    /// null (`""` for strings).
    pub fn from_json(j: &serde_json::Value, ty: KqlType) -> Value {
        use serde_json::Value as J;
        match (ty, j) {
            (KqlType::String, J::Null) => Value::String(String::new()),
            (_, J::Null) => Value::Null,
            (KqlType::String, J::String(s)) => Value::String(s.clone()),
            (KqlType::String, other) => Value::String(other.to_string()),
            (KqlType::Bool, J::Bool(b)) => Value::Bool(*b),
            (KqlType::Int | KqlType::Long, J::Number(n)) => n.as_i64().map(Value::Long).unwrap_or(Value::Null),
            (KqlType::Real, J::Number(n)) => n.as_f64().map(Value::Real).unwrap_or(Value::Null),
            (KqlType::DateTime, J::String(s)) => parse_datetime(s).map(Value::DateTime).unwrap_or(Value::Null),
            (KqlType::TimeSpan, J::String(s)) => parse_timespan(s).map(Value::TimeSpan).unwrap_or(Value::Null),
            (KqlType::Guid, J::String(s)) => parse_guid(s).map(Value::Guid).unwrap_or(Value::Null),
            (KqlType::Dynamic, J::String(s)) => serde_json::from_str(s)
                .map(Value::Dynamic)
                .unwrap_or_else(|_| Value::Dynamic(j.clone())),
            (KqlType::Dynamic, other) => Value::Dynamic(other.clone()),
            _ => Value::Null,
        }
    }

    /// Converts to JSON for `dynamic` construction (`pack`, `make_list`...).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Long(i) => J::from(*i),
            Value::Real(r) => serde_json::Number::from_f64(*r).map(J::Number).unwrap_or(J::Null),
            Value::String(s) => J::String(s.clone()),
            Value::DateTime(t) => J::String(format_datetime_ticks(*t)),
            Value::TimeSpan(t) => J::String(format_timespan(*t)),
            Value::Guid(g) => J::String(g.clone()),
            Value::Dynamic(j) => j.clone(),
        }
    }
}

pub(crate) fn format_real(r: f64) -> String {
    if r.is_nan() {
        "NaN".into()
    } else if r.is_infinite() {
        if r > 0.0 { "Infinity" } else { "-Infinity" }.into()
    } else {
        format!("{r}")
    }
}

/// Ticks of a chrono date-time (saturating outside ±29,000 years).
pub fn datetime_to_ticks(dt: DateTime<Utc>) -> i64 {
    let secs = dt.timestamp();
    let sub = i64::from(dt.timestamp_subsec_nanos()) / 100;
    secs.saturating_mul(TICKS_PER_SECOND).saturating_add(sub)
}

/// Chrono date-time of ticks, if representable.
pub fn ticks_to_datetime(ticks: i64) -> Option<DateTime<Utc>> {
    let secs = ticks.div_euclid(TICKS_PER_SECOND);
    let nanos = (ticks.rem_euclid(TICKS_PER_SECOND) * 100) as u32;
    DateTime::from_timestamp(secs, nanos)
}

/// ISO 8601 with 7 fractional digits and `Z`: `2025-01-01T06:38:35.7664356Z`.
pub fn format_datetime_ticks(ticks: i64) -> String {
    match ticks_to_datetime(ticks) {
        Some(dt) => {
            let frac = ticks.rem_euclid(TICKS_PER_SECOND);
            format!("{}.{frac:07}Z", dt.format("%Y-%m-%dT%H:%M:%S"))
        }
        None => String::new(),
    }
}

/// `[-][d.]hh:mm:ss[.fffffff]`, as .NET's `TimeSpan.ToString()`.
pub fn format_timespan(ticks: i64) -> String {
    let neg = ticks < 0;
    let t = ticks.unsigned_abs();
    let tps = TICKS_PER_SECOND as u64;
    let days = t / TICKS_PER_DAY as u64;
    let rem = t % TICKS_PER_DAY as u64;
    let h = rem / TICKS_PER_HOUR as u64;
    let m = (rem % TICKS_PER_HOUR as u64) / TICKS_PER_MINUTE as u64;
    let s = (rem % TICKS_PER_MINUTE as u64) / tps;
    let f = rem % tps;
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    if days > 0 {
        out.push_str(&format!("{days}."));
    }
    out.push_str(&format!("{h:02}:{m:02}:{s:02}"));
    if f > 0 {
        out.push_str(&format!(".{f:07}"));
    }
    out
}

/// Parses the date-time forms Kusto accepts in `datetime(...)` and `todatetime()`:
/// ISO 8601 with `T` or a space, optional seconds, fraction (up to 7 digits kept)
/// and `Z` or `±hh:mm` offset (no offset means UTC), or a bare date.
pub fn parse_datetime(s: &str) -> Option<i64> {
    let s = s.trim();
    if s.is_empty() || s.len() > 64 {
        return None;
    }
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return Some(datetime_to_ticks(dt.with_timezone(&Utc)));
    }
    let body = s.strip_suffix('Z').or_else(|| s.strip_suffix('z')).unwrap_or(s);
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(n) = NaiveDateTime::parse_from_str(body, fmt) {
            return Some(datetime_to_ticks(n.and_utc()));
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(body, "%Y-%m-%d") {
        return d.and_hms_opt(0, 0, 0).map(|n| datetime_to_ticks(n.and_utc()));
    }
    // With an offset but not RFC 3339 (space separator, no seconds).
    if let Ok(dt) = DateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f%:z") {
        return Some(datetime_to_ticks(dt.with_timezone(&Utc)));
    }
    None
}

/// Parses a time span in .NET form (`[-][d.]hh:mm[:ss[.f]]`) or as a KQL literal
/// (`1d`, `2.5h`, `30m`, `10s`, `100ms`...).
pub fn parse_timespan(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Some(t) = parse_timespan_literal(s) {
        return Some(t);
    }
    let (neg, body) = match s.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, s),
    };
    let (days, clock) = match body.split_once('.') {
        Some((d, rest)) if rest.contains(':') && !d.contains(':') => (d.parse::<i64>().ok()?, rest),
        _ => (0, body),
    };
    let parts: Vec<&str> = clock.split(':').collect();
    if parts.len() < 2 || parts.len() > 3 {
        return None;
    }
    let h: i64 = parts[0].parse().ok()?;
    let m: i64 = parts[1].parse().ok()?;
    let (sec, frac) = match parts.get(2) {
        Some(p) => match p.split_once('.') {
            Some((a, b)) => (a.parse::<i64>().ok()?, frac_ticks(b)?),
            None => (p.parse::<i64>().ok()?, 0),
        },
        None => (0, 0),
    };
    let t = days
        .checked_mul(TICKS_PER_DAY)?
        .checked_add(h.checked_mul(TICKS_PER_HOUR)?)?
        .checked_add(m.checked_mul(TICKS_PER_MINUTE)?)?
        .checked_add(sec.checked_mul(TICKS_PER_SECOND)?)?
        .checked_add(frac)?;
    Some(if neg { -t } else { t })
}

fn frac_ticks(digits: &str) -> Option<i64> {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut d: String = digits.chars().take(7).collect();
    while d.len() < 7 {
        d.push('0');
    }
    d.parse().ok()
}

/// Unit suffixes of time-span literals and their tick counts.
pub(crate) const TIMESPAN_UNITS: &[(&str, i64)] = &[
    ("d", TICKS_PER_DAY),
    ("day", TICKS_PER_DAY),
    ("days", TICKS_PER_DAY),
    ("h", TICKS_PER_HOUR),
    ("hr", TICKS_PER_HOUR),
    ("hrs", TICKS_PER_HOUR),
    ("hour", TICKS_PER_HOUR),
    ("hours", TICKS_PER_HOUR),
    ("m", TICKS_PER_MINUTE),
    ("min", TICKS_PER_MINUTE),
    ("minute", TICKS_PER_MINUTE),
    ("minutes", TICKS_PER_MINUTE),
    ("s", TICKS_PER_SECOND),
    ("sec", TICKS_PER_SECOND),
    ("second", TICKS_PER_SECOND),
    ("seconds", TICKS_PER_SECOND),
    ("ms", TICKS_PER_MILLISECOND),
    ("milli", TICKS_PER_MILLISECOND),
    ("millis", TICKS_PER_MILLISECOND),
    ("millisecond", TICKS_PER_MILLISECOND),
    ("milliseconds", TICKS_PER_MILLISECOND),
    ("microsecond", TICKS_PER_MICROSECOND),
    ("microseconds", TICKS_PER_MICROSECOND),
    ("tick", 1),
    ("ticks", 1),
];

/// `1d`, `2.5h`, `100ms`: a decimal number then a unit. None if not of that form
/// or out of range.
pub(crate) fn parse_timespan_literal(s: &str) -> Option<i64> {
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    let (num, unit) = s.split_at(split);
    if num.is_empty() {
        return None;
    }
    let per = TIMESPAN_UNITS
        .iter()
        .find(|(u, _)| u.eq_ignore_ascii_case(unit))
        .map(|(_, t)| *t)?;
    if num.contains('.') {
        let f: f64 = num.parse().ok()?;
        let t = f * per as f64;
        if !t.is_finite() || t.abs() >= i64::MAX as f64 {
            return None;
        }
        Some(t.round() as i64)
    } else {
        num.parse::<i64>().ok()?.checked_mul(per)
    }
}

/// Canonical lowercase GUID text, if `s` is a GUID (with or without braces).
pub fn parse_guid(s: &str) -> Option<String> {
    let s = s.trim();
    let s = s.strip_prefix('{').and_then(|x| x.strip_suffix('}')).unwrap_or(s);
    let b = s.as_bytes();
    if b.len() != 36 {
        return None;
    }
    for (i, c) in b.iter().enumerate() {
        let dash = matches!(i, 8 | 13 | 18 | 23);
        if dash != (*c == b'-') || (!dash && !c.is_ascii_hexdigit()) {
            return None;
        }
    }
    Some(s.to_ascii_lowercase())
}

fn type_rank(v: &Value) -> u8 {
    match v {
        Value::Null => 0,
        Value::Bool(_) => 1,
        Value::Long(_) | Value::Real(_) => 2,
        Value::DateTime(_) => 3,
        Value::TimeSpan(_) => 4,
        Value::String(_) => 5,
        Value::Guid(_) => 6,
        Value::Dynamic(_) => 7,
    }
}

/// Total order used by `sort`, `top`, `min`/`max` and `arg_max`: nulls lowest, then
/// by type, numbers compared numerically (`int`/`long` with `real`), strings
/// ordinally (code point order, case-sensitive), NaN above every number.
pub fn total_cmp(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Long(x), Value::Long(y)) => x.cmp(y),
        (Value::Real(x), Value::Real(y)) => real_cmp(*x, *y),
        (Value::Long(x), Value::Real(y)) => real_cmp(*x as f64, *y),
        (Value::Real(x), Value::Long(y)) => real_cmp(*x, *y as f64),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::DateTime(x), Value::DateTime(y)) | (Value::TimeSpan(x), Value::TimeSpan(y)) => x.cmp(y),
        (Value::Guid(x), Value::Guid(y)) => x.cmp(y),
        (Value::Dynamic(x), Value::Dynamic(y)) => x.to_string().cmp(&y.to_string()),
        _ => {
            let (an, bn) = (a.is_null(), b.is_null());
            match (an, bn) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Less,
                (false, true) => Ordering::Greater,
                _ => type_rank(a).cmp(&type_rank(b)),
            }
        }
    }
}

/// Numeric order with `-0.0 == 0.0` and NaN above every number (equal to NaN).
fn real_cmp(a: f64, b: f64) -> Ordering {
    match a.partial_cmp(&b) {
        Some(o) => o,
        None => a.is_nan().cmp(&b.is_nan()),
    }
}

/// Grouping equality (`summarize by`, `distinct`, join keys, `dcount`): like
/// `total_cmp` == Equal, so NaN equals NaN and `1 == 1.0`.
impl PartialEq for Value {
    fn eq(&self, other: &Self) -> bool {
        total_cmp(self, other) == Ordering::Equal
    }
}
impl Eq for Value {}

impl Hash for Value {
    fn hash<H: Hasher>(&self, state: &mut H) {
        match self {
            Value::Null => 0u8.hash(state),
            Value::Dynamic(serde_json::Value::Null) => 0u8.hash(state),
            Value::Bool(b) => b.hash(state),
            // Integral reals hash like the integer so that `1 == 1.0` hashes equal.
            Value::Long(i) => (2u8, *i as f64).to_bits_hash(state),
            Value::Real(r) => (2u8, *r).to_bits_hash(state),
            Value::String(s) => s.hash(state),
            Value::DateTime(t) => (3u8, t).hash(state),
            Value::TimeSpan(t) => (4u8, t).hash(state),
            Value::Guid(g) => g.hash(state),
            Value::Dynamic(j) => j.to_string().hash(state),
        }
    }
}

trait BitsHash {
    fn to_bits_hash<H: Hasher>(self, state: &mut H);
}
impl BitsHash for (u8, f64) {
    fn to_bits_hash<H: Hasher>(self, state: &mut H) {
        self.0.hash(state);
        let f = if self.1 == 0.0 { 0.0 } else { self.1 };
        let bits = if f.is_nan() { f64::NAN.to_bits() } else { f.to_bits() };
        bits.hash(state);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetime_round_trip() {
        let t = parse_datetime("2025-01-01T06:38:35.7664356Z").unwrap();
        assert_eq!(format_datetime_ticks(t), "2025-01-01T06:38:35.7664356Z");
        let d = parse_datetime("2025-01-02").unwrap();
        assert_eq!(format_datetime_ticks(d), "2025-01-02T00:00:00.0000000Z");
        assert_eq!(
            parse_datetime("2025-01-02 10:00"),
            parse_datetime("2025-01-02T10:00:00Z")
        );
        assert_eq!(
            parse_datetime("2025-01-02T10:00:00+02:00"),
            parse_datetime("2025-01-02T08:00:00Z")
        );
        assert_eq!(parse_datetime("nope"), None);
    }

    #[test]
    fn timespans() {
        assert_eq!(parse_timespan("1d"), Some(TICKS_PER_DAY));
        assert_eq!(parse_timespan("1.5h"), Some(TICKS_PER_HOUR * 3 / 2));
        assert_eq!(parse_timespan("100ms"), Some(100 * TICKS_PER_MILLISECOND));
        assert_eq!(parse_timespan("01:30:00"), Some(90 * TICKS_PER_MINUTE));
        assert_eq!(format_timespan(TICKS_PER_DAY + TICKS_PER_HOUR), "1.01:00:00");
        assert_eq!(format_timespan(-TICKS_PER_SECOND / 2), "-00:00:00.5000000");
        assert_eq!(parse_timespan("99999999999999999999d"), None);
    }

    #[test]
    fn from_json() {
        use serde_json::json;
        assert_eq!(
            Value::from_json(&json!("2025-01-01T00:00:00Z"), KqlType::DateTime),
            Value::DateTime(parse_datetime("2025-01-01").unwrap())
        );
        assert_eq!(Value::from_json(&json!(null), KqlType::String), Value::str(""));
        assert_eq!(
            Value::from_json(&json!("{\"a\":1}"), KqlType::Dynamic),
            Value::Dynamic(json!({"a": 1}))
        );
        assert_eq!(Value::from_json(&json!(5), KqlType::Int), Value::Long(5));
        assert!(Value::from_json(&json!("x"), KqlType::Long).is_null());
    }

    #[test]
    fn guids() {
        assert_eq!(
            parse_guid("{0A0B0C0D-0000-0000-0000-000000000001}").as_deref(),
            Some("0a0b0c0d-0000-0000-0000-000000000001")
        );
        assert_eq!(parse_guid("x"), None);
    }
}
