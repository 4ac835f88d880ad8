//! What one batcher holds: profiles in arrival order, each with its size in
//! samples, and how they are cut into batches of at most
//! `send_batch_max_size` samples without breaking a profile.
//!
//! The unit is the sample, as the Collector counts profiles (the samples of
//! every OTLP `Profile`): a pprof record counts its samples once per sample
//! type, since it becomes one OTLP profile per sample type. A received OTLP
//! request is kept whole (exporters forward it as it came), so it is never
//! split either.

use profcol_pdata::otlp::OtlpPayload;
use profcol_pdata::{ProfileBatch, ProfileRecord};
use std::sync::Arc;

/// One indivisible part of a batch.
#[derive(Clone, Debug)]
pub enum Unit {
    Record(ProfileRecord),
    Otlp(Arc<OtlpPayload>),
}

impl Unit {
    /// The unit's size in OTLP samples.
    pub fn samples(&self) -> usize {
        match self {
            Unit::Record(r) => {
                let types = r.pprof.header().sample_type.len().max(1);
                r.pprof.sample_count().saturating_mul(types)
            }
            Unit::Otlp(p) => p.sample_count(),
        }
    }

    /// Profiles in the unit, as [`ProfileBatch::len`] counts them.
    pub fn profiles(&self) -> usize {
        match self {
            Unit::Record(_) => 1,
            Unit::Otlp(p) => p.profile_count(),
        }
    }
}

/// A batch's units, records first.
pub fn units(batch: ProfileBatch) -> impl Iterator<Item = Unit> {
    batch
        .records
        .into_iter()
        .map(Unit::Record)
        .chain(batch.otlp.into_iter().map(Unit::Otlp))
}

/// Which `consume` call handed a unit in: a chunk that fails downstream
/// is that call's refusal for its own units, and a loss for the others'.
pub type Call = u64;

/// Units on their way downstream together.
#[derive(Debug, Default)]
pub struct Chunk {
    pub batch: ProfileBatch,
    pub samples: usize,
    /// Profiles per call that handed them in.
    origins: Vec<(Call, usize)>,
}

impl Chunk {
    fn push(&mut self, entry: Entry) {
        self.samples += entry.samples;
        let profiles = entry.unit.profiles();
        match self.origins.iter_mut().find(|(c, _)| *c == entry.call) {
            Some((_, n)) => *n += profiles,
            None => self.origins.push((entry.call, profiles)),
        }
        match entry.unit {
            Unit::Record(r) => self.batch.records.push(r),
            Unit::Otlp(p) => self.batch.otlp.push(p),
        }
    }

    pub fn profiles(&self) -> usize {
        self.batch.len()
    }

    /// Whether the chunk holds profiles of `call`.
    pub fn holds(&self, call: Call) -> bool {
        self.origins.iter().any(|(c, _)| *c == call)
    }

    /// Profiles handed in by other calls than `call` (by any, for `None`).
    pub fn profiles_not_from(&self, call: Option<Call>) -> usize {
        self.origins
            .iter()
            .filter(|(c, _)| Some(*c) != call)
            .map(|(_, n)| n)
            .sum()
    }
}

#[derive(Debug)]
struct Entry {
    unit: Unit,
    samples: usize,
    call: Call,
}

/// The units waiting in one batcher, oldest first.
#[derive(Debug, Default)]
pub struct Pending {
    units: std::collections::VecDeque<Entry>,
    samples: usize,
}

impl Pending {
    pub fn push(&mut self, unit: Unit, call: Call) {
        let samples = unit.samples();
        self.samples += samples;
        self.units.push_back(Entry {
            unit,
            samples,
            call,
        });
    }

    pub fn samples(&self) -> usize {
        self.samples
    }

    pub fn is_empty(&self) -> bool {
        self.units.is_empty()
    }

    /// The oldest units up to `max` samples (0: all of them); a unit larger
    /// than `max` on its own makes a chunk alone. `None` when empty.
    pub fn take_chunk(&mut self, max: usize) -> Option<Chunk> {
        let mut chunk = Chunk::default();
        let mut taken = 0;
        while let Some(next) = self.units.front() {
            if max > 0 && taken > 0 && chunk.samples + next.samples > max {
                break;
            }
            let Some(entry) = self.units.pop_front() else {
                break;
            };
            self.samples -= entry.samples;
            chunk.push(entry);
            taken += 1;
        }
        (taken > 0).then_some(chunk)
    }

    /// Every unit, cut into chunks of at most `max` samples.
    pub fn drain_chunks(&mut self, max: usize) -> Vec<Chunk> {
        std::iter::from_fn(|| self.take_chunk(max)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::sized::{ids, record};
    use profcol_pdata::{pprof, Labels};

    fn pending(sizes: &[usize]) -> Pending {
        let mut p = Pending::default();
        for (i, &n) in sizes.iter().enumerate() {
            p.push(Unit::Record(record(i, n)), i as Call % 2);
        }
        p
    }

    #[test]
    fn a_record_counts_its_samples_once_per_sample_type() {
        assert_eq!(Unit::Record(record(0, 7)).samples(), 7);
        let mut p = pprof::Profile::empty("alloc_objects", "count");
        p.string_table.push("alloc_space".into());
        p.string_table.push("bytes".into());
        let n = p.string_table.len() as i64;
        p.sample_type.push(pprof::ValueType {
            r#type: n - 2,
            unit: n - 1,
        });
        p.function.push(pprof::Function {
            id: 1,
            ..Default::default()
        });
        p.location.push(pprof::Location {
            id: 1,
            line: vec![pprof::Line {
                function_id: 1,
                ..Default::default()
            }],
            ..Default::default()
        });
        p.sample = vec![
            pprof::Sample {
                location_id: vec![1],
                value: vec![1, 2],
                label: vec![],
            };
            5
        ];
        let r = ProfileRecord::from_profile(Labels::new(), &p).unwrap();
        assert_eq!(Unit::Record(r).samples(), 10);
    }

    #[test]
    fn an_otlp_request_counts_all_its_samples_and_profiles() {
        let bytes = profcol_pdata::otlp::to_otlp_bytes(&[record(0, 3), record(1, 4)]);
        let payload = OtlpPayload::from_bytes(bytes.into(), &Default::default()).unwrap();
        let u = Unit::Otlp(Arc::new(payload));
        assert_eq!((u.samples(), u.profiles()), (7, 2));
    }

    #[test]
    fn chunks_fill_up_to_the_maximum_in_arrival_order() {
        let mut p = pending(&[4, 4, 4, 4, 4]);
        assert_eq!(p.samples(), 20);
        let chunks = p.drain_chunks(10);
        let got: Vec<(Vec<usize>, usize)> =
            chunks.iter().map(|c| (ids(&c.batch), c.samples)).collect();
        assert_eq!(got, [(vec![0, 1], 8), (vec![2, 3], 8), (vec![4], 4)]);
        assert!(p.is_empty());
        assert_eq!(p.samples(), 0);
        // Records 0, 2 and 4 came from call 0, 1 and 3 from call 1.
        assert!(chunks[0].holds(0) && chunks[0].holds(1));
        assert_eq!(chunks[0].profiles_not_from(Some(1)), 1);
        assert_eq!(chunks[1].profiles_not_from(None), 2);
        assert!(!chunks[2].holds(1));
        assert_eq!(chunks[2].profiles_not_from(Some(1)), 1);
    }

    #[test]
    fn a_profile_larger_than_the_maximum_goes_alone_and_whole() {
        let mut p = pending(&[3, 25, 3]);
        let chunks = p.drain_chunks(10);
        let got: Vec<(Vec<usize>, usize)> =
            chunks.iter().map(|c| (ids(&c.batch), c.samples)).collect();
        assert_eq!(got, [(vec![0], 3), (vec![1], 25), (vec![2], 3)]);
    }

    #[test]
    fn no_maximum_takes_everything() {
        let mut p = pending(&[5, 5, 5]);
        let c = p.take_chunk(0).unwrap();
        assert_eq!((ids(&c.batch), c.samples), (vec![0, 1, 2], 15));
        assert!(p.take_chunk(0).is_none());
    }
}
