//! Everything an exporter reports goes through here, so each event logs and
//! counts in one place. Warnings about losses are rate-limited per reason:
//! the first of a burst is logged, the rest are summed into the next line.

use crate::metrics::{CodeLabels, ExporterLabel, ExporterMetrics, ReasonLabels};
use crate::status::{ExporterStatus, InFlight, StatusCell};
use prometheus_client::metrics::gauge::Gauge;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tracing::{debug, info, warn};

/// How often each kind of loss may be logged.
const WARN_EVERY: Duration = Duration::from_secs(10);

/// The events of one exporter instance (or one endpoint of it).
pub struct ExporterEvents {
    id: String,
    metrics: Arc<ExporterMetrics>,
    label: ExporterLabel,
    limiter: Mutex<HashMap<&'static str, (Instant, u64)>>,
    /// Whether a persistent queue reports through these events.
    storage: std::sync::atomic::AtomicBool,
    /// The same events as a snapshot for the `/components` page.
    status: StatusCell,
}

impl ExporterEvents {
    pub fn new(id: impl Into<String>, metrics: Arc<ExporterMetrics>) -> Self {
        let id = id.into();
        Self {
            label: ExporterLabel {
                exporter: id.clone(),
            },
            status: StatusCell::new(&id),
            id,
            metrics,
            limiter: Mutex::default(),
            storage: Default::default(),
        }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// What this exporter (endpoint) is doing now.
    pub fn status(&self) -> ExporterStatus {
        self.status.snapshot()
    }

    /// Counts a request as in flight until the guard is dropped.
    pub fn begin_request(&self) -> InFlight {
        self.status.begin_request()
    }

    fn reason(&self, reason: &str) -> ReasonLabels {
        ReasonLabels {
            exporter: self.id.clone(),
            reason: reason.to_string(),
        }
    }

    /// `Some(n)` when a warning may be logged now, with `n` suppressed since
    /// the last one.
    fn may_warn(&self, key: &'static str, profiles: u64) -> Option<u64> {
        let mut map = self.limiter.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        match map.get_mut(key) {
            Some((last, suppressed)) if now.duration_since(*last) < WARN_EVERY => {
                *suppressed += profiles;
                None
            }
            Some((last, suppressed)) => {
                let n = *suppressed;
                *last = now;
                *suppressed = 0;
                Some(n)
            }
            None => {
                map.insert(key, (now, 0));
                Some(0)
            }
        }
    }

    pub fn queue_capacity(&self, capacity: usize) {
        self.status.update(|s| s.queue_capacity = Some(capacity));
        self.metrics
            .queue_capacity
            .get_or_create(&self.label)
            .set(capacity as i64);
    }

    /// The gauge of callers waiting for room in this exporter's full queue.
    pub fn queue_waiting_gauge(&self) -> Gauge {
        self.metrics
            .queue_waiting
            .get_or_create(&self.label)
            .clone()
    }

    /// With a persistent queue, `bytes` is what its files take on disk
    /// and is also reported as `storage_bytes`.
    pub fn queue_usage(&self, batches: usize, bytes: usize) {
        self.status.update(|s| {
            s.queue_length = batches;
            s.queue_bytes = bytes;
        });
        self.metrics
            .queue_length
            .get_or_create(&self.label)
            .set(batches as i64);
        self.metrics
            .queue_bytes
            .get_or_create(&self.label)
            .set(bytes as i64);
        if self.storage.load(std::sync::atomic::Ordering::Relaxed) {
            self.metrics
                .storage_bytes
                .get_or_create(&self.label)
                .set(bytes as i64);
        }
    }

    /// The persistent queue opened with what a previous run left.
    pub fn storage_loaded(&self, batches: usize, profiles: usize, bytes: u64) {
        self.storage
            .store(true, std::sync::atomic::Ordering::Relaxed);
        self.metrics
            .storage_bytes
            .get_or_create(&self.label)
            .set(bytes as i64);
        if batches > 0 {
            info!(exporter = %self.id, batches, profiles, bytes, "Persistent queue: resending batches left by the previous run.");
        }
    }

    /// A damaged record (or stretch of a file) was skipped.
    pub fn storage_corrupt(&self, file: &std::path::Path, offset: u64, reason: &str) {
        self.metrics
            .storage_corrupt_records
            .get_or_create(&self.label)
            .inc();
        warn!(exporter = %self.id, file = %file.display(), offset, reason, "Persistent queue: skipped a damaged record.");
    }

    /// A profile or OTLP request read back from the persistent queue failed
    /// the input checks and was left out of its batch.
    pub fn storage_refused(
        &self,
        file: &std::path::Path,
        offset: u64,
        refused: &crate::storage_codec::Refused,
    ) {
        self.metrics
            .storage_refused
            .get_or_create(&self.reason(refused.reason))
            .inc();
        warn!(
            exporter = %self.id,
            file = %file.display(),
            offset,
            item = %refused.item,
            reason = refused.reason,
            error = %refused.detail,
            "Persistent queue: dropped a stored profile that fails the input checks."
        );
    }

    /// A file operation of the persistent queue failed.
    pub fn storage_io_error(
        &self,
        op: &'static str,
        path: &std::path::Path,
        error: &std::io::Error,
    ) {
        self.metrics
            .storage_errors
            .get_or_create(&self.reason(op))
            .inc();
        if self.may_warn("storage_io", 0).is_some() {
            warn!(exporter = %self.id, op, path = %path.display(), %error, "Persistent queue: file operation failed.");
        }
    }

    /// Shutdown interrupted sending profiles that stay on disk.
    pub fn storage_interrupted(&self, profiles: u64) {
        debug!(exporter = %self.id, profiles, "Sending interrupted by shutdown; the batch stays in the persistent queue.");
    }

    /// Stopped with batches still on disk, for the next start.
    pub fn storage_kept(&self, batches: usize, bytes: u64) {
        if batches > 0 {
            info!(exporter = %self.id, batches, bytes, "Persistent queue: batches kept on disk for the next start.");
        }
    }

    /// Profiles that will never be sent.
    pub fn dropped(&self, reason: &'static str, profiles: u64, bytes: u64, detail: &str) {
        self.status.update(|s| s.dropped_profiles += profiles);
        if reason != "shutdown" {
            self.status.error(format!("dropped ({reason}): {detail}"));
        }
        let labels = self.reason(reason);
        self.metrics
            .dropped_profiles
            .get_or_create(&labels)
            .inc_by(profiles);
        self.metrics
            .dropped_bytes
            .get_or_create(&labels)
            .inc_by(bytes);
        if let Some(suppressed) = self.may_warn(reason, profiles) {
            warn!(
                exporter = %self.id,
                reason,
                profiles,
                bytes,
                suppressed_since_last_warning = suppressed,
                detail,
                "Dropped profiles."
            );
        }
    }

    /// One profile encodes to more than the request limit `key` (`limit`
    /// bytes): it can never be sent, so it is dropped, counted under reason
    /// `too_large` and logged with the limit's name.
    pub fn request_too_large(&self, key: &str, limit: u64, bytes: usize) {
        let detail = format!(
            "one profile encodes to {bytes} bytes, more than {key} ({limit}); raise {key} or lower the profile's size"
        );
        self.dropped("too_large", 1, bytes as u64, &detail);
    }

    /// A received OTLP request is to be sent in the compressed body it
    /// arrived in.
    pub fn sent_as_received(&self) {
        self.metrics
            .sent_as_received
            .get_or_create(&self.label)
            .inc();
    }

    /// A received OTLP request over `max_request_bytes` was converted to
    /// pprof records to be split (what pprof cannot hold is lost).
    pub fn oversized_otlp_converted(&self, bytes: u64, limit: u64, records: usize) {
        tracing::warn!(
            exporter = %self.id,
            bytes,
            max_request_bytes = limit,
            records,
            "A received OTLP request is larger than max_request_bytes: converted to pprof and split; attributes pprof cannot hold are lost."
        );
    }

    /// One send attempt failed with `code` (a gRPC code name such as
    /// `INVALID_ARGUMENT`, or `HTTP_<status>` when an HTTP error body
    /// carries no status). Counted for every attempt; the retry or the
    /// giving up is logged by [`Self::retrying`] and [`Self::failed`].
    pub fn send_error(&self, code: &str) {
        self.metrics
            .send_errors
            .get_or_create(&CodeLabels {
                exporter: self.id.clone(),
                code: code.to_string(),
            })
            .inc();
    }

    /// An attempt failed and will be retried after `wait`.
    pub fn retrying(&self, error: &str, wait: Duration) {
        self.status.update(|s| s.retries += 1);
        self.status.error(error.to_string());
        self.metrics.retries.get_or_create(&self.label).inc();
        if self.may_warn("retrying", 0).is_some() {
            warn!(exporter = %self.id, error, retry_in = ?wait, "Export failed, will retry.");
        } else {
            debug!(exporter = %self.id, error, retry_in = ?wait, "Export failed, will retry.");
        }
    }

    /// Sending was attempted and given up.
    pub fn failed(&self, reason: &'static str, profiles: u64, bytes: u64, error: &str) {
        self.status.update(|s| s.failed_profiles += profiles);
        self.status.error(format!("given up ({reason}): {error}"));
        let labels = self.reason(reason);
        self.metrics
            .failed_profiles
            .get_or_create(&labels)
            .inc_by(profiles);
        self.metrics
            .failed_bytes
            .get_or_create(&labels)
            .inc_by(bytes);
        if let Some(suppressed) = self.may_warn(reason, profiles) {
            warn!(
                exporter = %self.id,
                reason,
                profiles,
                bytes,
                suppressed_since_last_warning = suppressed,
                error,
                "Export failed, profiles given up."
            );
        }
    }

    pub fn sent(&self, profiles: u64, bytes: u64) {
        self.status.update(|s| {
            s.sent_profiles += profiles;
            s.last_success_at = Some(std::time::SystemTime::now());
        });
        self.metrics
            .sent_profiles
            .get_or_create(&self.label)
            .inc_by(profiles);
        self.metrics
            .sent_bytes
            .get_or_create(&self.label)
            .inc_by(bytes);
        debug!(exporter = %self.id, profiles, bytes, "Exported profiles.");
    }

    pub fn attempt_took(&self, elapsed: Duration) {
        self.metrics
            .request_duration
            .get_or_create(&self.label)
            .observe(elapsed.as_secs_f64());
    }

    /// The backend accepted the request but reported part of it rejected.
    pub fn partial_success(&self, rejected: i64, message: &str) {
        if rejected > 0 {
            self.metrics
                .rejected_profiles
                .get_or_create(&self.label)
                .inc_by(rejected.unsigned_abs());
        }
        if self.may_warn("partial_success", 0).is_some() {
            warn!(exporter = %self.id, rejected, error_message = message, "Backend reported a partial success.");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use profcol_runtime::Telemetry;

    #[test]
    fn drops_count_every_time_but_warn_once_per_burst() {
        let t = Telemetry::default();
        let e = ExporterEvents::new("otlp_http/a", t.metrics::<ExporterMetrics>());
        assert_eq!(e.may_warn("x", 1), Some(0));
        assert_eq!(e.may_warn("x", 2), None);
        assert_eq!(
            e.may_warn("y", 1),
            Some(0),
            "reasons are limited separately"
        );
        e.dropped("queue_full", 3, 30, "");
        e.dropped("queue_full", 2, 20, "");
        let page = t.encode();
        assert!(
            page.contains(r#"profcol_exporter_dropped_profiles_total{exporter="otlp_http/a",reason="queue_full"} 5"#),
            "{page}"
        );
        assert!(page.contains(
            r#"profcol_exporter_dropped_bytes_total{exporter="otlp_http/a",reason="queue_full"} 50"#
        ));
    }
}
