//! The exporter types: one [`Factory`] each, listed in [`EXPORTERS`]. The
//! listing (`profcol components`), validation, reload comparison, the
//! start-up log's destinations and starting an exporter all go through it,
//! so a new exporter type is a factory here, listed in [`EXPORTERS`], a
//! variant of [`ExporterConfig`] and its arms in
//! [`ExporterConfig::destination`] and [`ExporterConfig::queue`].
//!
//! ```
//! use profcol_exporter::EXPORTERS;
//! let t = EXPORTERS.lookup("otlphttp").unwrap();
//! assert_eq!(t.name(), "otlp_http");
//! ```

use crate::queue::QueueConfig;
use crate::{debug, file, otlp_grpc, otlp_http, pyroscope, queued, Error, ExporterHandle};
use profcol_config::Body;
use profcol_config::{decode, ComponentId, Problem};
use profcol_runtime::factory::{wrong_config, Factory, Kind, Registry, Stability};
use profcol_runtime::ComponentContext;
use std::sync::Arc;

/// The exporter kind.
pub struct Exporters;

impl Kind for Exporters {
    const SINGULAR: &'static str = "exporter";
    type Config = ExporterConfig;
    type Input = ();
    type Running = ExporterHandle;
    type Error = Error;
    fn invalid(problems: Vec<Problem>) -> Error {
        Error::Config(problems)
    }
}

/// Every exporter type, in the order `profcol components` lists them.
pub static EXPORTERS: Registry<Exporters> = Registry::new(&[
    &OtlpGrpcFactory,
    &OtlpHttpFactory,
    &PyroscopeFactory,
    &FileFactory,
    &DebugFactory,
]);

/// A decoded, validated exporter config, whatever its type; equal configs
/// configure the same exporter (what a reload compares).
#[derive(Debug, Clone, PartialEq)]
pub enum ExporterConfig {
    OtlpGrpc(Box<otlp_grpc::OtlpGrpcConfig>),
    OtlpHttp(Box<otlp_http::OtlpHttpConfig>),
    Pyroscope(Box<pyroscope::config::PyroscopeConfig>),
    File(Box<file::FileConfig>),
    Debug(debug::DebugConfig),
}

/// Declares a factory: its type name, aliases, stability, how its body
/// decodes into an [`ExporterConfig`] variant and how that variant starts.
macro_rules! exporter_factory {
    ($factory:ident, $name:literal, $aliases:expr, $stability:ident,
     decode: $decode:expr, start: $variant:ident($cfg:ident, $id:ident, $ctx:ident) => $start:expr) => {
        struct $factory;

        impl Factory<Exporters> for $factory {
            fn name(&self) -> &'static str {
                $name
            }
            fn aliases(&self) -> &'static [&'static str] {
                $aliases
            }
            fn stability(&self) -> Stability {
                Stability::$stability
            }
            fn decode(
                &self,
                _: &ComponentId,
                body: &Body,
                path: &str,
            ) -> Result<ExporterConfig, Vec<Problem>> {
                let decode: fn(&Body, &str) -> Result<ExporterConfig, Vec<Problem>> = $decode;
                decode(body, path)
            }
            fn start(
                &self,
                $id: &ComponentId,
                config: &ExporterConfig,
                $ctx: ComponentContext,
                _: (),
            ) -> Result<ExporterHandle, Error> {
                match config {
                    ExporterConfig::$variant($cfg) => $start,
                    _ => Err(wrong_config(self, $id)),
                }
            }
        }
    };
}

exporter_factory!(OtlpGrpcFactory, "otlp_grpc", &["otlp"], Development,
decode: |body, path| decode(body, path).map(|c| ExporterConfig::OtlpGrpc(Box::new(c))),
start: OtlpGrpc(cfg, id, ctx) => {
    let cfg = with_read_back_limits(cfg, &ctx, |c| &mut c.common.sending_queue);
    Ok(queued(vec![otlp_grpc::start(&id.to_string(), &cfg, &ctx.telemetry)?]))
});

exporter_factory!(OtlpHttpFactory, "otlp_http", &["otlphttp"], Development,
decode: |body, path| decode(body, path).map(|c| ExporterConfig::OtlpHttp(Box::new(c))),
start: OtlpHttp(cfg, id, ctx) => {
    let cfg = with_read_back_limits(cfg, &ctx, |c| &mut c.common.sending_queue);
    Ok(queued(vec![otlp_http::start(&id.to_string(), &cfg, &ctx.telemetry)?]))
});

exporter_factory!(PyroscopeFactory, "pyroscope", &[], Beta,
decode: |body, path| {
    pyroscope::config::parse(body, path).map(|c| ExporterConfig::Pyroscope(Box::new(c)))
},
start: Pyroscope(cfg, id, ctx) => {
    let cfg = with_read_back_limits(cfg, &ctx, |c| &mut c.sending_queue);
    Ok(queued(pyroscope::start(&id.to_string(), &cfg, &ctx.telemetry)?))
});

exporter_factory!(FileFactory, "file", &[], Alpha,
decode: |body, path| decode(body, path).map(|c| ExporterConfig::File(Box::new(c))),
start: File(cfg, id, ctx) => {
    Ok(queued(vec![file::start(&id.to_string(), cfg, &ctx.telemetry)?]))
});

exporter_factory!(DebugFactory, "debug", &[], Development,
decode: |body, path| decode(body, path).map(ExporterConfig::Debug),
start: Debug(cfg, id, ctx) => {
    drop(ctx);
    Ok(ExporterHandle {
        consumer: Arc::new(debug::DebugConsumer::new(&id.to_string(), cfg)),
        pipelines: Vec::new(),
    })
});

/// The config with its persistent queue (if any) checking what it reads
/// back against the caps of the running receivers.
fn with_read_back_limits<C: Clone>(
    cfg: &C,
    ctx: &ComponentContext,
    queue: impl FnOnce(&mut C) -> &mut QueueConfig,
) -> C {
    let mut cfg = cfg.clone();
    if let Some(storage) = queue(&mut cfg).storage.as_mut() {
        storage.read_back_limits = ctx.read_back_limits.clone();
    }
    cfg
}

impl ExporterConfig {
    /// Where the exporter sends profiles, for the start-up log: the file
    /// exporter's directory, the OTLP endpoint, the Pyroscope URLs (userinfo
    /// and secret-looking query values redacted), `the log` for `debug`.
    pub fn destination(&self) -> String {
        let redact = profcol_config::redact::redact_urls_in_text;
        match self {
            Self::OtlpGrpc(c) => redact(&c.common.endpoint),
            Self::OtlpHttp(c) => {
                redact(c.profiles_endpoint.as_deref().unwrap_or(&c.common.endpoint))
            }
            Self::Pyroscope(c) => c
                .endpoints
                .iter()
                .map(|e| redact(&e.url))
                .collect::<Vec<_>>()
                .join(" "),
            Self::File(c) => {
                let dir = std::path::Path::new(&c.directory);
                match std::path::absolute(dir) {
                    Ok(abs) => abs.display().to_string(),
                    Err(_) => c.directory.clone(),
                }
            }
            Self::Debug(_) => "the log".to_string(),
        }
    }

    /// The sending queue's settings, for exporters that have one.
    pub fn queue(&self) -> Option<&QueueConfig> {
        match self {
            Self::OtlpGrpc(c) => Some(&c.common.sending_queue),
            Self::OtlpHttp(c) => Some(&c.common.sending_queue),
            Self::Pyroscope(c) => Some(&c.sending_queue),
            Self::File(_) | Self::Debug(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_find_their_type() {
        assert_eq!(
            EXPORTERS.lookup("otlp").map(|t| t.name()),
            Some("otlp_grpc")
        );
        assert!(EXPORTERS.lookup("zipkin").is_none());
    }

    #[test]
    fn every_type_decodes_its_defaults_or_names_what_is_missing() {
        for t in EXPORTERS.factories() {
            let id: ComponentId = t.name().parse().unwrap();
            let outcome = t.decode(&id, &Body::parse("{}").unwrap(), "exporters::x");
            if let Err(problems) = outcome {
                assert!(
                    problems.iter().all(|p| p.path.starts_with("exporters::x")),
                    "{}: {problems:?}",
                    t.name()
                );
            }
        }
    }
}
