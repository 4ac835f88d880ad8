//! The hard and soft limits of a `memory_limiter`, in bytes, from its
//! config and (for the percentages) the memory available to the process,
//! computed as the Collector does: `limit_mib` takes precedence; a spike
//! of 0 is 20% of the limit; the soft limit is the limit minus the spike.

use super::config::MemoryLimiterConfig;

const MIB: u64 = 1 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub hard: u64,
    pub spike: u64,
}

impl Limits {
    /// From `limit_mib`/`spike_limit_mib`, or the percentages of what
    /// `available` reads (only called for them); `None` when the
    /// percentages apply and the available memory cannot be read.
    pub fn of(cfg: &MemoryLimiterConfig, available: impl FnOnce() -> Option<u64>) -> Option<Self> {
        let (hard, spike) = if cfg.limit_mib > 0 {
            (
                u64::from(cfg.limit_mib) * MIB,
                u64::from(cfg.spike_limit_mib) * MIB,
            )
        } else {
            let total = available()?;
            let pct =
                |p: u32| u64::try_from(u128::from(total) * u128::from(p) / 100).unwrap_or(u64::MAX);
            (pct(cfg.limit_percentage), pct(cfg.spike_limit_percentage))
        };
        let spike = if spike == 0 { hard / 5 } else { spike };
        Some(Self { hard, spike })
    }

    /// From here on, data is refused.
    pub fn soft(&self) -> u64 {
        self.hard.saturating_sub(self.spike)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(limit_mib: u32, spike_mib: u32, pct: u32, spike_pct: u32) -> MemoryLimiterConfig {
        MemoryLimiterConfig {
            limit_mib,
            spike_limit_mib: spike_mib,
            limit_percentage: pct,
            spike_limit_percentage: spike_pct,
            ..Default::default()
        }
    }

    #[test]
    fn fixed_limits_with_the_collector_s_example() {
        let l = Limits::of(&cfg(4000, 800, 0, 0), || unreachable!()).unwrap();
        assert_eq!((l.hard, l.soft()), (4000 * MIB, 3200 * MIB));
        // limit_mib wins over a percentage; the available memory is not read.
        let l = Limits::of(&cfg(4000, 800, 50, 10), || unreachable!()).unwrap();
        assert_eq!(l.hard, 4000 * MIB);
    }

    #[test]
    fn the_spike_defaults_to_a_fifth_of_the_limit() {
        let l = Limits::of(&cfg(1000, 0, 0, 0), || None).unwrap();
        assert_eq!(l.spike, 200 * MIB);
        assert_eq!(l.soft(), 800 * MIB);
        let l = Limits::of(&cfg(0, 0, 50, 0), || Some(1000 * MIB)).unwrap();
        assert_eq!((l.hard, l.spike), (500 * MIB, 100 * MIB));
    }

    #[test]
    fn percentages_of_the_available_memory() {
        // The Collector's README: 80% and 15% of 1000 MiB.
        let l = Limits::of(&cfg(0, 0, 80, 15), || Some(1000 * MIB)).unwrap();
        assert_eq!((l.hard, l.soft()), (800 * MIB, 650 * MIB));
        assert_eq!(Limits::of(&cfg(0, 0, 80, 15), || None), None);
    }
}
