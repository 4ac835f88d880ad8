//! `max_request_bytes`: a batch that encodes over the limit goes out as
//! several requests, each under it, with every profile delivered; a single
//! profile over the limit is dropped, counted under reason `too_large`, and
//! the rest of its batch still goes out.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use profcol_config::ComponentId;
use profcol_exporter::start_exporter;
use profcol_pdata::otlp::collector::ExportProfilesServiceRequest;
use profcol_pdata::ProfileRecord;
use prost::Message;
use std::io::Read;
use std::time::Duration;

fn id(s: &str) -> ComponentId {
    s.parse().unwrap()
}

/// A record whose first sample carries `labels` extra labels with
/// random-looking 64-character values (they survive conversion and do not
/// compress away).
fn padded(service: &str, seed: i64, labels: usize) -> ProfileRecord {
    let r = record(service, seed, &[]);
    let mut p = r.profile();
    for i in 0..labels {
        let n = (i as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ seed as u64;
        p.string_table.push(format!("pad{i}"));
        p.string_table.push(format!(
            "{n:016x}{:016x}{:016x}{:016x}",
            n.rotate_left(7),
            n.rotate_left(19),
            n.rotate_left(41)
        ));
        let len = p.string_table.len() as i64;
        p.sample[0].label.push(profcol_pdata::pprof::Label {
            key: len - 2,
            str: len - 1,
            ..Default::default()
        });
    }
    let served = profcol_pdata::pprof::encode_pprof_gzip(&p).into();
    let data = profcol_pdata::PprofData::from_served(served, &Default::default()).unwrap();
    profcol_pdata::ProfileRecord::new(r.labels, data)
}

fn gunzip(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(b)
        .read_to_end(&mut out)
        .unwrap();
    out
}

const QUEUE: &str =
    "sending_queue: {num_consumers: 1, flush_timeout: 0s}\nretry_on_failure: {enabled: false}";

#[tokio::test]
async fn otlp_http_splits_big_batches_and_drops_only_an_oversized_profile() {
    let server = Recorder::start(ok()).await;
    let (ctx, telemetry) = ctx("otlp_http");
    let limit = 4096;
    let cfg = yaml(&format!(
        "endpoint: {}\nmax_request_bytes: {limit}\n{QUEUE}",
        server.url()
    ));
    let h = start_exporter(&id("otlp_http"), &cfg, ctx).unwrap();
    // Six profiles of ~1.5 KB each: too many for one 4 KiB request.
    let records: Vec<ProfileRecord> = (0..6).map(|i| padded(&format!("s{i}"), i, 12)).collect();
    h.consumer().consume(batch(records)).await.unwrap();
    assert!(eventually(Duration::from_secs(5), || server.count() >= 2).await);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut services = Vec::new();
    for r in server.requests() {
        let raw = gunzip(&r.body);
        assert!(raw.len() <= limit, "request of {} bytes", raw.len());
        let req = ExportProfilesServiceRequest::decode(raw.as_slice()).unwrap();
        services.extend(req.resource_profiles.iter().map(|rp| {
            rp.resource
                .as_ref()
                .unwrap()
                .attributes
                .iter()
                .find(|a| a.key == "service.name")
                .map(|a| format!("{:?}", a.value))
                .unwrap()
        }));
    }
    assert_eq!(services.len(), 6, "{services:?}");

    // One profile over the limit alone: dropped and counted; its batch
    // neighbour is delivered.
    let before = server.count();
    h.consumer()
        .consume(batch(vec![padded("big", 9, 100), padded("small", 10, 1)]))
        .await
        .unwrap();
    assert!(eventually(Duration::from_secs(5), || server.count() == before + 1).await);
    let page = telemetry.encode();
    let dropped = metric(
        &page,
        "profcol_exporter_dropped_profiles_total{exporter=\"otlp_http\",reason=\"too_large\"}",
    );
    assert_eq!(dropped, Some(1.0), "{page}");
}

#[tokio::test]
async fn pyroscope_push_splits_and_counts_an_oversized_profile() {
    let server = Recorder::start(ok()).await;
    let (ctx, telemetry) = ctx("pyroscope");
    let cfg = yaml(&format!(
        "endpoint: {{url: {}, max_backoff_retries: 1}}\nmax_request_bytes: 3000\nsending_queue: {{num_consumers: 1, flush_timeout: 0s}}",
        server.url()
    ));
    let h = start_exporter(&id("pyroscope"), &cfg, ctx).unwrap();
    let records: Vec<ProfileRecord> = (0..4).map(|i| padded(&format!("s{i}"), i, 12)).collect();
    let sizes: Vec<usize> = records
        .iter()
        .map(|r| r.pprof.served().unwrap().len())
        .collect();
    assert!(sizes.iter().sum::<usize>() > 3000, "{sizes:?}");
    h.consumer().consume(batch(records)).await.unwrap();
    assert!(eventually(Duration::from_secs(5), || server.count() >= 2).await);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(server.requests().iter().all(|r| r.body.len() <= 3000));
    let before = server.count();
    let big = padded("big", 7, 100);
    assert!(big.pprof.served().unwrap().len() > 3000);
    h.consumer().consume(batch(vec![big])).await.unwrap();
    let page_has_drop = || {
        metric(
            &telemetry.encode(),
            "profcol_exporter_dropped_profiles_total{exporter=\"pyroscope\",reason=\"too_large\"}",
        ) == Some(1.0)
    };
    assert!(eventually(Duration::from_secs(5), page_has_drop).await);
    assert_eq!(server.count(), before);
}
