//! A rough throughput measurement of the exporters against local servers
//! (ignored by default: `cargo test -p profcol-exporter --test throughput -- --ignored --nocapture`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use profcol_config::ComponentId;
use profcol_exporter::start_exporter;
use std::time::{Duration, Instant};

const BATCHES: usize = 2000;
const PER_BATCH: usize = 10;

async fn run(kind: &str, cfg: String, delivered: impl Fn() -> usize) {
    let (ctx, telemetry) = ctx(kind);
    let h = start_exporter(&kind.parse::<ComponentId>().unwrap(), &yaml(&cfg), ctx).unwrap();
    let records: Vec<_> = (0..PER_BATCH)
        .map(|i| record(&format!("s{i}"), i as i64, &[]))
        .collect();
    let started = Instant::now();
    for _ in 0..BATCHES {
        // Back off when the queue is full, like a pipeline under back-pressure.
        while h.consumer().consume(batch(records.clone())).await.is_err() {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    h.shutdown(Duration::from_secs(120)).await;
    let elapsed = started.elapsed();
    let sent = metric(
        &telemetry.encode(),
        &format!("profcol_exporter_sent_profiles_total{{exporter=\"{kind}\"}}"),
    )
    .unwrap();
    assert_eq!(sent as usize, BATCHES * PER_BATCH);
    println!(
        "{kind}: {} profiles in {elapsed:?} = {:.0} profiles/s ({} requests)",
        BATCHES * PER_BATCH,
        (BATCHES * PER_BATCH) as f64 / elapsed.as_secs_f64(),
        delivered()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn throughput() {
    let server = Recorder::start(ok()).await;
    run("otlp_http", format!("endpoint: {}", server.url()), || {
        server.count()
    })
    .await;
    let server = Recorder::start(ok()).await;
    run(
        "pyroscope",
        format!("endpoint: {{url: '{}'}}", server.url()),
        || server.count(),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    run(
        "file",
        format!("directory: {}\nmax_files: 100", dir.path().display()),
        || 0,
    )
    .await;
}
