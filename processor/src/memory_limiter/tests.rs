//! The memory limiter's state machine with an injected memory reading, on
//! tokio's paused clock.

use super::*;
use async_trait::async_trait;
use profcol_config::Duration as ConfigDuration;
use profcol_pdata::{Error as DataError, ProfileBatch};
use profcol_runtime::Telemetry;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

const MIB: u64 = 1 << 20;

/// Held by every test that starts a limiter. The log test captures the
/// limiter's lines with a thread-scoped subscriber, and tracing caches each
/// log statement's interest when it first fires: a test on another thread
/// firing the same statement while that subscriber is being installed can
/// leave it cached as "nobody listens" (seen once in CI: the "refused" line
/// missing). Run one at a time, every statement is registered either before
/// the subscriber exists (and re-evaluated when it is installed) or after.
static ONE_LIMITER_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[derive(Default)]
struct Sink(Mutex<usize>);

#[async_trait]
impl Consumer for Sink {
    async fn consume(&self, batch: ProfileBatch) -> Result<(), DataError> {
        *self.0.lock().unwrap() += batch.len();
        Ok(())
    }
}

/// Log lines, as the fmt subscriber writes them.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<u8>>>);

impl Write for Log {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Log {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

struct Running {
    usage: Arc<AtomicU64>,
    sink: Arc<Sink>,
    handle: ProcessorHandle,
    telemetry: Telemetry,
}

impl Running {
    fn page(&self) -> String {
        self.telemetry.encode()
    }
}

/// A limiter with a hard limit of 100 MiB and a spike of 20 MiB (soft
/// limit 80 MiB), checking every second; memory use starts at `usage_mib`.
fn start_at(usage_mib: u64) -> Running {
    let cfg = MemoryLimiterConfig {
        check_interval: ConfigDuration::from_secs(1),
        limit_mib: 100,
        ..Default::default()
    };
    let limits = Limits::of(&cfg, || None).unwrap();
    let usage = Arc::new(AtomicU64::new(usage_mib * MIB));
    let u = usage.clone();
    let read: UsageReader = Arc::new(move || Some(u.load(Ordering::SeqCst)));
    let telemetry = Telemetry::default();
    let ctx = ComponentContext {
        id: "memory_limiter".into(),
        shutdown: tokio_util::sync::CancellationToken::new(),
        telemetry: telemetry.clone(),
        memory: Default::default(),
        cluster: None,
        scrape_budget: Default::default(),
        read_back_limits: Default::default(),
    };
    let sink = Arc::new(Sink::default());
    let handle = start_with(
        cfg,
        "processors::memory_limiter",
        limits,
        read,
        &ctx,
        sink.clone(),
    );
    Running {
        usage,
        sink,
        handle,
        telemetry,
    }
}

fn batch(n: usize) -> ProfileBatch {
    ProfileBatch::new(
        (0..n)
            .map(|i| crate::testutil::sized::record(i, 1))
            .collect(),
    )
}

async fn settle() {
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
}

#[tokio::test(start_paused = true)]
async fn refuses_from_the_soft_limit_until_memory_falls_below_it() {
    let _one = ONE_LIMITER_AT_A_TIME.lock().await;
    let log = Log::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let r = start_at(50);
    settle().await;
    let c = r.handle.consumer();
    c.consume(batch(3)).await.unwrap();
    assert_eq!(*r.sink.0.lock().unwrap(), 3);
    assert!(r.page().contains(
        "profcol_processor_memory_limiter_soft_limit_bytes{component=\"memory_limiter\"} 83886080"
    ));

    // A spike to the soft limit: seen at the next check, not before.
    r.usage.store(80 * MIB, Ordering::SeqCst);
    c.consume(batch(1)).await.unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    settle().await;
    let err = c.consume(batch(2)).await.unwrap_err();
    assert!(matches!(err, DataError::Refused(_)), "{err}");
    assert!(err.to_string().contains("soft limit of 80 MiB"), "{err}");
    assert!(err.to_string().contains("retry later"), "{err}");
    assert!(c.consume(batch(5)).await.is_err());
    // What was accepted before stays accepted.
    assert_eq!(*r.sink.0.lock().unwrap(), 4);
    let page = r.page();
    assert!(
        page.contains("profcol_processor_refused_profiles_total{component=\"memory_limiter\"} 7"),
        "{page}"
    );
    assert!(
        page.contains("profcol_processor_memory_limiter_refusing{component=\"memory_limiter\"} 1"),
        "{page}"
    );

    // Still over at the following checks (above the hard limit too): one log line.
    r.usage.store(150 * MIB, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(3)).await;
    settle().await;
    assert!(c.consume(batch(1)).await.is_err());

    // Just below the soft limit: accepted again after the next check.
    r.usage.store(80 * MIB - 1, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(1)).await;
    settle().await;
    c.consume(batch(2)).await.unwrap();
    assert_eq!(*r.sink.0.lock().unwrap(), 6);
    assert!(r
        .page()
        .contains("profcol_processor_memory_limiter_refusing{component=\"memory_limiter\"} 0"));

    let text = log.text();
    assert_eq!(
        text.matches("new profiles are refused").count(),
        1,
        "{text}"
    );
    assert_eq!(text.matches("profiles are accepted").count(), 1, "{text}");
    assert!(
        text.contains("Memory limiter configured.") && text.contains("soft_limit_mib=80"),
        "{text}"
    );
}

#[tokio::test(start_paused = true)]
async fn the_first_check_is_at_start() {
    let _one = ONE_LIMITER_AT_A_TIME.lock().await;
    let r = start_at(90);
    settle().await;
    assert!(r.handle.consumer().consume(batch(1)).await.is_err());
    assert_eq!(*r.sink.0.lock().unwrap(), 0);
}

#[tokio::test(start_paused = true)]
async fn an_unreadable_measurement_keeps_the_last_decision() {
    let _one = ONE_LIMITER_AT_A_TIME.lock().await;
    let cfg = MemoryLimiterConfig {
        check_interval: ConfigDuration::from_secs(1),
        limit_mib: 100,
        ..Default::default()
    };
    let limits = Limits::of(&cfg, || None).unwrap();
    let readable = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let r2 = readable.clone();
    let read: UsageReader = Arc::new(move || r2.load(Ordering::SeqCst).then_some(90 * MIB));
    let ctx = ComponentContext {
        id: "memory_limiter".into(),
        shutdown: tokio_util::sync::CancellationToken::new(),
        telemetry: Telemetry::default(),
        memory: Default::default(),
        cluster: None,
        scrape_budget: Default::default(),
        read_back_limits: Default::default(),
    };
    let handle = start_with(cfg, "p", limits, read, &ctx, Arc::new(Sink::default()));
    settle().await;
    assert!(handle.consumer().consume(batch(1)).await.is_err());
    readable.store(false, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(5)).await;
    settle().await;
    assert!(handle.consumer().consume(batch(1)).await.is_err());
}

#[tokio::test(start_paused = true)]
async fn shutdown_ends_the_checks() {
    let _one = ONE_LIMITER_AT_A_TIME.lock().await;
    let r = start_at(50);
    settle().await;
    let c = r.handle.consumer();
    r.handle.shutdown(Duration::from_secs(1)).await;
    // No check runs any more: the spike is never seen.
    r.usage.store(500 * MIB, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(10)).await;
    settle().await;
    c.consume(batch(1)).await.unwrap();
    let page = r.telemetry.encode();
    assert!(
        page.contains(
            "profcol_processor_memory_limiter_usage_bytes{component=\"memory_limiter\"} 52428800"
        ),
        "{page}"
    );
}

#[tokio::test]
async fn start_measures_this_process() {
    let _one = ONE_LIMITER_AT_A_TIME.lock().await;
    if !std::path::Path::new("/proc/self/status").exists() {
        return;
    }
    let ctx = ComponentContext {
        id: "memory_limiter".into(),
        shutdown: tokio_util::sync::CancellationToken::new(),
        telemetry: Telemetry::default(),
        memory: Default::default(),
        cluster: None,
        scrape_budget: Default::default(),
        read_back_limits: Default::default(),
    };
    // A soft limit of 1 MiB: this test process uses more.
    let cfg = MemoryLimiterConfig {
        check_interval: ConfigDuration::from_secs(1),
        limit_mib: 2,
        spike_limit_mib: 1,
        ..Default::default()
    };
    let h = start(cfg, "p", &ctx, Arc::new(Sink::default())).unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let err = h.consumer().consume(batch(1)).await.unwrap_err();
    assert!(matches!(err, DataError::Refused(_)), "{err}");
    // A percentage of what is available: 90% leaves room for this process.
    let cfg = MemoryLimiterConfig {
        check_interval: ConfigDuration::from_secs(1),
        limit_percentage: 90,
        ..Default::default()
    };
    let h = start(cfg, "p", &ctx, Arc::new(Sink::default())).unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    h.consumer().consume(batch(1)).await.unwrap();
}
