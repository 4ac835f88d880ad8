//! Times and durations written as Go writes them, for answers that mirror
//! the Collector's (`health_check`'s `upSince` and `uptime`): RFC 3339 with
//! trailing zeros of the fraction trimmed (Go's `time.RFC3339Nano`, here in
//! UTC) and Go's `Duration.String()` (`1h2m3.5s`, `250ms`, `0s`).

use profcol_runtime::calendar::civil_from_days;
use std::time::{Duration, SystemTime};

/// `2026-01-02T03:04:05.123456789Z`; the fraction without trailing zeros,
/// left out when zero.
pub fn rfc3339_nano(t: SystemTime) -> String {
    let d = t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (y, m, day) = civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    let fraction = fraction(u128::from(d.subsec_nanos()), 1_000_000_000);
    format!(
        "{y:04}-{m:02}-{day:02}T{:02}:{:02}:{:02}{}Z",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60,
        if fraction.is_empty() {
            String::new()
        } else {
            format!(".{fraction}")
        }
    )
}

/// Go's `Duration.String()`.
pub fn duration(d: Duration) -> String {
    let ns = d.as_nanos();
    if ns == 0 {
        return "0s".into();
    }
    if ns < 1_000_000_000 {
        let (unit, div) = match ns {
            0..1_000 => ("ns", 1),
            1_000..1_000_000 => ("µs", 1_000),
            _ => ("ms", 1_000_000),
        };
        return format!("{}{unit}", decimal(ns, div));
    }
    let secs = ns / 1_000_000_000;
    let seconds = decimal(
        (secs % 60) * 1_000_000_000 + ns % 1_000_000_000,
        1_000_000_000,
    );
    let (h, m) = (secs / 3600, (secs / 60) % 60);
    if h > 0 {
        format!("{h}h{m}m{seconds}s")
    } else if m > 0 {
        format!("{m}m{seconds}s")
    } else {
        format!("{seconds}s")
    }
}

/// `v / div` with its fraction, trailing zeros trimmed.
fn decimal(v: u128, div: u128) -> String {
    let f = fraction(v % div, div);
    if f.is_empty() {
        (v / div).to_string()
    } else {
        format!("{}.{f}", v / div)
    }
}

/// The digits of `rem / div` (`div` a power of ten), trailing zeros
/// trimmed; empty when `rem` is 0.
fn fraction(rem: u128, div: u128) -> String {
    if rem == 0 || div <= 1 {
        return String::new();
    }
    let width = div.ilog10() as usize;
    format!("{rem:0width$}").trim_end_matches('0').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_go_writes_them() {
        for (d, want) in [
            (Duration::ZERO, "0s"),
            (Duration::from_nanos(7), "7ns"),
            (Duration::from_nanos(1_500), "1.5µs"),
            (Duration::from_micros(2_500), "2.5ms"),
            (Duration::from_secs(1), "1s"),
            (Duration::from_millis(61_500), "1m1.5s"),
            (Duration::from_secs(7_200), "2h0m0s"),
            (Duration::from_nanos(3_723_000_000_001), "1h2m3.000000001s"),
        ] {
            assert_eq!(duration(d), want, "{d:?}");
        }
    }

    #[test]
    fn times_are_rfc3339_with_a_trimmed_fraction() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_225_600);
        assert_eq!(rfc3339_nano(t), "2026-01-01T00:00:00Z");
        assert_eq!(
            rfc3339_nano(t + Duration::from_nanos(120_000_000)),
            "2026-01-01T00:00:00.12Z"
        );
        assert_eq!(
            rfc3339_nano(SystemTime::UNIX_EPOCH + Duration::from_secs(951_782_400 + 3_661)),
            "2000-02-29T01:01:01Z"
        );
    }
}
