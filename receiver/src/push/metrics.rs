//! The push receivers' self-metrics, registered once per process and shared
//! by every `otlp` and `pyroscope` instance (told apart by `component`).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// One endpoint of one receiver: `protocol` is `grpc`, `http` (OTLP),
/// `ingest` or `push` (Pyroscope).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EndpointLabels {
    pub component: String,
    pub protocol: String,
}

/// A refusal and its short, stable reason (`decode`, `too_large`,
/// `unsupported_format`, `downstream_refused`, …).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RefusalLabels {
    pub component: String,
    pub protocol: String,
    pub reason: String,
}

type Hist = Family<EndpointLabels, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 1ms … ~16s.
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

pub struct PushMetrics {
    pub requests: Family<EndpointLabels, Counter>,
    pub profiles: Family<EndpointLabels, Counter>,
    pub bytes: Family<EndpointLabels, Counter>,
    pub refused: Family<RefusalLabels, Counter>,
    /// Time from a request's arrival to its answer.
    pub latency: Hist,
}

impl Default for PushMetrics {
    fn default() -> Self {
        Self {
            requests: Family::default(),
            profiles: Family::default(),
            bytes: Family::default(),
            refused: Family::default(),
            latency: Family::new_with_constructor(latency_histogram),
        }
    }
}

impl profcol_runtime::MetricSet for PushMetrics {
    fn register(&self, r: &mut Registry) {
        r.register(
            "profcol_receiver_accepted_requests",
            "Push requests accepted and handed downstream",
            self.requests.clone(),
        );
        r.register(
            "profcol_receiver_accepted_profiles",
            "Profiles in accepted push requests",
            self.profiles.clone(),
        );
        r.register(
            "profcol_receiver_accepted_bytes",
            "Bytes of accepted push request bodies as received",
            self.bytes.clone(),
        );
        r.register(
            "profcol_receiver_refused_requests",
            "Push requests answered with an error, by reason",
            self.refused.clone(),
        );
        r.register(
            "profcol_receiver_request_duration_seconds",
            "Time from a push request's arrival to its answer",
            self.latency.clone(),
        );
    }
}
