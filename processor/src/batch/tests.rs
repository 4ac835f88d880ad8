//! The batch processor's logic on tokio's paused clock.

use super::*;
use crate::testutil::sized::{ids, record, record_with};
use async_trait::async_trait;
use profcol_pdata::otlp::OtlpPayload;
use profcol_pdata::{Error as DataError, Labels, ProfileBatch, ProfileRecord};
use profcol_runtime::Telemetry;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// The next hop: keeps what it gets; can refuse or hang.
#[derive(Default)]
struct Sink {
    got: Mutex<Vec<ProfileBatch>>,
    refuse: AtomicBool,
    hang: AtomicBool,
}

#[async_trait]
impl Consumer for Sink {
    async fn consume(&self, batch: ProfileBatch) -> Result<(), DataError> {
        if self.hang.load(Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        if self.refuse.load(Ordering::SeqCst) {
            return Err(DataError::Refused("queue full".into()));
        }
        self.got.lock().unwrap().push(batch);
        Ok(())
    }
}

impl Sink {
    /// The `i` labels of each batch received.
    fn batches(&self) -> Vec<Vec<usize>> {
        self.got.lock().unwrap().iter().map(ids).collect()
    }
}

struct Running {
    sink: Arc<Sink>,
    handle: ProcessorHandle,
    telemetry: Telemetry,
}

impl Running {
    fn consumer(&self) -> Arc<dyn Consumer> {
        self.handle.consumer()
    }

    fn metric(&self, name: &str) -> Option<String> {
        self.telemetry
            .encode()
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.rsplit(' ').next())
            .map(str::to_string)
    }
}

fn start_with(yaml: &str) -> Running {
    let v = profcol_config::Body::parse(yaml).unwrap();
    let cfg: BatchConfig = profcol_config::decode(&v, "processors::batch").unwrap();
    let telemetry = Telemetry::default();
    let ctx = ComponentContext {
        id: "batch".into(),
        shutdown: tokio_util::sync::CancellationToken::new(),
        telemetry: telemetry.clone(),
        memory: Default::default(),
        cluster: None,
        scrape_budget: Default::default(),
        read_back_limits: Default::default(),
    };
    let sink = Arc::new(Sink::default());
    let handle = start(cfg, &ctx, sink.clone());
    Running {
        sink,
        handle,
        telemetry,
    }
}

/// Records `from..to`, `samples` each, in one batch.
fn batch(from: usize, to: usize, samples: usize) -> ProfileBatch {
    ProfileBatch::new((from..to).map(|i| record(i, samples)).collect())
}

/// Lets spawned tasks run (the clock is paused: nothing else moves it).
async fn settle() {
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
}

#[tokio::test(start_paused = true)]
async fn reaching_send_batch_size_sends_at_once_in_the_caller_s_task() {
    let r = start_with("send_batch_size: 10\ntimeout: 10s");
    let c = r.consumer();
    for i in 0..3 {
        c.consume(batch(i, i + 1, 3)).await.unwrap();
    }
    assert!(r.sink.batches().is_empty(), "9 samples wait");
    // The fourth makes 12 ≥ 10: sent before consume returns, whole (no maximum).
    c.consume(batch(3, 4, 3)).await.unwrap();
    assert_eq!(r.sink.batches(), [vec![0, 1, 2, 3]]);
    assert_eq!(
        r.metric("profcol_processor_batch_batch_size_trigger_send_total")
            .as_deref(),
        Some("1")
    );
    assert_eq!(
        r.metric("profcol_processor_batch_batch_send_size_sum")
            .as_deref(),
        Some("12.0")
    );
    assert_eq!(
        r.metric("profcol_processor_batch_timeout_trigger_send_total"),
        None
    );
}

#[tokio::test(start_paused = true)]
async fn a_batch_is_sent_timeout_after_its_first_profile() {
    let r = start_with("send_batch_size: 100\ntimeout: 200ms");
    let c = r.consumer();
    c.consume(batch(0, 1, 1)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(150)).await;
    c.consume(batch(1, 2, 1)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(49)).await;
    settle().await;
    assert!(r.sink.batches().is_empty(), "199ms after the first profile");
    tokio::time::sleep(Duration::from_millis(1)).await;
    settle().await;
    assert_eq!(r.sink.batches(), [vec![0, 1]]);
    assert_eq!(
        r.metric("profcol_processor_batch_timeout_trigger_send_total")
            .as_deref(),
        Some("1")
    );
    // The next batch starts its own clock.
    tokio::time::sleep(Duration::from_secs(5)).await;
    c.consume(batch(2, 3, 1)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(199)).await;
    settle().await;
    assert_eq!(r.sink.batches().len(), 1);
    tokio::time::sleep(Duration::from_millis(1)).await;
    settle().await;
    assert_eq!(r.sink.batches(), [vec![0, 1], vec![2]]);
}

#[tokio::test(start_paused = true)]
async fn send_batch_max_size_splits_between_profiles() {
    let r = start_with("send_batch_size: 10\nsend_batch_max_size: 10\ntimeout: 1s");
    let c = r.consumer();
    // 5 profiles of 4 samples: two chunks of 8 go at once, 4 samples wait.
    c.consume(batch(0, 5, 4)).await.unwrap();
    assert_eq!(r.sink.batches(), [vec![0, 1], vec![2, 3]]);
    tokio::time::sleep(Duration::from_secs(1)).await;
    settle().await;
    assert_eq!(r.sink.batches(), [vec![0, 1], vec![2, 3], vec![4]]);
    // A profile larger than the maximum is never cut: it goes alone.
    c.consume(batch(5, 6, 25)).await.unwrap();
    assert_eq!(r.sink.batches().last().unwrap(), &vec![5]);
    let got = r.sink.got.lock().unwrap();
    assert_eq!(got.last().unwrap().records[0].pprof.sample_count(), 25);
}

#[tokio::test(start_paused = true)]
async fn metadata_keys_keep_tenants_apart() {
    let r = start_with("send_batch_size: 3\ntimeout: 1s\nmetadata_keys: [__tenant_id__]");
    let c = r.consumer();
    let rec = |i: usize, tenant: Option<&str>| {
        let mut l = Labels::from_pairs([("i", i.to_string())]);
        if let Some(t) = tenant {
            l.set(Labels::TENANT_ID, t);
        }
        record_with(l, 1)
    };
    c.consume(ProfileBatch::new(vec![
        rec(0, Some("a")),
        rec(1, Some("b")),
        rec(2, Some("a")),
        rec(3, None),
    ]))
    .await
    .unwrap();
    assert!(r.sink.batches().is_empty());
    // Tenant a reaches 3 samples on its own.
    c.consume(ProfileBatch::new(vec![rec(4, Some("a"))]))
        .await
        .unwrap();
    assert_eq!(r.sink.batches(), [vec![0, 2, 4]]);
    tokio::time::sleep(Duration::from_secs(1)).await;
    settle().await;
    let mut all = r.sink.batches();
    all.sort();
    assert_eq!(all, [vec![0, 2, 4], vec![1], vec![3]]);
    assert_eq!(
        r.metric("profcol_processor_batch_metadata_cardinality")
            .as_deref(),
        Some("3")
    );
}

#[tokio::test(start_paused = true)]
async fn past_the_cardinality_limit_a_new_combination_is_refused_whole() {
    let r = start_with(
        "send_batch_size: 100\ntimeout: 1s\nmetadata_keys: [__tenant_id__]\nmetadata_cardinality_limit: 2",
    );
    let c = r.consumer();
    let rec = |i: usize, tenant: &str| {
        record_with(
            Labels::from_pairs([
                ("i", i.to_string()),
                (Labels::TENANT_ID, tenant.to_string()),
            ]),
            1,
        )
    };
    c.consume(ProfileBatch::new(vec![rec(0, "a"), rec(1, "b")]))
        .await
        .unwrap();
    let err = c
        .consume(ProfileBatch::new(vec![rec(2, "a"), rec(3, "c")]))
        .await
        .unwrap_err();
    assert!(matches!(err, DataError::Refused(_)), "{err}");
    assert!(
        err.to_string().contains("metadata_cardinality_limit"),
        "{err}"
    );
    // Known tenants still pass.
    c.consume(ProfileBatch::new(vec![rec(4, "b")]))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    settle().await;
    let mut all = r.sink.batches();
    all.sort();
    assert_eq!(all, [vec![0], vec![1, 4]], "nothing of the refused batch");
}

#[tokio::test(start_paused = true)]
async fn zero_timeout_sends_each_batch_as_it_arrives() {
    let r = start_with("timeout: 0s\nsend_batch_max_size: 10000");
    let c = r.consumer();
    c.consume(batch(0, 2, 1)).await.unwrap();
    c.consume(batch(2, 3, 1)).await.unwrap();
    assert_eq!(r.sink.batches(), [vec![0, 1], vec![2]]);
    let r = start_with("send_batch_size: 0\nsend_batch_max_size: 5\ntimeout: 1s");
    r.consumer().consume(batch(0, 4, 2)).await.unwrap();
    assert_eq!(r.sink.batches(), [vec![0, 1], vec![2, 3]]);
}

#[tokio::test(start_paused = true)]
async fn otlp_requests_are_merged_whole() {
    let r = start_with("send_batch_size: 1000\ntimeout: 1s");
    let c = r.consumer();
    let payload = |recs: &[ProfileRecord]| {
        let bytes = profcol_pdata::otlp::to_otlp_bytes(recs);
        OtlpPayload::from_bytes(bytes.into(), &Default::default()).unwrap()
    };
    let a = payload(&[record(0, 2), record(1, 2)]);
    let b = payload(&[record(2, 3)]);
    let a_bytes = a.bytes().clone();
    c.consume(ProfileBatch::from_otlp(a)).await.unwrap();
    c.consume(ProfileBatch::from_otlp(b)).await.unwrap();
    c.consume(batch(9, 10, 1)).await.unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    settle().await;
    let got = r.sink.got.lock().unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].otlp.len(), 2);
    assert_eq!(got[0].otlp[0].bytes(), &a_bytes, "forwarded as received");
    assert_eq!(got[0].len(), 4);
    assert_eq!(ids(&got[0]), [9]);
}

#[tokio::test(start_paused = true)]
async fn shutdown_sends_what_is_held_and_ends_the_timer() {
    let r = start_with("send_batch_size: 100\ntimeout: 1h");
    let c = r.consumer();
    c.consume(batch(0, 3, 1)).await.unwrap();
    let started = tokio::time::Instant::now();
    r.handle.shutdown(Duration::from_secs(5)).await;
    assert_eq!(started.elapsed(), Duration::ZERO);
    assert_eq!(r.sink.batches(), [vec![0, 1, 2]]);
    // Afterwards nothing is held: a late batch passes straight through.
    c.consume(batch(3, 4, 1)).await.unwrap();
    assert_eq!(r.sink.batches(), [vec![0, 1, 2], vec![3]]);
}

#[tokio::test(start_paused = true)]
async fn shutdown_gives_up_at_its_deadline_and_counts_what_it_held() {
    let r = start_with("send_batch_size: 100\ntimeout: 1h");
    r.consumer().consume(batch(0, 3, 1)).await.unwrap();
    r.sink.hang.store(true, Ordering::SeqCst);
    let started = tokio::time::Instant::now();
    r.handle.shutdown(Duration::from_secs(2)).await;
    assert_eq!(started.elapsed(), Duration::from_secs(2));
    let page = r.telemetry.encode();
    assert!(
        page.contains(
            "profcol_processor_batch_dropped_profiles_total{component=\"batch\",reason=\"shutdown_timeout\"} 3"
        ),
        "{page}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_refused_size_flush_is_the_caller_s_refusal_and_a_loss_of_the_earlier_ones() {
    let r = start_with("send_batch_size: 4\ntimeout: 1s");
    let c = r.consumer();
    c.consume(batch(0, 3, 1)).await.unwrap();
    r.sink.refuse.store(true, Ordering::SeqCst);
    let err = c.consume(batch(3, 4, 1)).await.unwrap_err();
    assert!(matches!(err, DataError::Refused(_)), "{err}");
    let page = r.telemetry.encode();
    assert!(
        page.contains(
            "profcol_processor_batch_dropped_profiles_total{component=\"batch\",reason=\"downstream_refused\"} 3"
        ),
        "the three accepted earlier are lost: {page}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_refused_timer_flush_is_counted_as_dropped() {
    let r = start_with("send_batch_size: 100\ntimeout: 1s");
    r.consumer().consume(batch(0, 2, 1)).await.unwrap();
    r.sink.refuse.store(true, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(1)).await;
    settle().await;
    let page = r.telemetry.encode();
    assert!(
        page.contains(
            "profcol_processor_batch_dropped_profiles_total{component=\"batch\",reason=\"downstream_refused\"} 2"
        ),
        "{page}"
    );
    // The batcher is empty again: the next batch starts afresh.
    r.sink.refuse.store(false, Ordering::SeqCst);
    r.consumer().consume(batch(2, 3, 1)).await.unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    settle().await;
    assert_eq!(r.sink.batches(), [vec![2]]);
}
