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
    /// `profile` is their unaltered decoding (exporters that speak pprof
    /// forward these byte for byte).
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
    /// Bytes held by the raw payloads plus an estimate for decoded profiles
    /// without one; queues bound themselves with this.
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

/// The downstream side of every hop. `consume` returns once the batch is
/// owned by the callee (queued or sent); an error means it was not accepted
/// and the caller counts it as dropped.
#[async_trait::async_trait]
pub trait Consumer: Send + Sync {
    async fn consume(&self, batch: ProfileBatch) -> Result<(), Error>;
}
