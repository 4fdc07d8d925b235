//! Kusto scalar types ([`KqlType`]) and their names in the three places they show:
//! KQL (`string`, `long`...), the Defender API `Schema` (`String`, `Int64`...) and
//! `getschema`'s `DataType` (`System.String`...).

use std::fmt;

/// A Kusto scalar type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KqlType {
    Bool,
    Int,
    Long,
    Real,
    String,
    DateTime,
    TimeSpan,
    Guid,
    Dynamic,
}

impl KqlType {
    /// Every type, in a fixed order.
    pub const ALL: [KqlType; 9] = [
        KqlType::Bool,
        KqlType::Int,
        KqlType::Long,
        KqlType::Real,
        KqlType::String,
        KqlType::DateTime,
        KqlType::TimeSpan,
        KqlType::Guid,
        KqlType::Dynamic,
    ];

    /// The KQL name (`ColumnType` in `getschema`).
    pub fn name(self) -> &'static str {
        match self {
            KqlType::Bool => "bool",
            KqlType::Int => "int",
            KqlType::Long => "long",
            KqlType::Real => "real",
            KqlType::String => "string",
            KqlType::DateTime => "datetime",
            KqlType::TimeSpan => "timespan",
            KqlType::Guid => "guid",
            KqlType::Dynamic => "dynamic",
        }
    }

    /// The name in the advanced hunting API's `Schema[].Type`.
    pub fn api_name(self) -> &'static str {
        match self {
            KqlType::Bool => "Boolean",
            KqlType::Int => "Int32",
            KqlType::Long => "Int64",
            KqlType::Real => "Double",
            KqlType::String => "String",
            KqlType::DateTime => "DateTime",
            KqlType::TimeSpan => "TimeSpan",
            KqlType::Guid => "Guid",
            KqlType::Dynamic => "Dynamic",
        }
    }

    /// The .NET name in `getschema`'s `DataType`.
    pub fn clr_name(self) -> &'static str {
        match self {
            KqlType::Bool => "System.Boolean",
            KqlType::Int => "System.Int32",
            KqlType::Long => "System.Int64",
            KqlType::Real => "System.Double",
            KqlType::String => "System.String",
            KqlType::DateTime => "System.DateTime",
            KqlType::TimeSpan => "System.TimeSpan",
            KqlType::Guid => "System.Guid",
            KqlType::Dynamic => "System.Object",
        }
    }

    /// Parses a KQL type name, with the documented synonyms (`boolean`, `date`,
    /// `time`, `double`, `int64`, `int32`, `uniqueid`, `decimal` read as `real`).
    /// `json` (the hunting schema's "string carrying JSON") is `dynamic`.
    pub fn parse(name: &str) -> Option<KqlType> {
        Some(match name.to_ascii_lowercase().as_str() {
            "bool" | "boolean" => KqlType::Bool,
            "int" | "int32" => KqlType::Int,
            "long" | "int64" => KqlType::Long,
            "real" | "double" | "decimal" => KqlType::Real,
            "string" => KqlType::String,
            "datetime" | "date" => KqlType::DateTime,
            "timespan" | "time" => KqlType::TimeSpan,
            "guid" | "uniqueid" => KqlType::Guid,
            "dynamic" | "json" => KqlType::Dynamic,
            _ => return None,
        })
    }

    pub(crate) fn is_numeric(self) -> bool {
        matches!(self, KqlType::Int | KqlType::Long | KqlType::Real)
    }

    pub(crate) fn is_integer(self) -> bool {
        matches!(self, KqlType::Int | KqlType::Long)
    }
}

impl fmt::Display for KqlType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
