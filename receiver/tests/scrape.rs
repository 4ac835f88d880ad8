//! Scraping local servers: every bad answer becomes the intended error on
//! the target's status with nothing forwarded; good profiles are forwarded
//! with the right labels; deltas, `seconds` and shutdown.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::body::Body;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use common::*;
use profcol_receiver::Health;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn bad_server() -> Router {
    // 16 MiB of zeros: ~16 KiB on the wire.
    let bomb = profcol_pdata::pprof::gzip(&vec![0u8; 16 << 20]);
    // A valid profile does not make a status other than 200 a success.
    let partial = gz(&profile(&[("goroutine", "count")], 1));
    Router::new()
        .route(
            "/no_content",
            get(|| async {
                (
                    StatusCode::NO_CONTENT,
                    [(header::CONTENT_TYPE, "application/octet-stream")],
                )
            }),
        )
        .route(
            "/partial",
            get(move || async move {
                (
                    StatusCode::PARTIAL_CONTENT,
                    [(header::CONTENT_TYPE, "application/octet-stream")],
                    partial,
                )
            }),
        )
        .route(
            "/html",
            get(|| async {
                (
                    StatusCode::NOT_FOUND,
                    [(header::CONTENT_TYPE, "text/html")],
                    "<!DOCTYPE html><html><body>404 page not found</body></html>",
                )
            }),
        )
        .route(
            "/json",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "application/json")],
                    r#"{"error":"no profile here"}"#,
                )
            }),
        )
        .route("/empty", get(|| async { StatusCode::OK }))
        .route(
            "/text",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                    "goroutine profile: total 3\n1 @ 0x43e8d6 0x40a6c5\n",
                )
            }),
        )
        .route(
            "/html_as_binary",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "application/octet-stream")],
                    "<html><body>login required</body></html>",
                )
            }),
        )
        .route(
            "/fail",
            get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "boom: profiler busy") }),
        )
        .route(
            "/big",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "application/octet-stream")],
                    vec![0x0au8; 2 << 20],
                )
            }),
        )
        .route(
            "/big_chunked",
            get(|| async {
                let chunks = (0..64).map(|_| Ok::<_, std::io::Error>(vec![0x0au8; 64 << 10]));
                Body::from_stream(futures::stream::iter(chunks)).into_response()
            }),
        )
        .route(
            "/bomb",
            get(
                move || async move { ([(header::CONTENT_TYPE, "application/octet-stream")], bomb) },
            ),
        )
        .route(
            "/garbage",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "application/octet-stream")],
                    vec![0x0au8, 0xff, 0xff, 0xff],
                )
            }),
        )
        .route(
            "/hang",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                "late"
            }),
        )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_answers_fail_with_the_intended_error_and_forward_nothing() {
    let addr = serve(bad_server()).await;
    let cases = [
        ("/html", "server returned HTTP status 404 (content type \"text/html\"), body starts with \"<!DOCTYPE html><html><body>404 page not found</body></html>\""),
        ("/json", "the target did not return a pprof profile (HTTP status 200, content type \"application/json\"), body starts with \"{\\\"error\\\":\\\"no profile here\\\"}\""),
        ("/empty", "empty response body (HTTP status 200, content type \"\")"),
        ("/text", "the target did not return a pprof profile (HTTP status 200, content type \"text/plain; charset=utf-8\"), body starts with \"goroutine profile: total 3.1 @ 0x43e8d6 0x40a6c5.\""),
        ("/html_as_binary", "the target did not return a pprof profile (HTTP status 200, content type \"application/octet-stream\"), body starts with \"<html><body>login required</body></html>\""),
        ("/fail", "server returned HTTP status 500 (content type \"text/plain; charset=utf-8\"), body starts with \"boom: profiler busy\""),
        ("/no_content", "server returned HTTP status 204 (content type \"application/octet-stream\")"),
        ("/partial", "server returned HTTP status 206 (content type \"application/octet-stream\"), body starts with \"."),
        ("/big", "response body is larger than max_body_size (1048576 bytes)"),
        ("/big_chunked", "response body is larger than max_body_size (1048576 bytes)"),
        ("/bomb", "decompressed profile is larger than max_body_size (1048576 bytes)"),
        ("/hang", "scrape timed out after 2s"),
        ("/garbage", "cannot decode the body as pprof (HTTP status 200, content type \"application/octet-stream\", first bytes 0a ff ff ff): body is not a pprof protobuf: "),
    ];
    let targets: Vec<String> = cases
        .iter()
        .map(|(path, _)| {
            format!("{{__address__: '{addr}', __profile_path__: '{path}', service_name: bad}}")
        })
        .collect();
    let yaml = format!(
        "targets: [{}]\nmax_body_size: 1MiB\n{ONLY_GOROUTINE}",
        targets.join(", ")
    );
    let r = start("pyroscope_scrape/bad", &yaml);
    assert_eq!(r.handle.targets().len(), cases.len());
    for (path, want) in cases {
        let st = eventually(10, || {
            status_of(&r.handle, path).filter(|s| s.health == Health::Down)
        })
        .await;
        let got = st.last_error.unwrap();
        assert!(got.starts_with(want), "{path}:\n got: {got}\nwant: {want}");
        assert!(
            st.last_scrape.is_some() && st.last_success.is_none(),
            "{path}"
        );
    }
    assert!(r.out.all().is_empty(), "nothing may be forwarded");
    let metrics = r.telemetry.encode();
    for reason in [
        "http_status",
        "not_pprof",
        "empty_body",
        "too_large",
        "timeout",
        "decode",
    ] {
        assert!(
            metrics.contains(&format!("pyroscope_scrape_errors_total{{component=\"pyroscope_scrape/bad\",reason=\"{reason}\"}}")),
            "{reason} missing in:\n{metrics}"
        );
    }
    // Stops promptly even with a scrape hanging.
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_good_profile_is_forwarded_with_its_labels() {
    let body = gz(&profile(&[("goroutine", "count")], 3));
    let served = body.clone();
    let app = Router::new().route(
        "/debug/pprof/goroutine",
        get(move || async move { served.clone() }),
    );
    let addr = serve(app).await;
    let yaml = format!(
        "targets: [{{__address__: '{addr}', service_name: svc, env: prod, __meta_zone: z1, __param_debug: '0'}}]\n{ONLY_GOROUTINE}"
    );
    let r = start("pyroscope_scrape/good", &yaml);
    let rec = eventually(5, || r.out.all().into_iter().next()).await;
    assert_eq!(
        rec.labels.to_string(),
        format!("{{__name__=\"goroutine\", env=\"prod\", instance=\"{addr}\", job=\"pyroscope_scrape/good\", service_name=\"svc\"}}")
    );
    assert_eq!(
        rec.pprof.served().map(|b| &b[..]),
        Some(body.as_slice()),
        "raw must be the body as served"
    );
    assert_eq!(rec.profile().sample.len(), 1);

    let st = eventually(5, || {
        status_of(&r.handle, "goroutine?debug=0").filter(|s| s.health == Health::Up)
    })
    .await;
    assert_eq!(st.last_error, None);
    assert_eq!(st.last_scrape_bytes, body.len() as u64);
    assert_eq!(st.last_scrape_samples, 1);
    assert_eq!(st.profile_type, "goroutine");
    assert_eq!(
        st.discovered_labels.get("__meta_zone").map(String::as_str),
        Some("z1")
    );
    assert_eq!(
        st.labels.get("service_name").map(String::as_str),
        Some("svc")
    );
    assert!(st.last_success.is_some());

    let metrics = r.telemetry.encode();
    assert!(
        metrics.contains("pyroscope_fanout_latency_count{component=\"pyroscope_scrape/good\"}"),
        "{metrics}"
    );
    assert!(metrics.contains(&format!(
        "pyroscope_scrape_up{{component=\"pyroscope_scrape/good\",job=\"pyroscope_scrape/good\",instance=\"{addr}\",profile_type=\"goroutine\"}} 1"
    )), "{metrics}");
    r.stop().await;
}

/// The bytes decide, not the header: an uncompressed pprof body served as
/// `text/plain` (some exporters label every body so) is decoded and
/// forwarded as served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_uncompressed_profile_served_as_text_is_decoded() {
    let body = profcol_pdata::pprof::encode_pprof(&profile(&[("goroutine", "count")], 3));
    assert!(!body.starts_with(&[0x1f, 0x8b]), "must be uncompressed");
    let served = body.clone();
    let app = Router::new().route(
        "/debug/pprof/goroutine",
        get(move || async move {
            (
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                served.clone(),
            )
        }),
    );
    let addr = serve(app).await;
    let yaml = format!("targets: [{{__address__: '{addr}', service_name: svc}}]\n{ONLY_GOROUTINE}");
    let r = start("pyroscope_scrape/text_ct", &yaml);
    let rec = eventually(5, || r.out.all().into_iter().next()).await;
    assert_eq!(rec.pprof.served().map(|b| &b[..]), Some(body.as_slice()));
    assert_eq!(rec.profile().sample.len(), 1);
    let st = eventually(5, || {
        status_of(&r.handle, "goroutine").filter(|s| s.health == Health::Up)
    })
    .await;
    assert_eq!(st.last_error, None);
    r.stop().await;
}

/// A target that stamps a profile with the time it serialized it (the
/// window's end, as Node's agents do): the record's window starts where
/// the profile's data does, and the served bytes are still forwarded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_window_stamped_at_its_end_starts_where_its_data_does() {
    let duration: i64 = 2_000_000_000;
    let app = Router::new().route(
        "/debug/pprof/goroutine",
        get(move || async move {
            // Like a wall profile, it answers only after profiling for a
            // while: the stamp then lies clearly nearer the scrape's end
            // than its start, however the machine schedules the request
            // (an instant answer left that to chance under load).
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            let mut p = profile(&[("goroutine", "count")], 3);
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as i64;
            p.time_nanos = now;
            p.duration_nanos = duration;
            gz(&p)
        }),
    );
    let addr = serve(app).await;
    let yaml = format!(
        "targets: [{{__address__: '{addr}', service_name: svc}}]\nprofiling_config: {{profile: {{memory: {{enabled: false}}, block: {{enabled: false}}, mutex: {{enabled: false}}, process_cpu: {{enabled: false}}}}}}\nscrape_interval: 1s\nscrape_timeout: 2s\n"
    );
    let r = start("pyroscope_scrape/end_stamp", &yaml);
    let rec = eventually(6, || r.out.all().into_iter().next()).await;
    let served = profcol_pdata::pprof::decode_pprof(
        rec.pprof.served().map(|b| &b[..]).unwrap(),
        &Default::default(),
    )
    .unwrap();
    assert_eq!(rec.profile().time_nanos, served.time_nanos - duration);
    assert_eq!(rec.profile().duration_nanos, duration);
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cumulative_memory_profiles_become_deltas() {
    let total = Arc::new(AtomicI64::new(100));
    let t = total.clone();
    let app = Router::new().route(
        "/debug/pprof/allocs",
        get(move || {
            let t = t.clone();
            async move {
                let v = t.fetch_add(10, Ordering::SeqCst);
                gz(&profile(
                    &[("alloc_objects", "count"), ("alloc_space", "bytes")],
                    v,
                ))
            }
        }),
    );
    let addr = serve(app).await;
    let yaml = format!(
        "targets: [{{__address__: '{addr}', service_name: svc}}]\nprofiling_config: {{profile: {{block: {{enabled: false}}, goroutine: {{enabled: false}}, mutex: {{enabled: false}}, process_cpu: {{enabled: false}}}}}}\nscrape_interval: 1s\nscrape_timeout: 2s\n"
    );
    let r = start("pyroscope_scrape/delta", &yaml);
    let rec = eventually(6, || r.out.all().into_iter().next()).await;
    // The first scrape only set the baseline; this is the difference of two.
    assert_eq!(rec.profile().sample[0].value, vec![10, 10]);
    assert!(
        rec.pprof.served().is_none(),
        "a subtracted profile has no raw body"
    );
    assert_eq!(rec.labels.get("__name__"), Some("memory"));
    // profcol subtracted: Pyroscope must not subtract again.
    assert_eq!(rec.labels.get("__delta__"), Some("false"));
    let st = status_of(&r.handle, "/debug/pprof/allocs").unwrap();
    assert!(st.scrapes_total >= 2);
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_in_use_only_memory_profile_is_forwarded_as_scraped() {
    let body = gz(&profile(&[("inuse_space", "bytes")], 42));
    let served = body.clone();
    let app = Router::new().route(
        "/debug/pprof/heap",
        get(move || {
            let b = served.clone();
            async move { b }
        }),
    );
    let addr = serve(app).await;
    let yaml = format!(
        "targets: [{{__address__: '{addr}', service_name: svc}}]\nprofiling_config: {{profile: {{memory: {{path: /debug/pprof/heap}}, block: {{enabled: false}}, goroutine: {{enabled: false}}, mutex: {{enabled: false}}, process_cpu: {{enabled: false}}}}}}\nscrape_interval: 1s\nscrape_timeout: 2s\n"
    );
    let r = start("pyroscope_scrape/inuse", &yaml);
    // Nothing to subtract: the first scrape is forwarded, bytes unaltered.
    let rec = eventually(4, || r.out.all().into_iter().next()).await;
    assert_eq!(rec.pprof.served().map(|b| &b[..]), Some(body.as_slice()));
    assert_eq!(rec.profile().sample[0].value, vec![42]);
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delta_types_send_seconds_and_multiple_receivers_run_side_by_side() {
    let queries = Arc::new(Mutex::new(Vec::<String>::new()));
    let q = queries.clone();
    let app = Router::new().route(
        "/debug/pprof/profile",
        get(move |uri: axum::http::Uri| {
            let q = q.clone();
            async move {
                q.lock()
                    .unwrap()
                    .push(uri.query().unwrap_or("").to_string());
                gz(&profile(&[("samples", "count"), ("cpu", "nanoseconds")], 5))
            }
        }),
    );
    let addr = serve(app).await;
    let cpu_only = "profiling_config: {profile: {memory: {enabled: false}, block: {enabled: false}, goroutine: {enabled: false}, mutex: {enabled: false}}}\nscrape_interval: 2s\n";
    let a = start(
        "pyroscope_scrape/a",
        &format!("targets: [{{__address__: '{addr}', service_name: s}}]\n{cpu_only}"),
    );
    let b = start(
        "pyroscope_scrape/b",
        &format!(
            "targets: [{{__address__: '{addr}', service_name: s}}]\njob_name: other\n{cpu_only}"
        ),
    );
    let ra = eventually(6, || a.out.all().into_iter().next()).await;
    let rb = eventually(6, || b.out.all().into_iter().next()).await;
    assert_eq!(ra.labels.get("job"), Some("pyroscope_scrape/a"));
    assert_eq!(rb.labels.get("job"), Some("other"));
    assert_eq!(ra.labels.get("__name__"), Some("process_cpu"));
    // The target returned a window (`seconds`): already a delta.
    assert_eq!(ra.labels.get("__delta__"), Some("false"));
    assert!(ra.pprof.served().is_some());
    assert!(
        queries.lock().unwrap().iter().all(|q| q == "seconds=1"),
        "{:?}",
        queries.lock().unwrap()
    );
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statuses_and_errors_carry_no_secrets() {
    // Port 9 (discard) on loopback: nothing listens, the connection is refused.
    let yaml = format!(
        "targets: [{{__address__: '127.0.0.1:9', service_name: s, __param_password: hunter2}}]\nparams: {{api_token: [s3cr3t]}}\nbearer_token: b34r3r\n{ONLY_GOROUTINE}"
    );
    let r = start("pyroscope_scrape/secret", &yaml);
    let st = eventually(6, || {
        status_of(&r.handle, "").filter(|s| s.health == Health::Down)
    })
    .await;
    let err = st.last_error.clone().unwrap();
    assert!(err.starts_with("request failed: "), "{err}");
    let json = serde_json::to_string(&r.handle.targets()).unwrap();
    for secret in ["s3cr3t", "hunter2", "b34r3r"] {
        assert!(!json.contains(secret), "{secret} leaked: {json}");
    }
    assert!(st.url.contains("api_token=%3Csecret%3E"), "{}", st.url);
    assert_eq!(st.discovered_labels["__param_password"], "<secret>");
    assert!(!r.telemetry.encode().contains("s3cr3t"));
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_profile_is_counted_as_dropped() {
    let body = gz(&profile(&[("goroutine", "count")], 1));
    let app = Router::new().route("/debug/pprof/goroutine", get(move || async move { body }));
    let addr = serve(app).await;
    let r = start(
        "pyroscope_scrape/refused",
        &format!("targets: [{{__address__: '{addr}', service_name: s}}]\n{ONLY_GOROUTINE}"),
    );
    r.out.refuse.store(true, Ordering::SeqCst);
    let line = "pyroscope_scrape_profiles_dropped_total{component=\"pyroscope_scrape/refused\"} ";
    eventually(5, || r.telemetry.encode().contains(line).then_some(())).await;
    // The scrape itself succeeded: the target stays up.
    assert_eq!(
        status_of(&r.handle, "goroutine").unwrap().health,
        Health::Up
    );
    assert!(r.out.all().is_empty());
    r.stop().await;
}
