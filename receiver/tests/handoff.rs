//! A receiver replaced on a reload hands its jobs' delta state to the new
//! instance: a job whose URL, labels and scrape settings are unchanged goes
//! on subtracting from its last scrape instead of starting a new baseline;
//! a job whose settings changed starts afresh.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::routing::get;
use axum::Router;
use common::{gz, profile, serve, Collect};
use profcol_config::ComponentId;
use profcol_pdata::ProfileRecord;
use profcol_receiver::{start_receiver_after, Handoff, ReceiverHandle};
use profcol_runtime::{ComponentContext, Telemetry};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Serves an allocs profile whose cumulative `alloc_objects` grows by 10 per
/// scrape and whose `inuse_objects` (never subtracted) is the scrape number.
async fn growing_target() -> std::net::SocketAddr {
    let n = Arc::new(AtomicI64::new(0));
    let app = Router::new().route(
        "/debug/pprof/allocs",
        get(move || {
            let n = n.clone();
            async move {
                let k = n.fetch_add(1, Ordering::SeqCst) + 1;
                let mut p = profile(&[("alloc_objects", "count"), ("inuse_objects", "count")], 0);
                p.sample[0].value = vec![10 * k, k];
                gz(&p)
            }
        }),
    );
    serve(app).await
}

const MEMORY_ONLY: &str = "profiling_config: {profile: {block: {enabled: false}, goroutine: {enabled: false}, mutex: {enabled: false}, process_cpu: {enabled: false}}}\nscrape_timeout: 3s\n";

struct Instance {
    handle: ReceiverHandle,
    stop: CancellationToken,
}

fn start(yaml: &str, out: Arc<Collect>, handoff: Arc<Handoff>) -> Instance {
    let id: ComponentId = "pyroscope_scrape/h".parse().unwrap();
    let body = profcol_config::Body::parse(yaml).unwrap();
    let stop = CancellationToken::new();
    let ctx = ComponentContext {
        id: id.to_string(),
        shutdown: stop.clone(),
        telemetry: Telemetry::default(),
        memory: Default::default(),
        cluster: None,
        scrape_budget: Default::default(),
        read_back_limits: Default::default(),
    };
    let handle = start_receiver_after(&id, &body, ctx, out, handoff).unwrap();
    Instance { handle, stop }
}

impl Instance {
    /// Stops it the way a reload does: hand-off opened first.
    async fn replace(self) -> Arc<Handoff> {
        let handoff = self.handle.handoff();
        handoff.open();
        self.stop.cancel();
        tokio::time::timeout(Duration::from_secs(5), self.handle.wait())
            .await
            .unwrap();
        handoff
    }
}

fn of(out: &Collect, service: &str) -> Vec<ProfileRecord> {
    out.all()
        .into_iter()
        .filter(|r| r.labels.get("service_name") == Some(service))
        .collect()
}

async fn wait_for(out: &Collect, service: &str, count: usize) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while of(out, service).len() < count {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{service}: fewer than {count} records"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// (sum of exported alloc deltas, scrape number of the last export).
fn totals(records: &[ProfileRecord]) -> (i64, i64) {
    let sum = records.iter().map(|r| r.profile().sample[0].value[0]).sum();
    let last = records.last().map_or(0, |r| r.profile().sample[0].value[1]);
    (sum, last)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unchanged_jobs_keep_their_baseline_and_changed_ones_start_afresh() {
    let a = growing_target().await;
    let b = growing_target().await;
    let c = growing_target().await;
    let out = Arc::new(Collect::default());
    let first = format!(
        "targets: [{{__address__: '{a}', service_name: kept}}]\nscrape_interval: 1s\n{MEMORY_ONLY}"
    );
    let one = start(&first, out.clone(), Arc::default());
    wait_for(&out, "kept", 2).await;
    let handoff = one.replace().await;
    assert_eq!(handoff.parked(), 1, "the stopped job left its state");

    // The target list grows; the kept job's URL, labels and settings do not
    // change, so it subtracts from its last scrape before the reload.
    let second = format!(
        "targets: [{{__address__: '{a}', service_name: kept}}, {{__address__: '{b}', service_name: added}}]\nscrape_interval: 1s\n{MEMORY_ONLY}"
    );
    let before = of(&out, "kept").len();
    let two = start(&second, out.clone(), handoff);
    wait_for(&out, "kept", before + 2).await;
    wait_for(&out, "added", 1).await;
    let (sum, last) = totals(&of(&out, "kept"));
    // Scrape 1 was the baseline; every later one is in exactly one delta.
    assert_eq!(
        sum,
        10 * (last - 1),
        "a delta went missing across the reload"
    );
    let (sum, last) = totals(&of(&out, "added"));
    assert_eq!(sum, 10 * (last - 1));

    // A changed interval is a changed job: it starts a new baseline.
    let handoff = two.replace().await;
    let third = format!(
        "targets: [{{__address__: '{c}', service_name: fresh}}, {{__address__: '{a}', service_name: kept}}]\nscrape_interval: 2s\n{MEMORY_ONLY}"
    );
    let before = of(&out, "kept").len();
    let three = start(&third, out.clone(), handoff);
    wait_for(&out, "kept", before + 1).await;
    let kept = of(&out, "kept");
    let (sum, last) = totals(&kept);
    assert!(
        sum < 10 * (last - 1),
        "the changed job kept its state: sum {sum}, last scrape {last}"
    );
    assert_eq!(kept.last().unwrap().profile().sample[0].value[0], 10);
    three.replace().await;
}
