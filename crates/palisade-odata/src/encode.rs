//! The one definition of how a JSON property value becomes a comparable value.
//!
//! The in-memory evaluator compares these cells, and [`column_value`] turns the same
//! cells into the SQL column values the store must write, so both paths agree by
//! construction.

use std::borrow::Cow;

use serde_json::Value;

use crate::datetime::parse_datetime;
use crate::schema::{EntitySchema, PropType, Property};
use crate::sql::SqlValue;

/// A property value read from an entity document.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cell<'a> {
    Null,
    Int(i64),
    Bool(bool),
    Text(Cow<'a, str>),
    /// Microseconds since the Unix epoch.
    Time(i64),
    /// Index into the enum's members.
    Enum(usize),
}

/// Reads scalar property `p` from `entity`. Anything that does not fit the declared
/// type (missing key, JSON null, wrong JSON type, unparsable date-time, unknown enum
/// member) reads as `Null`.
pub(crate) fn cell<'a>(p: &Property, entity: &'a Value) -> Cell<'a> {
    match (p.ty, entity.get(p.json_key)) {
        (PropType::String, Some(Value::String(s))) => Cell::Text(Cow::Borrowed(s)),
        (PropType::Guid, Some(Value::String(s))) => {
            if s.bytes().any(|b| b.is_ascii_uppercase()) {
                Cell::Text(Cow::Owned(s.to_ascii_lowercase()))
            } else {
                Cell::Text(Cow::Borrowed(s))
            }
        }
        (PropType::Int, Some(Value::Number(n))) => n.as_i64().map_or(Cell::Null, Cell::Int),
        (PropType::Bool, Some(Value::Bool(b))) => Cell::Bool(*b),
        (PropType::DateTime, Some(Value::String(s))) => parse_datetime(s).map_or(Cell::Null, Cell::Time),
        (PropType::Enum(members), Some(Value::String(s))) => members
            .iter()
            .position(|m| m.eq_ignore_ascii_case(s))
            .map_or(Cell::Null, Cell::Enum),
        _ => Cell::Null,
    }
}

/// The elements of collection property `p`: `Some(text)` for strings, `None` for
/// JSON nulls and other non-strings. A missing or non-array value has no elements.
pub(crate) fn elements<'a>(p: &Property, entity: &'a Value) -> impl Iterator<Item = Option<&'a str>> + 'a {
    entity
        .get(p.json_key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(Value::as_str)
}

/// The value the store must write into `p.column` for `entity`.
///
/// Encodings: String → TEXT; Guid → lowercase TEXT; Enum → TEXT in the schema's
/// canonical casing; Int → INTEGER; Bool → INTEGER 0/1; DateTime → INTEGER
/// microseconds since the Unix epoch (UTC, fraction truncated). Absent, null or
/// ill-typed values → NULL. Collections and objects → NULL (they have no column).
pub fn column_value(p: &Property, entity: &Value) -> SqlValue {
    if !p.is_scalar() {
        return SqlValue::Null;
    }
    match cell(p, entity) {
        Cell::Null => SqlValue::Null,
        Cell::Int(i) | Cell::Time(i) => SqlValue::Int(i),
        Cell::Bool(b) => SqlValue::Int(i64::from(b)),
        Cell::Text(s) => SqlValue::Text(s.into_owned()),
        Cell::Enum(i) => match p.ty {
            PropType::Enum(members) => members
                .get(i)
                .map_or(SqlValue::Null, |m| SqlValue::Text((*m).to_string())),
            _ => SqlValue::Null,
        },
    }
}

/// `(column, value)` for every property of `schema` that has a column, in schema
/// order: exactly what the store writes next to `tenant_id` and `doc`.
pub fn column_values(schema: &EntitySchema, entity: &Value) -> Vec<(&'static str, SqlValue)> {
    schema
        .properties
        .iter()
        .filter_map(|p| p.column.map(|c| (c, column_value(p, entity))))
        .collect()
}
