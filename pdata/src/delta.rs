//! Deltas of cumulative profiles. Go's `allocs`/`heap`, `block` and `mutex`
//! endpoints serve totals since the process started; `DeltaComputer` turns a
//! series of them (one scrape loop's) into per-interval profiles.
//!
//! The state holds, per (stack, labels) content hash, only the last totals of
//! the subtracted sample types — never a copy of the previous profile — so it
//! costs a few words per distinct stack.
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
//! - `duration_nanos` becomes the time since the previous scrape;
//!   `time_nanos` is kept as the target reported it.
//! - A profile without any subtracted sample type is returned unchanged.
//!
//! Stacks are identified by function names, files and lines (addresses only
//! for unsymbolized frames), so they match across scrapes even when the
//! target numbers its locations differently each time.

use crate::hash::{labels_hash, location_hashes, put, HashedMap};
use crate::ids::IdMap;
use crate::pprof;
use xxhash_rust::xxh3::xxh3_64;

/// Sample types whose values are totals since process start.
const SUBTRACTED: [&str; 4] = ["alloc_objects", "alloc_space", "contentions", "delay"];

/// Whether [`DeltaComputer::apply`] would change `profile` (it has a
/// cumulative sample type); when not, the scraped bytes can be forwarded
/// unaltered.
pub fn subtracts_any(profile: &pprof::Profile) -> bool {
    profile
        .sample_type
        .iter()
        .any(|vt| SUBTRACTED.contains(&profile.str(vt.r#type)))
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
    /// Content hash of (stack, labels) → slot in `totals`.
    index: HashedMap<u32>,
    /// `width` totals per slot, one per subtracted column.
    totals: Vec<i64>,
    width: usize,
    /// Hash of the sample types the state was built from.
    types: u64,
    last_nanos: Option<i64>,
}

impl DeltaComputer {
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of distinct (stack, labels) series held.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Forgets the baseline; the next profile starts a new one.
    pub fn reset(&mut self) {
        *self = Self::default();
    }

    /// Feeds the next cumulative profile of the series, scraped at
    /// `now_nanos`; returns the delta since the previous one, or `None` when
    /// this profile only (re)sets the baseline.
    pub fn apply(&mut self, mut profile: pprof::Profile, now_nanos: i64) -> Option<pprof::Profile> {
        let cols: Vec<usize> = profile
            .sample_type
            .iter()
            .enumerate()
            .filter(|(_, vt)| SUBTRACTED.contains(&profile.str(vt.r#type)))
            .map(|(i, _)| i)
            .collect();
        if cols.is_empty() {
            return Some(profile);
        }
        let types = types_hash(&profile);
        let width = cols.len();
        let n = profile.sample.len();

        // Pass 1: key every sample, sum totals per key into the new state.
        let loc_hashes = location_hashes(&profile);
        let locations = IdMap::build(profile.location.iter().map(|l| l.id));
        let mut index: HashedMap<u32> = HashedMap::with_capacity_and_hasher(n, Default::default());
        let mut totals: Vec<i64> = Vec::with_capacity(n * width);
        // Per slot: its key and the first sample that has it.
        let mut slot_keys: Vec<u64> = Vec::with_capacity(n);
        let mut first_of_slot: Vec<u32> = Vec::with_capacity(n);
        // Per sample: its slot, or None when merged into an earlier sample.
        let mut slot_of: Vec<Option<u32>> = Vec::with_capacity(n);
        let mut buf = Vec::with_capacity(256);
        let mut lbuf = Vec::with_capacity(64);
        let mut merges: Vec<(usize, usize)> = Vec::new();
        for (i, s) in profile.sample.iter().enumerate() {
            buf.clear();
            for &id in &s.location_id {
                let h = locations
                    .get(id)
                    .and_then(|pos| loc_hashes.get(pos))
                    .copied()
                    .unwrap_or(id);
                put(&mut buf, h);
            }
            put(&mut buf, u64::MAX);
            put(&mut buf, labels_hash(&profile, &s.label, &mut lbuf));
            let key = xxh3_64(&buf);
            let next = u32::try_from(first_of_slot.len()).unwrap_or(u32::MAX);
            let slot = *index.entry(key).or_insert(next);
            if slot == next {
                first_of_slot.push(i as u32);
                slot_keys.push(key);
                totals.extend(cols.iter().map(|&c| s.value.get(c).copied().unwrap_or(0)));
                slot_of.push(Some(slot));
            } else {
                let base = slot as usize * width;
                for (j, &c) in cols.iter().enumerate() {
                    if let Some(t) = totals.get_mut(base + j) {
                        *t = t.saturating_add(s.value.get(c).copied().unwrap_or(0));
                    }
                }
                if let Some(&first) = first_of_slot.get(slot as usize) {
                    merges.push((first as usize, i));
                }
                slot_of.push(None);
            }
        }

        // Where each new slot's totals were in the old state.
        let same_shape = self.types == types && self.width == width;
        let old_slot: Vec<Option<u32>> = if same_shape {
            slot_keys
                .iter()
                .map(|k| self.index.get(k).copied())
                .collect()
        } else {
            Vec::new()
        };
        let restarted = self.last_nanos.is_some()
            && (!same_shape
                || old_slot.iter().enumerate().any(|(slot, old)| {
                    let new = totals.get(slot * width..(slot + 1) * width);
                    let old = old.and_then(|o| {
                        self.totals
                            .get(o as usize * width..(o as usize + 1) * width)
                    });
                    match (new, old) {
                        (Some(new), Some(old)) => new.iter().zip(old).any(|(n, o)| n < o),
                        _ => false,
                    }
                }));
        let previous = self.last_nanos;
        let old_totals = std::mem::replace(&mut self.totals, totals);
        self.index = index;
        self.width = width;
        self.types = types;
        self.last_nanos = Some(now_nanos);
        let previous = match previous {
            Some(p) if !restarted => p,
            _ => return None,
        };

        // Merge duplicate samples' pass-through values into their first.
        for &(first, dup) in &merges {
            if first < dup && dup < n {
                let (head, tail) = profile.sample.split_at_mut(dup);
                if let (Some(f), Some(d)) = (head.get_mut(first), tail.first()) {
                    for (c, (fv, dv)) in f.value.iter_mut().zip(&d.value).enumerate() {
                        if !cols.contains(&c) {
                            *fv = fv.saturating_add(*dv);
                        }
                    }
                }
            }
        }

        // Pass 2: subtract, drop merged and all-zero samples.
        let mut i = 0;
        profile.sample.retain_mut(|s| {
            let slot = slot_of.get(i).copied().flatten();
            i += 1;
            let Some(slot) = slot else { return false };
            let Some(new_totals) = self
                .totals
                .get(slot as usize * width..(slot as usize + 1) * width)
            else {
                return false;
            };
            let old = old_slot
                .get(slot as usize)
                .copied()
                .flatten()
                .and_then(|o| old_totals.get(o as usize * width..(o as usize + 1) * width));
            for (j, &c) in cols.iter().enumerate() {
                let new = new_totals.get(j).copied().unwrap_or(0);
                let prev = old.and_then(|o| o.get(j)).copied().unwrap_or(0);
                if let Some(v) = s.value.get_mut(c) {
                    *v = new.saturating_sub(prev);
                }
            }
            s.value.iter().any(|&v| v != 0)
        });
        profile.duration_nanos = now_nanos.saturating_sub(previous);
        Some(profile)
    }
}

fn types_hash(p: &pprof::Profile) -> u64 {
    let mut buf = Vec::with_capacity(64);
    for vt in &p.sample_type {
        crate::hash::put_str(&mut buf, p.str(vt.r#type));
        crate::hash::put_str(&mut buf, p.str(vt.unit));
    }
    xxh3_64(&buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::Builder;
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
            d.apply(b.build(), 1_000).is_none(),
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
        let out = d.apply(p, 16_000).unwrap();
        assert_eq!(out.duration_nanos, 15_000);
        let got = by_stack(&out);
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(got["malloc;a;main|"], vec![5, 500, 1, 100]);
        assert_eq!(got["malloc;c;main|"], vec![3, 300, 1, 100]);

        // An unchanged stack whose memory is still live is kept for inuse.
        let mut b = Builder::new(&HEAP);
        b.sample(&["malloc", "a", "main"], &[], &[15, 1500, 1, 100]);
        let got = by_stack(&d.apply(b.build(), 31_000).unwrap());
        assert_eq!(got["malloc;a;main|"], vec![0, 0, 1, 100]);
    }

    #[test]
    fn restart_rebaselines() {
        let mut d = DeltaComputer::new();
        let types = [("contentions", "count"), ("delay", "nanoseconds")];
        let mut b = Builder::new(&types);
        b.sample(&["lock", "main"], &[], &[10, 100]);
        assert!(d.apply(b.build(), 0).is_none());
        let mut b = Builder::new(&types);
        b.sample(&["lock", "main"], &[], &[4, 40]);
        assert!(d.apply(b.build(), 10).is_none(), "decrease = restart");
        let mut b = Builder::new(&types);
        b.sample(&["lock", "main"], &[], &[6, 70]);
        let out = d.apply(b.build(), 20).unwrap();
        assert_eq!(by_stack(&out)["lock;main|"], vec![2, 30]);
        assert_eq!(out.duration_nanos, 10);
        // A different set of sample types re-baselines too.
        let mut b = Builder::new(&[("contentions", "count")]);
        b.sample(&["lock", "main"], &[], &[100]);
        assert!(d.apply(b.build(), 30).is_none());
    }

    #[test]
    fn labels_and_duplicates() {
        let mut d = DeltaComputer::new();
        let types = [("contentions", "count"), ("delay", "nanoseconds")];
        let mut b = Builder::new(&types);
        b.sample(&["f"], &[("t", "x")], &[1, 1])
            .sample(&["f"], &[("t", "y")], &[1, 1]);
        d.apply(b.build(), 0);
        let mut b = Builder::new(&types);
        b.sample(&["f"], &[("t", "x")], &[2, 2])
            .sample(&["f"], &[("t", "y")], &[1, 1])
            .sample(&["f"], &[("t", "x")], &[3, 3]);
        let got = by_stack(&d.apply(b.build(), 1).unwrap());
        assert_eq!(got.len(), 1);
        assert_eq!(got["f|t=x0"], vec![4, 4]);
    }

    #[test]
    fn non_cumulative_types_pass_through() {
        let mut d = DeltaComputer::new();
        let mut b = Builder::new(&[("samples", "count"), ("cpu", "nanoseconds")]);
        b.sample(&["f"], &[], &[1, 10]);
        assert_eq!(d.apply(b.build(), 0), Some(b.build()));
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
                match d.apply(b.build(), step as i64) {
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
