//! Everything the `batch` processor reports, logged and counted in one
//! place each.

use super::metrics::{BatchMetrics, ComponentLabel, DropLabels};
use profcol_pdata::Error as DataError;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tracing::{debug, warn};

/// Why a batch was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// It reached `send_batch_size` (or the processor does not wait).
    Size,
    /// Its `timeout` passed, or the processor stopped.
    Timeout,
}

/// Why accepted profiles were not handed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loss {
    /// The next hop refused them (a full exporter queue, a memory limit).
    Refused,
    /// The processor's shutdown deadline passed before they were sent.
    ShutdownTimeout,
}

impl Loss {
    fn reason(self) -> &'static str {
        match self {
            Loss::Refused => "downstream_refused",
            Loss::ShutdownTimeout => "shutdown_timeout",
        }
    }
}

pub struct BatchEvents {
    component: String,
    label: ComponentLabel,
    metrics: Arc<BatchMetrics>,
    warned_over_limit: AtomicBool,
}

impl BatchEvents {
    pub fn new(component: &str, metrics: Arc<BatchMetrics>) -> Self {
        Self {
            component: component.to_string(),
            label: ComponentLabel {
                component: component.to_string(),
            },
            metrics,
            warned_over_limit: AtomicBool::new(false),
        }
    }

    pub fn sent(&self, trigger: Trigger, samples: usize) {
        self.metrics
            .send_size
            .get_or_create(&self.label)
            .observe(samples as f64);
        let count = match trigger {
            Trigger::Size => &self.metrics.size_trigger_sends,
            Trigger::Timeout => &self.metrics.timeout_trigger_sends,
        };
        count.get_or_create(&self.label).inc();
    }

    /// Profiles already accepted (their senders were answered with success)
    /// that will not reach the exporters.
    pub fn lost(&self, profiles: usize, loss: Loss, error: Option<&DataError>) {
        if profiles == 0 {
            return;
        }
        self.metrics
            .dropped_profiles
            .get_or_create(&DropLabels {
                component: self.component.clone(),
                reason: loss.reason().to_string(),
            })
            .inc_by(profiles as u64);
        match (loss, error) {
            (Loss::Refused, Some(e)) => warn!(
                component = %self.component,
                profiles,
                error = %e,
                "The next hop refused a batch; its profiles had already been accepted from their senders, who cannot retry them, so they are dropped."
            ),
            _ => warn!(
                component = %self.component,
                profiles,
                "The shutdown deadline passed before these batched profiles were sent; they are dropped."
            ),
        }
    }

    pub fn cardinality(&self, combinations: usize) {
        self.metrics
            .metadata_cardinality
            .get_or_create(&self.label)
            .set(i64::try_from(combinations).unwrap_or(i64::MAX));
    }

    /// A batch needed a batcher beyond `metadata_cardinality_limit`; the
    /// receiver logs each refusal, this says why once.
    pub fn over_cardinality_limit(&self, limit: usize) {
        if !self.warned_over_limit.swap(true, Ordering::Relaxed) {
            warn!(
                component = %self.component,
                metadata_cardinality_limit = limit,
                "Profiles with a new combination of metadata_keys values are refused: the processor already batches as many combinations as its limit allows."
            );
        }
    }

    pub fn flushed_at_shutdown(&self, profiles: usize) {
        debug!(component = %self.component, profiles, "Batch processor handed on what it held.");
    }
}
