//! http_sd and file_sd against local servers and files: targets come and
//! go, only the jobs that changed restart, and a failing discovery keeps
//! the last good targets while reporting its error.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::http::{header, StatusCode};
use axum::routing::get;
use axum::Router;
use common::*;
use profcol_receiver::{Health, ReceiverHandle};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

async fn goroutine_server() -> SocketAddr {
    let body = gz(&profile(&[("goroutine", "count")], 1));
    serve(Router::new().route("/debug/pprof/goroutine", get(move || async move { body }))).await
}

fn scrapes(h: &ReceiverHandle, addr: SocketAddr) -> Option<u64> {
    h.targets()
        .into_iter()
        .find(|t| t.instance == addr.to_string())
        .map(|t| t.scrapes_total)
}

fn instances(h: &ReceiverHandle) -> Vec<String> {
    let mut v: Vec<String> = h.targets().into_iter().map(|t| t.instance).collect();
    v.sort();
    v
}

fn groups(addrs: &[SocketAddr]) -> String {
    let list: Vec<String> = addrs.iter().map(|a| format!("\"{a}\"")).collect();
    format!(
        r#"[{{"targets": [{}], "labels": {{"env": "sd", "service_name": "svc"}}}}]"#,
        list.join(", ")
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_sd_adds_and_removes_targets_and_survives_failures() {
    let a = goroutine_server().await;
    let b = goroutine_server().await;
    let answer = Arc::new(Mutex::new((StatusCode::OK, groups(&[a]))));
    let state = answer.clone();
    let sd = serve(Router::new().route(
        "/targets",
        get(move || {
            let (status, body) = state.lock().unwrap().clone();
            async move { (status, [(header::CONTENT_TYPE, "application/json")], body) }
        }),
    ))
    .await;
    let r = start(
        "pyroscope_scrape/sd",
        &format!("http_sd_configs: [{{url: 'http://{sd}/targets', refresh_interval: 1s}}]\n{ONLY_GOROUTINE}"),
    );

    let before = eventually(8, || scrapes(&r.handle, a).filter(|n| *n >= 2)).await;
    let rec = r.out.all().into_iter().next().unwrap();
    assert_eq!(rec.labels.get("env"), Some("sd"));
    assert_eq!(rec.labels.get("service_name"), Some("svc"));
    let st = status_of(&r.handle, "goroutine").unwrap();
    assert_eq!(
        st.discovered_labels.get("__meta_url").map(String::as_str),
        Some(format!("http://{sd}/targets").as_str())
    );

    // B appears; A keeps its loop (its scrape count carries on).
    answer.lock().unwrap().1 = groups(&[a, b]);
    eventually(8, || scrapes(&r.handle, b).filter(|n| *n >= 1)).await;
    assert!(scrapes(&r.handle, a).unwrap() >= before, "A was restarted");

    // The endpoint fails: the targets stay, the error is reported.
    answer.lock().unwrap().0 = StatusCode::INTERNAL_SERVER_ERROR;
    let d = eventually(8, || {
        r.handle
            .discovery()
            .into_iter()
            .find(|d| d.last_error.is_some())
    })
    .await;
    assert_eq!(d.source, "http_sd_configs/0");
    assert!(
        d.last_error.unwrap().contains("500"),
        "error must say what failed"
    );
    assert_eq!(instances(&r.handle), {
        let mut v = vec![a.to_string(), b.to_string()];
        v.sort();
        v
    });
    assert!(r
        .telemetry
        .encode()
        .contains("pyroscope_scrape_discovery_errors_total"));

    // A goes away; B keeps running.
    let b_before = scrapes(&r.handle, b).unwrap();
    *answer.lock().unwrap() = (StatusCode::OK, groups(&[b]));
    eventually(8, || {
        (instances(&r.handle) == [b.to_string()]).then_some(())
    })
    .await;
    assert!(
        scrapes(&r.handle, b).unwrap() >= b_before,
        "B was restarted"
    );
    assert!(r.handle.discovery()[0].last_error.is_none());
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_sd_picks_up_changes_by_mtime_and_keeps_last_good() {
    let a = goroutine_server().await;
    let b = goroutine_server().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("targets.json");
    std::fs::write(&file, groups(&[a])).unwrap();
    // A long refresh interval: changes must be seen by the mtime check.
    let r = start(
        "pyroscope_scrape/files",
        &format!(
            "file_sd_configs: [{{files: ['{}/*.json'], refresh_interval: 5m}}]\ntargets: [{{__address__: '{b}', service_name: static}}]\n{ONLY_GOROUTINE}",
            dir.path().display()
        ),
    );
    let before = eventually(8, || scrapes(&r.handle, a).filter(|n| *n >= 2)).await;
    let st = r
        .handle
        .targets()
        .into_iter()
        .find(|t| t.instance == a.to_string())
        .unwrap();
    assert_eq!(
        st.discovered_labels
            .get("__meta_filepath")
            .map(String::as_str),
        Some(file.to_string_lossy().as_ref())
    );
    assert_eq!(
        r.handle.targets().len(),
        2,
        "static and file targets side by side"
    );

    // A YAML file next to it adds a target with a different label.
    let c = goroutine_server().await;
    std::fs::write(
        dir.path().join("more.yaml"),
        format!("- targets: ['{c}']\n  labels: {{team: x}}\n"),
    )
    .unwrap();
    // Only *.json matches the pattern: nothing changes.
    tokio::time::sleep(std::time::Duration::from_secs(6)).await;
    assert_eq!(r.handle.targets().len(), 2);

    std::fs::write(&file, groups(&[a, c])).unwrap();
    eventually(8, || scrapes(&r.handle, c).filter(|n| *n >= 1)).await;
    assert!(scrapes(&r.handle, a).unwrap() >= before, "A was restarted");

    // A broken file keeps the last good targets and reports the error.
    std::fs::write(&file, "[{\"targets\": ").unwrap();
    let d = eventually(8, || {
        r.handle
            .discovery()
            .into_iter()
            .find(|d| d.last_error.is_some())
    })
    .await;
    assert!(d.last_error.unwrap().contains("invalid target groups JSON"));
    assert_eq!(r.handle.targets().len(), 3);

    // Removing the file removes its targets; the static one stays up.
    std::fs::remove_file(&file).unwrap();
    eventually(8, || {
        (instances(&r.handle) == [b.to_string()]).then_some(())
    })
    .await;
    let st = status_of(&r.handle, "goroutine").unwrap();
    assert_eq!(st.health, Health::Up);
    r.stop().await;
}
