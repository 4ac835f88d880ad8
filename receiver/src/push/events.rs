//! What a push receiver logs and counts about each request, in one place so
//! that a log line, its metric and the components page never drift apart.
//!
//! ```ignore
//! let events = PushEvents::new(&ctx, "pyroscope/sdk");
//! events.accepted("ingest", 1, body.len(), started.elapsed());
//! events.refused("ingest", "unsupported_format", "format \"jfr\" is not supported", started.elapsed());
//! ```

use super::metrics::{EndpointLabels, PushMetrics, RefusalLabels};
use super::status::PushStatus;
use profcol_runtime::ComponentContext;
use std::sync::Arc;
use std::time::Duration;

/// A receiver's events: its metrics (shared by the process) and its status.
#[derive(Clone)]
pub struct PushEvents {
    component: String,
    metrics: Arc<PushMetrics>,
    status: Arc<PushStatus>,
}

impl PushEvents {
    pub fn new(ctx: &ComponentContext, component: &str) -> Self {
        Self {
            component: component.to_string(),
            metrics: ctx.telemetry.metrics::<PushMetrics>(),
            status: Arc::default(),
        }
    }

    /// The status the components page reads.
    pub fn status(&self) -> &Arc<PushStatus> {
        &self.status
    }

    pub fn component(&self) -> &str {
        &self.component
    }

    fn endpoint(&self, protocol: &str) -> EndpointLabels {
        EndpointLabels {
            component: self.component.clone(),
            protocol: protocol.to_string(),
        }
    }

    /// `protocol` listens on `addr`.
    pub fn listening(&self, protocol: &str, addr: std::net::SocketAddr) {
        self.status.listening(protocol, addr);
        tracing::info!(component = %self.component, protocol, address = %addr, "Push receiver listening.");
    }

    /// A request of `bytes` (as received) whose `profiles` went downstream.
    pub fn accepted(&self, protocol: &str, profiles: usize, bytes: usize, took: Duration) {
        let l = self.endpoint(protocol);
        self.metrics.requests.get_or_create(&l).inc();
        self.metrics
            .profiles
            .get_or_create(&l)
            .inc_by(profiles as u64);
        self.metrics.bytes.get_or_create(&l).inc_by(bytes as u64);
        self.metrics
            .latency
            .get_or_create(&l)
            .observe(took.as_secs_f64());
        self.status.accepted(profiles);
        tracing::debug!(component = %self.component, protocol, profiles, bytes, "Push request accepted.");
    }

    /// A request answered with an error: `reason` is a short stable label,
    /// `detail` what the sender was told. Bad input is logged at debug (a
    /// misbehaving sender must not flood the log; the metric and the
    /// components page show it), a downstream refusal at warn.
    pub fn refused(&self, protocol: &str, reason: &str, detail: &str, took: Duration) {
        let l = self.endpoint(protocol);
        self.metrics
            .refused
            .get_or_create(&RefusalLabels {
                component: self.component.clone(),
                protocol: protocol.to_string(),
                reason: reason.to_string(),
            })
            .inc();
        self.metrics
            .latency
            .get_or_create(&l)
            .observe(took.as_secs_f64());
        self.status.refused(detail);
        if reason == DOWNSTREAM_REFUSED {
            tracing::warn!(component = %self.component, protocol, reason, error = %detail, "Push request refused: the pipeline did not take it.");
        } else {
            tracing::debug!(component = %self.component, protocol, reason, error = %detail, "Push request refused.");
        }
    }
}

/// The reason label of a request the pipeline did not take (full queue,
/// memory limit, shutdown): the sender should retry later.
pub const DOWNSTREAM_REFUSED: &str = "downstream_refused";
