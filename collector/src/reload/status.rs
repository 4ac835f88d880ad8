//! The outcome of the last reload: kept for `/-/ready` and `/-/reload`,
//! logged, and exported like Prometheus's own
//! `prometheus_config_last_reload_*` gauges. Every outcome goes through
//! [`ReloadStatus::record`], which does all three.

use profcol_runtime::{MetricSet, Telemetry};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;
use tracing::{error, info};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabels {
    pub result: &'static str,
}

/// `profcol_config_*`.
#[derive(Default)]
pub struct ReloadMetrics {
    pub successful: Gauge,
    pub success_timestamp: Gauge<f64, AtomicU64>,
    pub reloads: Family<ResultLabels, Counter>,
}

impl MetricSet for ReloadMetrics {
    fn register(&self, r: &mut Registry) {
        r.register(
            "profcol_config_last_reload_successful",
            "Whether the last configuration reload attempt was successful (1) or not (0)",
            self.successful.clone(),
        );
        r.register(
            "profcol_config_last_reload_success_timestamp_seconds",
            "Unix time of the last successful configuration load (start-up or reload)",
            self.success_timestamp.clone(),
        );
        r.register(
            "profcol_config_reloads",
            "Configuration reload attempts, by result (success, failure)",
            self.reloads.clone(),
        );
    }
}

/// What last happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The configuration profcol started with; no reload yet.
    Started,
    Reloaded {
        summary: String,
    },
    Failed {
        problems: String,
    },
}

#[derive(Debug, Clone)]
struct Last {
    at: SystemTime,
    outcome: Outcome,
}

/// Shared between the reloader and the admin pages.
#[derive(Clone)]
pub struct ReloadStatus {
    last: Arc<Mutex<Last>>,
    metrics: Arc<ReloadMetrics>,
}

impl ReloadStatus {
    /// Records the start-up load as the first successful one.
    pub fn new(telemetry: &Telemetry) -> Self {
        let s = Self {
            last: Arc::new(Mutex::new(Last {
                at: SystemTime::now(),
                outcome: Outcome::Started,
            })),
            metrics: telemetry.metrics::<ReloadMetrics>(),
        };
        s.metrics.successful.set(1);
        s.metrics
            .success_timestamp
            .set(unix_secs(SystemTime::now()));
        s
    }

    /// Logs, counts and keeps `outcome` (of a reload asked for by `trigger`).
    pub fn record(&self, trigger: &str, outcome: Outcome) {
        let now = SystemTime::now();
        match &outcome {
            Outcome::Started => {}
            Outcome::Reloaded { summary } => {
                info!(trigger, changes = %summary, "Configuration reloaded.");
                self.metrics.successful.set(1);
                self.metrics.success_timestamp.set(unix_secs(now));
                self.count("success");
            }
            Outcome::Failed { problems } => {
                error!(trigger, error = %problems, "Configuration reload failed; the previous configuration keeps running.");
                self.metrics.successful.set(0);
                self.count("failure");
            }
        }
        *self.last.lock().unwrap_or_else(PoisonError::into_inner) = Last { at: now, outcome };
    }

    fn count(&self, result: &'static str) {
        self.metrics
            .reloads
            .get_or_create(&ResultLabels { result })
            .inc();
    }

    /// The last outcome.
    pub fn outcome(&self) -> Outcome {
        self.last
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .outcome
            .clone()
    }

    /// When the last load or reload attempt happened, and its outcome.
    pub fn last(&self) -> (SystemTime, Outcome) {
        let last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        (last.at, last.outcome.clone())
    }

    /// Extra lines for `/-/ready`: empty unless the last reload failed.
    pub fn ready_details(&self) -> String {
        let last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        match &last.outcome {
            Outcome::Failed { problems } => format!(
                "last reload failed at {}: {problems}\n",
                profcol_receiver::status::rfc3339(last.at)
            ),
            Outcome::Started | Outcome::Reloaded { .. } => String::new(),
        }
    }
}

fn unix_secs(t: SystemTime) -> f64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gauge_line(t: &Telemetry, name: &str) -> String {
        t.encode()
            .lines()
            .find(|l| l.starts_with(name) && !l.starts_with('#'))
            .unwrap_or_default()
            .to_string()
    }

    #[test]
    fn failure_then_success_moves_the_gauges_and_the_details() {
        let t = Telemetry::default();
        let s = ReloadStatus::new(&t);
        assert_eq!(
            gauge_line(&t, "profcol_config_last_reload_successful"),
            "profcol_config_last_reload_successful 1"
        );
        assert_eq!(s.ready_details(), "");
        s.record(
            "SIGHUP",
            Outcome::Failed {
                problems: "receivers::x: bad".into(),
            },
        );
        assert_eq!(
            gauge_line(&t, "profcol_config_last_reload_successful"),
            "profcol_config_last_reload_successful 0"
        );
        let details = s.ready_details();
        assert!(details.starts_with("last reload failed at "), "{details}");
        assert!(details.ends_with(": receivers::x: bad\n"), "{details}");
        let before = gauge_line(&t, "profcol_config_last_reload_success_timestamp_seconds");
        std::thread::sleep(std::time::Duration::from_millis(20));
        s.record(
            "POST /-/reload",
            Outcome::Reloaded {
                summary: "no component changed".into(),
            },
        );
        assert_eq!(s.ready_details(), "");
        assert_ne!(
            gauge_line(&t, "profcol_config_last_reload_success_timestamp_seconds"),
            before
        );
        let text = t.encode();
        assert!(
            text.contains("profcol_config_reloads_total{result=\"failure\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("profcol_config_reloads_total{result=\"success\"} 1"),
            "{text}"
        );
    }
}
