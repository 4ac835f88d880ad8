//! Everything the `memory_limiter` processor reports, logged and counted in
//! one place each: its limits at start, each crossing of the soft limit
//! (once each way, not at every check), and the profiles it refuses.

use super::limits::Limits;
use super::metrics::{ComponentLabel, MemoryLimiterMetrics};
use std::sync::Arc;
use std::time::Duration;
use tracing::{debug, info, warn};

fn gauge(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

pub struct LimiterEvents {
    component: String,
    label: ComponentLabel,
    metrics: Arc<MemoryLimiterMetrics>,
}

impl LimiterEvents {
    pub fn new(component: &str, metrics: Arc<MemoryLimiterMetrics>) -> Self {
        Self {
            component: component.to_string(),
            label: ComponentLabel {
                component: component.to_string(),
            },
            metrics,
        }
    }

    pub fn configured(&self, limits: Limits, check_interval: Duration) {
        self.metrics
            .limit
            .get_or_create(&self.label)
            .set(gauge(limits.hard));
        self.metrics
            .soft_limit
            .get_or_create(&self.label)
            .set(gauge(limits.soft()));
        self.metrics.refusing.get_or_create(&self.label).set(0);
        info!(
            component = %self.component,
            limit_mib = limits.hard >> 20,
            spike_limit_mib = limits.spike >> 20,
            soft_limit_mib = limits.soft() >> 20,
            check_interval = ?check_interval,
            "Memory limiter configured."
        );
    }

    pub fn not_honoured(&self, keys: &[String]) {
        if !keys.is_empty() {
            warn!(
                component = %self.component,
                keys = %keys.join(", "),
                "These keys are accepted for compatibility with the OpenTelemetry Collector but have no effect in profcol: it has no garbage collector to force."
            );
        }
    }

    pub fn measured(&self, usage: u64) {
        self.metrics
            .usage
            .get_or_create(&self.label)
            .set(gauge(usage));
    }

    pub fn unreadable(&self) {
        debug!(component = %self.component, "Could not read memory use; the memory limiter keeps its last decision.");
    }

    pub fn started_refusing(&self, usage: u64, soft: u64) {
        self.metrics.refusing.get_or_create(&self.label).set(1);
        warn!(
            component = %self.component,
            usage_mib = usage >> 20,
            soft_limit_mib = soft >> 20,
            "Memory use is at or above the soft limit; new profiles are refused (senders are asked to retry) until it falls below."
        );
    }

    pub fn stopped_refusing(&self, usage: u64, soft: u64) {
        self.metrics.refusing.get_or_create(&self.label).set(0);
        info!(
            component = %self.component,
            usage_mib = usage >> 20,
            soft_limit_mib = soft >> 20,
            "Memory use is below the soft limit again; profiles are accepted."
        );
    }

    /// Refused profiles are counted here; the receiver logs each refusal.
    pub fn refused(&self, profiles: usize) {
        self.metrics
            .refused_profiles
            .get_or_create(&self.label)
            .inc_by(profiles as u64);
    }
}
