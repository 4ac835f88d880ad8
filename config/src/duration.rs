//! Durations written the Go way (`15s`, `1m30s`, `500ms`, `1.5h`), as every
//! Prometheus/Alloy/OTel user writes them.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// A non-negative duration parsed from and printed as a Go duration string.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Duration(pub std::time::Duration);

impl Duration {
    pub const fn from_secs(secs: u64) -> Self {
        Self(std::time::Duration::from_secs(secs))
    }
    pub const fn from_millis(ms: u64) -> Self {
        Self(std::time::Duration::from_millis(ms))
    }
    pub const fn get(self) -> std::time::Duration {
        self.0
    }
    pub fn is_zero(self) -> bool {
        self.0.is_zero()
    }
}

impl From<std::time::Duration> for Duration {
    fn from(d: std::time::Duration) -> Self {
        Self(d)
    }
}

impl From<Duration> for std::time::Duration {
    fn from(d: Duration) -> Self {
        d.0
    }
}

/// Why a duration string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid duration {input:?}: {reason} (write it like 15s, 1m30s or 500ms)")]
pub struct ParseDurationError {
    input: String,
    reason: &'static str,
}

fn unit_nanos(unit: &str) -> Option<u128> {
    Some(match unit {
        "ns" => 1,
        "us" | "µs" | "μs" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        "d" => 86_400_000_000_000,
        _ => return None,
    })
}

impl FromStr for Duration {
    type Err = ParseDurationError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let err = |reason| ParseDurationError {
            input: input.to_string(),
            reason,
        };
        let s = input.trim();
        if s.is_empty() {
            return Err(err("empty"));
        }
        if s.starts_with('-') {
            return Err(err("negative durations are not allowed"));
        }
        let s = s.strip_prefix('+').unwrap_or(s);
        if s == "0" {
            return Ok(Self::default());
        }
        let mut rest = s;
        let mut total: u128 = 0;
        while !rest.is_empty() {
            let num_len = rest
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .ok_or_else(|| err("missing unit"))?;
            if num_len == 0 {
                return Err(err("expected a number"));
            }
            let (num, after) = rest.split_at(num_len);
            let unit_len = after
                .find(|c: char| c.is_ascii_digit() || c == '.')
                .unwrap_or(after.len());
            let (unit, next) = after.split_at(unit_len);
            let per = unit_nanos(unit).ok_or_else(|| err("unknown unit"))?;
            let (int_part, frac_part) = num.split_once('.').unwrap_or((num, ""));
            if int_part.is_empty() && frac_part.is_empty() {
                return Err(err("expected a number"));
            }
            let int: u128 = if int_part.is_empty() {
                0
            } else {
                int_part.parse().map_err(|_| err("number too large"))?
            };
            let mut nanos = int.checked_mul(per).ok_or_else(|| err("too large"))?;
            if !frac_part.is_empty() {
                if frac_part.contains('.') {
                    return Err(err("malformed number"));
                }
                let digits = &frac_part[..frac_part.len().min(18)];
                let frac: u128 = digits.parse().map_err(|_| err("malformed number"))?;
                nanos += frac * per / 10u128.pow(digits.len() as u32);
            }
            total = total.checked_add(nanos).ok_or_else(|| err("too large"))?;
            rest = next;
        }
        let secs = u64::try_from(total / 1_000_000_000).map_err(|_| err("too large"))?;
        Ok(Self(std::time::Duration::new(
            secs,
            (total % 1_000_000_000) as u32,
        )))
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let total = self.0.as_nanos();
        if total == 0 {
            return f.write_str("0s");
        }
        if !total.is_multiple_of(1_000_000_000) {
            if total < 1_000 {
                return write!(f, "{total}ns");
            }
            if total.is_multiple_of(1_000_000) && total < 1_000_000_000 {
                return write!(f, "{}ms", total / 1_000_000);
            }
            if total < 1_000_000_000 && total.is_multiple_of(1_000) {
                return write!(f, "{}us", total / 1_000);
            }
        }
        let secs = self.0.as_secs();
        let (h, m, s) = (secs / 3600, (secs / 60) % 60, secs % 60);
        let nanos = self.0.subsec_nanos();
        if h > 0 {
            write!(f, "{h}h")?;
        }
        if m > 0 {
            write!(f, "{m}m")?;
        }
        if nanos == 0 {
            if s > 0 {
                write!(f, "{s}s")?;
            }
            Ok(())
        } else {
            let frac = format!("{nanos:09}");
            write!(f, "{s}.{}s", frac.trim_end_matches('0'))
        }
    }
}

impl fmt::Debug for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Duration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration such as 15s, 1m30s or 500ms")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Duration, E> {
                v.parse().map_err(E::custom)
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Duration, E> {
                if v == 0 {
                    Ok(Duration::default())
                } else {
                    Err(E::custom(format!(
                        "invalid duration {v}: a unit is required (write {v}s or {v}ms)"
                    )))
                }
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Duration, E> {
                if v < 0 {
                    Err(E::custom("negative durations are not allowed"))
                } else {
                    self.visit_u64(v as u64)
                }
            }
        }
        d.deserialize_any(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> std::time::Duration {
        s.parse::<Duration>().unwrap().0
    }

    #[test]
    fn parses_go_durations() {
        use std::time::Duration as D;
        assert_eq!(d("15s"), D::from_secs(15));
        assert_eq!(d("1m30s"), D::from_secs(90));
        assert_eq!(d("500ms"), D::from_millis(500));
        assert_eq!(d("1.5h"), D::from_secs(5400));
        assert_eq!(d("0"), D::ZERO);
        assert_eq!(d("2h45m"), D::from_secs(2 * 3600 + 45 * 60));
        assert_eq!(d("1us"), D::from_micros(1));
        assert_eq!(d(".5s"), D::from_millis(500));
    }

    #[test]
    fn rejects_bad_durations() {
        for bad in ["", "15", "s", "-1s", "1x", "1..2s", "1.2.3s", "ms5"] {
            assert!(bad.parse::<Duration>().is_err(), "{bad:?} must fail");
        }
    }

    #[test]
    fn prints_go_style() {
        for (input, out) in [
            ("15s", "15s"),
            ("1m30s", "1m30s"),
            ("500ms", "500ms"),
            ("1h", "1h"),
            ("1.5s", "1.5s"),
            ("0s", "0s"),
        ] {
            assert_eq!(input.parse::<Duration>().unwrap().to_string(), out);
        }
    }

    proptest::proptest! {
        #[test]
        fn display_round_trips(ms in 0u64..10_000_000_000) {
            let x = Duration::from_millis(ms);
            proptest::prop_assert_eq!(x.to_string().parse::<Duration>().unwrap(), x);
        }
    }
}
