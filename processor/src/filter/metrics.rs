//! The `filter` processor's self-metric, named like the Collector's
//! (`otelcol_processor_filter_profiles.filtered` there,
//! `profcol_processor_filter_profiles_filtered_total` here), shared by every
//! instance and told apart by `component`.

use profcol_runtime::MetricSet;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ComponentLabel {
    pub component: String,
}

#[derive(Default)]
pub struct FilterMetrics {
    /// OTLP profiles dropped: one per sample type of a pprof record, one per
    /// `Profile` of a received OTLP request.
    pub profiles_filtered: Family<ComponentLabel, Counter>,
}

impl MetricSet for FilterMetrics {
    fn register(&self, r: &mut Registry) {
        r.register(
            "profcol_processor_filter_profiles_filtered",
            "Profiles the filter processor dropped (one per sample type of a scraped profile)",
            self.profiles_filtered.clone(),
        );
    }
}
