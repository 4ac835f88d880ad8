//! otlp_http against a local server answering as an OTLP/HTTP server does
//! when it refuses (a `google.rpc.Status` body, protobuf or JSON) or
//! accepts in part (a partial success): what is logged, what is counted,
//! and that nothing refused is retried.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use common::*;
use profcol_config::ComponentId;
use profcol_exporter::rpc_status;
use profcol_exporter::start_exporter;
use profcol_pdata::otlp::collector::{ExportProfilesPartialSuccess, ExportProfilesServiceResponse};
use prost::Message;
use std::sync::Arc;
use std::time::Duration;

fn id(s: &str) -> ComponentId {
    s.parse().unwrap()
}

const NO_RETRY_LIMIT: &str =
    "retry_on_failure: {initial_interval: 20ms, max_interval: 50ms, max_elapsed_time: 0s}\nsending_queue: {num_consumers: 1, max_batch_size: 1, flush_timeout: 0s}";

/// Sends `batches` one-profile batches to a server answering `behaviour`,
/// waits until it saw `attempts` requests (and a little longer, to catch
/// retries that should not happen), and returns the log, the metrics page
/// and the number of requests.
async fn run(behaviour: Behaviour, batches: usize, attempts: usize) -> (String, String, usize) {
    let buf = Buf::default();
    let b2 = buf.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || b2.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let server = Recorder::start(behaviour).await;
    let (ctx, telemetry) = ctx("otlp_http");
    let cfg = yaml(&format!("endpoint: {}\n{NO_RETRY_LIMIT}", server.url()));
    let h = start_exporter(&id("otlp_http"), &cfg, ctx).unwrap();
    for i in 0..batches {
        h.consumer()
            .consume(batch(vec![record(&format!("s{i}"), i as i64, &[])]))
            .await
            .unwrap();
    }
    assert!(eventually(Duration::from_secs(10), || server.count() >= attempts).await);
    tokio::time::sleep(Duration::from_millis(300)).await;
    h.shutdown(Duration::from_secs(2)).await;
    let log = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    (log, telemetry.encode(), server.count())
}

fn answer(status: StatusCode, content_type: &'static str, body: Vec<u8>) -> Response {
    (status, [("content-type", content_type)], body).into_response()
}

fn send_errors(page: &str, code: &str) -> Option<f64> {
    metric(
        page,
        &format!(r#"profcol_exporter_send_errors_total{{exporter="otlp_http",code="{code}"}}"#),
    )
}

fn permanent(page: &str) -> Option<f64> {
    metric(
        page,
        r#"profcol_exporter_failed_profiles_total{exporter="otlp_http",reason="permanent_error"}"#,
    )
}

#[tokio::test]
async fn a_protobuf_status_is_decoded_for_the_log_and_the_metrics() {
    let body = rpc_status::encode(3, "profiles: sample has no value", None);
    let (log, page, n) = run(
        Arc::new(move |_| {
            answer(
                StatusCode::BAD_REQUEST,
                "application/x-protobuf",
                body.clone(),
            )
        }),
        1,
        1,
    )
    .await;
    assert_eq!(n, 1, "400 is permanent");
    assert!(
        log.contains("HTTP 400 Bad Request: INVALID_ARGUMENT: profiles: sample has no value"),
        "{log}"
    );
    assert_eq!(send_errors(&page, "INVALID_ARGUMENT"), Some(1.0), "{page}");
    assert_eq!(permanent(&page), Some(1.0));
}

#[tokio::test]
async fn a_json_status_is_decoded_too() {
    let (log, page, n) = run(
        Arc::new(|_| {
            answer(
                StatusCode::UNAUTHORIZED,
                "application/json",
                br#"{"code":16,"message":"missing token"}"#.to_vec(),
            )
        }),
        1,
        1,
    )
    .await;
    assert_eq!(n, 1);
    assert!(
        log.contains("HTTP 401 Unauthorized: UNAUTHENTICATED: missing token"),
        "{log}"
    );
    assert_eq!(send_errors(&page, "UNAUTHENTICATED"), Some(1.0), "{page}");
}

#[tokio::test]
async fn an_undecodable_body_is_quoted_short_and_escaped() {
    let mut html = b"<html>\x1b[2J\r\nproxy says no".to_vec();
    html.extend(std::iter::repeat_n(b'x', 2000));
    let size = format!("({} bytes)", html.len());
    let (log, page, n) = run(
        Arc::new(move |_| answer(StatusCode::FORBIDDEN, "text/html", html.clone())),
        1,
        1,
    )
    .await;
    assert_eq!(n, 1);
    // The log formatter may escape the backslashes once more.
    let unescaped = log.replace(r"\\", r"\");
    assert!(
        unescaped.contains(r"HTTP 403 Forbidden: <html>\u{1b}[2J\r\nproxy says no"),
        "{log}"
    );
    assert!(log.contains(&size), "{log}");
    assert!(!log.contains('\x1b'), "control characters are escaped");
    assert!(!log.contains(&"x".repeat(200)), "only a prefix is quoted");
    assert_eq!(send_errors(&page, "HTTP_403"), Some(1.0), "{page}");
}

#[tokio::test]
async fn not_found_says_the_server_may_not_take_profiles() {
    let (log, page, n) = run(Arc::new(|_| StatusCode::NOT_FOUND.into_response()), 1, 1).await;
    assert_eq!(n, 1);
    assert!(log.contains("HTTP 404 Not Found: empty body"), "{log}");
    assert!(log.contains("service.profilesSupport"), "{log}");
    assert_eq!(send_errors(&page, "HTTP_404"), Some(1.0));
}

#[tokio::test]
async fn a_retry_delay_in_the_status_body_is_honoured_without_retry_after() {
    // Its log is not read, but a subscriber must listen: tracing caches a log
    // statement's interest when it first fires, and a statement first fired
    // where nobody listens, while another test installs its subscriber, can
    // stay cached as unheard and vanish from that test's log.
    let _guard = tracing::subscriber::set_default(
        tracing_subscriber::fmt()
            .with_writer(std::io::sink)
            .finish(),
    );
    let status = rpc_status::encode(14, "overloaded", Some(Duration::from_secs(1)));
    let server = Recorder::start(Arc::new(move |n| {
        if n == 0 {
            answer(
                StatusCode::SERVICE_UNAVAILABLE,
                "application/x-protobuf",
                status.clone(),
            )
        } else {
            StatusCode::OK.into_response()
        }
    }))
    .await;
    let (ctx, telemetry) = ctx("otlp_http");
    let cfg = yaml(&format!("endpoint: {}\n{NO_RETRY_LIMIT}", server.url()));
    let h = start_exporter(&id("otlp_http"), &cfg, ctx).unwrap();
    h.consumer()
        .consume(batch(vec![record("a", 1, &[])]))
        .await
        .unwrap();
    assert!(eventually(Duration::from_secs(5), || server.count() == 2).await);
    h.shutdown(Duration::from_secs(2)).await;
    let r = server.requests();
    assert!(
        r[1].at - r[0].at >= Duration::from_millis(950),
        "RetryInfo honoured"
    );
    let page = telemetry.encode();
    assert_eq!(send_errors(&page, "UNAVAILABLE"), Some(1.0), "{page}");
    assert_eq!(
        metric(
            &page,
            r#"profcol_exporter_sent_profiles_total{exporter="otlp_http"}"#
        ),
        Some(1.0)
    );
}

#[tokio::test]
async fn partial_successes_are_logged_and_counted_never_retried() {
    let pb = ExportProfilesServiceResponse {
        partial_success: Some(ExportProfilesPartialSuccess {
            rejected_profiles: 3,
            error_message: "dropped: too old".into(),
        }),
    }
    .encode_to_vec();
    let (log, page, n) = run(
        Arc::new(move |i| match i {
            0 => answer(StatusCode::OK, "application/x-protobuf", pb.clone()),
            _ => answer(
                StatusCode::OK,
                "application/json",
                br#"{"partialSuccess":{"rejectedProfiles":"4","errorMessage":"json"}}"#.to_vec(),
            ),
        }),
        2,
        2,
    )
    .await;
    assert_eq!(n, 2, "a partial success is a success: not retried");
    assert!(log.contains("dropped: too old"), "{log}");
    assert_eq!(
        metric(
            &page,
            r#"profcol_exporter_rejected_profiles_total{exporter="otlp_http"}"#
        ),
        Some(7.0)
    );
    assert_eq!(
        metric(
            &page,
            r#"profcol_exporter_sent_profiles_total{exporter="otlp_http"}"#
        ),
        Some(2.0)
    );
}
