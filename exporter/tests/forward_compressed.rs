//! A received OTLP request that arrived gzipped or zstd'd is sent by an
//! OTLP exporter compressing the same way as it came — the sender's bytes,
//! not a second compression — over HTTP and gRPC; with another compression
//! (or none) it is compressed as configured. Local servers record the raw
//! bodies.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use common::*;
use profcol_exporter::start_exporter;
use profcol_pdata::otlp::{to_otlp_bytes, ContentCoding, OtlpLimits, OtlpPayload};
use profcol_pdata::ProfileBatch;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

fn gzip_best(data: &[u8]) -> Bytes {
    let mut w = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    w.write_all(data).unwrap();
    Bytes::from(w.finish().unwrap())
}

/// A checked request and the body it arrived in.
fn received(coding: ContentCoding) -> (Bytes, Bytes, ProfileBatch) {
    let raw = Bytes::from(to_otlp_bytes(&[record("svc-a", 1, &[])]));
    let compressed = match coding {
        ContentCoding::Gzip => gzip_best(&raw),
        ContentCoding::Zstd => Bytes::from(zstd::encode_all(&raw[..], 19).unwrap()),
    };
    let payload = OtlpPayload::from_bytes(raw.clone(), &OtlpLimits::default())
        .unwrap()
        .with_received_compressed(coding, compressed.clone());
    (raw, compressed, ProfileBatch::from_otlp(payload))
}

/// A gRPC answer with status OK in its headers (trailers-only).
fn grpc_ok() -> Behaviour {
    Arc::new(|_| {
        let mut r: Response = StatusCode::OK.into_response();
        let h = r.headers_mut();
        h.insert("content-type", HeaderValue::from_static("application/grpc"));
        h.insert("grpc-status", HeaderValue::from_static("0"));
        r
    })
}

/// What the server saw of the one request sent, and how many requests the
/// exporter counted as sent as received.
async fn send(
    kind: &str,
    compression: &str,
    batch: ProfileBatch,
    behaviour: Behaviour,
) -> (Seen, f64) {
    let server = Recorder::start(behaviour).await;
    let (ctx, telemetry) = ctx(kind);
    let endpoint = match kind {
        "otlp_grpc" => server.addr.to_string(),
        _ => server.url(),
    };
    let cfg = yaml(&format!(
        "endpoint: {endpoint}\ncompression: {compression}\ntls: {{insecure: true}}"
    ));
    let h = start_exporter(&kind.parse().unwrap(), &cfg, ctx).unwrap();
    h.consumer().consume(batch).await.unwrap();
    h.shutdown(Duration::from_secs(5)).await;
    let seen = server.requests();
    assert_eq!(seen.len(), 1, "{kind} {compression}");
    let counted = metric(
        &telemetry.encode(),
        &format!("profcol_exporter_requests_sent_as_received_total{{exporter=\"{kind}\"}}"),
    )
    .unwrap_or(0.0);
    (seen.into_iter().next().unwrap(), counted)
}

#[tokio::test]
async fn over_http_the_received_body_is_sent_when_the_compression_matches() {
    for coding in [ContentCoding::Gzip, ContentCoding::Zstd] {
        let name = match coding {
            ContentCoding::Gzip => "gzip",
            ContentCoding::Zstd => "zstd",
        };
        let (_, compressed, batch) = received(coding);
        let (seen, counted) = send("otlp_http", name, batch, ok()).await;
        assert_eq!(counted, 1.0);
        assert_eq!(seen.headers["content-encoding"], name);
        assert_eq!(seen.body, compressed, "{name}: the sender's bytes");
    }
    // Received gzipped, sent with zstd or uncompressed: compressed as configured.
    let (raw, compressed, batch) = received(ContentCoding::Gzip);
    let (seen, counted) = send("otlp_http", "zstd", batch.clone(), ok()).await;
    assert_eq!(counted, 0.0);
    assert_eq!(seen.headers["content-encoding"], "zstd");
    assert_eq!(zstd::decode_all(&seen.body[..]).unwrap(), raw);
    let (seen, _) = send("otlp_http", "none", batch, ok()).await;
    assert!(seen.headers.get("content-encoding").is_none());
    assert_eq!(seen.body, raw);
    assert_ne!(seen.body, compressed);
}

#[tokio::test]
async fn over_grpc_the_received_body_is_the_frames_message() {
    let (raw, compressed, batch) = received(ContentCoding::Gzip);
    let (seen, counted) = send("otlp_grpc", "gzip", batch.clone(), grpc_ok()).await;
    assert_eq!(counted, 1.0);
    assert_eq!(seen.headers["grpc-encoding"], "gzip");
    assert_eq!(seen.body[0], 1, "flagged compressed");
    assert_eq!(&seen.body[1..5], &(compressed.len() as u32).to_be_bytes());
    assert_eq!(&seen.body[5..], &compressed[..]);

    let (seen, counted) = send("otlp_grpc", "none", batch, grpc_ok()).await;
    assert_eq!(counted, 0.0);
    assert_eq!(seen.body[0], 0);
    assert_eq!(&seen.body[5..], &raw[..]);
}

/// A request made from records (a scrape's) has no received body: it is
/// compressed at the exporter's level.
#[tokio::test]
async fn what_was_not_received_compressed_is_compressed_here() {
    let (seen, counted) = send(
        "otlp_http",
        "gzip",
        batch(vec![record("svc-a", 1, &[])]),
        ok(),
    )
    .await;
    assert_eq!(counted, 0.0);
    // gzip's XFL byte: 4 = the fastest level, the default 1.
    assert_eq!(seen.body[8], 4);
}
