//! The exporter types in one table: each row names a type, its aliases and
//! stability, and how its config decodes into an [`ExporterConfig`]. The
//! listing (`profcol components`), validation, reload comparison, the
//! start-up log's destinations and [`crate::start_exporter`] all read it,
//! so a new exporter type is a row here, a variant of [`ExporterConfig`]
//! and its arms in [`ExporterConfig::destination`], [`ExporterConfig::queue_mut`]
//! and `start_exporter`.
//!
//! ```
//! use profcol_exporter::registry;
//! let t = registry::lookup("otlphttp").unwrap();
//! assert_eq!(t.name, "otlp_http");
//! ```

use crate::queue::QueueConfig;
use crate::{debug, file, otlp_grpc, otlp_http, pyroscope};
use profcol_config::yaml::Value;
use profcol_config::{decode, Problem};

/// A decoded, validated exporter config, whatever its type; equal configs
/// configure the same exporter (what a reload compares).
#[derive(PartialEq)]
pub enum ExporterConfig {
    OtlpGrpc(Box<otlp_grpc::OtlpGrpcConfig>),
    OtlpHttp(Box<otlp_http::OtlpHttpConfig>),
    Pyroscope(Box<pyroscope::config::PyroscopeConfig>),
    File(Box<file::FileConfig>),
    Debug(debug::DebugConfig),
}

/// One exporter type.
pub struct ExporterType {
    /// The canonical type name.
    pub name: &'static str,
    /// Other names accepted for it (the OpenTelemetry Collector's).
    pub aliases: &'static [&'static str],
    /// `development`, `alpha` or `beta`, as the Collector grades components.
    pub stability: &'static str,
    /// Decodes and validates a body; problems are reported under the path.
    pub decode: fn(&Value, &str) -> Result<ExporterConfig, Vec<Problem>>,
}

/// Every exporter type, in the order `profcol components` lists them.
pub const TYPES: &[ExporterType] = &[
    ExporterType {
        name: "otlp_grpc",
        aliases: &["otlp"],
        stability: "development",
        decode: decode_otlp_grpc,
    },
    ExporterType {
        name: "otlp_http",
        aliases: &["otlphttp"],
        stability: "development",
        decode: decode_otlp_http,
    },
    ExporterType {
        name: "pyroscope",
        aliases: &[],
        stability: "beta",
        decode: decode_pyroscope,
    },
    ExporterType {
        name: "file",
        aliases: &[],
        stability: "alpha",
        decode: decode_file,
    },
    ExporterType {
        name: "debug",
        aliases: &[],
        stability: "development",
        decode: decode_debug,
    },
];

/// The type named `kind` or one of its aliases.
pub fn lookup(kind: &str) -> Option<&'static ExporterType> {
    TYPES
        .iter()
        .find(|t| t.name == kind || t.aliases.contains(&kind))
}

fn decode_otlp_grpc(body: &Value, path: &str) -> Result<ExporterConfig, Vec<Problem>> {
    decode(body, path).map(|c| ExporterConfig::OtlpGrpc(Box::new(c)))
}

fn decode_otlp_http(body: &Value, path: &str) -> Result<ExporterConfig, Vec<Problem>> {
    decode(body, path).map(|c| ExporterConfig::OtlpHttp(Box::new(c)))
}

fn decode_pyroscope(body: &Value, path: &str) -> Result<ExporterConfig, Vec<Problem>> {
    pyroscope::config::parse(body, path).map(|c| ExporterConfig::Pyroscope(Box::new(c)))
}

fn decode_file(body: &Value, path: &str) -> Result<ExporterConfig, Vec<Problem>> {
    decode(body, path).map(|c| ExporterConfig::File(Box::new(c)))
}

fn decode_debug(body: &Value, path: &str) -> Result<ExporterConfig, Vec<Problem>> {
    decode(body, path).map(ExporterConfig::Debug)
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
    pub fn queue_mut(&mut self) -> Option<&mut QueueConfig> {
        match self {
            Self::OtlpGrpc(c) => Some(&mut c.common.sending_queue),
            Self::OtlpHttp(c) => Some(&mut c.common.sending_queue),
            Self::Pyroscope(c) => Some(&mut c.sending_queue),
            Self::File(_) | Self::Debug(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_aliases_are_unique_and_found() {
        let mut all: Vec<&str> = TYPES
            .iter()
            .flat_map(|t| std::iter::once(t.name).chain(t.aliases.iter().copied()))
            .collect();
        let n = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), n, "a name or alias appears twice");
        for name in all {
            assert!(lookup(name).is_some(), "{name}");
        }
        assert_eq!(lookup("otlp").map(|t| t.name), Some("otlp_grpc"));
        assert!(lookup("zipkin").is_none());
    }

    #[test]
    fn every_type_decodes_its_defaults_or_names_what_is_missing() {
        for t in TYPES {
            let outcome = (t.decode)(&Value::Mapping(Default::default()), "exporters::x");
            if let Err(problems) = outcome {
                assert!(
                    problems.iter().all(|p| p.path.starts_with("exporters::x")),
                    "{}: {problems:?}",
                    t.name
                );
            }
        }
    }
}
