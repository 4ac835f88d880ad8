//! Throughput of the data path over the real corpus in `testdata/`:
//! gunzip alone (the floor), decode (gunzip + protobuf + validation), the Go
//! `profile.Parse`+`Write` equivalent (decode + gzip encode), pprof → OTLP,
//! pprof → OTLP → protobuf bytes, the zero-copy view alone, view → OTLP
//! bytes, the `convert --to otlp` path (`OtlpWriter::add_pprof` into a
//! reused body buffer, output streamed), and one delta step of a cumulative
//! profile. Throughput is in compressed input bytes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use profcol_pdata::delta::DeltaComputer;
use profcol_pdata::oracle::to_otlp;
use profcol_pdata::otlp::{to_otlp_bytes, views_to_otlp_bytes, OtlpWriter, ViewRecord};
use profcol_pdata::pprof::{decode_pprof, decompress, encode_pprof_gzip, DecodeLimits, PprofView};
use profcol_pdata::{Labels, PprofData, ProfileRecord};
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
        let record =
            ProfileRecord::from_profile(Labels::from_pairs([("service_name", "bench")]), &profile)
                .unwrap();
        let served = bytes::Bytes::from(body.clone());
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
                to_otlp(&[ProfileRecord::from_profile(Labels::new(), &p).unwrap()]).encode_to_vec()
            })
        });
        // What a scrape and an OTLP exporter run on a scraped profile.
        g.bench_function("scrape_path", |b| {
            b.iter(|| {
                let data = PprofData::from_served(black_box(served.clone()), &limits).unwrap();
                to_otlp_bytes(&[ProfileRecord::new(Labels::new(), data)]).len()
            })
        });
        g.bench_function("view_decode", |b| {
            b.iter(|| {
                let raw = PprofView::decompress(black_box(&body), &limits).unwrap();
                let raw = bytes::Bytes::from(raw.into_owned());
                PprofView::decode(raw, &limits).unwrap().sample_count()
            })
        });
        g.bench_function("view+otlp_bytes", |b| {
            b.iter(|| {
                let raw = PprofView::decompress(black_box(&body), &limits).unwrap();
                let view =
                    PprofView::decode(bytes::Bytes::from(raw.into_owned()), &limits).unwrap();
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
                let data = bytes::Bytes::from(std::mem::take(&mut raw));
                let mut w = OtlpWriter::new();
                w.add_pprof(Labels::new(), &data, &limits).unwrap();
                w.write(std::io::sink()).unwrap();
                raw = Vec::from(data);
            })
        });
        g.finish();
    }

    let data = |name: &str| PprofData::from_served(read(name).into(), &limits).unwrap();
    let (first, second, big) = (
        data("allocs.pb.gz"),
        data("allocs2.pb.gz"),
        data("allocs_big.pb.gz"),
    );
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
