//! profcol's exporters: `otlp_grpc`, `otlp_http`, `pyroscope`, `file` and
//! `debug`, and the sending queue and retry helper they share.
//!
//! The collector calls [`exporter_types`], [`validate_exporter`] and
//! [`start_exporter`], then feeds [`ExporterHandle::consumer`] and finally
//! calls [`ExporterHandle::shutdown`].

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
pub use registry::ExporterConfig;

use pipeline::{Pipeline, PipelineConsumer};
use profcol_config::{ComponentId, Problem};
use profcol_pdata::Consumer;
use profcol_runtime::ComponentContext;
use std::sync::Arc;

/// Every exporter type with its stability, each alias after its type.
pub fn exporter_types() -> Vec<(&'static str, &'static str)> {
    registry::TYPES
        .iter()
        .flat_map(|t| {
            std::iter::once(t.name)
                .chain(t.aliases.iter().copied())
                .map(move |name| (name, t.stability))
        })
        .collect()
}

fn parse(
    id: &ComponentId,
    body: &profcol_config::yaml::Value,
    path: &str,
) -> Result<ExporterConfig, Vec<Problem>> {
    match registry::lookup(id.kind()) {
        Some(t) => (t.decode)(body, path),
        None => {
            let known: Vec<&str> = exporter_types().into_iter().map(|(t, _)| t).collect();
            Err(vec![Problem::new(
                path,
                profcol_config::suggest::unknown_type("exporter", id.kind(), &known, None),
            )])
        }
    }
}

/// Where the exporter `id` sends profiles, for the start-up log (see
/// [`ExporterConfig::destination`]). `None` when the config does not decode.
pub fn destination(id: &ComponentId, body: &profcol_config::yaml::Value) -> Option<String> {
    parse(id, body, "").ok().map(|c| c.destination())
}

/// Whether two bodies of exporter `id` configure the same exporter: both
/// decode to equal typed configs, defaults applied and durations parsed
/// (`timeout: 5s` = `5000ms`; a changed secret is a change). When either
/// does not decode, whether the bodies are equal.
pub fn same_config(
    id: &ComponentId,
    old: &profcol_config::yaml::Value,
    new: &profcol_config::yaml::Value,
) -> bool {
    let path = format!("exporters::{id}");
    match (parse(id, old, &path), parse(id, new, &path)) {
        (Ok(a), Ok(b)) => a == b,
        _ => old == new,
    }
}

/// Checks an exporter's config; every problem at once, each under `path`.
pub fn validate_exporter(
    id: &ComponentId,
    body: &profcol_config::yaml::Value,
    path: &str,
) -> Result<(), Vec<Problem>> {
    parse(id, body, path).map(|_| ())
}

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
    pub async fn shutdown(self, deadline: std::time::Duration) {
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

fn queued(pipelines: Vec<Arc<Pipeline>>) -> ExporterHandle {
    ExporterHandle {
        consumer: Arc::new(PipelineConsumer {
            pipelines: pipelines.clone(),
        }),
        pipelines,
    }
}

/// Starts the exporter `id` (inside a tokio runtime).
pub fn start_exporter(
    id: &ComponentId,
    body: &profcol_config::yaml::Value,
    ctx: ComponentContext,
) -> Result<ExporterHandle, Error> {
    let path = format!("exporters::{id}");
    let mut parsed = parse(id, body, &path).map_err(Error::Config)?;
    if let Some(storage) = parsed.queue_mut().and_then(|q| q.storage.as_mut()) {
        storage.read_back_limits = ctx.read_back_limits.clone();
    }
    let name = id.to_string();
    match parsed {
        ExporterConfig::OtlpGrpc(cfg) => {
            Ok(queued(vec![otlp_grpc::start(&name, &cfg, &ctx.telemetry)?]))
        }
        ExporterConfig::OtlpHttp(cfg) => {
            Ok(queued(vec![otlp_http::start(&name, &cfg, &ctx.telemetry)?]))
        }
        ExporterConfig::Pyroscope(cfg) => {
            Ok(queued(pyroscope::start(&name, &cfg, &ctx.telemetry)?))
        }
        ExporterConfig::File(cfg) => Ok(queued(vec![file::start(&name, &cfg, &ctx.telemetry)?])),
        ExporterConfig::Debug(cfg) => Ok(ExporterHandle {
            consumer: Arc::new(debug::DebugConsumer::new(&name, &cfg)),
            pipelines: Vec::new(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn same(kind: &str, a: &str, b: &str) -> bool {
        let yaml =
            |s: &str| profcol_config::yaml::from_str::<profcol_config::yaml::Value>(s).unwrap();
        same_config(&kind.parse().unwrap(), &yaml(a), &yaml(b))
    }

    #[test]
    fn same_config_compares_typed_configs() {
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
        // What does not decode is compared as written.
        assert!(!same("file", "{max_files: x}", "{max_files: y}"));
        assert!(same("file", "{max_files: x}", "{max_files: x}"));
    }
}
