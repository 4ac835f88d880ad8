//! The pyroscope exporter against a local push receiver: request shape,
//! labels, tenants, raw bytes, and the fault cases (retries, Retry-After,
//! permanent errors, a full queue, shutdown).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::http::StatusCode;
use axum::response::IntoResponse;
use common::*;
use profcol_config::ComponentId;
use profcol_exporter::{start_exporter, EXPORTERS};
use prost::Message;
use std::sync::Arc;
use std::time::Duration;

// The receiver's own view of the push API, from the field numbers.
#[derive(Clone, PartialEq, prost::Message)]
struct PushRequest {
    #[prost(message, repeated, tag = "1")]
    series: Vec<Series>,
}
#[derive(Clone, PartialEq, prost::Message)]
struct Series {
    #[prost(message, repeated, tag = "1")]
    labels: Vec<Pair>,
    #[prost(message, repeated, tag = "2")]
    samples: Vec<Sample>,
}
#[derive(Clone, PartialEq, prost::Message)]
struct Pair {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(string, tag = "2")]
    value: String,
}
#[derive(Clone, PartialEq, prost::Message)]
struct Sample {
    #[prost(bytes = "vec", tag = "1")]
    raw_profile: Vec<u8>,
    #[prost(string, tag = "2")]
    id: String,
}

fn id(s: &str) -> ComponentId {
    s.parse().unwrap()
}

fn decode(body: &[u8]) -> PushRequest {
    PushRequest::decode(body).unwrap()
}

fn label_map(s: &Series) -> Vec<(String, String)> {
    s.labels
        .iter()
        .map(|p| (p.name.clone(), p.value.clone()))
        .collect()
}

const FAST: &str = "min_backoff_period: 20ms\n    max_backoff_period: 100ms";

#[tokio::test]
async fn pushes_the_connect_shape_with_labels_tenants_and_raw_bytes() {
    let server = Recorder::start(ok()).await;
    let (ctx, telemetry) = ctx("pyroscope/t");
    let cfg = yaml(&format!(
        "endpoint:\n  url: {}/prefix/\n  headers: {{X-Scope-OrgID: team-a, X-Extra: yes}}\nexternal_labels: {{env: prod, job: override}}\nsending_queue: {{flush_timeout: 0s}}",
        server.url()
    ));
    let h = start_exporter(&id("pyroscope/t"), &cfg, ctx).unwrap();
    let good = record("svc", 1, &[("__meta_drop", "x")]);
    let tenant = record("svc2", 2, &[("__tenant_id__", "team-b")]);
    let unencoded = record("svc3", 3, &[]);
    let unencoded =
        profcol_pdata::ProfileRecord::from_profile(unencoded.labels.clone(), &unencoded.profile())
            .unwrap();
    let invalid = record("svc4", 4, &[("bad-name", "x")]);
    h.consumer()
        .consume(batch(vec![
            good.clone(),
            tenant.clone(),
            unencoded.clone(),
            invalid,
        ]))
        .await
        .unwrap();
    assert!(eventually(Duration::from_secs(5), || server.count() == 2).await);
    h.shutdown(Duration::from_secs(2)).await;

    let reqs = server.requests();
    for r in &reqs {
        assert_eq!(r.path, "/prefix/push.v1.PusherService/Push");
        assert_eq!(r.headers["content-type"], "application/proto");
        assert_eq!(r.headers["x-extra"], "yes");
    }
    let default_tenant = reqs
        .iter()
        .find(|r| r.headers["x-scope-orgid"] == "team-a")
        .unwrap();
    let b_tenant = reqs
        .iter()
        .find(|r| r.headers["x-scope-orgid"] == "team-b")
        .unwrap();
    assert_eq!(
        b_tenant.headers.get_all("x-scope-orgid").iter().count(),
        1,
        "the label replaces the header"
    );

    let push = decode(&default_tenant.body);
    assert_eq!(push.series.len(), 2, "the invalid series was dropped");
    let first = &push.series[0];
    assert_eq!(
        label_map(first),
        vec![
            ("__name__".to_string(), "process_cpu".to_string()),
            ("env".into(), "prod".into()),
            ("job".into(), "override".into()),
            ("service_name".into(), "svc".into()),
        ]
    );
    assert_eq!(
        first.samples[0].raw_profile,
        good.pprof.served().unwrap().to_vec(),
        "byte for byte"
    );
    // Without raw bytes the profile is encoded; it must decode to the same profile.
    let encoded = &push.series[1].samples[0].raw_profile;
    let decoded = profcol_pdata::pprof::decode_pprof(encoded, &Default::default()).unwrap();
    assert_eq!(decoded, unencoded.profile());

    let pb = decode(&b_tenant.body);
    assert_eq!(pb.series.len(), 1);
    assert!(label_map(&pb.series[0])
        .iter()
        .all(|(k, _)| k != "__tenant_id__"));

    let page = telemetry.encode();
    assert_eq!(
        metric(
            &page,
            r#"profcol_exporter_dropped_profiles_total{exporter="pyroscope/t",reason="invalid_labels"}"#
        ),
        Some(1.0),
        "{page}"
    );
    assert_eq!(
        metric(
            &page,
            r#"profcol_exporter_sent_profiles_total{exporter="pyroscope/t"}"#
        ),
        Some(3.0)
    );
    assert!(
        page.contains("pyroscope_write_sent_profiles_total{component_id=\"pyroscope/t\""),
        "{page}"
    );
}

#[tokio::test]
async fn every_endpoint_gets_every_profile() {
    let a = Recorder::start(ok()).await;
    let b = Recorder::start(ok()).await;
    let (ctx, _t) = ctx("pyroscope");
    let cfg = yaml(&format!(
        "endpoint:\n  - {{url: '{}', name: a}}\n  - {{url: '{}', name: b}}",
        a.url(),
        b.url()
    ));
    let h = start_exporter(&id("pyroscope"), &cfg, ctx).unwrap();
    h.consumer()
        .consume(batch(vec![record("s", 1, &[])]))
        .await
        .unwrap();
    h.shutdown(Duration::from_secs(3)).await;
    assert_eq!((a.count(), b.count()), (1, 1));
}

#[tokio::test]
async fn unavailable_then_accepting_delivers_every_profile_exactly_once() {
    let server = Recorder::start(Arc::new(|n| {
        if n < 4 {
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        } else {
            StatusCode::OK.into_response()
        }
    }))
    .await;
    let (ctx, telemetry) = ctx("pyroscope");
    let cfg = yaml(&format!(
        "endpoint:\n    url: {}\n    {FAST}\n    max_backoff_retries: 0\nsending_queue: {{num_consumers: 1, flush_timeout: 0s, max_batch_size: 1}}",
        server.url()
    ));
    let h = start_exporter(&id("pyroscope"), &cfg, ctx).unwrap();
    for i in 0..5 {
        h.consumer()
            .consume(batch(vec![record(&format!("svc{i}"), i, &[])]))
            .await
            .unwrap();
    }
    h.shutdown(Duration::from_secs(10)).await;
    let mut services: Vec<String> = server
        .requests()
        .iter()
        .filter(|r| !r.body.is_empty())
        .skip(4)
        .flat_map(|r| decode(&r.body).series)
        .map(|s| {
            s.labels
                .iter()
                .find(|p| p.name == "service_name")
                .unwrap()
                .value
                .clone()
        })
        .collect();
    services.sort();
    assert_eq!(services, ["svc0", "svc1", "svc2", "svc3", "svc4"]);
    let page = telemetry.encode();
    assert_eq!(
        metric(
            &page,
            r#"profcol_exporter_retries_total{exporter="pyroscope"}"#
        ),
        Some(4.0)
    );
    assert_eq!(
        metric(
            &page,
            r#"profcol_exporter_sent_profiles_total{exporter="pyroscope"}"#
        ),
        Some(5.0)
    );
}

#[tokio::test]
async fn retry_after_on_429_is_honoured() {
    let server = Recorder::start(Arc::new(|n| {
        if n == 0 {
            (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "1")]).into_response()
        } else {
            StatusCode::OK.into_response()
        }
    }))
    .await;
    let (ctx, _t) = ctx("pyroscope");
    let cfg = yaml(&format!("endpoint:\n    url: {}\n    {FAST}", server.url()));
    let h = start_exporter(&id("pyroscope"), &cfg, ctx).unwrap();
    h.consumer()
        .consume(batch(vec![record("s", 1, &[])]))
        .await
        .unwrap();
    assert!(eventually(Duration::from_secs(5), || server.count() == 2).await);
    let r = server.requests();
    let waited = r[1].at - r[0].at;
    assert!(
        waited >= Duration::from_millis(950),
        "waited only {waited:?}"
    );
    h.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn bad_request_is_dropped_at_once_and_counted() {
    let server = Recorder::start(Arc::new(|_| {
        (StatusCode::BAD_REQUEST, "bad profile").into_response()
    }))
    .await;
    let (ctx, telemetry) = ctx("pyroscope");
    let cfg = yaml(&format!("endpoint:\n    url: {}\n    {FAST}", server.url()));
    let h = start_exporter(&id("pyroscope"), &cfg, ctx).unwrap();
    h.consumer()
        .consume(batch(vec![record("s", 1, &[]), record("t", 2, &[])]))
        .await
        .unwrap();
    let failed =
        r#"profcol_exporter_failed_profiles_total{exporter="pyroscope",reason="permanent_error"}"#;
    assert!(
        eventually(Duration::from_secs(5), || metric(
            &telemetry.encode(),
            failed
        ) == Some(2.0))
        .await
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(server.count(), 1, "not retried");
    h.shutdown(Duration::from_secs(1)).await;
    let page = telemetry.encode();
    assert_eq!(
        metric(
            &page,
            r#"pyroscope_write_dropped_profiles_total{component_id="pyroscope",endpoint="#
        ),
        Some(2.0)
    );
}

#[tokio::test]
async fn connect_error_bodies_are_decoded_and_counted_by_code() {
    let server = Recorder::start(Arc::new(|_| {
        (
            StatusCode::BAD_REQUEST,
            [("content-type", "application/json")],
            r#"{"code":"invalid_argument","message":"invalid labels"}"#,
        )
            .into_response()
    }))
    .await;
    let (ctx, telemetry) = ctx("pyroscope");
    let cfg = yaml(&format!("endpoint:\n    url: {}\n    {FAST}", server.url()));
    let h = start_exporter(&id("pyroscope"), &cfg, ctx).unwrap();
    h.consumer()
        .consume(batch(vec![record("s", 1, &[])]))
        .await
        .unwrap();
    let counted = |page: &str| {
        page.lines().any(|l| {
            l.starts_with("profcol_exporter_send_errors_total{")
                && l.contains(r#"code="INVALID_ARGUMENT""#)
                && l.ends_with(" 1")
        })
    };
    assert!(eventually(Duration::from_secs(5), || counted(&telemetry.encode())).await);
    h.shutdown(Duration::from_secs(1)).await;
    assert_eq!(server.count(), 1, "not retried");
}

#[tokio::test]
async fn a_full_queue_refuses_the_newest_and_shutdown_counts_the_rest() {
    // Never answers in time: the one worker is stuck, the queue fills.
    let server = Recorder::start(Arc::new(|_| {
        StatusCode::SERVICE_UNAVAILABLE.into_response()
    }))
    .await;
    let (ctx, telemetry) = ctx("pyroscope");
    let cfg = yaml(&format!(
        "endpoint:\n    url: {}\n    min_backoff_period: 10s\n    max_backoff_period: 10s\nsending_queue: {{num_consumers: 1, queue_size: 3, flush_timeout: 0s, max_batch_size: 1}}",
        server.url()
    ));
    let h = start_exporter(&id("pyroscope"), &cfg, ctx).unwrap();
    let c = h.consumer();
    c.consume(batch(vec![record("first", 0, &[])]))
        .await
        .unwrap();
    assert!(
        eventually(Duration::from_secs(5), || server.count() == 1).await,
        "the worker holds the first"
    );
    let mut refused = 0;
    for i in 1..=10 {
        if c.consume(batch(vec![record(&format!("s{i}"), i, &[])]))
            .await
            .is_err()
        {
            refused += 1;
        }
    }
    assert_eq!(refused, 7, "3 fit in the queue");
    let page = telemetry.encode();
    assert_eq!(
        metric(
            &page,
            r#"profcol_exporter_dropped_profiles_total{exporter="pyroscope",reason="queue_full"}"#
        ),
        Some(7.0)
    );
    assert_eq!(
        metric(
            &page,
            r#"profcol_exporter_queue_length{exporter="pyroscope"}"#
        ),
        Some(3.0)
    );
    assert_eq!(
        metric(
            &page,
            r#"profcol_exporter_queue_capacity{exporter="pyroscope"}"#
        ),
        Some(3.0)
    );

    let started = std::time::Instant::now();
    h.shutdown(Duration::from_millis(300)).await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the deadline bounds shutdown"
    );
    let page = telemetry.encode();
    assert_eq!(
        metric(
            &page,
            r#"profcol_exporter_dropped_profiles_total{exporter="pyroscope",reason="shutdown"}"#
        ),
        Some(3.0),
        "{page}"
    );
    assert_eq!(
        metric(
            &page,
            r#"profcol_exporter_failed_profiles_total{exporter="pyroscope",reason="shutdown"}"#
        ),
        Some(1.0)
    );
}

#[tokio::test]
async fn shutdown_flushes_what_is_queued() {
    let server = Recorder::start(ok()).await;
    let (ctx, _t) = ctx("pyroscope");
    let cfg = yaml(&format!(
        "endpoint: {{url: '{}'}}\nsending_queue: {{num_consumers: 2, max_batch_size: 3}}",
        server.url()
    ));
    let h = start_exporter(&id("pyroscope"), &cfg, ctx).unwrap();
    for i in 0..20 {
        h.consumer()
            .consume(batch(vec![record("s", i, &[])]))
            .await
            .unwrap();
    }
    h.shutdown(Duration::from_secs(5)).await;
    let series: usize = server
        .requests()
        .iter()
        .map(|r| decode(&r.body).series.len())
        .sum();
    assert_eq!(series, 20);
    assert!(
        server.count() <= 20 && server.count() >= 7,
        "merged into batches of up to 3"
    );
}

#[tokio::test]
async fn connection_refused_is_retried_until_the_backend_is_up() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let (ctx, telemetry) = ctx("pyroscope");
    let cfg = yaml(&format!(
        "endpoint:\n    url: http://127.0.0.1:{port}\n    {FAST}\n    max_backoff_retries: 0"
    ));
    let h = start_exporter(&id("pyroscope"), &cfg, ctx).unwrap();
    h.consumer()
        .consume(batch(vec![record("late", 1, &[])]))
        .await
        .unwrap();
    let retries = r#"profcol_exporter_retries_total{exporter="pyroscope"}"#;
    assert!(
        eventually(Duration::from_secs(5), || metric(
            &telemetry.encode(),
            retries
        ) >= Some(2.0))
        .await
    );
    let server = Recorder::start_at(&format!("127.0.0.1:{port}"), ok()).await;
    h.shutdown(Duration::from_secs(5)).await;
    assert_eq!(server.count(), 1);
    assert_eq!(decode(&server.requests()[0].body).series.len(), 1);
}

#[tokio::test]
async fn the_queue_is_bounded_in_bytes() {
    let server = Recorder::start(Arc::new(|_| {
        StatusCode::SERVICE_UNAVAILABLE.into_response()
    }))
    .await;
    let (ctx, telemetry) = ctx("pyroscope");
    // The queue bounds memory: raw bytes plus the decoded profile.
    let one = batch(vec![record("s", 0, &[])]).memory_bytes();
    let max_bytes = one * 5 + one / 2;
    let cfg = yaml(&format!(
        "endpoint:\n    url: {}\n    min_backoff_period: 10s\n    max_backoff_period: 10s\nsending_queue: {{num_consumers: 1, max_bytes: {max_bytes}, flush_timeout: 0s, max_batch_size: 1}}",
        server.url()
    ));
    let h = start_exporter(&id("pyroscope"), &cfg, ctx).unwrap();
    let c = h.consumer();
    c.consume(batch(vec![record("first", 0, &[])]))
        .await
        .unwrap();
    assert!(eventually(Duration::from_secs(5), || server.count() == 1).await);
    let mut accepted = 0;
    for _ in 0..50 {
        if c.consume(batch(vec![record("s", 0, &[])])).await.is_ok() {
            accepted += 1;
        }
    }
    assert_eq!(accepted, 5);
    let page = telemetry.encode();
    let queued = metric(
        &page,
        r#"profcol_exporter_queue_bytes{exporter="pyroscope"}"#,
    )
    .unwrap();
    assert!(queued as usize <= max_bytes, "{queued} > {max_bytes}");
    assert_eq!(
        metric(
            &page,
            r#"profcol_exporter_dropped_profiles_total{exporter="pyroscope",reason="queue_full"}"#
        ),
        Some(45.0)
    );
    h.shutdown(Duration::from_millis(100)).await;
}

#[test]
fn validation_reports_unknown_keys_with_paths() {
    let err = EXPORTERS
        .decode(
            &id("pyroscope"),
            &yaml("endpoint: {url: 'http://x', remote_timeout: 0s, typo: 1}"),
            "exporters::pyroscope",
        )
        .unwrap_err();
    let got: Vec<String> = err.iter().map(|p| p.to_string()).collect();
    assert_eq!(
        got,
        [
            "exporters::pyroscope::endpoint::remote_timeout: must be greater than 0",
            "exporters::pyroscope::endpoint::typo: unknown key `typo` (valid keys: url, name, headers, remote_timeout, min_backoff_period, max_backoff_period, max_backoff_retries, retry_on_http_429, bearer_token, bearer_token_file, basic_auth, authorization, oauth2, tls_config, enable_http2, follow_redirects, proxy_url, no_proxy, proxy_from_environment, proxy_connect_header)"
        ]
    );
}
