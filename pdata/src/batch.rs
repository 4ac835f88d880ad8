//! `ProfileBatch`, what travels from receivers through processors to
//! exporters, and the `Consumer` trait every downstream hop implements.

use crate::labels::Labels;
use crate::pprof;
use crate::Error;
use bytes::Bytes;
use std::sync::Arc;

/// One profile of one series.
#[derive(Clone, Debug)]
pub struct ProfileRecord {
    /// The series' labels, `__name__` included; see [`Labels::public`].
    pub labels: Labels,
    /// The decoded profile; shared so that fan-out does not copy it.
    pub profile: Arc<pprof::Profile>,
    /// The bytes exactly as the target served them, kept only while
    /// `profile` is their decoding (exporters that speak pprof forward
    /// these byte for byte). One liberty: `profile.time_nanos` may be the
    /// start of the window where the target stamped its end
    /// ([`crate::window`]).
    pub raw: Option<Bytes>,
}

impl ProfileRecord {
    pub fn new(labels: Labels, profile: pprof::Profile) -> Self {
        Self {
            labels,
            profile: Arc::new(profile),
            raw: None,
        }
    }

    /// The profile type (`__name__`), or "unknown".
    pub fn name(&self) -> &str {
        self.labels.get(crate::labels::NAME).unwrap_or("unknown")
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
    /// The size of what would be sent: the raw payloads, or an estimate for
    /// decoded profiles without one (for the sent/dropped byte counters).
    pub fn approx_bytes(&self) -> usize {
        self.records
            .iter()
            .map(|r| match &r.raw {
                Some(b) => b.len(),
                None => 64 * r.profile.sample.len() + 32 * r.profile.location.len(),
            })
            .sum()
    }
}

impl ProfileBatch {
    /// An estimate of the memory the batch holds: the raw payloads plus the
    /// decoded profiles (vectors and strings, by length). Queues bound
    /// themselves with this, so that a byte limit limits memory.
    pub fn memory_bytes(&self) -> usize {
        self.records
            .iter()
            .map(|r| r.raw.as_ref().map_or(0, |b| b.len()) + decoded_bytes(&r.profile))
            .sum()
    }
}

fn decoded_bytes(p: &pprof::Profile) -> usize {
    use std::mem::size_of;
    let samples: usize = p
        .sample
        .iter()
        .map(|s| {
            size_of::<pprof::Sample>()
                + 8 * (s.location_id.len() + s.value.len())
                + size_of::<pprof::Label>() * s.label.len()
        })
        .sum();
    let locations: usize = p
        .location
        .iter()
        .map(|l| size_of::<pprof::Location>() + size_of::<pprof::Line>() * l.line.len())
        .sum();
    let strings: usize = p
        .string_table
        .iter()
        .map(|s| size_of::<String>() + s.len())
        .sum();
    size_of::<pprof::Profile>()
        + samples
        + locations
        + strings
        + size_of::<pprof::Function>() * p.function.len()
        + size_of::<pprof::Mapping>() * p.mapping.len()
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
    fn memory_counts_decoded_profiles_and_raw_bytes() {
        let mut p = pprof::Profile {
            string_table: vec![String::new(), "main".into()],
            ..Default::default()
        };
        let empty =
            ProfileBatch::new(vec![ProfileRecord::new(Labels::new(), p.clone())]).memory_bytes();
        p.sample = vec![
            pprof::Sample {
                location_id: vec![1, 2, 3],
                value: vec![1],
                label: vec![],
            };
            1000
        ];
        let mut rec = ProfileRecord::new(Labels::new(), p);
        let decoded = ProfileBatch::new(vec![rec.clone()]).memory_bytes();
        assert!(decoded >= empty + 1000 * 32, "{decoded} vs {empty}");
        rec.raw = Some(Bytes::from(vec![0u8; 500]));
        assert_eq!(ProfileBatch::new(vec![rec]).memory_bytes(), decoded + 500);
    }
}
