//! The `batch` processor's self-metrics, named like the Collector's
//! (`otelcol_processor_batch_*` there, `profcol_processor_batch_*` here),
//! shared by every instance and told apart by `component`.

use profcol_runtime::MetricSet;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ComponentLabel {
    pub component: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DropLabels {
    pub component: String,
    /// `downstream_refused` or `shutdown_timeout`.
    pub reason: String,
}

/// The Collector's buckets for `batch_send_size`.
const SEND_SIZE_BUCKETS: [f64; 22] = [
    10.0, 25.0, 50.0, 75.0, 100.0, 250.0, 500.0, 750.0, 1000.0, 2000.0, 3000.0, 4000.0, 5000.0,
    6000.0, 7000.0, 8000.0, 9000.0, 10000.0, 20000.0, 30000.0, 50000.0, 100000.0,
];

fn send_size_histogram() -> Histogram {
    Histogram::new(SEND_SIZE_BUCKETS)
}

pub struct BatchMetrics {
    /// Samples in each batch sent.
    pub send_size: Family<ComponentLabel, Histogram, fn() -> Histogram>,
    pub size_trigger_sends: Family<ComponentLabel, Counter>,
    pub timeout_trigger_sends: Family<ComponentLabel, Counter>,
    pub metadata_cardinality: Family<ComponentLabel, Gauge>,
    /// Profiles accepted earlier and lost when a later send failed.
    pub dropped_profiles: Family<DropLabels, Counter>,
}

impl Default for BatchMetrics {
    fn default() -> Self {
        Self {
            send_size: Family::new_with_constructor(send_size_histogram),
            size_trigger_sends: Family::default(),
            timeout_trigger_sends: Family::default(),
            metadata_cardinality: Family::default(),
            dropped_profiles: Family::default(),
        }
    }
}

impl MetricSet for BatchMetrics {
    fn register(&self, r: &mut Registry) {
        let p = "profcol_processor_batch";
        r.register(
            format!("{p}_batch_send_size"),
            "Samples in each batch the batch processor sent",
            self.send_size.clone(),
        );
        r.register(
            format!("{p}_batch_size_trigger_send"),
            "Batches sent because they reached send_batch_size",
            self.size_trigger_sends.clone(),
        );
        r.register(
            format!("{p}_timeout_trigger_send"),
            "Batches sent because their timeout passed or the processor stopped",
            self.timeout_trigger_sends.clone(),
        );
        r.register(
            format!("{p}_metadata_cardinality"),
            "Distinct combinations of metadata_keys values being batched",
            self.metadata_cardinality.clone(),
        );
        r.register(
            format!("{p}_dropped_profiles"),
            "Profiles the batch processor had accepted and could not hand on, by reason",
            self.dropped_profiles.clone(),
        );
    }
}
