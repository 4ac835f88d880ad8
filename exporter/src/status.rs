//! A snapshot of what one exporter (or one endpoint of it) is doing, for the
//! admin server's `/components` page: queue length and capacity, requests
//! in flight, counts of sent, retried, failed and dropped profiles, and the
//! last error with its time. [`crate::events::ExporterEvents`] keeps it up
//! to date beside the metrics; nothing here carries a secret (errors are
//! the same texts the logs print).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

/// What one exporter endpoint reports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExporterStatus {
    /// The events id: the component id, with `[n]` for one endpoint of
    /// several.
    pub endpoint: String,
    /// Batches waiting in the sending queue.
    pub queue_length: usize,
    /// Capacity in batches (`None` without a queue or with a persistent one).
    pub queue_capacity: Option<usize>,
    pub queue_bytes: usize,
    /// Requests being sent right now (retries included).
    pub in_flight: usize,
    pub sent_profiles: u64,
    /// Failed attempts that were retried.
    pub retries: u64,
    /// Profiles given up after sending was attempted.
    pub failed_profiles: u64,
    /// Profiles never sent (queue full, too large, shutdown).
    pub dropped_profiles: u64,
    pub last_error: Option<String>,
    pub last_error_at: Option<SystemTime>,
    pub last_success_at: Option<SystemTime>,
}

impl ExporterStatus {
    /// The backend failed more recently than it last accepted a request:
    /// the exporter is degraded, with its last error as the reason.
    pub fn degraded(&self) -> Option<&str> {
        let error = self.last_error.as_deref()?;
        match (self.last_error_at, self.last_success_at) {
            (Some(e), Some(s)) if s >= e => None,
            _ => Some(error),
        }
    }
}

/// The live counters behind [`ExporterStatus`].
#[derive(Debug, Default)]
pub(crate) struct StatusCell {
    status: Mutex<ExporterStatus>,
    in_flight: Arc<AtomicUsize>,
}

impl StatusCell {
    pub(crate) fn new(endpoint: &str) -> Self {
        Self {
            status: Mutex::new(ExporterStatus {
                endpoint: endpoint.to_string(),
                ..Default::default()
            }),
            in_flight: Arc::default(),
        }
    }

    pub(crate) fn update(&self, f: impl FnOnce(&mut ExporterStatus)) {
        f(&mut self.status.lock().unwrap_or_else(PoisonError::into_inner));
    }

    pub(crate) fn error(&self, text: String) {
        self.update(|s| {
            s.last_error = Some(text);
            s.last_error_at = Some(SystemTime::now());
        });
    }

    pub(crate) fn snapshot(&self) -> ExporterStatus {
        let mut s = self
            .status
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        s.in_flight = self.in_flight.load(Ordering::Relaxed);
        s
    }

    pub(crate) fn begin_request(&self) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(self.in_flight.clone())
    }
}

/// One request in flight; counted until dropped.
pub struct InFlight(Arc<AtomicUsize>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn degraded_until_a_later_success() {
        let cell = StatusCell::new("otlp/a");
        assert_eq!(cell.snapshot().degraded(), None);
        cell.error("connection refused".into());
        assert_eq!(cell.snapshot().degraded(), Some("connection refused"));
        let later = SystemTime::now() + Duration::from_secs(1);
        cell.update(|s| s.last_success_at = Some(later));
        assert_eq!(cell.snapshot().degraded(), None);
        assert_eq!(
            cell.snapshot().last_error.as_deref(),
            Some("connection refused")
        );
    }

    #[test]
    fn in_flight_counts_live_guards() {
        let cell = StatusCell::new("otlp/a");
        let a = cell.begin_request();
        let b = cell.begin_request();
        assert_eq!(cell.snapshot().in_flight, 2);
        drop(a);
        assert_eq!(cell.snapshot().in_flight, 1);
        drop(b);
        assert_eq!(cell.snapshot().in_flight, 0);
    }
}
