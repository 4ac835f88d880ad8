//! `target_allocator` against a local server speaking the OpenTelemetry
//! Operator target allocator's protocol: the request it gets, targets that
//! come and go with its answer, failures that keep the last good targets,
//! the HTTP client settings, and the config checks.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::extract::Request;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use common::*;
use profcol_config::ComponentId;
use profcol_receiver::{ReceiverHandle, RECEIVERS};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

async fn goroutine_server() -> SocketAddr {
    let body = gz(&profile(&[("goroutine", "count")], 1));
    serve(Router::new().route("/debug/pprof/goroutine", get(move || async move { body }))).await
}

/// What the fake allocator answers for the targets path, and what it saw.
#[derive(Default)]
struct Allocator {
    /// `(status, body)` of `/jobs/<targets_job>/targets`.
    answer: Mutex<(u16, String)>,
    /// Each request as `path?query`.
    requests: Mutex<Vec<String>>,
    /// The `Authorization` header of each request.
    auth: Mutex<Vec<Option<String>>>,
}

/// Serves `/jobs/<escaped_job>/targets` from `state` and `/jobs` listing
/// `known_job`; every other path is a 404.
async fn allocator(state: Arc<Allocator>, escaped_job: &str, known_job: &str) -> SocketAddr {
    let targets_path = format!("/jobs/{escaped_job}/targets");
    let jobs = format!(r#"{{"{known_job}": {{"_link": "/jobs/{escaped_job}/targets"}}}}"#);
    let app = Router::new().fallback(move |req: Request| {
        let state = state.clone();
        let targets_path = targets_path.clone();
        let jobs = jobs.clone();
        async move {
            let uri = req.uri();
            let seen = match uri.query() {
                Some(q) => format!("{}?{q}", uri.path()),
                None => uri.path().to_string(),
            };
            state.requests.lock().unwrap().push(seen);
            state.auth.lock().unwrap().push(
                req.headers()
                    .get(header::AUTHORIZATION)
                    .map(|v| v.to_str().unwrap().to_string()),
            );
            let json = [(header::CONTENT_TYPE, "application/json")];
            if uri.path() == targets_path {
                let (status, body) = state.answer.lock().unwrap().clone();
                (StatusCode::from_u16(status).unwrap(), json, body).into_response()
            } else if uri.path() == "/jobs" {
                (json, jobs).into_response()
            } else {
                Response::builder()
                    .status(StatusCode::NOT_FOUND)
                    .body(axum::body::Body::from("404 page not found"))
                    .unwrap()
            }
        }
    });
    serve(app).await
}

/// One group per target, as the allocator answers: the discovered labels,
/// `__meta_*` included.
fn answer(addrs: &[SocketAddr]) -> String {
    let groups: Vec<String> = addrs
        .iter()
        .map(|a| {
            format!(
                r#"{{"targets": ["{a}"], "labels": {{"__meta_kubernetes_pod_name": "pod-{}", "service_name": "svc"}}}}"#,
                a.port()
            )
        })
        .collect();
    format!("[{}]", groups.join(","))
}

fn set(state: &Allocator, status: u16, body: String) {
    *state.answer.lock().unwrap() = (status, body);
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

fn sorted(addrs: &[SocketAddr]) -> Vec<String> {
    let mut v: Vec<String> = addrs.iter().map(|a| a.to_string()).collect();
    v.sort();
    v
}

fn ta_error(h: &ReceiverHandle) -> Option<String> {
    h.discovery()
        .into_iter()
        .find(|d| d.source == "target_allocator")
        .and_then(|d| d.last_error)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allocator_targets_are_scraped_and_follow_its_answer() {
    let a = goroutine_server().await;
    let b = goroutine_server().await;
    let state = Arc::new(Allocator::default());
    set(&state, 200, answer(&[a]));
    // The default job name is the component id: its `/` is escaped.
    let ta = allocator(
        state.clone(),
        "pyroscope_scrape%2Fta",
        "pyroscope_scrape/ta",
    )
    .await;
    let r = start(
        "pyroscope_scrape/ta",
        &format!(
            "target_allocator: {{endpoint: 'http://{ta}', interval: 1s, collector_id: collector-0}}\n\
             relabel_configs: [{{source_labels: [__meta_kubernetes_pod_name], target_label: pod}}]\n\
             {ONLY_GOROUTINE}"
        ),
    );

    let before = eventually(8, || scrapes(&r.handle, a).filter(|n| *n >= 2)).await;
    assert_eq!(
        state.requests.lock().unwrap()[0],
        "/jobs/pyroscope_scrape%2Fta/targets?collector_id=collector-0"
    );
    let rec = r.out.all().into_iter().next().unwrap();
    assert_eq!(rec.labels.get("service_name"), Some("svc"));
    assert_eq!(
        rec.labels.get("pod"),
        Some(format!("pod-{}", a.port()).as_str()),
        "relabel_configs see the allocator's __meta_ labels"
    );
    assert_eq!(rec.labels.get("__meta_kubernetes_pod_name"), None);
    assert_eq!(rec.labels.get("job"), Some("pyroscope_scrape/ta"));
    let st = status_of(&r.handle, "goroutine").unwrap();
    assert_eq!(
        st.discovered_labels.get("__meta_url").map(String::as_str),
        Some(
            format!("http://{ta}/jobs/pyroscope_scrape%2Fta/targets?collector_id=collector-0")
                .as_str()
        )
    );
    let d = r.handle.discovery();
    assert_eq!(d.len(), 1);
    assert_eq!(
        (d[0].source.as_str(), d[0].targets),
        ("target_allocator", 1)
    );

    // B is handed to this collector; A keeps its loop.
    set(&state, 200, answer(&[a, b]));
    eventually(8, || scrapes(&r.handle, b).filter(|n| *n >= 1)).await;
    assert!(scrapes(&r.handle, a).unwrap() >= before, "A was restarted");

    // The allocator fails: the targets stay, the error names the endpoint.
    set(&state, 500, r#"{"error": "boom"}"#.to_string());
    let e = eventually(8, || ta_error(&r.handle)).await;
    assert!(e.contains("500"), "{e}");
    assert!(
        e.contains(&format!("http://{ta}/jobs/pyroscope_scrape%2Fta/targets")),
        "{e}"
    );
    assert_eq!(instances(&r.handle), sorted(&[a, b]));
    let metrics = r.telemetry.encode();
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("pyroscope_scrape_discovery_errors_total")
                && l.contains("target_allocator")),
        "{metrics}"
    );

    // A broken answer is an error too, and still keeps the targets.
    set(&state, 200, "[{\"targets\": ".to_string());
    eventually(8, || {
        ta_error(&r.handle).filter(|e| e.contains("invalid target groups JSON"))
    })
    .await;
    assert_eq!(instances(&r.handle), sorted(&[a, b]));

    // A moves to another collector: it stops, B carries on.
    let b_before = scrapes(&r.handle, b).unwrap();
    set(&state, 200, answer(&[b]));
    eventually(8, || (instances(&r.handle) == sorted(&[b])).then_some(())).await;
    assert!(
        scrapes(&r.handle, b).unwrap() >= b_before,
        "B was restarted"
    );
    assert_eq!(ta_error(&r.handle), None, "a good answer clears the error");

    // Nothing left for this collector.
    set(&state, 200, "[]".to_string());
    eventually(8, || r.handle.targets().is_empty().then_some(())).await;
    // An empty answer makes the source check the allocator's job list.
    eventually(4, || {
        state
            .requests
            .lock()
            .unwrap()
            .iter()
            .any(|p| p == "/jobs")
            .then_some(())
    })
    .await;
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_name_prefix_auth_and_redaction() {
    let a = goroutine_server().await;
    let state = Arc::new(Allocator::default());
    set(&state, 200, answer(&[a]));
    // A trailing slash on the endpoint; a job name with spaces.
    let ta = allocator(state.clone(), "profiles+of+pods", "other").await;
    let r = start(
        "pyroscope_scrape/x",
        &format!(
            "job_name: profiles of pods\n\
             target_allocator:\n  endpoint: 'http://{ta}/'\n  interval: 1s\n  collector_id: 'otel-0'\n  \
             basic_auth: {{username: u, password: sup3rsecret}}\n\
             {ONLY_GOROUTINE}"
        ),
    );
    eventually(8, || scrapes(&r.handle, a).filter(|n| *n >= 1)).await;
    assert_eq!(
        state.requests.lock().unwrap()[0],
        "/jobs/profiles+of+pods/targets?collector_id=otel-0"
    );
    // base64("u:sup3rsecret")
    assert_eq!(
        state.auth.lock().unwrap()[0].as_deref(),
        Some("Basic dTpzdXAzcnNlY3JldA==")
    );
    assert_eq!(
        r.handle.targets()[0].job,
        "profiles of pods",
        "the job label is job_name"
    );
    r.stop().await;

    // Userinfo in the endpoint never shows in errors or labels.
    let state = Arc::new(Allocator::default());
    set(&state, 200, answer(&[a]));
    let ta = allocator(state.clone(), "pyroscope_scrape%2Fy", "pyroscope_scrape/y").await;
    let r = start(
        "pyroscope_scrape/y",
        &format!(
            "target_allocator: {{endpoint: 'http://user:hunter2@{ta}', interval: 1s, collector_id: c}}\n{ONLY_GOROUTINE}"
        ),
    );
    let st = eventually(8, || status_of(&r.handle, "goroutine")).await;
    let meta = st.discovered_labels.get("__meta_url").unwrap();
    assert!(!meta.contains("hunter2"), "{meta}");
    assert_eq!(
        state.auth.lock().unwrap()[0].as_deref(),
        Some("Basic dXNlcjpodW50ZXIy"),
        "userinfo is sent as basic auth"
    );
    set(&state, 503, "{}".to_string());
    let e = eventually(8, || ta_error(&r.handle)).await;
    assert!(e.contains("503") && !e.contains("hunter2"), "{e}");
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_allocator_is_reported() {
    // A port nothing listens on.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let r = start(
        "pyroscope_scrape/z",
        &format!(
            "target_allocator: {{endpoint: 'http://{closed}', interval: 1s, collector_id: c}}\n{ONLY_GOROUTINE}"
        ),
    );
    let e = eventually(8, || ta_error(&r.handle)).await;
    assert!(e.contains(&format!("http://{closed}/jobs/")), "{e}");
    assert!(r.handle.targets().is_empty());
    r.stop().await;
}

fn problems(yaml: &str) -> Vec<String> {
    let id: ComponentId = "pyroscope_scrape/x".parse().unwrap();
    let body = profcol_config::Body::parse(yaml).unwrap();
    match RECEIVERS.decode(&id, &body, "receivers::pyroscope_scrape/x") {
        Ok(_) => vec![],
        Err(ps) => ps.iter().map(|p| p.to_string()).collect(),
    }
}

#[test]
fn config_checks_name_their_key_path() {
    let p = "receivers::pyroscope_scrape/x::target_allocator";
    // The allocator alone is a source of targets: no `targets` needed.
    assert!(problems(
        "target_allocator: {endpoint: 'http://ta:80', collector_id: '${env:POD_NAME}'}"
    )
    .is_empty());
    let cases: Vec<(&str, Vec<String>)> = vec![
        (
            "target_allocator: {}",
            vec![
                format!("{p}::endpoint: endpoint is required"),
                format!("{p}::collector_id: collector_id is required (usually the pod name: ${{env:POD_NAME}})"),
            ],
        ),
        (
            "target_allocator: {endpoint: 'ftp://ta', collector_id: c}",
            vec![format!("{p}::endpoint: endpoint must be an http or https URL (e.g. http://my-targetallocator-service)")],
        ),
        (
            "target_allocator: {endpoint: 'not a url', collector_id: c}",
            vec![format!("{p}::endpoint: invalid URL: relative URL without a base")],
        ),
        (
            "target_allocator: {endpoint: 'http://ta/?x=1', collector_id: c}",
            vec![format!("{p}::endpoint: endpoint must not have a query or fragment: /jobs/<job>/targets is appended to it")],
        ),
        (
            "target_allocator: {endpoint: 'http://ta', collector_id: '  ', interval: 0s}",
            vec![
                format!("{p}::interval: interval must be greater than 0"),
                format!("{p}::collector_id: collector_id must not be empty"),
            ],
        ),
        (
            "target_allocator: {endpoint: 'http://ta', collector_id: c, http_sd_config: {}}",
            vec![format!("{p}::http_sd_config: unknown key `http_sd_config` (valid keys: endpoint, interval, collector_id, bearer_token, bearer_token_file, basic_auth, authorization, oauth2, tls_config, enable_http2, follow_redirects, proxy_url, no_proxy, proxy_from_environment, proxy_connect_header)")],
        ),
        (
            "target_allocator: {endpoint: 'http://ta', collector_id: c, bearer_token: t, bearer_token_file: /f}",
            vec![format!("{p}::bearer_token: at most one of bearer_token & bearer_token_file must be configured")],
        ),
    ];
    for (yaml, want) in cases {
        let mut got = problems(yaml);
        got.sort();
        let mut want = want;
        want.sort();
        assert_eq!(got, want, "{yaml}");
    }
}
