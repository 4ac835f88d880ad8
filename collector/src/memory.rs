//! The process memory bound (`service.memory_limit_mib`): a task samples
//! profcol's resident memory ([`resident_bytes`], shared with the
//! `memory_limiter` processor) every second and records it in the shared
//! [`MemoryGuard`]; receivers refuse new scrapes while the usage is at or
//! above the soft limit (`memory_limit_mib - memory_spike_limit_mib`), the
//! idea of the OpenTelemetry Collector's `memory_limiter`. Crossings are
//! logged once each way, not on every sample.

use profcol_config::collector::ServiceConfig;
use profcol_runtime::memory::resident_bytes;
use profcol_runtime::{MemoryGuard, MetricSet, Telemetry};
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

/// How often memory use is sampled.
pub const SAMPLE_EVERY: Duration = Duration::from_secs(1);

#[derive(Default)]
pub struct MemoryMetrics {
    limit: Gauge,
    soft_limit: Gauge,
    usage: Gauge,
    exceeded: Gauge,
}

impl MetricSet for MemoryMetrics {
    fn register(&self, r: &mut Registry) {
        r.register(
            "profcol_memory_limit_bytes",
            "service.memory_limit_mib in bytes (0: no bound)",
            self.limit.clone(),
        );
        r.register(
            "profcol_memory_soft_limit_bytes",
            "Memory use from which new scrapes are refused (0: no bound)",
            self.soft_limit.clone(),
        );
        r.register(
            "profcol_memory_usage_bytes",
            "Resident memory of profcol at the last sample of the memory bound",
            self.usage.clone(),
        );
        r.register(
            "profcol_memory_limit_exceeded",
            "1 while memory use is at or above the soft limit and new scrapes are refused",
            self.exceeded.clone(),
        );
    }
}

/// The guard for `service` and, when a bound is configured, the sampling
/// task (stopped by `stop`). Without a bound the guard never refuses and
/// nothing is sampled.
pub fn start(
    service: &ServiceConfig,
    telemetry: &Telemetry,
    stop: CancellationToken,
) -> MemoryGuard {
    let soft = service.memory_soft_limit_bytes();
    let limit = service.memory_limit_mib.saturating_mul(1 << 20);
    let guard = MemoryGuard::new(soft);
    let m = telemetry.metrics::<MemoryMetrics>();
    m.limit.set(i64::try_from(limit).unwrap_or(i64::MAX));
    m.soft_limit.set(i64::try_from(soft).unwrap_or(i64::MAX));
    if soft == 0 {
        return guard;
    }
    let g = guard.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(SAMPLE_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut was_over = false;
        loop {
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = tick.tick() => {}
            }
            let Some(usage) = resident_bytes() else {
                continue;
            };
            let over = g.record(usage);
            observe(&m, usage, over, was_over, soft);
            was_over = over;
        }
    });
    guard
}

/// Updates the gauges; logs only a crossing of the soft limit.
fn observe(m: &MemoryMetrics, usage: u64, over: bool, was_over: bool, soft: u64) {
    m.usage.set(i64::try_from(usage).unwrap_or(i64::MAX));
    m.exceeded.set(i64::from(over));
    if over && !was_over {
        warn!(
            usage_mib = usage >> 20,
            soft_limit_mib = soft >> 20,
            "Memory use reached the soft limit; new scrapes are refused until it falls below."
        );
    } else if !over && was_over {
        info!(
            usage_mib = usage >> 20,
            soft_limit_mib = soft >> 20,
            "Memory use is below the soft limit again; scraping resumes."
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_bound_below_current_use_refuses_within_a_sample() {
        let service = ServiceConfig {
            memory_limit_mib: 2,
            memory_spike_limit_mib: Some(1),
            ..ServiceConfig::default()
        };
        let telemetry = Telemetry::default();
        let stop = CancellationToken::new();
        let guard = start(&service, &telemetry, stop.clone());
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while guard.check().is_ok() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let over = guard.check().unwrap_err();
        assert_eq!(over.soft_limit_bytes, 1 << 20);
        let page = telemetry.encode();
        assert!(
            page.contains("profcol_memory_limit_bytes 2097152"),
            "{page}"
        );
        assert!(page.contains("profcol_memory_limit_exceeded 1"), "{page}");
        stop.cancel();
    }

    #[tokio::test]
    async fn no_bound_never_refuses() {
        let telemetry = Telemetry::default();
        let guard = start(
            &ServiceConfig::default(),
            &telemetry,
            CancellationToken::new(),
        );
        assert!(!guard.record(u64::MAX));
        assert!(guard.check().is_ok());
        assert!(telemetry.encode().contains("profcol_memory_limit_bytes 0"));
    }
}
