//! The query of an `/ingest` request: `name` (required), `from`, `until`,
//! `sampleRate`, `spyName`, `units`, `aggregationType`, `format`; a
//! parameter given twice counts once (the first). Defaults as Pyroscope's:
//! the times are now, `sampleRate` 100, `spyName` `unknown`.
//!
//! Times (`from`, `until`) are Unix times whose length says the unit (13
//! digits: ms, 16: µs, 19: ns, else s; 8 digits that make a date are
//! `YYYYMMDD`), or `now` with optional offsets (`now-10s`, `now-1h+5m`).
//! `units` and `aggregationType` are read but change nothing: Pyroscope
//! ignores them too (a text profile's type comes from its name).

use super::refusal::Refusal;
use profcol_pdata::ingest::name::{self, clip, AppName};

/// `sampleRate` when absent or unusable.
pub const DEFAULT_SAMPLE_RATE: u32 = 100;

/// A parsed query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngestQuery {
    pub name: AppName,
    /// The window, in Unix nanoseconds.
    pub from_nanos: i64,
    pub until_nanos: i64,
    pub sample_rate: u32,
    pub spy_name: String,
    pub units: Option<String>,
    pub aggregation_type: Option<String>,
    pub format: Option<String>,
}

/// Parses a raw query string (`None`: no query at all); `now_nanos` is the
/// time a missing or `now` time means.
pub fn parse(raw: Option<&str>, now_nanos: i64) -> Result<IngestQuery, Refusal> {
    let mut get: std::collections::HashMap<String, String> = std::collections::HashMap::new();
    for (k, v) in url::form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
        get.entry(k.into_owned()).or_insert_with(|| v.into_owned());
    }
    let raw_name = get.get("name").ok_or_else(|| {
        Refusal::bad_request(
            "the name query parameter is required (e.g. name=my-app.cpu{env=prod})",
        )
    })?;
    let name = name::parse(raw_name)
        .map_err(|e| Refusal::bad_request(format!("invalid name {:?}: {e}", clip(raw_name))))?;
    let time = |key: &str| -> Result<i64, Refusal> {
        match get.get(key).map(|s| s.trim()).filter(|s| !s.is_empty()) {
            None => Ok(now_nanos),
            Some(s) => parse_time(s, now_nanos).ok_or_else(|| {
                Refusal::bad_request(format!(
                    "invalid {key} {:?}: expected a Unix time (s, ms, µs or ns) or now[-offset]",
                    clip(s)
                ))
            }),
        }
    };
    let from_nanos = time("from")?;
    let until_nanos = time("until")?;
    // Pyroscope takes an unusable rate as the default and goes on.
    let sample_rate = get
        .get("sampleRate")
        .and_then(|s| s.trim().parse::<u32>().ok())
        .unwrap_or(DEFAULT_SAMPLE_RATE);
    let non_empty = |key: &str| get.get(key).filter(|s| !s.is_empty()).cloned();
    Ok(IngestQuery {
        name,
        from_nanos,
        until_nanos,
        sample_rate,
        spy_name: non_empty("spyName").unwrap_or_else(|| "unknown".to_string()),
        units: non_empty("units"),
        aggregation_type: non_empty("aggregationType"),
        format: non_empty("format"),
    })
}

const NANOS: i64 = 1_000_000_000;

/// A time parameter in Unix nanoseconds, if it reads as one.
pub fn parse_time(s: &str, now_nanos: i64) -> Option<i64> {
    let s: String = s
        .chars()
        .filter(|c| !matches!(c, '_' | ',' | ' '))
        .collect();
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        if s.len() == 8 {
            if let Some(t) = date_nanos(&s) {
                return Some(t);
            }
        }
        let v: i64 = s.parse().ok()?;
        return match s.len() {
            13 => v.checked_mul(1_000_000),
            16 => v.checked_mul(1_000),
            19 => Some(v),
            _ => v.checked_mul(NANOS),
        };
    }
    let offsets = s.strip_prefix("now")?;
    Some(now_nanos.saturating_add(parse_offsets(offsets)?.saturating_mul(NANOS)))
}

/// `-1h+5m` and the like, in seconds.
fn parse_offsets(mut s: &str) -> Option<i64> {
    let mut total: i64 = 0;
    while !s.is_empty() {
        let sign = match s.as_bytes().first() {
            Some(b'-') => -1,
            Some(b'+') => 1,
            _ => return None,
        };
        s = s.get(1..)?;
        let digits = s.bytes().take_while(u8::is_ascii_digit).count();
        let n: i64 = s.get(..digits)?.parse().ok()?;
        s = s.get(digits..)?;
        let letters = s.bytes().take_while(u8::is_ascii_alphabetic).count();
        let unit = s.get(..letters)?;
        s = s.get(letters..)?;
        total = total.saturating_add(sign * n.saturating_mul(unit_seconds(unit)?));
    }
    Some(total)
}

/// Seconds in an offset unit, by its prefix as Graphite's `at` times read
/// them (`s`, `min`/`m`, `h`, `d`, `w`, `mon`/`M`, `y`).
fn unit_seconds(unit: &str) -> Option<i64> {
    const DAY: i64 = 86_400;
    Some(if unit.starts_with('s') {
        1
    } else if unit.starts_with("mon") || unit.starts_with('M') {
        30 * DAY
    } else if unit.starts_with('m') {
        60
    } else if unit.starts_with('h') {
        3_600
    } else if unit.starts_with('d') {
        DAY
    } else if unit.starts_with('w') {
        7 * DAY
    } else if unit.starts_with('y') {
        365 * DAY
    } else {
        return None;
    })
}

/// `YYYYMMDD` (after 1900) as midnight UTC, in Unix nanoseconds.
fn date_nanos(s: &str) -> Option<i64> {
    let y: i64 = s.get(..4)?.parse().ok()?;
    let m: i64 = s.get(4..6)?.parse().ok()?;
    let d: i64 = s.get(6..8)?.parse().ok()?;
    if y <= 1900 || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    // Days from the civil date (proleptic Gregorian), March-based year.
    let (y, m) = if m <= 2 { (y - 1, m + 9) } else { (y, m - 3) };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    days.checked_mul(86_400 * NANOS)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000 * NANOS;

    #[test]
    fn times_like_pyroscope() {
        assert_eq!(parse_time("1700000000", NOW), Some(1_700_000_000 * NANOS));
        assert_eq!(
            parse_time("1700000000123", NOW),
            Some(1_700_000_000_123_000_000)
        );
        assert_eq!(
            parse_time("1700000000123456", NOW),
            Some(1_700_000_000_123_456_000)
        );
        assert_eq!(
            parse_time("1700000000123456789", NOW),
            Some(1_700_000_000_123_456_789)
        );
        assert_eq!(parse_time("20240101", NOW), Some(1_704_067_200 * NANOS));
        assert_eq!(parse_time("19700102", NOW), Some(86_400 * NANOS));
        assert_eq!(parse_time("now", NOW), Some(NOW));
        assert_eq!(parse_time("now-10s", NOW), Some(NOW - 10 * NANOS));
        assert_eq!(parse_time("now-1h+5min", NOW), Some(NOW - 3_300 * NANOS));
        for bad in ["yesterday", "now-10x", "now10s", "-5", "1.5", ""] {
            assert_eq!(parse_time(bad, NOW), None, "{bad}");
        }
        assert_eq!(parse_time("99999999999999999999", NOW), None);
    }

    #[test]
    fn the_query_pyroscope_go_sends() {
        let q = parse(
            Some("name=app%7Benv%3Dprod%7D&from=1700000000000000000&until=1700000010000000000&spyName=gospy&sampleRate=100&units=samples&aggregationType=sum"),
            NOW,
        )
        .unwrap();
        assert_eq!(q.name.app, "app");
        assert_eq!(q.name.labels, vec![("env".to_string(), "prod".to_string())]);
        assert_eq!(q.until_nanos - q.from_nanos, 10 * NANOS);
        assert_eq!((q.sample_rate, q.spy_name.as_str()), (100, "gospy"));
        assert_eq!(q.format, None);
        assert_eq!(q.units.as_deref(), Some("samples"));
    }

    #[test]
    fn defaults_and_refusals() {
        let q = parse(
            Some("name=a.cpu&sampleRate=-3&format=lines&name=ignored"),
            NOW,
        )
        .unwrap();
        assert_eq!((q.from_nanos, q.until_nanos), (NOW, NOW));
        assert_eq!((q.sample_rate, q.spy_name.as_str()), (100, "unknown"));
        assert_eq!(q.name.app, "a.cpu");
        assert_eq!(q.format.as_deref(), Some("lines"));
        let e = parse(None, NOW).unwrap_err();
        assert!(e
            .message
            .starts_with("the name query parameter is required"));
        let e = parse(Some("name=my%20app"), NOW).unwrap_err();
        assert_eq!(
            e.message,
            "invalid name \"my app\": the application name may not contain ' ' (allowed: letters, digits, '_', '.', '/', '-')"
        );
        let e = parse(Some("name=a&from=yesterday"), NOW).unwrap_err();
        assert!(
            e.message.starts_with("invalid from \"yesterday\""),
            "{}",
            e.message
        );
    }
}
