//! Discovery inputs over their limits: an endless HTTP SD answer stops at
//! `max_response_size` and a target file over `max_file_size` is refused,
//! each with an error that names the limit; no target comes of either.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::body::Body;
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use common::*;
use futures::StreamExt;

#[tokio::test]
async fn oversized_discovery_answers_and_files_are_refused_naming_the_limit() {
    // An endless JSON answer, and a target file over its cap.
    let app = Router::new().route(
        "/targets",
        get(|| async {
            let head = futures::stream::once(async {
                Ok::<_, std::io::Error>(Bytes::from_static(b"[{\"targets\": [\""))
            });
            let tail = futures::stream::repeat_with(|| {
                Ok::<_, std::io::Error>(Bytes::from(vec![b'a'; 64 << 10]))
            });
            (
                [("content-type", "application/json")],
                Body::from_stream(head.chain(tail)),
            )
        }),
    );
    let addr = serve(app).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("t.json");
    let big = format!(
        "[{{\"targets\": [\"127.0.0.1:1\"], \"labels\": {{\"pad\": \"{}\"}}}}]",
        "x".repeat(2048)
    );
    std::fs::write(&file, big).unwrap();
    let yaml = format!(
        "http_sd_configs: [{{url: 'http://{addr}/targets', refresh_interval: 1s, max_response_size: 1MiB}}]\nfile_sd_configs: [{{files: ['{}'], refresh_interval: 1s, max_file_size: 1KiB}}]\n{ONLY_GOROUTINE}",
        file.display()
    );
    let r = start("pyroscope_scrape/sd", &yaml);
    let error_of = |source: &str| {
        r.handle
            .discovery()
            .into_iter()
            .find(|d| d.source == source)
            .and_then(|d| d.last_error)
    };
    let http = eventually(10, || error_of("http_sd_configs/0")).await;
    assert_eq!(
        http,
        "http_sd_configs/0: response is larger than max_response_size (1048576 bytes)"
    );
    let file_err = eventually(10, || error_of("file_sd_configs/0")).await;
    assert!(
        file_err.contains("t.json: file has ")
            && file_err.ends_with("bytes, more than max_file_size (1024 bytes)"),
        "{file_err}"
    );
    assert!(r.handle.targets().is_empty());
    eprintln!(
        "VmHWM {:?}",
        std::fs::read_to_string("/proc/self/status")
            .unwrap()
            .lines()
            .find(|l| l.starts_with("VmHWM"))
    );
    r.stop().await;
}
