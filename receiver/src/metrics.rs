//! The scrape receiver's self-metrics, registered once per process and
//! shared by every `pyroscope_scrape` instance (told apart by `component`).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ComponentLabels {
    pub component: String,
}

/// One scrape job.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TargetLabels {
    pub component: String,
    pub job: String,
    pub instance: String,
    pub profile_type: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    pub component: String,
    pub reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SourceLabels {
    pub component: String,
    pub source: String,
}

type Hist = Family<ComponentLabels, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 1ms … ~16s.
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

pub struct ScrapeMetrics {
    /// Time spent handing a scraped profile downstream (`next.consume`).
    pub fanout_latency: Hist,
    pub up: Family<TargetLabels, Gauge>,
    pub duration: Family<TargetLabels, Gauge<f64, AtomicU64>>,
    pub bytes: Family<TargetLabels, Gauge>,
    pub samples: Family<TargetLabels, Gauge>,
    pub errors: Family<ErrorLabels, Counter>,
    /// Samples whose stack was cut to `max_stack_depth` frames.
    pub truncated_stacks: Family<ComponentLabels, Counter>,
    /// Scrapes not started because the process is over its memory bound.
    pub refused: Family<ErrorLabels, Counter>,
    pub forwarded: Family<ComponentLabels, Counter>,
    pub dropped: Family<ComponentLabels, Counter>,
    /// Time scrape jobs spent waiting for their pipeline to take a profile.
    pub backpressure_seconds: Family<ComponentLabels, Counter<f64, AtomicU64>>,
    /// Scrape jobs waiting for their pipeline now.
    pub backpressure_waiting: Family<ComponentLabels, Gauge>,
    pub discovery_errors: Family<SourceLabels, Counter>,
    pub active_jobs: Family<ComponentLabels, Gauge>,
    /// The receiver's share of the process's scrapes in flight.
    pub scrape_slots: Family<ComponentLabels, Gauge>,
    /// In a cluster: targets this node owns, and targets all members share.
    pub owned_targets: Family<ComponentLabels, Gauge>,
    pub cluster_targets: Family<ComponentLabels, Gauge>,
}

impl Default for ScrapeMetrics {
    fn default() -> Self {
        Self {
            fanout_latency: Family::new_with_constructor(latency_histogram),
            up: Family::default(),
            duration: Family::default(),
            bytes: Family::default(),
            samples: Family::default(),
            errors: Family::default(),
            truncated_stacks: Family::default(),
            refused: Family::default(),
            forwarded: Family::default(),
            dropped: Family::default(),
            backpressure_seconds: Family::default(),
            backpressure_waiting: Family::default(),
            discovery_errors: Family::default(),
            active_jobs: Family::default(),
            scrape_slots: Family::default(),
            owned_targets: Family::default(),
            cluster_targets: Family::default(),
        }
    }
}

impl profcol_runtime::MetricSet for ScrapeMetrics {
    fn register(&self, r: &mut Registry) {
        r.register(
            "pyroscope_fanout_latency",
            "Write latency in seconds for sending scraped profiles downstream",
            self.fanout_latency.clone(),
        );
        r.register(
            "pyroscope_scrape_up",
            "1 if the last scrape of the target succeeded, 0 otherwise",
            self.up.clone(),
        );
        r.register(
            "pyroscope_scrape_duration_seconds",
            "Duration of the last scrape of the target",
            self.duration.clone(),
        );
        r.register(
            "pyroscope_scrape_body_bytes",
            "Size of the last scraped body as served",
            self.bytes.clone(),
        );
        r.register(
            "pyroscope_scrape_samples",
            "Samples in the last scraped profile",
            self.samples.clone(),
        );
        r.register(
            "pyroscope_scrape_errors",
            "Failed scrapes by reason",
            self.errors.clone(),
        );
        r.register(
            "pyroscope_scrape_truncated_stacks",
            "Scraped samples whose stack was deeper than max_stack_depth and was cut to its root-most frames",
            self.truncated_stacks.clone(),
        );
        r.register(
            "pyroscope_scrape_refused",
            "Scrapes not started, by reason (memory_limit: the collector is over service.memory_limit_mib; backpressure: the job was still waiting for its pipeline to take the previous profile)",
            self.refused.clone(),
        );
        r.register(
            "pyroscope_scrape_profiles_forwarded",
            "Profiles handed downstream",
            self.forwarded.clone(),
        );
        r.register(
            "pyroscope_scrape_profiles_dropped",
            "Scraped profiles the downstream refused",
            self.dropped.clone(),
        );
        r.register(
            "pyroscope_scrape_backpressure_seconds",
            "Time scrape jobs spent waiting for a full sending queue with block_on_overflow to take a profile",
            self.backpressure_seconds.clone(),
        );
        r.register(
            "pyroscope_scrape_backpressure_waiting",
            "Scrape jobs waiting now for a full sending queue with block_on_overflow to take a profile",
            self.backpressure_waiting.clone(),
        );
        r.register(
            "pyroscope_scrape_discovery_errors",
            "Failed service discovery refreshes",
            self.discovery_errors.clone(),
        );
        r.register(
            "pyroscope_scrape_active_jobs",
            "Running scrape jobs (one per target and profile type)",
            self.active_jobs.clone(),
        );
        r.register(
            "pyroscope_scrape_slots",
            "Scrapes this receiver may have in flight at once: its share of the process's bound derived from the open-file limit, recomputed as receivers and their jobs come and go",
            self.scrape_slots.clone(),
        );
        r.register(
            "pyroscope_scrape_cluster_owned_targets",
            "Targets this node owns and scrapes (clustering enabled; before the per-profile-type expansion)",
            self.owned_targets.clone(),
        );
        r.register(
            "pyroscope_scrape_cluster_targets",
            "Targets shared by every cluster member (clustering enabled; this node's and the others')",
            self.cluster_targets.clone(),
        );
    }
}

impl ScrapeMetrics {
    /// Drops a stopped job's per-target series.
    pub fn forget(&self, l: &TargetLabels) {
        self.up.remove(l);
        self.duration.remove(l);
        self.bytes.remove(l);
        self.samples.remove(l);
    }
}
