//! Records of a given number of samples, for the batch and memory_limiter tests.

use profcol_pdata::{pprof, Labels, ProfileBatch, ProfileRecord};

/// A record of `samples` samples of one type, labelled `i`.
pub fn record(i: usize, samples: usize) -> ProfileRecord {
    record_with(Labels::from_pairs([("i", i.to_string())]), samples)
}

/// A record with `labels` and `samples` samples, each its own stack (so
/// that OTLP keeps them apart too).
pub fn record_with(labels: Labels, samples: usize) -> ProfileRecord {
    let mut p = pprof::Profile::empty("samples", "count");
    p.function.push(pprof::Function {
        id: 1,
        ..Default::default()
    });
    for k in 0..samples as u64 {
        p.location.push(pprof::Location {
            id: k + 1,
            line: vec![pprof::Line {
                function_id: 1,
                line: k as i64,
                ..Default::default()
            }],
            ..Default::default()
        });
        p.sample.push(pprof::Sample {
            location_id: vec![k + 1],
            value: vec![1],
            label: vec![],
        });
    }
    ProfileRecord::from_profile(labels, &p).unwrap()
}

/// The `i` labels of a batch's records, in order.
pub fn ids(batch: &ProfileBatch) -> Vec<usize> {
    batch
        .records
        .iter()
        .map(|r| r.labels.get("i").unwrap().parse().unwrap())
        .collect()
}
