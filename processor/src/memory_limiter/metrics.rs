//! The `memory_limiter` processor's self-metrics, shared by every instance
//! and told apart by `component`.

use profcol_runtime::MetricSet;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ComponentLabel {
    pub component: String,
}

#[derive(Default)]
pub struct MemoryLimiterMetrics {
    pub refused_profiles: Family<ComponentLabel, Counter>,
    pub refusing: Family<ComponentLabel, Gauge>,
    pub usage: Family<ComponentLabel, Gauge>,
    pub limit: Family<ComponentLabel, Gauge>,
    pub soft_limit: Family<ComponentLabel, Gauge>,
}

impl MetricSet for MemoryLimiterMetrics {
    fn register(&self, r: &mut Registry) {
        r.register(
            "profcol_processor_refused_profiles",
            "Profiles a processor refused to the previous hop, which may retry them",
            self.refused_profiles.clone(),
        );
        let p = "profcol_processor_memory_limiter";
        r.register(
            format!("{p}_refusing"),
            "1 while memory use is at or above the memory limiter's soft limit and data is refused",
            self.refusing.clone(),
        );
        r.register(
            format!("{p}_usage_bytes"),
            "Resident memory of profcol at the memory limiter's last check",
            self.usage.clone(),
        );
        r.register(
            format!("{p}_limit_bytes"),
            "The memory limiter's hard limit in bytes",
            self.limit.clone(),
        );
        r.register(
            format!("{p}_soft_limit_bytes"),
            "Memory use from which the memory limiter refuses data",
            self.soft_limit.clone(),
        );
    }
}
