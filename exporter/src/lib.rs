//! profcol's exporters: `otlp_grpc`, `otlp_http`, `pyroscope`, `file` and
//! `debug`, and the sending queue and retry helper they share.
//!
//! The collector decodes and starts exporters through [`EXPORTERS`] (the
//! factory of each type), then feeds [`ExporterHandle::consumer`] and
//! finally calls [`ExporterHandle::shutdown`].

pub mod batching;
pub mod compression;
pub mod config;
#[cfg(test)]
mod config_serialize_tests;
pub mod debug;
pub mod error;
pub mod events;
pub mod file;
pub mod grpc_status;
pub mod grpc_unary;
#[cfg(test)]
mod key_lists_tests;
pub mod metrics;
pub mod otlp_config;
pub mod otlp_grpc;
pub mod otlp_http;
pub mod otlp_requests;
pub mod otlp_response;
pub mod pipeline;
pub mod pyroscope;
pub mod queue;
pub mod registry;
pub mod retry;
pub mod rpc_status;
pub mod serialize;
pub mod split;
pub mod status;
pub mod storage;
pub mod storage_codec;
pub mod tls;

pub use error::Error;
pub use registry::{ExporterConfig, Exporters, EXPORTERS};

use pipeline::{Pipeline, PipelineConsumer};
use profcol_config::ComponentId;
use profcol_pdata::Consumer;
use profcol_runtime::ComponentContext;
use std::sync::Arc;

/// A running exporter.
pub struct ExporterHandle {
    consumer: Arc<dyn Consumer>,
    pipelines: Vec<Arc<Pipeline>>,
}

impl ExporterHandle {
    /// Where profiles go in. `consume()` queues and returns; it refuses a
    /// batch (an error, for the caller to count) when the queue is full.
    pub fn consumer(&self) -> Arc<dyn Consumer> {
        self.consumer.clone()
    }

    /// Where the `/components` page reads this exporter's state; it stays
    /// valid after the handle is shut down.
    pub fn status_source(&self) -> StatusSource {
        StatusSource(self.pipelines.iter().map(|p| p.events().clone()).collect())
    }

    /// Sends what is queued within `deadline`; what could not be sent is
    /// counted and logged.
    pub async fn shutdown(&self, deadline: std::time::Duration) {
        futures::future::join_all(self.pipelines.iter().map(|p| p.shutdown(deadline))).await;
    }
}

/// Reads the [`status::ExporterStatus`] of each endpoint of one exporter
/// (none for `debug`, which has no queue).
#[derive(Clone, Default)]
pub struct StatusSource(Vec<Arc<events::ExporterEvents>>);

impl StatusSource {
    pub fn snapshot(&self) -> Vec<status::ExporterStatus> {
        self.0.iter().map(|e| e.status()).collect()
    }
}

pub(crate) fn queued(pipelines: Vec<Arc<Pipeline>>) -> ExporterHandle {
    ExporterHandle {
        consumer: Arc::new(PipelineConsumer {
            pipelines: pipelines.clone(),
        }),
        pipelines,
    }
}

/// Decodes `body` and starts exporter `id` (inside a tokio runtime): for
/// tests and tools that hold a YAML body; the collector decodes once and
/// starts through [`EXPORTERS`].
pub fn start_exporter(
    id: &ComponentId,
    body: &profcol_config::Body,
    ctx: ComponentContext,
) -> Result<ExporterHandle, Error> {
    EXPORTERS.start_body(id, body, &format!("exporters::{id}"), ctx, ())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn same(kind: &str, a: &str, b: &str) -> bool {
        let yaml = |s: &str| profcol_config::Body::parse(s).unwrap();
        let id: ComponentId = kind.parse().unwrap();
        EXPORTERS.decode(&id, &yaml(a), "").unwrap() == EXPORTERS.decode(&id, &yaml(b), "").unwrap()
    }

    #[test]
    fn typed_configs_compare_equal_however_spelled() {
        let otlp = "{endpoint: 'h:4317', timeout: 5s}";
        assert!(same("otlp", otlp, "{timeout: 5000ms, endpoint: 'h:4317'}"));
        assert!(!same("otlp", otlp, "{endpoint: 'h:4317', timeout: 6s}"));
        // A default written out.
        assert!(same(
            "otlp_http",
            "{endpoint: 'http://h:4318'}",
            "{endpoint: 'http://h:4318', timeout: 10s, compression: gzip}"
        ));
        assert!(same(
            "file",
            "{directory: /d}",
            "{directory: /d, max_files: 1000}"
        ));
        assert!(!same("file", "{directory: /d}", "{directory: /e}"));
        let pyro = |password: &str, timeout: &str| {
            format!("{{endpoint: {{url: 'http://h:4040', remote_timeout: {timeout}, basic_auth: {{username: u, password: {password}}}}}}}")
        };
        assert!(same("pyroscope", &pyro("a", "10s"), &pyro("a", "10000ms")));
        assert!(
            !same("pyroscope", &pyro("a", "10s"), &pyro("b", "10s")),
            "a changed password is a change"
        );
        let otlp_header =
            |v: &str| format!("{{endpoint: 'h:4317', headers: {{authorization: {v}}}}}");
        assert!(!same(
            "otlp",
            &otlp_header("'Bearer a'"),
            &otlp_header("'Bearer b'")
        ));
    }
}
