//! Config pieces the exporters share: the catch-all for unknown keys (from
//! `profcol_config::keys`, so every unknown key is reported with its path,
//! all at once), `sending_queue.storage`, `compression`, and `headers`.

use profcol_config::{join_path, Problem, Secret};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub use profcol_config::keys::{key_union, struct_fields, unknown_keys, Unknown};

/// `sending_queue.storage`: the persistent queue's place and size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StorageConfig {
    /// Each exporter keeps its files in a subdirectory named after its id.
    pub directory: String,
    /// Bound on the files' total size; when reached, the newest batch is
    /// refused.
    pub max_bytes: u64,
    /// The caps batches read back are checked against; not a key: set by
    /// the collector from its receivers' caps
    /// (`ComponentContext::read_back_limits`).
    #[serde(skip)]
    pub read_back_limits: profcol_pdata::pprof::DecodeLimits,
    #[serde(flatten, skip_serializing)]
    pub unknown: Unknown,
}

/// The keys of [`StorageConfig`].
pub const STORAGE_KEYS: &[&str] = &["directory", "max_bytes"];

/// Default `storage.max_bytes`: 1 GiB.
pub const DEFAULT_STORAGE_MAX_BYTES: u64 = 1 << 30;

impl Default for StorageConfig {
    fn default() -> Self {
        Self {
            directory: String::new(),
            max_bytes: DEFAULT_STORAGE_MAX_BYTES,
            read_back_limits: Default::default(),
            unknown: Unknown::new(),
        }
    }
}

impl profcol_config::Validate for StorageConfig {
    fn validate(&self, path: &str, problems: &mut Vec<Problem>) {
        if self.directory.trim().is_empty() {
            problems.push(Problem::new(join_path(path, "directory"), "is required"));
        }
        if self.max_bytes == 0 {
            problems.push(Problem::new(
                join_path(path, "max_bytes"),
                "must be greater than 0",
            ));
        }
        unknown_keys(&self.unknown, path, STORAGE_KEYS, problems);
    }
}

/// Request body compression (`compression`); see [`crate::compression`]
/// for the levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    #[default]
    Gzip,
    Zstd,
    None,
}

/// `numeric_sample_attributes`: whether numeric pprof labels (Go heap's
/// per-sample `bytes`, …) become OTLP sample attributes. Grafana
/// Pyroscope's OTLP ingest turns every sample attribute into a string
/// label, one series per distinct value; `drop` leaves them out of that
/// exporter's requests (or files) only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NumericSampleAttributes {
    #[default]
    Keep,
    Drop,
}

impl NumericSampleAttributes {
    /// The OTLP writer's options for this choice.
    pub fn otlp_options(self) -> profcol_pdata::otlp::OtlpOptions {
        profcol_pdata::otlp::OtlpOptions {
            drop_numeric_labels: self == Self::Drop,
        }
    }
}

/// Extra request headers; values may carry credentials, so they are secrets.
pub type Headers = BTreeMap<String, Secret>;

/// Problems with header names or values that HTTP cannot carry.
pub fn validate_headers(headers: &Headers, path: &str, problems: &mut Vec<Problem>) {
    for (name, value) in headers {
        let p = join_path(&join_path(path, "headers"), name);
        if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
            problems.push(Problem::new(p, "not a valid HTTP header name"));
        } else if reqwest::header::HeaderValue::from_str(value.expose()).is_err() {
            problems.push(Problem::new(
                p,
                "the value contains characters a header cannot carry",
            ));
        }
    }
}

/// The `User-Agent` profcol's exporters send.
pub fn user_agent() -> String {
    format!("profcol/{}", env!("CARGO_PKG_VERSION"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_keys_are_the_structs() {
        use profcol_config::keys::{serialized_keys, unrecognised_keys};
        assert!(unrecognised_keys::<StorageConfig>("{}", STORAGE_KEYS).is_empty());
        assert_eq!(serialized_keys(&StorageConfig::default()), STORAGE_KEYS);
    }

    #[test]
    fn bad_headers_are_problems() {
        let mut h = Headers::new();
        h.insert("bad name".into(), Secret::new("x"));
        h.insert("X-Ok".into(), Secret::new("line\nbreak"));
        h.insert("X-Fine".into(), Secret::new("v"));
        let mut p = Vec::new();
        validate_headers(&h, "e", &mut p);
        let paths: Vec<_> = p.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(paths, ["e::headers::X-Ok", "e::headers::bad name"]);
    }
}
