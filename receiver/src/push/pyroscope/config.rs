//! The `pyroscope` receiver's config: where it listens (TLS, auth), and
//! the caps every request is held to, each a key with a default that the
//! error of a request over it names. It serializes back to the YAML it
//! decodes from, credentials redacted.

use crate::byte_size::ByteSize;
use profcol_config::http_client::BasicAuth;
use profcol_config::server::{validate_auth, ServerTlsConfig};
use profcol_config::{join_path, Duration, Problem, Secret, Validate};
use profcol_pdata::pprof::DecodeLimits;
use serde::{Deserialize, Serialize};

/// Default `endpoint`: Pyroscope's own port, on the loopback interface.
pub const DEFAULT_ENDPOINT: &str = "localhost:4040";
/// Default `max_request_body_size` (the body as received).
pub const DEFAULT_MAX_REQUEST_BODY_SIZE: ByteSize = ByteSize::mib(16);
/// Default `max_decompressed_size` (all profiles of one request, inflated).
pub const DEFAULT_MAX_DECOMPRESSED_SIZE: ByteSize = ByteSize::mib(64);
/// Default `max_label_names_per_series`: Grafana Pyroscope's
/// `validation.max-label-names-per-series`.
pub const DEFAULT_MAX_LABEL_NAMES_PER_SERIES: usize = 30;
/// Default `max_label_name_length`: Pyroscope's `validation.max-length-label-name`.
pub const DEFAULT_MAX_LABEL_NAME_LENGTH: usize = 1024;
/// Default `max_label_value_length`: Pyroscope's `validation.max-length-label-value`.
pub const DEFAULT_MAX_LABEL_VALUE_LENGTH: usize = 2048;
/// Default `read_timeout`: the time a request's body may take to arrive.
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(30);

fn default_endpoint() -> String {
    DEFAULT_ENDPOINT.to_string()
}
fn default_max_request_body_size() -> ByteSize {
    DEFAULT_MAX_REQUEST_BODY_SIZE
}
fn default_max_decompressed_size() -> ByteSize {
    DEFAULT_MAX_DECOMPRESSED_SIZE
}
fn default_max_label_names_per_series() -> usize {
    DEFAULT_MAX_LABEL_NAMES_PER_SERIES
}
fn default_max_label_name_length() -> usize {
    DEFAULT_MAX_LABEL_NAME_LENGTH
}
fn default_max_label_value_length() -> usize {
    DEFAULT_MAX_LABEL_VALUE_LENGTH
}
fn default_max_samples_per_profile() -> usize {
    crate::config::DEFAULT_MAX_SAMPLES_PER_PROFILE
}
fn default_max_labels_per_sample() -> usize {
    crate::config::DEFAULT_MAX_LABELS_PER_SAMPLE
}
fn default_max_stack_depth() -> usize {
    crate::config::DEFAULT_MAX_STACK_DEPTH
}
fn default_read_timeout() -> Duration {
    DEFAULT_READ_TIMEOUT
}

/// The receiver's YAML body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PyroscopeReceiverConfig {
    /// `host:port` to listen on (port 0: any free port).
    #[serde(default = "default_endpoint")]
    pub endpoint: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<ServerTlsConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basic_auth: Option<BasicAuth>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bearer_token: Option<Secret>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bearer_token_file: Option<String>,
    /// A request's body as received (compressed or not).
    #[serde(default = "default_max_request_body_size")]
    pub max_request_body_size: ByteSize,
    /// What one request inflates to: a compressed body, then every profile
    /// in it, together.
    #[serde(default = "default_max_decompressed_size")]
    pub max_decompressed_size: ByteSize,
    /// Labels of one series (0: no limit).
    #[serde(default = "default_max_label_names_per_series")]
    pub max_label_names_per_series: usize,
    /// Bytes of one label name (0: no limit).
    #[serde(default = "default_max_label_name_length")]
    pub max_label_name_length: usize,
    /// Bytes of one label value (0: no limit).
    #[serde(default = "default_max_label_value_length")]
    pub max_label_value_length: usize,
    /// Samples of one profile (0: no limit).
    #[serde(default = "default_max_samples_per_profile")]
    pub max_samples_per_profile: usize,
    /// pprof labels of one sample (0: no limit).
    #[serde(default = "default_max_labels_per_sample")]
    pub max_labels_per_sample: usize,
    /// Frames kept of one stack; deeper ones keep their root-most frames
    /// (0: no limit).
    #[serde(default = "default_max_stack_depth")]
    pub max_stack_depth: usize,
    /// How long a request's body may take to arrive.
    #[serde(default = "default_read_timeout")]
    pub read_timeout: Duration,
}

impl Default for PyroscopeReceiverConfig {
    fn default() -> Self {
        Self {
            endpoint: default_endpoint(),
            tls: None,
            basic_auth: None,
            bearer_token: None,
            bearer_token_file: None,
            max_request_body_size: DEFAULT_MAX_REQUEST_BODY_SIZE,
            max_decompressed_size: DEFAULT_MAX_DECOMPRESSED_SIZE,
            max_label_names_per_series: DEFAULT_MAX_LABEL_NAMES_PER_SERIES,
            max_label_name_length: DEFAULT_MAX_LABEL_NAME_LENGTH,
            max_label_value_length: DEFAULT_MAX_LABEL_VALUE_LENGTH,
            max_samples_per_profile: default_max_samples_per_profile(),
            max_labels_per_sample: default_max_labels_per_sample(),
            max_stack_depth: default_max_stack_depth(),
            read_timeout: DEFAULT_READ_TIMEOUT,
        }
    }
}

/// The caps on one series' labels; 0 means no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LabelLimits {
    pub max_names: usize,
    pub max_name_length: usize,
    pub max_value_length: usize,
}

impl PyroscopeReceiverConfig {
    /// The decoder's caps for the profiles of one request (the
    /// decompressed budget is narrowed per profile as the request spends it).
    pub fn decode_limits(&self) -> DecodeLimits {
        let or_max = |n: usize| if n == 0 { usize::MAX } else { n };
        DecodeLimits {
            max_decompressed_bytes: self.max_decompressed_size.0,
            max_samples: or_max(self.max_samples_per_profile),
            max_labels_per_sample: or_max(self.max_labels_per_sample),
            max_stack_depth: self.max_stack_depth,
            ..DecodeLimits::default()
        }
    }

    pub fn label_limits(&self) -> LabelLimits {
        LabelLimits {
            max_names: self.max_label_names_per_series,
            max_name_length: self.max_label_name_length,
            max_value_length: self.max_label_value_length,
        }
    }
}

/// Whether `endpoint` is `host:port` with a numeric port.
fn valid_endpoint(endpoint: &str) -> bool {
    match endpoint.rsplit_once(':') {
        Some((host, port)) => !host.is_empty() && port.parse::<u16>().is_ok(),
        None => false,
    }
}

impl Validate for PyroscopeReceiverConfig {
    fn validate(&self, path: &str, problems: &mut Vec<Problem>) {
        let at = |key: &str| join_path(path, key);
        if !valid_endpoint(&self.endpoint) {
            problems.push(Problem::new(
                at("endpoint"),
                format!(
                    "{:?} is not host:port (e.g. \"0.0.0.0:4040\")",
                    self.endpoint
                ),
            ));
        }
        if let Some(tls) = &self.tls {
            tls.validate(&at("tls"), problems);
        }
        validate_auth(
            self.basic_auth.as_ref(),
            self.bearer_token.as_ref(),
            self.bearer_token_file.as_deref(),
            path,
            problems,
        );
        for (key, size) in [
            ("max_request_body_size", self.max_request_body_size),
            ("max_decompressed_size", self.max_decompressed_size),
        ] {
            if size.0 == 0 {
                problems.push(Problem::new(
                    at(key),
                    format!("{key} must be greater than 0"),
                ));
            }
        }
        if self.read_timeout.0.is_zero() {
            problems.push(Problem::new(
                at("read_timeout"),
                "read_timeout must be greater than 0",
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(yaml: &str) -> Result<PyroscopeReceiverConfig, Vec<String>> {
        let v = profcol_config::Body::parse(yaml).unwrap_or_default();
        profcol_config::decode::<PyroscopeReceiverConfig>(&v, "receivers::pyroscope")
            .map_err(|p| p.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn defaults() {
        let c = decode("").unwrap();
        assert_eq!(c.endpoint, "localhost:4040");
        assert_eq!(c.max_request_body_size, ByteSize::mib(16));
        assert_eq!(c.max_decompressed_size, ByteSize::mib(64));
        assert_eq!(c.max_label_names_per_series, 30);
        assert_eq!(c.max_label_name_length, 1024);
        assert_eq!(c.max_label_value_length, 2048);
        assert_eq!(c.max_stack_depth, 1000);
        assert_eq!(c.read_timeout.0, std::time::Duration::from_secs(30));
        let l = c.decode_limits();
        assert_eq!(l.max_decompressed_bytes, 64 << 20);
        assert_eq!(l.max_stack_depth, 1000);
    }

    #[test]
    fn every_problem_has_its_key() {
        let errs = decode(
            "endpoint: nowhere\nmax_request_body_size: 0\nmax_decompressed_size: 0\nread_timeout: 0s\n\
             tls: {cert_file: a.pem}\nbearer_token: x\nbasic_auth: {username: u, password: p}",
        )
        .unwrap_err();
        let want = [
            "receivers::pyroscope::endpoint: \"nowhere\" is not host:port",
            "receivers::pyroscope::tls::key_file: is required when tls is set",
            "receivers::pyroscope::basic_auth: at most one of basic_auth and bearer_token",
            "receivers::pyroscope::max_request_body_size: max_request_body_size must be greater than 0",
            "receivers::pyroscope::max_decompressed_size: max_decompressed_size must be greater than 0",
            "receivers::pyroscope::read_timeout: read_timeout must be greater than 0",
        ];
        for w in want {
            assert!(errs.iter().any(|e| e.starts_with(w)), "{w} not in {errs:?}");
        }
        assert_eq!(errs.len(), want.len(), "{errs:?}");
    }

    #[test]
    fn unknown_keys_and_bad_sizes_are_named() {
        let e = decode("endpoint: 'a:1'\nmax_body: 1").unwrap_err();
        assert!(
            e[0].contains("unknown key `max_body` (valid keys: endpoint, "),
            "{e:?}"
        );
        let e = decode("max_request_body_size: 12XB").unwrap_err();
        assert!(
            e[0].starts_with("receivers::pyroscope::max_request_body_size: invalid size"),
            "{e:?}"
        );
        let c = decode("max_request_body_size: 1MiB\nmax_label_names_per_series: 0").unwrap();
        assert_eq!(c.max_request_body_size.0, 1 << 20);
        assert_eq!(c.label_limits().max_names, 0);
    }
}
