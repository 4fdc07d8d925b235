//! ISO-8601 date-time parsing shared by literals and JSON documents, so both
//! sides of every comparison are converted by the same rules.

use chrono::{NaiveDate, NaiveTime};

/// Parses an ISO-8601 date-time into microseconds since the Unix epoch (UTC).
///
/// Accepted: `YYYY-MM-DD`, optionally followed by `THH:MM[:SS[.fraction]]`, optionally
/// followed by `Z` or `±HH:MM` / `±HHMM`. A missing offset means UTC. `T` and `Z` may
/// be lowercase. Fractions of any length are **truncated** to microseconds (Defender
/// emits 7 digits; the store keeps 6), so a value and the same value written with more
/// digits always compare equal.
pub fn parse_datetime(s: &str) -> Result<i64, &'static str> {
    let b = s.as_bytes();
    let mut i = 0;
    let year = digits(b, &mut i, 4).ok_or("expected a 4-digit year")?;
    expect(b, &mut i, b'-').ok_or("expected '-' after the year")?;
    let month = digits(b, &mut i, 2).ok_or("expected a 2-digit month")?;
    expect(b, &mut i, b'-').ok_or("expected '-' after the month")?;
    let day = digits(b, &mut i, 2).ok_or("expected a 2-digit day")?;
    let date = NaiveDate::from_ymd_opt(year as i32, month, day).ok_or("no such calendar date")?;

    let mut time = NaiveTime::MIN;
    if matches!(b.get(i), Some(b'T' | b't')) {
        i += 1;
        let h = digits(b, &mut i, 2).ok_or("expected a 2-digit hour after 'T'")?;
        expect(b, &mut i, b':').ok_or("expected ':' after the hour")?;
        let m = digits(b, &mut i, 2).ok_or("expected 2-digit minutes")?;
        let mut sec = 0;
        let mut micros = 0;
        if b.get(i) == Some(&b':') {
            i += 1;
            sec = digits(b, &mut i, 2).ok_or("expected 2-digit seconds")?;
            if b.get(i) == Some(&b'.') {
                i += 1;
                let start = i;
                while b.get(i).is_some_and(u8::is_ascii_digit) {
                    if i - start < 6 {
                        micros = micros * 10 + u32::from(b[i] - b'0');
                    }
                    i += 1;
                }
                let n = i - start;
                if n == 0 {
                    return Err("expected digits after '.'");
                }
                for _ in n..6 {
                    micros *= 10;
                }
            }
        }
        time = NaiveTime::from_hms_micro_opt(h, m, sec, micros).ok_or("invalid time of day")?;
    }

    let mut offset_secs: i64 = 0;
    match b.get(i) {
        None => {}
        Some(b'Z' | b'z') => i += 1,
        Some(&sign @ (b'+' | b'-')) => {
            i += 1;
            let oh = digits(b, &mut i, 2).ok_or("expected a 2-digit offset hour")?;
            if b.get(i) == Some(&b':') {
                i += 1;
            }
            let om = digits(b, &mut i, 2).ok_or("expected 2-digit offset minutes")?;
            if oh > 23 || om > 59 {
                return Err("offset out of range");
            }
            offset_secs = i64::from(oh * 3600 + om * 60);
            if sign == b'-' {
                offset_secs = -offset_secs;
            }
        }
        Some(_) => return Err("unexpected characters after the date-time"),
    }
    if i != b.len() {
        return Err("unexpected characters after the date-time");
    }
    let local = date.and_time(time).and_utc().timestamp_micros();
    Ok(local - offset_secs * 1_000_000)
}

/// Formats microseconds since the epoch as `YYYY-MM-DDTHH:MM:SS[.ffffff]Z`.
pub fn format_micros(micros: i64) -> String {
    match chrono::DateTime::from_timestamp_micros(micros) {
        Some(dt) if micros.rem_euclid(1_000_000) == 0 => dt.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        Some(dt) => dt.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
        None => micros.to_string(),
    }
}

fn digits(b: &[u8], i: &mut usize, n: usize) -> Option<u32> {
    let s = b.get(*i..*i + n)?;
    if !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    *i += n;
    Some(s.iter().fold(0, |acc, d| acc * 10 + u32::from(d - b'0')))
}

fn expect(b: &[u8], i: &mut usize, c: u8) -> Option<()> {
    (b.get(*i) == Some(&c)).then(|| *i += 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let base = parse_datetime("2019-11-22T00:00:00Z").unwrap();
        assert_eq!(base, 1_574_380_800_000_000);
        assert_eq!(parse_datetime("2019-11-22").unwrap(), base);
        assert_eq!(parse_datetime("2019-11-22Z").unwrap(), base);
        assert_eq!(parse_datetime("2019-11-22T00:00").unwrap(), base);
        assert_eq!(parse_datetime("2019-11-22t00:00:00z").unwrap(), base);
        assert_eq!(parse_datetime("2019-11-22T02:00:00+02:00").unwrap(), base);
        assert_eq!(parse_datetime("2019-11-21T22:00:00-0200").unwrap(), base);
        assert_eq!(parse_datetime("2019-11-22T00:00:00.1234567Z").unwrap(), base + 123_456);
        assert_eq!(parse_datetime("2019-11-22T00:00:00.5Z").unwrap(), base + 500_000);
    }

    #[test]
    fn rejects() {
        for s in [
            "2019-13-01",
            "2019-02-30",
            "2019-11-22T25:00:00Z",
            "2019-11-22T00:00:00.Z",
            "2019-11-22T00:00:00ZZ",
            "2019-11-22T00:00:00+24:00",
            "2019-1-22",
            "",
            "2019-11-22T",
        ] {
            assert!(parse_datetime(s).is_err(), "{s}");
        }
    }

    #[test]
    fn format_roundtrip() {
        for s in ["2019-11-22T00:00:00Z", "2021-01-26T20:33:57.722023Z"] {
            assert_eq!(format_micros(parse_datetime(s).unwrap()), s);
        }
    }
}
