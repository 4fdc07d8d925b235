//! Timestamps as the Defender API writes them: ISO-8601 UTC with seven fractional digits
//! (`2021-01-26T20:33:57.7220239Z`).

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A point in time that serialises in the API's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub DateTime<Utc>);

impl Timestamp {
    /// Microseconds since the Unix epoch: the encoding of date-time columns in the store.
    pub fn micros(&self) -> i64 {
        self.0.timestamp_micros()
    }
}

impl From<DateTime<Utc>> for Timestamp {
    fn from(t: DateTime<Utc>) -> Self {
        Timestamp(t)
    }
}

/// Formats with exactly seven fractional digits, as the service does.
pub fn format_api_time(t: &DateTime<Utc>) -> String {
    let nanos = t.to_rfc3339_opts(SecondsFormat::Nanos, true); // ...:57.722023900Z
    match nanos.rfind('.') {
        Some(dot) => format!("{}Z", &nanos[..dot + 8]),
        None => nanos,
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_api_time(&self.0))
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        DateTime::parse_from_rfc3339(&s)
            .map(|t| Timestamp(t.with_timezone(&Utc)))
            .map_err(|e| serde::de::Error::custom(format!("invalid date-time '{s}': {e}")))
    }
}

/// A fixed instant (2026-05-28T20:26:40Z) for unit tests that need a "now": the same data on
/// every run, whatever the machine's clock says.
pub fn fixed_now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_780_000_000, 0).expect("a valid instant")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seven_fractional_digits_round_trip() {
        let t: Timestamp = serde_json::from_str("\"2021-01-26T20:33:57.7220239Z\"").unwrap();
        assert_eq!(serde_json::to_string(&t).unwrap(), "\"2021-01-26T20:33:57.7220239Z\"");
        let whole: Timestamp = serde_json::from_str("\"2021-01-26T20:33:57Z\"").unwrap();
        assert_eq!(
            serde_json::to_string(&whole).unwrap(),
            "\"2021-01-26T20:33:57.0000000Z\""
        );
    }
}
