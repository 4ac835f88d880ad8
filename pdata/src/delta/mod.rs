//! Deltas of cumulative profiles. Go's `allocs`/`heap`, `block` and `mutex`
//! endpoints serve totals since the process started; a [`DeltaComputer`]
//! (one per scrape loop) turns a series of them into per-interval profiles.
//!
//! ```
//! use profcol_pdata::delta::{is_cumulative, DeltaComputer};
//! use profcol_pdata::{pprof::Profile, PprofData};
//! assert!(is_cumulative("memory"));
//! let scrape = || PprofData::from_profile(&Profile::empty("alloc_space", "bytes"));
//! let mut deltas = DeltaComputer::new();
//! assert!(deltas.apply(scrape()?, 1_000).is_none()); // the baseline
//! let delta = deltas.apply(scrape()?, 16_000).expect("the second scrape gives a delta");
//! assert_eq!(delta.header().duration_nanos, 15_000);
//! # Ok::<(), profcol_pdata::Error>(())
//! ```
//!
//! Rules:
//! - Subtracted sample types: `alloc_objects`, `alloc_space` (Go heap/allocs)
//!   and `contentions`, `delay` (block/mutex). Every other type (`inuse_*`)
//!   passes through unchanged.
//! - The first profile only sets the baseline: `apply` returns `None`.
//! - A total that decreases means the process restarted: the state is
//!   re-baselined on that profile and `apply` returns `None` (its totals
//!   cover an unknown stretch since the restart, not one interval). A change
//!   of the sample types re-baselines the same way.
//! - A sample is dropped when every value of the result is zero (an
//!   `inuse_*` value keeps a sample, so the live heap stays complete).
//! - Samples with equal stack and labels are merged into the first of them.
//! - The result covers `[time_nanos, time_nanos + duration_nanos)`, the
//!   window between the two profiles: in the target's clock when both
//!   carry a `time_nanos` and it advanced (Go writes the time of writing),
//!   else in profcol's, from the previous scrape to this one. One clock,
//!   never a window that starts where its data ends.
//! - A profile without any subtracted sample type is returned unchanged.
//!
//! The result is the same body with an [`Overlay`]
//! of per-interval values: nothing is re-encoded unless an exporter asks.
//!
//! Stacks are identified by function names, files and lines (addresses only
//! for unsymbolized frames), so they match across scrapes even when the
//! target numbers its locations differently each time.
//!
//! The state holds, per (stack, labels) content hash, only the last totals
//! of the subtracted sample types — never a copy of the previous profile.
//! Between scrapes it is one byte buffer, shrunk to fit, of entries sorted
//! by key (`state.rs`): a key's gap from the previous key and the totals,
//! as varints, a fraction of what a map of keys to vectors holds.
//! `apply` keys the new profile's samples, sorts them by key (equal keys
//! are merged), merge-joins them against the old stream in one sequential
//! pass to find each series' previous totals, then writes the new stream;
//! its per-apply structures are dropped before it returns.
//!
//! Keys are the top 56 bits of the xxh3 hash of (stack, labels): shorter
//! gaps between sorted keys than full hashes, so a smaller state. Two
//! distinct series then share a key with probability ≈ n²/2⁵⁷ per profile
//! of n series, far below the sampling's own error; such a pair is merged
//! like duplicate samples (their deltas are reported on the first of the
//! two stacks) — never a panic or a lost total.

mod hash;
mod state;

use crate::pprof::tables::Tables;
use crate::pprof::Overlay;
use crate::pprof::{PprofView, SampleBuf};
use crate::PprofData;
use hash::{labels_hash, location_hashes, put};
use xxhash_rust::xxh3::xxh3_64;

/// Sample types whose values are totals since process start.
const SUBTRACTED: [&str; 4] = ["alloc_objects", "alloc_space", "contentions", "delay"];

/// Whether [`DeltaComputer::apply`] would change the profile (it has a
/// cumulative sample type); when not, the scraped bytes can be forwarded
/// unaltered.
pub fn subtracts_any(view: &PprofView) -> bool {
    !subtracted_columns(view).is_empty()
}

fn subtracted_columns(view: &PprofView) -> Vec<usize> {
    view.header()
        .sample_type
        .iter()
        .enumerate()
        .filter(|(_, vt)| SUBTRACTED.contains(&view.str(vt.r#type)))
        .map(|(i, _)| i)
        .collect()
}

/// Whether a scrape profile type (the seed's block name) serves cumulative
/// totals that need [`DeltaComputer`]: `memory`, `block`, `mutex`. False for
/// `godeltaprof_*` (already deltas), `process_cpu`, `goroutine`, `fgprof` and
/// custom types.
pub fn is_cumulative(profile_type: &str) -> bool {
    matches!(profile_type, "memory" | "block" | "mutex")
}

/// Per-series delta state; one per scrape loop.
#[derive(Debug, Default)]
pub struct DeltaComputer {
    /// Sorted (key, totals) entries, `width` totals each; see `state.rs`.
    state: Vec<u8>,
    /// Number of entries in `state`.
    series: usize,
    width: usize,
    /// Hash of the sample types the state was built from.
    types: u64,
    last_nanos: Option<i64>,
    /// The previous profile's own `time_nanos`.
    last_time: i64,
}

/// One series of the new profile: its first sample and, summed over its
/// samples, every value (the subtracted ones become deltas).
struct Series {
    key: u64,
    first: u32,
}

impl DeltaComputer {
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of distinct (stack, labels) series held.
    pub fn len(&self) -> usize {
        self.series
    }

    pub fn is_empty(&self) -> bool {
        self.series == 0
    }

    /// Heap bytes the state keeps between scrapes.
    pub fn state_bytes(&self) -> usize {
        self.state.capacity()
    }

    /// Forgets the baseline; the next profile starts a new one.
    pub fn reset(&mut self) {
        *self = Self::default();
    }

    /// Feeds the next cumulative profile of the series, scraped at
    /// `now_nanos`; returns the delta since the previous one (the same body
    /// with an [`Overlay`] of per-interval values), or `None` when this
    /// profile only (re)sets the baseline.
    pub fn apply(&mut self, data: PprofData, now_nanos: i64) -> Option<PprofData> {
        let view = data.view();
        let cols = subtracted_columns(view);
        if cols.is_empty() {
            return Some(data);
        }
        let types = types_hash(view);
        let width = cols.len();
        let all = view.header().sample_type.len();
        let n = view.sample_count();

        // Pass 1: key and read every sample, then sort by (key, sample
        // index): one series per distinct key, in key order, every value
        // summed over its samples; the first sample stands for it.
        let (keyed, values) = sample_keys(view, all);
        let mut series: Vec<Series> = Vec::with_capacity(n);
        let mut sums: Vec<i64> = Vec::with_capacity(n * all);
        for &(key, i) in &keyed {
            let Some(row) = values.get(i * all..(i + 1) * all) else {
                continue;
            };
            if series.last().is_some_and(|s| s.key == key) {
                let base = sums.len().saturating_sub(all);
                for (t, v) in sums.get_mut(base..).unwrap_or_default().iter_mut().zip(row) {
                    *t = t.saturating_add(*v);
                }
            } else {
                series.push(Series {
                    key,
                    first: u32::try_from(i).unwrap_or(u32::MAX),
                });
                sums.extend_from_slice(row);
            }
        }
        drop(keyed);
        drop(values);

        // The new state, then the old one to subtract.
        let mut w = state::Writer::with_capacity(series.len() * (7 + 2 * width));
        let mut totals = vec![0i64; width];
        for (s, row) in series.iter().zip(sums.chunks_exact(all)) {
            for (t, &c) in totals.iter_mut().zip(&cols) {
                *t = row.get(c).copied().unwrap_or(0);
            }
            w.push(s.key, &totals);
        }
        let old_state = std::mem::replace(&mut self.state, w.finish());
        let same_shape = self.types == types && self.width == width;
        let previous = self.last_nanos;
        let time_nanos = view.header().time_nanos;
        let previous_time = std::mem::replace(&mut self.last_time, time_nanos);
        self.series = series.len();
        self.width = width;
        self.types = types;
        self.last_nanos = Some(now_nanos);
        let previous = match previous {
            Some(p) if same_shape => p,
            _ => return None,
        };

        // Merge join: both sides are sorted by key. Totals become deltas; a
        // decreased total means a restart.
        let mut old = state::Reader::new(&old_state, width);
        let mut old_totals = vec![0i64; width];
        let mut old_key = old.next(&mut old_totals);
        for (s, row) in series.iter().zip(sums.chunks_exact_mut(all)) {
            while old_key.is_some_and(|k| k < s.key) {
                old_key = old.next(&mut old_totals);
            }
            if old_key == Some(s.key) {
                for (&c, prev) in cols.iter().zip(&old_totals) {
                    let Some(new) = row.get_mut(c) else { continue };
                    if *new < *prev {
                        return None;
                    }
                    *new = new.saturating_sub(*prev);
                }
            }
        }
        drop(old_state);

        // Pass 2: the series that are not all zero, in body order.
        let mut order: Vec<(u32, usize)> = series
            .iter()
            .enumerate()
            .filter(|&(k, _)| {
                sums.get(k * all..(k + 1) * all)
                    .is_some_and(|row| row.iter().any(|&v| v != 0))
            })
            .map(|(k, s)| (s.first, k))
            .collect();
        order.sort_unstable();
        let mut overlay = Overlay {
            keep: Vec::with_capacity(order.len()),
            values: Vec::with_capacity(order.len() * all),
        };
        for (first, k) in order {
            overlay.keep.push(first);
            overlay
                .values
                .extend_from_slice(sums.get(k * all..(k + 1) * all).unwrap_or(&[]));
        }
        let (start, end) = if previous_time > 0 && time_nanos > previous_time {
            (previous_time, time_nanos)
        } else {
            (previous, now_nanos.max(previous))
        };
        Some(data.with_overlay(overlay, start, end - start))
    }
}

/// (key, sample index) of every sample, sorted, and every sample's `all`
/// values in sample order: the key is the top [`state::KEY_BITS`] bits of
/// the hash of its stack (location contents, not ids) and labels.
fn sample_keys(view: &PprofView, all: usize) -> (Vec<(u64, usize)>, Vec<i64>) {
    let loc_hashes = location_hashes(view);
    let locations = view.location_ids();
    let n = view.sample_count();
    let mut values = Vec::with_capacity(n * all);
    let mut keyed = Vec::with_capacity(n);
    let mut sample = SampleBuf::default();
    let mut buf = Vec::with_capacity(256);
    let mut lbuf = Vec::with_capacity(64);
    for i in 0..n {
        // Validated at decode: reading cannot fail.
        if view.read_sample(i, &mut sample).is_err() {
            sample = SampleBuf::default();
        }
        buf.clear();
        for &id in &sample.location_ids {
            let h = locations
                .get(id)
                .and_then(|pos| loc_hashes.get(pos))
                .copied()
                .unwrap_or(id);
            put(&mut buf, h);
        }
        put(&mut buf, u64::MAX);
        put(&mut buf, labels_hash(view, &sample.labels, &mut lbuf));
        keyed.push((xxh3_64(&buf) >> (64 - state::KEY_BITS), i));
        let row = values.len();
        values.extend_from_slice(sample.values.get(..all).unwrap_or(&sample.values));
        values.resize(row + all, 0);
    }
    keyed.sort_unstable();
    (keyed, values)
}

fn types_hash(view: &PprofView) -> u64 {
    let mut buf = Vec::with_capacity(64);
    for vt in &view.header().sample_type {
        hash::put_str(&mut buf, view.str(vt.r#type));
        hash::put_str(&mut buf, view.str(vt.unit));
    }
    xxh3_64(&buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pprof;
    use crate::testutil::Builder;

    /// [`DeltaComputer::apply`] on a decoded profile, the result decoded.
    fn apply(d: &mut DeltaComputer, p: pprof::Profile, now: i64) -> Option<pprof::Profile> {
        let data = PprofData::from_profile(&p).expect("a valid profile");
        d.apply(data, now).map(|out| out.to_profile())
    }
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    const HEAP: [(&str, &str); 4] = [
        ("alloc_objects", "count"),
        ("alloc_space", "bytes"),
        ("inuse_objects", "count"),
        ("inuse_space", "bytes"),
    ];

    /// (leaf-first stack joined by ';', labels) → values.
    fn by_stack(p: &pprof::Profile) -> BTreeMap<String, Vec<i64>> {
        let mut out = BTreeMap::new();
        for s in &p.sample {
            let stack: Vec<&str> = s
                .location_id
                .iter()
                .map(|id| {
                    let l = p.location.iter().find(|l| l.id == *id).unwrap();
                    let f = p
                        .function
                        .iter()
                        .find(|f| f.id == l.line[0].function_id)
                        .unwrap();
                    p.str(f.name)
                })
                .collect();
            let mut labels: Vec<String> = s
                .label
                .iter()
                .map(|l| format!("{}={}{}", p.str(l.key), p.str(l.str), l.num))
                .collect();
            labels.sort();
            let e = out
                .entry(format!("{}|{}", stack.join(";"), labels.join(",")))
                .or_insert_with(|| vec![0; s.value.len()]);
            for (a, v) in e.iter_mut().zip(&s.value) {
                *a += v;
            }
        }
        out
    }

    #[test]
    fn profile_types() {
        for t in ["memory", "block", "mutex"] {
            assert!(is_cumulative(t), "{t}");
        }
        for t in [
            "godeltaprof_memory",
            "godeltaprof_mutex",
            "process_cpu",
            "goroutine",
            "fgprof",
            "my_type",
        ] {
            assert!(!is_cumulative(t), "{t}");
        }
    }

    #[test]
    fn heap_series() {
        let mut d = DeltaComputer::new();
        let mut b = Builder::new(&HEAP);
        b.sample(&["malloc", "a", "main"], &[], &[10, 1000, 2, 200])
            .sample(&["malloc", "b", "main"], &[], &[5, 500, 5, 500]);
        assert!(
            apply(&mut d, b.build(), 1_000).is_none(),
            "first scrape is the baseline"
        );
        assert_eq!(d.len(), 2);

        // Renumbered ids, a new stack, one unchanged stack with live memory,
        // and one unchanged stack with no live memory.
        let mut b = Builder::new(&HEAP).with_id_offset(100);
        b.sample(&["malloc", "c", "main"], &[], &[3, 300, 1, 100])
            .sample(&["malloc", "a", "main"], &[], &[15, 1500, 1, 100])
            .sample(&["malloc", "b", "main"], &[], &[5, 500, 0, 0]);
        let mut p = b.build();
        p.duration_nanos = 0;
        let out = apply(&mut d, p, 16_000).unwrap();
        assert_eq!(out.duration_nanos, 15_000);
        let got = by_stack(&out);
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(got["malloc;a;main|"], vec![5, 500, 1, 100]);
        assert_eq!(got["malloc;c;main|"], vec![3, 300, 1, 100]);

        // An unchanged stack whose memory is still live is kept for inuse.
        let mut b = Builder::new(&HEAP);
        b.sample(&["malloc", "a", "main"], &[], &[15, 1500, 1, 100]);
        let got = by_stack(&apply(&mut d, b.build(), 31_000).unwrap());
        assert_eq!(got["malloc;a;main|"], vec![0, 0, 1, 100]);
    }

    #[test]
    fn the_window_is_between_the_two_profiles() {
        let types = [("contentions", "count"), ("delay", "nanoseconds")];
        let profile = |time: i64, v: i64| {
            let mut b = Builder::new(&types);
            b.sample(&["lock", "main"], &[], &[v, v]);
            let mut p = b.build();
            p.time_nanos = time;
            p
        };
        // The target's clock when it reports one that advanced.
        let mut d = DeltaComputer::new();
        assert!(apply(&mut d, profile(5_000, 1), 90_000).is_none());
        let out = apply(&mut d, profile(20_000, 2), 200_000).unwrap();
        assert_eq!((out.time_nanos, out.duration_nanos), (5_000, 15_000));
        // Else profcol's: from the previous scrape to this one.
        let mut d = DeltaComputer::new();
        assert!(apply(&mut d, profile(0, 1), 90_000).is_none());
        let out = apply(&mut d, profile(0, 2), 200_000).unwrap();
        assert_eq!((out.time_nanos, out.duration_nanos), (90_000, 110_000));
        let out = apply(&mut d, profile(7, 3), 300_000).unwrap();
        assert_eq!((out.time_nanos, out.duration_nanos), (200_000, 100_000));
    }

    #[test]
    fn restart_rebaselines() {
        let mut d = DeltaComputer::new();
        let types = [("contentions", "count"), ("delay", "nanoseconds")];
        let mut b = Builder::new(&types);
        b.sample(&["lock", "main"], &[], &[10, 100]);
        assert!(apply(&mut d, b.build(), 0).is_none());
        let mut b = Builder::new(&types);
        b.sample(&["lock", "main"], &[], &[4, 40]);
        assert!(apply(&mut d, b.build(), 10).is_none(), "decrease = restart");
        let mut b = Builder::new(&types);
        b.sample(&["lock", "main"], &[], &[6, 70]);
        let out = apply(&mut d, b.build(), 20).unwrap();
        assert_eq!(by_stack(&out)["lock;main|"], vec![2, 30]);
        assert_eq!(out.duration_nanos, 10);
        // A different set of sample types re-baselines too.
        let mut b = Builder::new(&[("contentions", "count")]);
        b.sample(&["lock", "main"], &[], &[100]);
        assert!(apply(&mut d, b.build(), 30).is_none());
    }

    #[test]
    fn labels_and_duplicates() {
        let mut d = DeltaComputer::new();
        let types = [("contentions", "count"), ("delay", "nanoseconds")];
        let mut b = Builder::new(&types);
        b.sample(&["f"], &[("t", "x")], &[1, 1])
            .sample(&["f"], &[("t", "y")], &[1, 1]);
        apply(&mut d, b.build(), 0);
        let mut b = Builder::new(&types);
        b.sample(&["f"], &[("t", "x")], &[2, 2])
            .sample(&["f"], &[("t", "y")], &[1, 1])
            .sample(&["f"], &[("t", "x")], &[3, 3]);
        let got = by_stack(&apply(&mut d, b.build(), 1).unwrap());
        assert_eq!(got.len(), 1);
        assert_eq!(got["f|t=x0"], vec![4, 4]);
    }

    #[test]
    fn non_cumulative_types_pass_through() {
        let mut d = DeltaComputer::new();
        let mut b = Builder::new(&[("samples", "count"), ("cpu", "nanoseconds")]);
        b.sample(&["f"], &[], &[1, 10]);
        assert_eq!(apply(&mut d, b.build(), 0), Some(b.build()));
    }

    #[test]
    fn state_stays_small() {
        // 20,000 series with totals under 64: each entry is a key gap and
        // two 1-byte zigzag totals. The gaps between n sorted uniform 56-bit
        // keys average 2^56/n ≈ 2^41.7; one needs 8 varint bytes only past
        // 2^49, which happens with probability e^(-n/128) ≈ 0; only the
        // first gap (the key itself) may take 8. So ≤ 7 + 2 bytes per series
        // (+1); ~6.3 + 2 expected.
        let types = [("contentions", "count"), ("delay", "nanoseconds")];
        let n: i64 = 20_000;
        let build = |step: i64| {
            let mut b = Builder::new(&types);
            for i in 0..n {
                b.sample(&[&format!("f{i}"), "main"], &[], &[step + i % 50, 32]);
            }
            b.build()
        };
        let mut d = DeltaComputer::new();
        assert!(apply(&mut d, build(1), 0).is_none());
        assert_eq!(d.len(), n as usize);
        let bound = n as usize * (7 + 2) + 1;
        assert!(d.state_bytes() <= bound, "{} > {bound}", d.state_bytes());
        assert!(d.state_bytes() >= n as usize * (6 + 2) * 9 / 10);
        let out = apply(&mut d, build(2), 1).unwrap();
        assert_eq!(out.sample.len(), n as usize);
        assert!(out.sample.iter().all(|s| s.value == [1, 0]));
        assert_eq!(d.len(), n as usize);
        assert!(d.state_bytes() <= bound, "{} > {bound}", d.state_bytes());
        d.reset();
        assert!(d.is_empty());
        assert_eq!(d.state_bytes(), 0);
    }

    proptest! {
        /// Over a cumulative series, the deltas add up to last − baseline.
        #[test]
        fn deltas_sum_to_last_minus_baseline(
            steps in proptest::collection::vec(proptest::collection::vec((0i64..5, 0i64..1000), 6), 2..8),
            shuffle in any::<u64>(),
        ) {
            let stacks: [&[&str]; 6] = [&["a"], &["b", "a"], &["c", "b", "a"], &["a", "c"], &["d"], &["b"]];
            let mut totals = [[0i64; 2]; 6];
            let mut d = DeltaComputer::new();
            let mut baseline = None;
            let mut sum: BTreeMap<String, Vec<i64>> = BTreeMap::new();
            for (step, incs) in steps.iter().enumerate() {
                for (t, (c, v)) in totals.iter_mut().zip(incs) {
                    t[0] += c;
                    t[1] += v;
                }
                let mut b = Builder::new(&[("contentions", "count"), ("delay", "nanoseconds")])
                    .with_id_offset(step as u64 * 7);
                let mut order: Vec<usize> = (0..6).collect();
                order.rotate_left((shuffle as usize + step) % 6);
                for i in order {
                    if totals[i] != [0, 0] {
                        b.sample(stacks[i], &[], &totals[i]);
                    }
                }
                match apply(&mut d, b.build(), step as i64) {
                    None => {
                        prop_assert!(baseline.is_none());
                        baseline = Some(totals);
                    }
                    Some(p) => {
                        prop_assert_eq!(p.duration_nanos, 1);
                        for (k, v) in by_stack(&p) {
                            prop_assert!(v.iter().any(|&x| x != 0));
                            let e = sum.entry(k).or_insert_with(|| vec![0, 0]);
                            e[0] += v[0];
                            e[1] += v[1];
                        }
                    }
                }
            }
            let baseline = baseline.unwrap();
            for (i, stack) in stacks.iter().enumerate() {
                let want = [totals[i][0] - baseline[i][0], totals[i][1] - baseline[i][1]];
                let got = sum.get(&format!("{}|", stack.join(";"))).map_or([0, 0], |v| [v[0], v[1]]);
                prop_assert_eq!(got, want, "stack {:?}", stack);
            }
        }
    }
}
