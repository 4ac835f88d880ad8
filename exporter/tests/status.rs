//! The status snapshot the `/components` page shows, driven through a real
//! sending pipeline on tokio's paused clock: while the backend fails, the
//! request stays in flight, retries count up and the last error is kept
//! (degraded); once it accepts, the profile counts as sent, nothing is in
//! flight and the exporter is no longer degraded; a permanent error is
//! counted as given up; a full queue as dropped.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use profcol_exporter::events::ExporterEvents;
use profcol_exporter::metrics::ExporterMetrics;
use profcol_exporter::pipeline::{Pipeline, Prepared, Sender};
use profcol_exporter::queue::QueueConfig;
use profcol_exporter::retry::{RetryPolicy, SendError};
use profcol_pdata::{pprof, Labels, ProfileBatch, ProfileRecord};
use profcol_runtime::Telemetry;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

const UP: u8 = 0;
const DOWN: u8 = 1;
const REJECTS: u8 = 2;

struct Backend(Arc<AtomicU8>);

#[async_trait::async_trait]
impl Sender for Backend {
    type Request = ProfileBatch;
    fn prepare(&self, batch: ProfileBatch) -> Vec<Prepared<ProfileBatch>> {
        vec![Prepared {
            profiles: batch.len() as u64,
            bytes: 1,
            request: batch,
        }]
    }
    async fn send(&self, _: &ProfileBatch) -> Result<(), SendError> {
        match self.0.load(Ordering::SeqCst) {
            UP => Ok(()),
            DOWN => Err(SendError::retryable("connection refused <127.0.0.1:9>")),
            _ => Err(SendError::permanent("HTTP 400: bad request")),
        }
    }
}

fn batch() -> ProfileBatch {
    let p = pprof::Profile {
        sample_type: vec![pprof::ValueType { r#type: 1, unit: 2 }],
        sample: vec![pprof::Sample {
            location_id: vec![],
            value: vec![1],
            label: vec![],
        }],
        string_table: vec![String::new(), "goroutine".into(), "count".into()],
        ..Default::default()
    };
    let labels = Labels::from_pairs([("__name__", "goroutine".to_string())]);
    ProfileBatch::new(vec![ProfileRecord::from_profile(labels, &p).unwrap()])
}

fn start(state: &Arc<AtomicU8>, queue_size: usize) -> Arc<Pipeline> {
    let telemetry = Telemetry::default();
    let events = Arc::new(ExporterEvents::new(
        "otlp_http/s",
        telemetry.metrics::<ExporterMetrics>(),
    ));
    let queue = QueueConfig {
        num_consumers: 1,
        queue_size,
        max_batch_size: 1,
        flush_timeout: profcol_config::Duration::from_millis(0),
        ..Default::default()
    };
    let policy = RetryPolicy {
        enabled: true,
        initial_interval: Duration::from_secs(1),
        max_interval: Duration::from_secs(1),
        max_elapsed_time: Duration::ZERO,
        multiplier: 1.0,
        randomization_factor: 0.0,
        max_attempts: None,
    };
    Pipeline::start(Arc::new(Backend(state.clone())), &queue, policy, events).unwrap()
}

#[tokio::test(start_paused = true)]
async fn retries_in_flight_and_the_last_error_then_recovery() {
    let state = Arc::new(AtomicU8::new(DOWN));
    let p = start(&state, 10);
    let s = p.events().status();
    assert_eq!(
        (s.endpoint.as_str(), s.queue_capacity),
        ("otlp_http/s", Some(10))
    );
    assert_eq!(s.degraded(), None, "nothing failed yet");

    assert!(p.offer(batch()).await.is_ok());
    tokio::time::sleep(Duration::from_millis(5500)).await;
    let s = p.events().status();
    assert_eq!(s.in_flight, 1, "{s:?}");
    assert!((5..=6).contains(&s.retries), "one retry a second: {s:?}");
    assert_eq!(s.queue_length, 0, "taken by the worker");
    assert_eq!(s.degraded(), Some("connection refused <127.0.0.1:9>"));
    assert!(s.last_error_at.is_some() && s.last_success_at.is_none());

    state.store(UP, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let s = p.events().status();
    assert_eq!((s.in_flight, s.sent_profiles), (0, 1), "{s:?}");
    assert_eq!(s.degraded(), None);
    assert!(
        s.last_error.is_some(),
        "the last error is kept for the page"
    );

    state.store(REJECTS, Ordering::SeqCst);
    assert!(p.offer(batch()).await.is_ok());
    tokio::time::sleep(Duration::from_secs(1)).await;
    let s = p.events().status();
    assert_eq!(s.failed_profiles, 1, "{s:?}");
    assert!(s.degraded().unwrap().contains("HTTP 400"), "{s:?}");
    p.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(start_paused = true)]
async fn a_full_queue_counts_as_dropped_with_its_reason() {
    let state = Arc::new(AtomicU8::new(DOWN));
    let p = start(&state, 1);
    // The worker holds the first batch, the queue the second; the third is
    // refused.
    assert!(p.offer(batch()).await.is_ok());
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(p.offer(batch()).await.is_ok());
    assert!(p.offer(batch()).await.is_err());
    let s = p.events().status();
    assert_eq!((s.queue_length, s.dropped_profiles), (1, 1), "{s:?}");
    assert!(s.last_error.unwrap().starts_with("dropped (queue_full)"));
    p.shutdown(Duration::from_millis(10)).await;
}
