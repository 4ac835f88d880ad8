//! The last profile of each job, kept for the flame graph viewer: the very
//! record handed downstream (shared, not copied), forgotten when its target
//! goes away or the receiver stops, counted in the process's gauge.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::http::header;
use axum::routing::get;
use axum::Router;
use common::*;
use profcol_receiver::LastProfiles;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

async fn goroutine_server() -> SocketAddr {
    let body = gz(&profile(&[("goroutine", "count")], 1));
    serve(Router::new().route("/debug/pprof/goroutine", get(move || async move { body }))).await
}

fn groups(addrs: &[SocketAddr]) -> String {
    let list: Vec<String> = addrs.iter().map(|a| format!("\"{a}\"")).collect();
    format!(
        r#"[{{"targets": [{}], "labels": {{"service_name": "svc"}}}}]"#,
        list.join(", ")
    )
}

fn key_of(r: &Running, addr: SocketAddr) -> Option<u64> {
    r.handle
        .targets()
        .into_iter()
        .find(|t| t.instance == addr.to_string())
        .map(|t| t.key)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keeps_the_forwarded_profile_until_its_target_goes() {
    let a = goroutine_server().await;
    let b = goroutine_server().await;
    let answer = Arc::new(Mutex::new(groups(&[a, b])));
    let state = answer.clone();
    let sd = serve(Router::new().route(
        "/targets",
        get(move || {
            let body = state.lock().unwrap().clone();
            async move { ([(header::CONTENT_TYPE, "application/json")], body) }
        }),
    ))
    .await;
    let r = start(
        "pyroscope_scrape/kept",
        &format!("http_sd_configs: [{{url: 'http://{sd}/targets', refresh_interval: 1s}}]\n{ONLY_GOROUTINE}"),
    );
    let store = r.telemetry.metrics::<LastProfiles>();
    let (ka, kb) = eventually(8, || Some((key_of(&r, a)?, key_of(&r, b)?))).await;
    let kept_a = eventually(8, || r.handle.last_profile(ka, "goroutine")).await;
    eventually(8, || r.handle.last_profile(kb, "goroutine")).await;
    assert!(
        r.handle.last_profile(ka, "memory").is_none(),
        "type checked"
    );
    // The kept profile is one that was forwarded, shared by Arc.
    assert!(r
        .out
        .all()
        .iter()
        .any(|rec| Arc::ptr_eq(&rec.pprof, &kept_a.data)));
    assert_eq!(store.len(), 2);
    let size = kept_a.data.memory_bytes() as u64;
    assert_eq!(store.bytes(), 2 * size);
    let metrics = r.telemetry.encode();
    assert!(
        metrics.contains(&format!("profcol_kept_profiles_bytes {}", 2 * size)),
        "{metrics}"
    );

    // B's target goes away: its profile goes with it.
    *answer.lock().unwrap() = groups(&[a]);
    eventually(8, || {
        r.handle
            .last_profile(kb, "goroutine")
            .is_none()
            .then_some(())
    })
    .await;
    assert!(r.handle.last_profile(ka, "goroutine").is_some());
    assert_eq!(store.len(), 1);

    // Disabled: nothing is kept any more.
    store.set_max_bytes(0);
    assert!(store.is_empty());
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert!(r.handle.last_profile(ka, "goroutine").is_none());

    // Stopped for good: the receiver's entries go.
    store.set_max_bytes(profcol_receiver::last_profiles::DEFAULT_MAX_BYTES);
    eventually(8, || r.handle.last_profile(ka, "goroutine")).await;
    let telemetry = r.telemetry.clone();
    r.stop().await;
    assert!(telemetry.metrics::<LastProfiles>().is_empty());
}
