//! Turns recorded arrivals into rates, lateness and missing-scrape counts
//! for the measured window.

use crate::gen::Kind;
use serde::Serialize;
use std::sync::Mutex;

/// Lateness of scrapes: |inter-arrival gap − interval| per (target, path).
#[derive(Debug, Default, Serialize, PartialEq)]
pub struct Lateness {
    pub gaps: usize,
    pub p50_ms: u32,
    pub p99_ms: u32,
    pub max_ms: u32,
}

/// Scrape arrivals inside the window.
#[derive(Debug, Default, Serialize, PartialEq)]
pub struct Scrapes {
    pub requests: u64,
    pub by_kind: std::collections::BTreeMap<&'static str, u64>,
    /// Sum over (target, path) of ⌊window / interval⌋.
    pub expected: u64,
    /// Sum over (target, path) of max(0, expected − arrivals in the window).
    pub missing: u64,
    /// Scrapes skipped, from the gaps: Σ round(gap / interval) − 1 over gaps
    /// ending in the window, plus ⌊window / interval⌋ for each silent loop.
    /// Unlike `missing` it does not count a scrape that jitter moved across
    /// the window's edge.
    pub skipped: u64,
    /// (target, path) pairs with no arrival at all in the window.
    pub loops_silent: u64,
    pub lateness: Lateness,
}

fn percentile(sorted: &[u32], p: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Window is `[from_ms, to_ms)` on the arrivals' clock.
pub fn scrapes(
    arrivals: &[[Mutex<Vec<u32>>; 5]],
    kinds: &[Kind],
    interval_ms: u32,
    from_ms: u32,
    to_ms: u32,
) -> Scrapes {
    let expected_per_loop = u64::from(to_ms.saturating_sub(from_ms) / interval_ms.max(1));
    let mut out = Scrapes::default();
    let mut deviations = Vec::new();
    for target in arrivals {
        for &kind in kinds {
            let mut v = match target[kind.index()].lock() {
                Ok(v) => v.clone(),
                Err(p) => p.into_inner().clone(),
            };
            v.sort_unstable();
            let mut got = 0u64;
            for (i, &a) in v.iter().enumerate() {
                if a < from_ms || a >= to_ms {
                    continue;
                }
                got += 1;
                if i > 0 {
                    let gap = a - v[i - 1];
                    deviations.push(gap.abs_diff(interval_ms));
                    let periods = (gap + interval_ms / 2) / interval_ms.max(1);
                    out.skipped += u64::from(periods.saturating_sub(1));
                }
            }
            out.requests += got;
            *out.by_kind.entry(kind.name()).or_default() += got;
            out.expected += expected_per_loop;
            out.missing += expected_per_loop.saturating_sub(got);
            if got == 0 {
                out.loops_silent += 1;
                out.skipped += expected_per_loop;
            }
        }
    }
    deviations.sort_unstable();
    out.lateness = Lateness {
        gaps: deviations.len(),
        p50_ms: percentile(&deviations, 0.50),
        p99_ms: percentile(&deviations, 0.99),
        max_ms: deviations.last().copied().unwrap_or(0),
    };
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn loops(data: Vec<[Vec<u32>; 5]>) -> Vec<[Mutex<Vec<u32>>; 5]> {
        data.into_iter().map(|a| a.map(Mutex::new)).collect()
    }

    #[test]
    fn counts_lateness_and_missing_in_the_window() {
        // Interval 1000 ms, window [1000, 5000): 4 expected per loop.
        let a = loops(vec![[
            vec![100, 1100, 2100, 3100, 4100, 5100], // on time
            vec![200, 1250, 2200, 3200, 4200],       // one 50 ms late, then 50 early
            vec![300, 1300, 3300, 4300],             // one missing (gap 2000 → 1000 off)
            vec![],                                  // never scraped
            vec![500, 1500, 2500, 3500, 4500],
        ]]);
        let s = scrapes(&a, &Kind::ALL, 1000, 1000, 5000);
        assert_eq!(s.expected, 20);
        assert_eq!(s.requests, 15); // 4 + 4 + 3 + 0 + 4
        assert_eq!(s.missing, 1 + 4);
        assert_eq!(s.skipped, 1 + 4);
        assert_eq!(s.loops_silent, 1);
        assert_eq!(s.by_kind["mutex"], 0);
        assert_eq!(s.lateness.gaps, 15);
        assert_eq!(s.lateness.max_ms, 1000);
        assert_eq!(s.lateness.p50_ms, 0);
        assert_eq!(s.lateness.p99_ms, 1000);
    }

    #[test]
    fn jitter_across_the_window_edge_is_not_a_skipped_scrape() {
        // Interval 1000, window [1000, 3000): the loop's arrival at 2990 moved
        // to 3010 (outside) — one fewer in the window, but nothing skipped.
        let a = loops(vec![[
            vec![990, 1990, 3010],
            vec![1000, 2000],
            vec![1000, 2000],
            vec![1000, 2000],
            vec![1000, 2000],
        ]]);
        let s = scrapes(&a, &Kind::ALL, 1000, 1000, 3000);
        assert_eq!(s.missing, 1);
        assert_eq!(s.skipped, 0);
    }

    #[test]
    fn only_the_scraped_kinds_are_expected() {
        let a = loops(vec![[vec![1000, 2000], vec![], vec![], vec![], vec![]]]);
        let s = scrapes(&a, &[Kind::Allocs], 1000, 1000, 3000);
        assert_eq!((s.expected, s.skipped, s.loops_silent), (2, 0, 0));
    }

    #[test]
    fn percentile_of_empty_is_zero() {
        assert_eq!(percentile(&[], 0.5), 0);
        assert_eq!(percentile(&[3, 7], 0.99), 7);
    }
}
