//! The `memory_limiter` processor's keys and the Collector's rules for
//! them: `check_interval` is required, one of `limit_mib` and
//! `limit_percentage` is, a spike limit must stay below its limit, and
//! percentages are at most 100. The Collector's forced-GC keys are
//! accepted and checked the same way, but profcol has no garbage collector
//! to force (a warning says so at start).

use profcol_config::{join_path, Duration, Problem, Validate};
use serde::{Deserialize, Serialize};

/// The Collector's defaults of its forced-GC intervals (used only to check
/// them against each other).
const DEFAULT_MIN_GC_SOFT: Duration = Duration::from_secs(10);
const DEFAULT_MAX_GC: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MemoryLimiterConfig {
    /// How often memory use is measured; required.
    pub check_interval: Duration,
    /// The hard limit in MiB; takes precedence over `limit_percentage`.
    pub limit_mib: u32,
    /// The headroom below the hard limit in MiB (default: 20% of it); the
    /// soft limit, from which data is refused, is `limit_mib -
    /// spike_limit_mib`.
    pub spike_limit_mib: u32,
    /// The hard limit in percent of the memory available.
    pub limit_percentage: u32,
    /// The headroom in percent of the memory available (default: 20% of
    /// the limit).
    pub spike_limit_percentage: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_gc_interval_when_soft_limited: Option<Duration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_gc_interval_when_hard_limited: Option<Duration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_gc_interval_when_soft_limited: Option<Duration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_gc_interval_when_hard_limited: Option<Duration>,
}

impl MemoryLimiterConfig {
    /// The forced-GC keys that are set: they have no effect in profcol.
    pub fn not_honoured(&self, path: &str) -> Vec<String> {
        [
            (
                "min_gc_interval_when_soft_limited",
                self.min_gc_interval_when_soft_limited,
            ),
            (
                "min_gc_interval_when_hard_limited",
                self.min_gc_interval_when_hard_limited,
            ),
            (
                "max_gc_interval_when_soft_limited",
                self.max_gc_interval_when_soft_limited,
            ),
            (
                "max_gc_interval_when_hard_limited",
                self.max_gc_interval_when_hard_limited,
            ),
        ]
        .into_iter()
        .filter(|(_, v)| v.is_some())
        .map(|(k, _)| join_path(path, k))
        .collect()
    }

    fn check_gc_intervals(&self, path: &str, problems: &mut Vec<Problem>) {
        let min_soft = self
            .min_gc_interval_when_soft_limited
            .unwrap_or(DEFAULT_MIN_GC_SOFT);
        let min_hard = self.min_gc_interval_when_hard_limited.unwrap_or_default();
        let max_soft = self
            .max_gc_interval_when_soft_limited
            .unwrap_or(DEFAULT_MAX_GC);
        let max_hard = self
            .max_gc_interval_when_hard_limited
            .unwrap_or(DEFAULT_MAX_GC);
        let mut push =
            |key: &str, msg: &str| problems.push(Problem::new(join_path(path, key), msg));
        if min_soft < min_hard {
            push(
                "min_gc_interval_when_soft_limited",
                "must be at least min_gc_interval_when_hard_limited",
            );
        }
        if !max_soft.is_zero() && max_soft < min_soft {
            push(
                "max_gc_interval_when_soft_limited",
                "must be 0 or at least min_gc_interval_when_soft_limited",
            );
        }
        if !max_hard.is_zero() && max_hard < min_hard {
            push(
                "max_gc_interval_when_hard_limited",
                "must be 0 or at least min_gc_interval_when_hard_limited",
            );
        }
        if !max_soft.is_zero() && !max_hard.is_zero() && max_soft < max_hard {
            push(
                "max_gc_interval_when_soft_limited",
                "must be at least max_gc_interval_when_hard_limited when both are set",
            );
        }
    }
}

impl Validate for MemoryLimiterConfig {
    fn validate(&self, path: &str, problems: &mut Vec<Problem>) {
        let mut push =
            |key: &str, msg: String| problems.push(Problem::new(join_path(path, key), msg));
        if self.check_interval.is_zero() {
            push(
                "check_interval",
                "must be greater than zero (1s is a good start)".into(),
            );
        }
        if self.limit_mib == 0 && self.limit_percentage == 0 {
            push(
                "limit_mib",
                "one of limit_mib and limit_percentage must be greater than zero".into(),
            );
        }
        for (key, pct) in [
            ("limit_percentage", self.limit_percentage),
            ("spike_limit_percentage", self.spike_limit_percentage),
        ] {
            if pct > 100 {
                push(key, format!("must be at most 100, not {pct}"));
            }
        }
        if self.limit_mib > 0 && self.spike_limit_mib >= self.limit_mib {
            push(
                "spike_limit_mib",
                format!(
                    "must be smaller than limit_mib ({}), not {}",
                    self.limit_mib, self.spike_limit_mib
                ),
            );
        }
        if self.limit_percentage > 0 && self.spike_limit_percentage >= self.limit_percentage {
            push(
                "spike_limit_percentage",
                format!(
                    "must be smaller than limit_percentage ({}), not {}",
                    self.limit_percentage, self.spike_limit_percentage
                ),
            );
        }
        self.check_gc_intervals(path, problems);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PATH: &str = "processors::memory_limiter";

    fn parse(yaml: &str) -> Result<MemoryLimiterConfig, Vec<Problem>> {
        let v = profcol_config::Body::parse(yaml).unwrap();
        profcol_config::decode(&v, PATH)
    }

    fn problems(yaml: &str) -> Vec<String> {
        parse(yaml)
            .unwrap_err()
            .iter()
            .map(|p| p.to_string())
            .collect()
    }

    #[test]
    fn the_readme_examples_are_valid() {
        let c = parse("check_interval: 1s\nlimit_mib: 4000\nspike_limit_mib: 800").unwrap();
        assert_eq!((c.limit_mib, c.spike_limit_mib), (4000, 800));
        let c =
            parse("check_interval: 1s\nlimit_percentage: 80\nspike_limit_percentage: 15").unwrap();
        assert_eq!((c.limit_percentage, c.spike_limit_percentage), (80, 15));
        // Both kinds at once: valid, limit_mib wins at start.
        assert!(parse("check_interval: 1s\nlimit_mib: 100\nlimit_percentage: 50").is_ok());
    }

    #[test]
    fn check_interval_is_required() {
        assert_eq!(
            problems("limit_mib: 100"),
            ["processors::memory_limiter::check_interval: must be greater than zero (1s is a good start)"]
        );
        assert_eq!(problems("check_interval: 0s\nlimit_mib: 100").len(), 1);
    }

    #[test]
    fn a_limit_is_required() {
        assert_eq!(
            problems("check_interval: 1s"),
            ["processors::memory_limiter::limit_mib: one of limit_mib and limit_percentage must be greater than zero"]
        );
        // A spike alone is no limit.
        assert_eq!(problems("check_interval: 1s\nspike_limit_mib: 10").len(), 1);
    }

    #[test]
    fn percentages_are_at_most_100() {
        assert_eq!(
            problems("check_interval: 1s\nlimit_percentage: 101"),
            ["processors::memory_limiter::limit_percentage: must be at most 100, not 101"]
        );
        assert_eq!(
            problems("check_interval: 1s\nlimit_mib: 10\nspike_limit_percentage: 150"),
            ["processors::memory_limiter::spike_limit_percentage: must be at most 100, not 150"]
        );
        assert!(parse("check_interval: 1s\nlimit_percentage: 100").is_ok());
    }

    #[test]
    fn a_spike_limit_must_stay_below_its_limit() {
        assert_eq!(
            problems("check_interval: 1s\nlimit_mib: 100\nspike_limit_mib: 100"),
            ["processors::memory_limiter::spike_limit_mib: must be smaller than limit_mib (100), not 100"]
        );
        assert_eq!(
            problems("check_interval: 1s\nlimit_percentage: 50\nspike_limit_percentage: 60"),
            ["processors::memory_limiter::spike_limit_percentage: must be smaller than limit_percentage (50), not 60"]
        );
        // As in the Collector, a spike of the other kind is not compared.
        assert!(parse("check_interval: 1s\nlimit_mib: 100\nspike_limit_percentage: 90").is_ok());
        assert!(parse("check_interval: 1s\nlimit_percentage: 50\nspike_limit_mib: 900").is_ok());
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let p = problems("limit_percentage: 120\nspike_limit_percentage: 130");
        assert_eq!(p.len(), 4, "{p:?}");
        assert!(p[0].contains("::check_interval: "), "{p:?}");
    }

    #[test]
    fn gc_intervals_follow_the_collector_s_rules_and_are_noted_as_without_effect() {
        let base = "check_interval: 1s\nlimit_mib: 100\n";
        assert_eq!(
            problems(&format!("{base}min_gc_interval_when_soft_limited: 1s\nmin_gc_interval_when_hard_limited: 2s")),
            ["processors::memory_limiter::min_gc_interval_when_soft_limited: must be at least min_gc_interval_when_hard_limited"]
        );
        assert_eq!(
            problems(&format!("{base}max_gc_interval_when_soft_limited: 5s\nmax_gc_interval_when_hard_limited: 0s")),
            ["processors::memory_limiter::max_gc_interval_when_soft_limited: must be 0 or at least min_gc_interval_when_soft_limited"]
        );
        assert_eq!(
            problems(&format!("{base}min_gc_interval_when_hard_limited: 5s\nmax_gc_interval_when_hard_limited: 1s")),
            ["processors::memory_limiter::max_gc_interval_when_hard_limited: must be 0 or at least min_gc_interval_when_hard_limited"]
        );
        assert_eq!(
            problems(&format!("{base}max_gc_interval_when_soft_limited: 20s\nmin_gc_interval_when_soft_limited: 1s\nmax_gc_interval_when_hard_limited: 25s")),
            ["processors::memory_limiter::max_gc_interval_when_soft_limited: must be at least max_gc_interval_when_hard_limited when both are set"]
        );
        let c = parse(&format!("{base}max_gc_interval_when_soft_limited: 0s")).unwrap();
        assert_eq!(
            c.not_honoured(PATH),
            ["processors::memory_limiter::max_gc_interval_when_soft_limited"]
        );
        assert!(parse(base).unwrap().not_honoured(PATH).is_empty());
    }

    #[test]
    fn unknown_keys_and_bad_values_name_their_path() {
        let p = problems("check_interval: 1s\nlimit_mib: 100\nlimit_mb: 5");
        assert!(p[0].starts_with("processors::memory_limiter"), "{p:?}");
        assert!(p[0].contains("limit_mb"), "{p:?}");
        let p = problems("check_interval: soon\nlimit_mib: 100");
        assert!(
            p[0].starts_with("processors::memory_limiter::check_interval: "),
            "{p:?}"
        );
        let p = problems("check_interval: 1s\nlimit_mib: -5");
        assert!(
            p[0].starts_with("processors::memory_limiter::limit_mib: "),
            "{p:?}"
        );
    }
}
