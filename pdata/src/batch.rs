//! `ProfileBatch`, what travels from receivers through processors to
//! exporters, and the `Consumer` trait every downstream hop implements.

use crate::labels::Labels;
use crate::pprof;
use crate::pprof::data::PprofData;
use crate::Error;
use std::sync::Arc;

/// One profile of one series.
#[derive(Clone, Debug)]
pub struct ProfileRecord {
    /// The series' labels, `__name__` included; see [`Labels::public`].
    pub labels: Labels,
    /// The profile: its pprof body, view and delta values; shared so that
    /// fan-out does not copy it.
    pub pprof: Arc<PprofData>,
}

impl ProfileRecord {
    pub fn new(labels: Labels, pprof: PprofData) -> Self {
        Self {
            labels,
            pprof: Arc::new(pprof),
        }
    }

    /// A record of a decoded profile (built here: from OTLP, in tests),
    /// encoded and validated; an invalid profile is an error.
    pub fn from_profile(labels: Labels, profile: &pprof::Profile) -> Result<Self, Error> {
        Ok(Self::new(labels, PprofData::from_profile(profile)?))
    }

    /// The profile decoded into prost structs (delta values applied): for
    /// tests and debug output, not the data path.
    pub fn profile(&self) -> pprof::Profile {
        self.pprof.to_profile()
    }

    /// The profile type (`__name__`), or "unknown".
    pub fn name(&self) -> &str {
        self.labels.get(crate::Labels::NAME).unwrap_or("unknown")
    }
}

/// Profiles handed downstream together.
#[derive(Clone, Debug, Default)]
pub struct ProfileBatch {
    pub records: Vec<ProfileRecord>,
}

impl ProfileBatch {
    pub fn new(records: Vec<ProfileRecord>) -> Self {
        Self { records }
    }
    pub fn len(&self) -> usize {
        self.records.len()
    }
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }
    /// The size of what would be sent: the served payloads, or the
    /// uncompressed bodies (for the sent/dropped byte counters).
    pub fn approx_bytes(&self) -> usize {
        self.records.iter().map(|r| r.pprof.wire_bytes()).sum()
    }

    /// The memory the batch holds: bodies, their indexes, served bytes and
    /// delta values. Queues bound themselves with this, so that a byte
    /// limit limits memory.
    pub fn memory_bytes(&self) -> usize {
        self.records.iter().map(|r| r.pprof.memory_bytes()).sum()
    }
}

/// The downstream side of every hop. `consume` returns once the batch is
/// owned by the callee (queued or sent); an error means it was not accepted
/// and the caller counts it as dropped.
#[async_trait::async_trait]
pub trait Consumer: Send + Sync {
    async fn consume(&self, batch: ProfileBatch) -> Result<(), Error>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_counts_bodies_and_their_indexes() {
        let mut p = pprof::Profile {
            sample_type: vec![pprof::ValueType { r#type: 1, unit: 0 }],
            string_table: vec![String::new(), "samples".into()],
            function: vec![pprof::Function {
                id: 1,
                ..Default::default()
            }],
            location: vec![pprof::Location {
                id: 1,
                line: vec![pprof::Line {
                    function_id: 1,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
        let empty = ProfileRecord::from_profile(Labels::new(), &p).unwrap();
        let empty = ProfileBatch::new(vec![empty]).memory_bytes();
        p.sample = vec![
            pprof::Sample {
                location_id: vec![1, 1, 1],
                value: vec![1],
                label: vec![],
            };
            1000
        ];
        let rec = ProfileRecord::from_profile(Labels::new(), &p).unwrap();
        let full = ProfileBatch::new(vec![rec.clone()]).memory_bytes();
        // Each sample: 8 body bytes and its 2-byte offset.
        assert!(full >= empty + 1000 * 10, "{full} vs {empty}");
        assert_eq!(
            ProfileBatch::new(vec![rec.clone(), rec]).memory_bytes(),
            2 * full
        );
    }
}
