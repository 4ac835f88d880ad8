//! `ProfileBatch`, what travels from receivers through processors to
//! exporters, and the `Consumer` trait every downstream hop implements.

use crate::labels::Labels;
use crate::otlp::OtlpPayload;
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

/// Profiles handed downstream together: pprof records (scraped, or pushed
/// by a Pyroscope SDK) and OTLP requests as they were received (kept whole
/// so that OTLP exporters forward them unchanged; see [`OtlpPayload`]).
#[derive(Clone, Debug, Default)]
pub struct ProfileBatch {
    pub records: Vec<ProfileRecord>,
    pub otlp: Vec<Arc<OtlpPayload>>,
}

impl ProfileBatch {
    pub fn new(records: Vec<ProfileRecord>) -> Self {
        Self {
            records,
            otlp: Vec::new(),
        }
    }

    /// A batch of one received OTLP request.
    pub fn from_otlp(payload: OtlpPayload) -> Self {
        Self {
            records: Vec::new(),
            otlp: vec![Arc::new(payload)],
        }
    }

    /// Profiles in the batch: one per pprof record, one per OTLP `Profile`
    /// (a pprof with several sample types is several OTLP profiles).
    pub fn len(&self) -> usize {
        self.records.len() + self.otlp.iter().map(|p| p.profile_count()).sum::<usize>()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends `other`'s records and OTLP requests.
    pub fn extend(&mut self, other: ProfileBatch) {
        self.records.extend(other.records);
        self.otlp.extend(other.otlp);
    }

    /// The pprof records plus the OTLP requests converted to pprof (for
    /// exporters that send pprof), and the errors of requests that did not
    /// convert (their profiles are not in the list).
    pub fn into_pprof_records(self) -> (Vec<ProfileRecord>, Vec<Error>) {
        let mut records = self.records;
        let mut errors = Vec::new();
        for payload in &self.otlp {
            match payload.to_records() {
                Ok(converted) => records.extend(converted.into_iter().map(|mut r| {
                    if r.labels.get(Labels::NAME).is_none() {
                        let name = profile_type_name(&r.pprof);
                        r.labels.set(Labels::NAME, &name);
                    }
                    r
                })),
                Err(e) => errors.push(e),
            }
        }
        (records, errors)
    }

    /// The size of what would be sent: the served payloads, or the
    /// uncompressed bodies (for the sent/dropped byte counters).
    pub fn approx_bytes(&self) -> usize {
        self.records
            .iter()
            .map(|r| r.pprof.wire_bytes())
            .sum::<usize>()
            + self.otlp.iter().map(|p| p.bytes().len()).sum::<usize>()
    }

    /// The memory the batch holds: bodies, their indexes, served bytes and
    /// delta values. Queues bound themselves with this, so that a byte
    /// limit limits memory.
    pub fn memory_bytes(&self) -> usize {
        self.records
            .iter()
            .map(|r| r.pprof.memory_bytes())
            .sum::<usize>()
            + self.otlp.iter().map(|p| p.memory_bytes()).sum::<usize>()
    }
}

/// The Pyroscope profile type (`__name__`) of a profile that came without
/// one (from OTLP), read from its sample types the way Pyroscope names Go's
/// and the SDKs' profiles: CPU (`cpu`, `samples`) → `process_cpu`,
/// allocations (`alloc_*`, `inuse_*`) → `memory`, `goroutine(s)` →
/// `goroutine`, `wall` → `wall`, `contentions`/`delay` → `mutex` (Go's
/// block profile has the same sample types; pprof cannot tell them apart);
/// anything else is the first sample type's name.
fn profile_type_name(p: &PprofData) -> String {
    let view = p.view();
    let names: Vec<&str> = p
        .header()
        .sample_type
        .iter()
        .map(|t| view.str(t.r#type))
        .collect();
    let has = |n: &str| names.contains(&n);
    let name = if has("wall") {
        "wall"
    } else if has("cpu") || (names.len() == 1 && has("samples")) {
        "process_cpu"
    } else if names
        .iter()
        .any(|n| n.starts_with("alloc_") || n.starts_with("inuse_"))
    {
        "memory"
    } else if has("goroutine") || has("goroutines") {
        "goroutine"
    } else if has("contentions") || has("delay") {
        "mutex"
    } else {
        return names.first().map_or("unknown", |n| n).to_string();
    };
    name.to_string()
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
    fn otlp_requests_become_named_pprof_records() {
        let cases = [
            (
                vec![("samples", "count"), ("cpu", "nanoseconds")],
                "process_cpu",
            ),
            (
                vec![("alloc_objects", "count"), ("alloc_space", "bytes")],
                "memory",
            ),
            (vec![("samples", "count"), ("wall", "microseconds")], "wall"),
            (vec![("goroutines", "count")], "goroutine"),
            (
                vec![("contentions", "count"), ("delay", "nanoseconds")],
                "mutex",
            ),
            (vec![("exceptions", "count")], "exceptions"),
        ];
        for (types, want) in cases {
            let mut b = crate::testutil::Builder::new(&types);
            let values: Vec<i64> = (1..=types.len() as i64).collect();
            b.sample(&["main"], &[], &values);
            let rec = ProfileRecord::from_profile(
                Labels::from_pairs([("service_name", "s")]),
                &b.build(),
            )
            .unwrap();
            let otlp = crate::otlp::to_otlp_bytes(&[rec]);
            let payload = OtlpPayload::from_bytes(otlp.into(), &Default::default()).unwrap();
            let (records, errors) = ProfileBatch::from_otlp(payload).into_pprof_records();
            assert!(errors.is_empty());
            assert_eq!(records.len(), 1);
            assert_eq!(records[0].name(), want, "{types:?}");
            assert_eq!(records[0].labels.get("service_name"), Some("s"));
        }
    }

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
