//! The advanced hunting API response shape: `Schema` (`[{"Name","Type"}]`) and
//! `Results` (one object per row), as documented for
//! `POST /api/advancedhunting/run`.
//!
//! Values: date-times as ISO 8601 UTC with 7 fractional digits and `Z`; strings
//! never null (absent is `""`); time spans as `[d.]hh:mm:ss[.fffffff]`; GUIDs as
//! text; dynamic as JSON; other nulls as JSON `null`; non-finite reals as the
//! strings `NaN`, `Infinity`, `-Infinity` (JSON has no such numbers).

use serde_json::{json, Map, Value as J};

use crate::types::KqlType;
use crate::value::{format_datetime_ticks, format_real, format_timespan, Value};
use crate::QueryResult;

/// One value as the API writes it, given its column type.
pub fn value_json(v: &Value, ty: KqlType) -> J {
    match v {
        Value::Null => {
            if ty == KqlType::String {
                J::String(String::new())
            } else {
                J::Null
            }
        }
        Value::Bool(b) => J::Bool(*b),
        Value::Long(i) => J::from(*i),
        Value::Real(r) => serde_json::Number::from_f64(*r)
            .map(J::Number)
            .unwrap_or_else(|| J::String(format_real(*r))),
        Value::String(s) => J::String(s.clone()),
        Value::DateTime(t) => J::String(format_datetime_ticks(*t)),
        Value::TimeSpan(t) => J::String(format_timespan(*t)),
        Value::Guid(g) => J::String(g.clone()),
        Value::Dynamic(j) => j.clone(),
    }
}

impl QueryResult {
    /// `[{"Name": "...", "Type": "String"}, ...]`.
    pub fn schema_json(&self) -> J {
        J::Array(
            self.columns
                .iter()
                .map(|(n, t)| json!({"Name": n, "Type": t.api_name()}))
                .collect(),
        )
    }

    /// `[{"Col": value, ...}, ...]` in column order.
    pub fn results_json(&self) -> J {
        J::Array(
            self.rows
                .iter()
                .map(|r| {
                    let mut m = Map::new();
                    for ((n, t), v) in self.columns.iter().zip(r) {
                        m.insert(n.clone(), value_json(v, *t));
                    }
                    J::Object(m)
                })
                .collect(),
        )
    }

    /// The whole response body: `Stats`, `Schema`, `Results`.
    pub fn to_defender_json(&self) -> J {
        let secs = self.stats.elapsed.as_secs_f64();
        json!({
            "Stats": {
                "ExecutionTime": (secs * 1000.0).round() / 1000.0,
                "resource_usage": {
                    "cache": {"memory": {"hits": 0, "misses": 0, "total": 0}, "disk": {"hits": 0, "misses": 0, "total": 0}},
                    "cpu": {"user": "00:00:00", "kernel": "00:00:00", "total cpu": "00:00:00"},
                    "memory": {"peak_per_node": 0}
                },
                "dataset_statistics": [{"table_row_count": self.rows.len(), "table_size": 0}]
            },
            "Schema": self.schema_json(),
            "Results": self.results_json(),
        })
    }
}
