//! Throughput of the data path over the real corpus in `testdata/`:
//! gunzip alone (the floor), decode (gunzip + protobuf + validation), the Go
//! `profile.Parse`+`Write` equivalent (decode + gzip encode), pprof → OTLP,
//! pprof → OTLP → protobuf bytes, the zero-copy view alone, view → OTLP
//! bytes, the `convert --to otlp` path (`OtlpWriter::add_pprof` into a
//! reused body buffer, output streamed), and one delta step of a cumulative
//! profile. Throughput is in compressed input bytes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use profcol_pdata::{
    decode_pprof, decompress, encode_pprof_gzip, to_otlp, to_otlp_bytes, views_to_otlp_bytes,
    DecodeLimits, DeltaComputer, Labels, OtlpWriter, PprofView, ProfileRecord, ViewRecord,
};
use prost::Message;
use std::hint::black_box;
use std::path::Path;

const FILES: [&str; 4] = [
    "cpu.pb.gz",
    "heap.pb.gz",
    "node_wall.pb.gz",
    "allocs_big.pb.gz",
];

fn read(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("testdata")
            .join(name),
    )
    .unwrap()
}

fn bench(c: &mut Criterion) {
    let limits = DecodeLimits::default();
    for name in FILES {
        let body = read(name);
        let profile = decode_pprof(&body, &limits).unwrap();
        let record = ProfileRecord::new(
            Labels::from_pairs([("service_name", "bench")]),
            profile.clone(),
        );
        let mut g = c.benchmark_group(name.trim_end_matches(".pb.gz"));
        g.throughput(Throughput::Bytes(body.len() as u64));
        g.bench_function("gunzip", |b| {
            b.iter(|| decompress(black_box(&body), usize::MAX).unwrap().len())
        });
        g.bench_function("decode", |b| {
            b.iter(|| decode_pprof(black_box(&body), &limits).unwrap())
        });
        g.bench_function("decode+encode_gzip", |b| {
            b.iter(|| encode_pprof_gzip(&decode_pprof(black_box(&body), &limits).unwrap()))
        });
        g.bench_function("to_otlp", |b| {
            b.iter(|| to_otlp(std::slice::from_ref(black_box(&record))))
        });
        g.bench_function("decode+to_otlp+encode", |b| {
            b.iter(|| {
                let p = decode_pprof(black_box(&body), &limits).unwrap();
                to_otlp(&[ProfileRecord::new(Labels::new(), p)]).encode_to_vec()
            })
        });
        // What the exporters run on a scraped profile.
        g.bench_function("decode+to_otlp_bytes", |b| {
            b.iter(|| {
                let p = decode_pprof(black_box(&body), &limits).unwrap();
                to_otlp_bytes(&[ProfileRecord::new(Labels::new(), p)]).len()
            })
        });
        g.bench_function("view_decode", |b| {
            b.iter(|| {
                let raw = PprofView::decompress(black_box(&body), &limits).unwrap();
                PprofView::decode(&raw, &limits).unwrap().sample_count()
            })
        });
        g.bench_function("view+otlp_bytes", |b| {
            b.iter(|| {
                let raw = PprofView::decompress(black_box(&body), &limits).unwrap();
                let view = PprofView::decode(&raw, &limits).unwrap();
                views_to_otlp_bytes(&[ViewRecord {
                    labels: Labels::new(),
                    view: &view,
                }])
                .len()
            })
        });
        // What `profcol convert --to otlp` runs per file: one reused body
        // buffer, samples checked while converted, output streamed.
        let mut raw = Vec::new();
        g.bench_function("convert_path", |b| {
            b.iter(|| {
                PprofView::decompress_into(black_box(&body), &limits, &mut raw).unwrap();
                let mut w = OtlpWriter::new();
                w.add_pprof(Labels::new(), &raw, &limits).unwrap();
                w.write(std::io::sink()).unwrap();
            })
        });
        g.finish();
    }

    let first = decode_pprof(&read("allocs.pb.gz"), &limits).unwrap();
    let second = decode_pprof(&read("allocs2.pb.gz"), &limits).unwrap();
    let big = decode_pprof(&read("allocs_big.pb.gz"), &limits).unwrap();
    let mut g = c.benchmark_group("delta");
    for (label, base, next) in [("allocs", &first, &second), ("allocs_big", &big, &big)] {
        g.bench_function(label, |b| {
            b.iter_batched(
                || {
                    let mut d = DeltaComputer::new();
                    d.apply(base.clone(), 0);
                    (d, next.clone())
                },
                |(mut d, next)| d.apply(next, 15_000_000_000),
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
