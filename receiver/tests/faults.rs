//! Input fault suite: hostile targets — a 10 GB gzip bomb, an endless
//! chunked body, a slowloris trickle, 10k pprof labels on one sample, a
//! target with 10k labels, invalid UTF-8 — are each refused with an error
//! that names the limit or the cause, the process's memory stays bounded,
//! and a healthy target next to them keeps being scraped. Then the memory
//! guard: over the bound no scrape is started, and the status says why.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::body::Body;
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use common::*;
use profcol_pdata::pprof::Label;
use profcol_receiver::Health;
use profcol_runtime::MemoryGuard;
use std::io::Write;
use std::time::Duration;

/// One gzip member holding 1 MiB of zeros (about 1 KiB on the wire).
fn zeros_member() -> Bytes {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(&vec![0u8; 1 << 20]).unwrap();
    Bytes::from(enc.finish().unwrap())
}

/// A body that inflates to 10 GiB: 10240 gzip members streamed one after
/// the other, never held in memory as a whole.
fn gzip_bomb() -> Body {
    let member = zeros_member();
    let stream =
        futures::stream::iter((0..10 * 1024).map(move |_| Ok::<_, std::io::Error>(member.clone())));
    Body::from_stream(stream)
}

/// Chunks of 64 KiB, forever.
fn endless() -> Body {
    let chunk = Bytes::from(vec![0x0a; 64 << 10]);
    Body::from_stream(futures::stream::repeat_with(move || {
        Ok::<_, std::io::Error>(chunk.clone())
    }))
}

/// One byte a second, forever.
fn slowloris() -> Body {
    Body::from_stream(futures::stream::unfold((), |()| async {
        tokio::time::sleep(Duration::from_secs(1)).await;
        Some((Ok::<_, std::io::Error>(Bytes::from_static(b"\x0a")), ()))
    }))
}

/// A valid profile whose one sample carries 10k labels.
fn many_sample_labels() -> Vec<u8> {
    let mut p = profile(&[("goroutine", "count")], 1);
    p.string_table.push("k".into());
    let key = (p.string_table.len() - 1) as i64;
    p.sample[0].label = (0..10_000)
        .map(|i| Label {
            key,
            num: i,
            ..Default::default()
        })
        .collect();
    gz(&p)
}

/// A profile with a byte sequence that is not UTF-8 inside a string.
fn invalid_utf8() -> Vec<u8> {
    let mut raw = profcol_pdata::pprof::encode_pprof(&profile(&[("goroutine", "count")], 1));
    let at = raw.windows(9).position(|w| w == b"main.work").unwrap();
    raw[at] = 0xc3;
    raw[at + 1] = 0x28;
    raw
}

fn hostile_server() -> Router {
    let good = gz(&profile(&[("goroutine", "count")], 3));
    let labels = many_sample_labels();
    let utf8 = invalid_utf8();
    Router::new()
        .route("/good", get(move || async move { good.clone() }))
        .route("/bomb", get(|| async { gzip_bomb() }))
        .route("/endless", get(|| async { endless() }))
        .route("/slowloris", get(|| async { slowloris() }))
        .route("/labels", get(move || async move { labels.clone() }))
        .route("/utf8", get(move || async move { utf8.clone() }))
}

/// Peak resident memory of this test process (VmHWM), in bytes.
fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Only the goroutine type, every second, 4s per scrape.
const ONLY_GOROUTINE_4S: &str = "profiling_config: {profile: {memory: {enabled: false}, block: {enabled: false}, mutex: {enabled: false}, process_cpu: {enabled: false}}}\nscrape_interval: 1s\nscrape_timeout: 4s\n";

fn target(addr: std::net::SocketAddr, path: &str) -> String {
    format!(
        "{{__address__: '{addr}', __profile_path__: '{path}', service_name: 'svc{}'}}",
        path.trim_start_matches('/')
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_targets_are_refused_with_their_cause_and_memory_stays_bounded() {
    let addr = serve(hostile_server()).await;
    let paths = [
        "/good",
        "/bomb",
        "/endless",
        "/slowloris",
        "/labels",
        "/utf8",
    ];
    let mut targets: Vec<String> = paths.iter().map(|p| target(addr, p)).collect();
    // A target carrying 10k labels.
    let many: Vec<String> = (0..10_000).map(|i| format!("l{i}: v")).collect();
    targets.push(format!(
        "{{__address__: '{addr}', __profile_path__: '/good', service_name: 'wide', {}}}",
        many.join(", ")
    ));
    // The slowloris target runs into the 4s scrape timeout.
    let yaml = format!(
        "targets: [{}]\nmax_body_size: 16MiB\n{ONLY_GOROUTINE_4S}",
        targets.join(", ")
    );
    let r = start("pyroscope_scrape/faults", &yaml);

    let error_of = |path: &str, wide: bool| {
        r.handle
            .targets()
            .into_iter()
            .find(|t| {
                t.url.ends_with(path)
                    && (t.labels.get("service_name").map(String::as_str) == Some("wide")) == wide
            })
            .and_then(|t| (t.health == Health::Down).then_some(t.last_error).flatten())
    };
    let expected = [
        (
            "/bomb",
            "decompressed profile is larger than max_body_size (16777216 bytes)",
        ),
        (
            "/endless",
            "response body is larger than max_body_size (16777216 bytes)",
        ),
        ("/slowloris", "scrape timed out after"),
        (
            "/labels",
            "profile has 10000 labels on one sample, more than max_labels_per_sample (1000)",
        ),
        ("/utf8", "UTF-8"),
    ];
    for (path, want) in expected {
        let got = eventually(30, || error_of(path, false)).await;
        assert!(got.contains(want), "{path}: {got}");
    }
    let wide = eventually(5, || error_of("/good", true)).await;
    assert_eq!(wide, "target has 10003 labels, more than label_limit (100)");

    // Several rounds of every fault later, the healthy target is still
    // scraped every second and nothing hostile was forwarded.
    let before = r.out.all().len();
    tokio::time::sleep(Duration::from_secs(4)).await;
    let records = r.out.all();
    assert!(records.len() >= before + 2, "{before} -> {}", records.len());
    assert!(records
        .iter()
        .all(|rec| rec.labels.get("service_name") == Some("svcgood")));
    let good = status_of(&r.handle, "/good").unwrap();
    assert!(good.scrapes_total >= 3);

    let page = r.telemetry.encode();
    for reason in [
        "too_large",
        "timeout",
        "max_labels_per_sample",
        "decode",
        "label_limit",
    ] {
        assert!(
            page.contains(&format!("reason=\"{reason}\"")),
            "{reason} not counted:\n{page}"
        );
    }
    if let Some(peak) = peak_rss() {
        eprintln!("peak RSS {} MiB", peak >> 20);
        // A 10 GiB bomb and endless bodies, each capped at 16 MiB.
        assert!(peak < 256 << 20, "peak RSS {} MiB", peak >> 20);
    }
    r.stop().await;
}

#[tokio::test]
async fn over_the_memory_bound_no_scrape_starts_and_the_status_says_why() {
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let h = hits.clone();
    let body = gz(&profile(&[("goroutine", "count")], 1));
    let app = Router::new().route(
        "/good",
        get(move || {
            h.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let b = body.clone();
            async move { b }
        }),
    );
    let addr = serve(app).await;
    let guard = MemoryGuard::new(100 << 20);
    assert!(guard.record(150 << 20));
    let yaml = format!("targets: [{}]\n{ONLY_GOROUTINE}", target(addr, "/good"));
    let r = start_with_memory("pyroscope_scrape/mem", &yaml, guard.clone());
    let err = eventually(5, || {
        status_of(&r.handle, "/good").and_then(|t| t.last_error)
    })
    .await;
    assert!(err.contains("memory limit"), "{err}");
    assert!(err.contains("150 MiB") && err.contains("100 MiB"), "{err}");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 0);
    assert!(r.out.all().is_empty());
    let page = r.telemetry.encode();
    assert!(
        page.contains("pyroscope_scrape_refused_total{component=\"pyroscope_scrape/mem\",reason=\"memory_limit\"}"),
        "{page}"
    );

    // Back under the bound, scraping resumes.
    guard.record(10 << 20);
    eventually(5, || (!r.out.all().is_empty()).then_some(())).await;
    assert!(hits.load(std::sync::atomic::Ordering::SeqCst) >= 1);
    let st = status_of(&r.handle, "/good").unwrap();
    assert_eq!(st.health, Health::Up);
    r.stop().await;
}

#[tokio::test]
async fn a_profile_over_max_samples_per_profile_is_refused_naming_the_key() {
    let mut p = profile(&[("goroutine", "count")], 1);
    let s = p.sample[0].clone();
    p.sample = vec![s; 3];
    let body = gz(&p);
    let app = Router::new().route("/good", get(move || async move { body.clone() }));
    let addr = serve(app).await;
    let yaml = format!(
        "targets: [{}]\nmax_samples_per_profile: 2\n{ONLY_GOROUTINE}",
        target(addr, "/good")
    );
    let r = start("pyroscope_scrape/samples", &yaml);
    let err = eventually(5, || {
        status_of(&r.handle, "/good").and_then(|t| t.last_error)
    })
    .await;
    assert_eq!(
        err,
        "profile has 3 samples, more than max_samples_per_profile (2)"
    );
    assert!(r.out.all().is_empty());
    assert!(r
        .telemetry
        .encode()
        .contains("reason=\"max_samples_per_profile\""));
    r.stop().await;
}
