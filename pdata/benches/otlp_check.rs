//! Checking a received OTLP request (`OtlpPayload::from_bytes`, what the
//! `otlp` receiver does with every request before it enters the pipeline):
//! the one-pass check over the wire bytes against prost's decoding and the
//! checks on its structs (`from_bytes_via_prost`, the path before the
//! one-pass check). The requests are the corpus's Go CPU and heap profiles
//! as profcol's writer sends them, one profile per request (the gateway's
//! common case) and all of the corpus in one request. Throughput is in
//! request bytes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use profcol_pdata::otlp::{to_otlp_bytes, OtlpLimits, OtlpPayload};
use profcol_pdata::pprof::{decode_pprof, DecodeLimits};
use profcol_pdata::{Labels, ProfileRecord};
use std::hint::black_box;
use std::path::Path;

fn record(name: &str) -> ProfileRecord {
    let body = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("testdata")
            .join(name),
    )
    .unwrap();
    let profile = decode_pprof(&body, &DecodeLimits::default()).unwrap();
    ProfileRecord::from_profile(Labels::from_pairs([("service_name", "bench")]), &profile).unwrap()
}

fn bench(c: &mut Criterion) {
    let limits = OtlpLimits::default();
    let names = ["cpu.pb.gz", "heap.pb.gz", "goroutine.pb.gz", "allocs.pb.gz"];
    let all: Vec<_> = names.iter().map(|n| record(n)).collect();
    let requests = [
        ("go_cpu", to_otlp_bytes(&all[..1])),
        ("go_heap", to_otlp_bytes(&all[1..2])),
        ("corpus_in_one", to_otlp_bytes(&all)),
    ];
    for (name, request) in requests {
        let bytes = Bytes::from(request);
        let mut g = c.benchmark_group(format!("otlp_check_{name}"));
        g.throughput(Throughput::Bytes(bytes.len() as u64));
        g.bench_function("one_pass", |b| {
            b.iter(|| OtlpPayload::from_bytes(black_box(bytes.clone()), &limits).unwrap())
        });
        g.bench_function("prost", |b| {
            b.iter(|| OtlpPayload::from_bytes_via_prost(black_box(bytes.clone()), &limits).unwrap())
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
