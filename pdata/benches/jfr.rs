//! Converting a JFR recording to pprof (`ingest::jfr::to_pprof`, what the
//! `pyroscope` receiver does with each `format=jfr` upload), on the Java
//! agent's captured recording (async-profiler, one 1 s window) and on a
//! 3 s recording of the JDK's own Flight Recorder, both from
//! `integration/corpus/ingest/`. Throughput is in uncompressed recording
//! bytes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use profcol_pdata::ingest::jfr::{to_pprof, JfrInput, LabelsSnapshot};
use profcol_pdata::ingest::multipart;
use profcol_pdata::pprof::decompress;
use std::hint::black_box;
use std::path::Path;

fn corpus(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../integration/corpus/ingest")
            .join(name),
    )
    .unwrap()
}

/// The agent's upload: its recording and labels, inflated.
fn agent() -> (Vec<u8>, LabelsSnapshot) {
    let meta: serde_json::Value = serde_json::from_slice(&corpus("java_jfr.json")).unwrap();
    let body = bytes::Bytes::from(corpus("java_jfr.multipart"));
    let parts = multipart::parse(meta["content_type"].as_str().unwrap(), &body).unwrap();
    let part = |name: &str| {
        let p = parts.iter().find(|p| p.name == name).unwrap();
        decompress(&p.body, 1 << 26).unwrap().into_owned()
    };
    let labels = LabelsSnapshot::decode_part(&part("labels")).unwrap();
    (part("jfr"), labels)
}

fn bench(c: &mut Criterion) {
    let input = JfrInput {
        sample_rate: 100,
        ..Default::default()
    };
    let (agent_recording, agent_labels) = agent();
    for (name, recording, labels) in [
        ("agent", agent_recording, agent_labels),
        (
            "jdk",
            corpus("jdk_recording.jfr"),
            LabelsSnapshot::default(),
        ),
    ] {
        let mut g = c.benchmark_group(format!("jfr_{name}"));
        g.throughput(Throughput::Bytes(recording.len() as u64));
        g.bench_function("to_pprof", |b| {
            b.iter(|| to_pprof(black_box(&recording), &labels, &input).unwrap())
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
