//! The config keys `otlp_grpc` and `otlp_http` share (the OTel collector's
//! names and defaults), and the conversion of a batch into one OTLP request.

use crate::config::{validate_headers, Compression, Headers};
use crate::queue::QueueConfig;
use crate::retry::RetryConfig;
use crate::tls::TlsSettings;
use profcol_config::{join_path, Duration, Problem, Validate};
use serde::Deserialize;

/// Flattened into each OTLP exporter's config.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct OtlpCommon {
    pub endpoint: String,
    pub tls: TlsSettings,
    pub headers: Headers,
    pub compression: Compression,
    /// Per attempt.
    pub timeout: Duration,
    pub retry_on_failure: RetryConfig,
    pub sending_queue: QueueConfig,
}

impl Default for OtlpCommon {
    fn default() -> Self {
        Self {
            endpoint: String::new(),
            tls: TlsSettings::default(),
            headers: Headers::new(),
            compression: Compression::Gzip,
            timeout: Duration::from_secs(10),
            retry_on_failure: RetryConfig::default(),
            sending_queue: QueueConfig::default(),
        }
    }
}

impl OtlpCommon {
    /// Validates everything but `endpoint`, which each exporter reads its
    /// own way.
    pub fn validate_common(&self, path: &str, problems: &mut Vec<Problem>) {
        if self.timeout.is_zero() {
            problems.push(Problem::new(
                join_path(path, "timeout"),
                "must be greater than 0",
            ));
        }
        self.tls.validate(&join_path(path, "tls"), problems);
        validate_headers(&self.headers, path, problems);
        self.retry_on_failure
            .validate(&join_path(path, "retry_on_failure"), problems);
        self.sending_queue
            .validate(&join_path(path, "sending_queue"), problems);
    }
}
