//! The metric names Grafana Alloy's `pyroscope.write` exposes, so existing
//! dashboards keep working; labelled by component and endpoint.

use crate::metrics::latency_histogram;
use profcol_runtime::MetricSet;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EndpointLabels {
    pub component_id: String,
    pub endpoint: String,
}

pub struct WriteMetrics {
    pub sent_bytes: Family<EndpointLabels, Counter>,
    pub dropped_bytes: Family<EndpointLabels, Counter>,
    pub sent_profiles: Family<EndpointLabels, Counter>,
    pub dropped_profiles: Family<EndpointLabels, Counter>,
    pub retries: Family<EndpointLabels, Counter>,
    pub latency: Family<EndpointLabels, Histogram, fn() -> Histogram>,
}

impl Default for WriteMetrics {
    fn default() -> Self {
        Self {
            sent_bytes: Family::default(),
            dropped_bytes: Family::default(),
            sent_profiles: Family::default(),
            dropped_profiles: Family::default(),
            retries: Family::default(),
            latency: Family::new_with_constructor(latency_histogram),
        }
    }
}

impl MetricSet for WriteMetrics {
    fn register(&self, r: &mut Registry) {
        r.register(
            "pyroscope_write_sent_bytes",
            "Total number of compressed bytes sent to Pyroscope",
            self.sent_bytes.clone(),
        );
        r.register(
            "pyroscope_write_dropped_bytes",
            "Total number of compressed bytes dropped by Pyroscope",
            self.dropped_bytes.clone(),
        );
        r.register(
            "pyroscope_write_sent_profiles",
            "Total number of profiles sent to Pyroscope",
            self.sent_profiles.clone(),
        );
        r.register(
            "pyroscope_write_dropped_profiles",
            "Total number of profiles dropped by Pyroscope",
            self.dropped_profiles.clone(),
        );
        r.register(
            "pyroscope_write_retries",
            "Total number of retries to Pyroscope",
            self.retries.clone(),
        );
        r.register(
            "pyroscope_write_latency",
            "Write latency for sending profiles to Pyroscope, in seconds",
            self.latency.clone(),
        );
    }
}
