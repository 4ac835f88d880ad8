//! Config pieces the exporters share: the catch-all for unknown keys (so every
//! unknown key is reported with its path, all at once), `compression`, and
//! `headers`.

use profcol_config::{join_path, Problem, Secret};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Keys a config struct did not recognise (captured by `#[serde(flatten)]`).
pub type Unknown = BTreeMap<String, serde_yaml::Value>;

/// One problem per unknown key.
pub fn unknown_keys(unknown: &Unknown, path: &str, problems: &mut Vec<Problem>) {
    for key in unknown.keys() {
        problems.push(Problem::new(join_path(path, key), "unknown field"));
    }
}

/// The field names a derived `Deserialize` struct accepts, read from what
/// it asks its deserializer for (so lists of keys never drift from the
/// struct). Empty for types that are not plain structs.
pub fn struct_fields<T: serde::de::DeserializeOwned>() -> &'static [&'static str] {
    struct Probe(Option<&'static [&'static str]>);

    #[derive(Debug)]
    struct Stop;
    impl std::fmt::Display for Stop {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("probe")
        }
    }
    impl std::error::Error for Stop {}
    impl serde::de::Error for Stop {
        fn custom<M: std::fmt::Display>(_: M) -> Self {
            Stop
        }
    }

    impl<'de> serde::Deserializer<'de> for &mut Probe {
        type Error = Stop;
        fn deserialize_any<V: serde::de::Visitor<'de>>(self, _: V) -> Result<V::Value, Stop> {
            Err(Stop)
        }
        fn deserialize_struct<V: serde::de::Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Stop> {
            self.0 = Some(fields);
            Err(Stop)
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option unit
            unit_struct newtype_struct seq tuple tuple_struct map enum identifier ignored_any
        }
    }

    let mut probe = Probe(None);
    let _ = T::deserialize(&mut probe);
    probe.0.unwrap_or(&[])
}

/// `sending_queue.storage`: the persistent queue's place and size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StorageConfig {
    /// Each exporter keeps its files in a subdirectory named after its id.
    pub directory: String,
    /// Bound on the files' total size; when reached, the newest batch is
    /// refused.
    pub max_bytes: u64,
    #[serde(flatten)]
    pub unknown: Unknown,
}

/// Default `storage.max_bytes`: 1 GiB.
pub const DEFAULT_STORAGE_MAX_BYTES: u64 = 1 << 30;

impl Default for StorageConfig {
    fn default() -> Self {
        Self {
            directory: String::new(),
            max_bytes: DEFAULT_STORAGE_MAX_BYTES,
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
        unknown_keys(&self.unknown, path, problems);
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
    fn struct_fields_lists_the_keys() {
        let f = struct_fields::<profcol_config::http_client::BasicAuth>();
        assert_eq!(f, ["username", "password", "password_file"]);
        assert!(struct_fields::<profcol_config::HttpClientConfig>().contains(&"tls_config"));
        assert!(struct_fields::<String>().is_empty());
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
