//! A scrape job whose pipeline makes it wait (a full sending queue with
//! `block_on_overflow`): no scrape starts meanwhile, the status and the
//! metrics say it waits, the slots that passed are skipped and counted,
//! and the job resumes at its next slot; stopping the job ends the wait.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use async_trait::async_trait;
use axum::routing::get;
use axum::Router;
use common::*;
use profcol_config::ComponentId;
use profcol_pdata::{Consumer, ProfileBatch};
use profcol_receiver::start_receiver;
use profcol_runtime::caller;
use profcol_runtime::{ComponentContext, Telemetry};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Makes the first hand-off wait `stall` (or until the caller gives up),
/// marking the wait as a blocking sending queue does; records when each
/// hand-off started.
struct Stall {
    stall: Duration,
    calls: Mutex<Vec<Instant>>,
    gave_up: AtomicBool,
}

#[async_trait]
impl Consumer for Stall {
    async fn consume(&self, _: ProfileBatch) -> Result<(), profcol_pdata::Error> {
        let first = {
            let mut calls = self.calls.lock().unwrap();
            calls.push(Instant::now());
            calls.len() == 1
        };
        if first {
            let _mark = caller::waiting();
            tokio::select! {
                _ = tokio::time::sleep(self.stall) => {}
                _ = caller::cancelled() => {
                    self.gave_up.store(true, Ordering::SeqCst);
                    return Err(profcol_pdata::Error::Refused("the caller gave up".into()));
                }
            }
        }
        Ok(())
    }
}

struct Job {
    handle: profcol_receiver::ReceiverHandle,
    out: Arc<Stall>,
    shutdown: CancellationToken,
    telemetry: Telemetry,
}

async fn start_job(stall: Duration) -> Job {
    let body = gz(&profile(&[("goroutine", "count")], 3));
    let app = Router::new().route(
        "/debug/pprof/goroutine",
        get(move || {
            let b = body.clone();
            async move { b }
        }),
    );
    let addr = serve(app).await;
    let yaml = format!(
        "targets: [{{__address__: '{addr}', service_name: svc}}]\nprofiling_config: {{profile: {{memory: {{enabled: false}}, block: {{enabled: false}}, mutex: {{enabled: false}}, process_cpu: {{enabled: false}}}}}}\nscrape_interval: 10s\nscrape_timeout: 15s\n"
    );
    let id: ComponentId = "pyroscope_scrape/held".parse().unwrap();
    let body = profcol_config::Body::parse(&yaml).unwrap();
    let out = Arc::new(Stall {
        stall,
        calls: Mutex::default(),
        gave_up: AtomicBool::new(false),
    });
    let shutdown = CancellationToken::new();
    let telemetry = Telemetry::default();
    let ctx = ComponentContext {
        id: id.to_string(),
        shutdown: shutdown.clone(),
        telemetry: telemetry.clone(),
        memory: Default::default(),
        cluster: None,
        scrape_budget: Default::default(),
        read_back_limits: Default::default(),
    };
    let handle = start_receiver(&id, &body, ctx, out.clone()).unwrap();
    Job {
        handle,
        out,
        shutdown,
        telemetry,
    }
}

fn calls(j: &Job) -> Vec<Instant> {
    j.out.calls.lock().unwrap().clone()
}

fn metric(j: &Job, name: &str) -> Option<f64> {
    j.telemetry.encode().lines().find_map(|l| {
        let rest = l.strip_prefix(name)?;
        rest.starts_with([' ', '{'])
            .then(|| l.rsplit(' ').next()?.parse().ok())
            .flatten()
    })
}

fn status(j: &Job) -> profcol_receiver::TargetStatus {
    j.handle.targets().into_iter().next().unwrap()
}

#[tokio::test(start_paused = true)]
async fn a_held_hand_off_skips_the_slots_that_passed_and_resumes_on_the_next() {
    let j = start_job(Duration::from_secs(30)).await;
    eventually(20, || (calls(&j).len() == 1).then_some(())).await;
    let first = calls(&j)[0];

    // Held: the status and the gauge say so, and no scrape starts.
    tokio::time::sleep(Duration::from_secs(15)).await;
    let st = status(&j);
    assert!(st.waiting_for_pipeline_since.is_some(), "{st:?}");
    assert_eq!(st.scrapes_total, 1, "no scrape while the hand-off waits");
    assert_eq!(
        metric(&j, "pyroscope_scrape_backpressure_waiting"),
        Some(1.0)
    );

    // Released after 30 s (three intervals): the next scrape is at the
    // first slot after the release, 40 s after the first, not at once.
    eventually(60, || (calls(&j).len() == 2).then_some(())).await;
    let second = calls(&j)[1];
    let gap = second - first;
    assert!(
        gap > Duration::from_secs(39) && gap < Duration::from_millis(40_500),
        "{gap:?}"
    );
    let st = status(&j);
    assert_eq!(st.waiting_for_pipeline_since, None);
    assert!(
        (st.last_pipeline_wait_seconds - 30.0).abs() < 0.5,
        "{}",
        st.last_pipeline_wait_seconds
    );
    assert_eq!(st.scrapes_skipped_total, 3);
    assert_eq!(
        metric(&j, "pyroscope_scrape_backpressure_waiting"),
        Some(0.0)
    );
    let waited = metric(&j, "pyroscope_scrape_backpressure_seconds_total").unwrap();
    assert!((waited - 30.0).abs() < 0.5, "{waited}");
    assert!(
        j.telemetry.encode().contains(
            "pyroscope_scrape_refused_total{component=\"pyroscope_scrape/held\",reason=\"backpressure\"} 3"
        ),
        "{}",
        j.telemetry.encode()
    );

    // Then every interval again.
    eventually(30, || (calls(&j).len() == 3).then_some(())).await;
    let gap = calls(&j)[2] - second;
    assert!(
        gap > Duration::from_millis(9_500) && gap < Duration::from_millis(10_500),
        "{gap:?}"
    );
    j.shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(5), j.handle.wait())
        .await
        .unwrap();
}

#[tokio::test(start_paused = true)]
async fn stopping_the_receiver_ends_a_hand_off_that_waits() {
    let j = start_job(Duration::from_secs(3600)).await;
    eventually(20, || (calls(&j).len() == 1).then_some(())).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(status(&j).waiting_for_pipeline_since.is_some());
    let stopping = Instant::now();
    j.shutdown.cancel();
    let telemetry = j.telemetry.clone();
    tokio::time::timeout(Duration::from_secs(5), j.handle.wait())
        .await
        .expect("a waiting hand-off must not hold the receiver");
    assert!(stopping.elapsed() < Duration::from_secs(1));
    assert!(j.out.gave_up.load(Ordering::SeqCst));
    let text = telemetry.encode();
    assert!(
        text.contains(
            "pyroscope_scrape_profiles_dropped_total{component=\"pyroscope_scrape/held\"} 1"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "pyroscope_scrape_backpressure_waiting{component=\"pyroscope_scrape/held\"} 0"
        ),
        "{text}"
    );
}

/// A push request whose hand-off waits is answered (429, the receiver's
/// refusal) as soon as the receiver stops, and the receiver's tasks end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_request_that_waits_is_answered_when_the_receiver_stops() {
    let id: ComponentId = "pyroscope/held".parse().unwrap();
    let body = profcol_config::Body::parse("endpoint: 127.0.0.1:0").unwrap();
    let out = Arc::new(Stall {
        stall: Duration::from_secs(3600),
        calls: Mutex::default(),
        gave_up: AtomicBool::new(false),
    });
    let shutdown = CancellationToken::new();
    let ctx = ComponentContext {
        id: id.to_string(),
        shutdown: shutdown.clone(),
        telemetry: Telemetry::default(),
        memory: Default::default(),
        cluster: None,
        scrape_budget: Default::default(),
        read_back_limits: Default::default(),
    };
    let handle = start_receiver(&id, &body, ctx, out.clone()).unwrap();
    let addr = handle.push_address("http").unwrap();
    let pprof = gz(&profile(&[("samples", "count"), ("cpu", "nanoseconds")], 3));
    let _ = rustls::crypto::ring::default_provider().install_default();
    let request = tokio::spawn(async move {
        reqwest::Client::new()
            .post(format!(
                "http://{addr}/ingest?name=api.cpu&format=pprof&from=1700000000&until=1700000010"
            ))
            .body(pprof)
            .send()
            .await
            .unwrap()
    });
    eventually(10, || (!calls_of(&out).is_empty()).then_some(())).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !request.is_finished(),
        "the request waits with its hand-off"
    );
    let stopping = std::time::Instant::now();
    shutdown.cancel();
    let answer = tokio::time::timeout(Duration::from_secs(3), request)
        .await
        .expect("a waiting request must be answered when the receiver stops")
        .unwrap();
    assert_eq!(answer.status().as_u16(), 429);
    let text = answer.text().await.unwrap();
    assert!(text.contains("the caller gave up"), "{text}");
    tokio::time::timeout(Duration::from_secs(5), handle.wait())
        .await
        .unwrap();
    assert!(stopping.elapsed() < Duration::from_secs(3));
    assert!(out.gave_up.load(Ordering::SeqCst));
}

fn calls_of(s: &Stall) -> Vec<Instant> {
    s.calls.lock().unwrap().clone()
}
