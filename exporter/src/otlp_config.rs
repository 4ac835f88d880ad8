//! The config keys `otlp_grpc` and `otlp_http` share (the OTel collector's
//! names and defaults), and the conversion of a batch into one OTLP request.

use crate::compression::{validate_params, Codec, CompressionParams};
use crate::config::{validate_headers, Compression, Headers, NumericSampleAttributes};
use crate::queue::QueueConfig;
use crate::retry::RetryConfig;
use crate::tls::TlsSettings;
use profcol_config::{join_path, Duration, Problem, Validate};
use serde::Serialize;

/// The keys both OTLP exporters have, in the order of [`OtlpCommon`].
pub const OTLP_COMMON_KEYS: &[&str] = &[
    "endpoint",
    "tls",
    "headers",
    "compression",
    "compression_params",
    "timeout",
    "retry_on_failure",
    "sending_queue",
    "numeric_sample_attributes",
];

/// Part of each OTLP exporter's config. Not `#[serde(flatten)]`ed (that
/// would lose the key path of decode errors): each exporter decodes a flat
/// struct with `otlp_raw_config!` and splits it. Serialized flat, into the
/// exporter's own keys (`#[serde(flatten)]`), with the `endpoint`'s userinfo
/// and secret-looking query values and every header value redacted.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OtlpCommon {
    #[serde(serialize_with = "profcol_config::redact::serialize_url")]
    pub endpoint: String,
    pub tls: TlsSettings,
    pub headers: Headers,
    pub compression: Compression,
    /// `compression_params.level`; `None` = the compression's default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compression_params: Option<CompressionParams>,
    /// Per attempt.
    pub timeout: Duration,
    pub retry_on_failure: RetryConfig,
    pub sending_queue: QueueConfig,
    /// Keep or drop numeric pprof labels as sample attributes.
    pub numeric_sample_attributes: NumericSampleAttributes,
}

impl Default for OtlpCommon {
    fn default() -> Self {
        Self {
            endpoint: String::new(),
            tls: TlsSettings::default(),
            headers: Headers::new(),
            compression: Compression::Gzip,
            compression_params: None,
            timeout: Duration::from_secs(10),
            retry_on_failure: RetryConfig::default(),
            sending_queue: QueueConfig::default(),
            numeric_sample_attributes: NumericSampleAttributes::Keep,
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
        validate_params(self.compression, self.compression_params, path, problems);
        self.tls.validate(&join_path(path, "tls"), problems);
        validate_headers(&self.headers, path, problems);
        self.retry_on_failure
            .validate(&join_path(path, "retry_on_failure"), problems);
        self.sending_queue
            .validate(&join_path(path, "sending_queue"), problems);
    }

    /// The compression requests are sent with, at its level.
    pub fn codec(&self) -> Codec {
        Codec::new(self.compression, self.compression_params)
    }
}

/// Declares the flat serde form of an OTLP exporter's config: the common
/// keys plus `$extra` fields, with `unknown` catching the rest.
#[macro_export]
macro_rules! otlp_raw_config {
    ($raw:ident { $($field:ident : $ty:ty = $default:expr),* $(,)? }) => {
        #[derive(serde::Deserialize)]
        #[serde(default)]
        pub struct $raw {
            endpoint: String,
            tls: $crate::tls::TlsSettings,
            headers: $crate::config::Headers,
            compression: $crate::config::Compression,
            compression_params: Option<$crate::compression::CompressionParams>,
            timeout: profcol_config::Duration,
            retry_on_failure: $crate::retry::RetryConfig,
            sending_queue: $crate::queue::QueueConfig,
            numeric_sample_attributes: $crate::config::NumericSampleAttributes,
            $($field: $ty,)*
            #[serde(flatten)]
            unknown: $crate::config::Unknown,
        }

        impl Default for $raw {
            fn default() -> Self {
                let c = $crate::otlp_config::OtlpCommon::default();
                Self {
                    endpoint: c.endpoint,
                    tls: c.tls,
                    headers: c.headers,
                    compression: c.compression,
                    compression_params: c.compression_params,
                    timeout: c.timeout,
                    retry_on_failure: c.retry_on_failure,
                    sending_queue: c.sending_queue,
                    numeric_sample_attributes: c.numeric_sample_attributes,
                    $($field: $default,)*
                    unknown: Default::default(),
                }
            }
        }

        impl $raw {
            fn split_common(&mut self) -> $crate::otlp_config::OtlpCommon {
                $crate::otlp_config::OtlpCommon {
                    endpoint: std::mem::take(&mut self.endpoint),
                    tls: std::mem::take(&mut self.tls),
                    headers: std::mem::take(&mut self.headers),
                    compression: self.compression,
                    compression_params: self.compression_params,
                    timeout: self.timeout,
                    retry_on_failure: std::mem::take(&mut self.retry_on_failure),
                    sending_queue: std::mem::take(&mut self.sending_queue),
                    numeric_sample_attributes: self.numeric_sample_attributes,
                }
            }
        }
    };
}
