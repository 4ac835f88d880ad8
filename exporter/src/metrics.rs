//! The exporters' self-metrics, one family set shared by every exporter
//! instance and told apart by the `exporter` label.

use profcol_runtime::MetricSet;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ExporterLabel {
    pub exporter: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    pub exporter: String,
    pub reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CodeLabels {
    pub exporter: String,
    pub code: String,
}

/// Latency buckets in seconds, 5ms to 60s.
pub const LATENCY_BUCKETS: [f64; 13] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

pub type Hist = Family<ExporterLabel, Histogram, fn() -> Histogram>;

pub fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

pub struct ExporterMetrics {
    pub sent_profiles: Family<ExporterLabel, Counter>,
    pub sent_bytes: Family<ExporterLabel, Counter>,
    /// Sending was attempted and given up (permanent error, retries
    /// exhausted, shutdown).
    pub failed_profiles: Family<ReasonLabels, Counter>,
    pub failed_bytes: Family<ReasonLabels, Counter>,
    /// Never sent: refused by a full queue, invalid, unencodable, or still
    /// queued at the shutdown deadline.
    pub dropped_profiles: Family<ReasonLabels, Counter>,
    pub dropped_bytes: Family<ReasonLabels, Counter>,
    pub retries: Family<ExporterLabel, Counter>,
    /// Failed send attempts (retried or not), by status code.
    pub send_errors: Family<CodeLabels, Counter>,
    /// Profiles the server reported as rejected in a partial success.
    pub rejected_profiles: Family<ExporterLabel, Counter>,
    /// Received OTLP requests sent in the compressed body they arrived in.
    pub sent_as_received: Family<ExporterLabel, Counter>,
    pub queue_length: Family<ExporterLabel, Gauge>,
    pub queue_capacity: Family<ExporterLabel, Gauge>,
    pub queue_bytes: Family<ExporterLabel, Gauge>,
    /// Callers waiting for room in a full queue (`block_on_overflow`).
    pub queue_waiting: Family<ExporterLabel, Gauge>,
    pub request_duration: Hist,
    /// Persistent queue: damaged records (or stretches) skipped.
    pub storage_corrupt_records: Family<ExporterLabel, Counter>,
    /// Persistent queue: profiles and OTLP requests read back that failed
    /// the input checks, by reason.
    pub storage_refused: Family<ReasonLabels, Counter>,
    /// Persistent queue: bytes its files take on disk.
    pub storage_bytes: Family<ExporterLabel, Gauge>,
    /// Persistent queue: file operations that failed.
    pub storage_errors: Family<ReasonLabels, Counter>,
}

impl Default for ExporterMetrics {
    fn default() -> Self {
        Self {
            sent_profiles: Family::default(),
            sent_bytes: Family::default(),
            failed_profiles: Family::default(),
            failed_bytes: Family::default(),
            dropped_profiles: Family::default(),
            dropped_bytes: Family::default(),
            retries: Family::default(),
            send_errors: Family::default(),
            rejected_profiles: Family::default(),
            sent_as_received: Family::default(),
            queue_length: Family::default(),
            queue_capacity: Family::default(),
            queue_bytes: Family::default(),
            queue_waiting: Family::default(),
            request_duration: Family::new_with_constructor(latency_histogram),
            storage_corrupt_records: Family::default(),
            storage_refused: Family::default(),
            storage_bytes: Family::default(),
            storage_errors: Family::default(),
        }
    }
}

impl MetricSet for ExporterMetrics {
    fn register(&self, r: &mut Registry) {
        let p = "profcol_exporter";
        r.register(
            format!("{p}_sent_profiles"),
            "Profiles the backend accepted",
            self.sent_profiles.clone(),
        );
        r.register(
            format!("{p}_sent_bytes"),
            "Request body bytes the backend accepted",
            self.sent_bytes.clone(),
        );
        r.register(
            format!("{p}_failed_profiles"),
            "Profiles given up after sending was attempted, by reason",
            self.failed_profiles.clone(),
        );
        r.register(
            format!("{p}_failed_bytes"),
            "Bytes of the profiles given up, by reason",
            self.failed_bytes.clone(),
        );
        r.register(
            format!("{p}_dropped_profiles"),
            "Profiles never sent (queue full, invalid, shutdown), by reason",
            self.dropped_profiles.clone(),
        );
        r.register(
            format!("{p}_dropped_bytes"),
            "Bytes of the profiles never sent, by reason",
            self.dropped_bytes.clone(),
        );
        r.register(
            format!("{p}_retries"),
            "Failed attempts that were retried",
            self.retries.clone(),
        );
        r.register(
            format!("{p}_send_errors"),
            "Failed send attempts, retried or not, by status code (gRPC code name, the google.rpc.Status code of an OTLP/HTTP error body, or HTTP_<status>)",
            self.send_errors.clone(),
        );
        r.register(
            format!("{p}_rejected_profiles"),
            "Profiles the backend reported as rejected in a partial success",
            self.rejected_profiles.clone(),
        );
        r.register(
            format!("{p}_requests_sent_as_received"),
            "Received OTLP requests prepared for sending in the compressed body they arrived in (the exporter's compression matches the sender's), not compressed again",
            self.sent_as_received.clone(),
        );
        r.register(
            format!("{p}_queue_length"),
            "Batches waiting in the sending queue",
            self.queue_length.clone(),
        );
        r.register(
            format!("{p}_queue_capacity"),
            "Capacity of the sending queue in batches",
            self.queue_capacity.clone(),
        );
        r.register(
            format!("{p}_queue_bytes"),
            "Bytes of profile data waiting in the sending queue",
            self.queue_bytes.clone(),
        );
        r.register(
            format!("{p}_queue_waiting_callers"),
            "Callers waiting for room in a full sending queue (block_on_overflow)",
            self.queue_waiting.clone(),
        );
        r.register(
            format!("{p}_request_duration_seconds"),
            "Duration of one send attempt",
            self.request_duration.clone(),
        );
        r.register(
            format!("{p}_storage_corrupt_records"),
            "Damaged records of the persistent queue that were skipped",
            self.storage_corrupt_records.clone(),
        );
        r.register(
            format!("{p}_storage_refused"),
            "Profiles and OTLP requests read back from the persistent queue that failed the input checks and were dropped, by reason",
            self.storage_refused.clone(),
        );
        r.register(
            format!("{p}_storage_bytes"),
            "Bytes the persistent queue's files take on disk",
            self.storage_bytes.clone(),
        );
        r.register(
            format!("{p}_storage_errors"),
            "Persistent queue file operations that failed, by operation",
            self.storage_errors.clone(),
        );
    }
}
