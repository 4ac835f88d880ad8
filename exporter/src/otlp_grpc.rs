//! The `otlp_grpc` exporter (alias `otlp`): calls
//! `ProfilesService/Export` with one `ExportProfilesServiceRequest` per
//! (merged) batch. The request is encoded and compressed once, on the
//! pipeline's blocking thread, at `compression_params.level`, and retries
//! resend those bytes ([`crate::grpc_unary`]).

use crate::config::{key_union, unknown_keys, Unknown};
use crate::events::ExporterEvents;
use crate::grpc_status::{classify, code_label};
use crate::grpc_unary::{frame, frame_compressed, unary, Frame, FrameCompression};
use crate::otlp_config::OtlpCommon;
use crate::otlp_config::OTLP_COMMON_KEYS;
use crate::otlp_requests::otlp_requests;
use crate::otlp_response::partial_success;
use crate::pipeline::{Pipeline, Prepared, Sender};
use crate::retry::{RetryPolicy, SendError};
use crate::Error;
use profcol_config::{join_path, Duration, Problem, Validate};
use profcol_pdata::ProfileBatch;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tonic::metadata::{MetadataKey, MetadataMap, MetadataValue};
use tonic::transport::{Channel, Endpoint};

/// The keys of [`Keepalive`].
pub const KEEPALIVE_KEYS: &[&str] = &["time", "timeout", "permit_without_stream"];
/// The keys of `otlp_grpc` besides [`OTLP_COMMON_KEYS`].
pub const GRPC_KEYS: &[&str] = &["max_request_bytes", "keepalive"];

/// HTTP/2 keepalive pings (`keepalive`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Keepalive {
    pub time: Duration,
    pub timeout: Duration,
    pub permit_without_stream: bool,
    #[serde(flatten, skip_serializing)]
    pub unknown: Unknown,
}

impl Default for Keepalive {
    fn default() -> Self {
        Self {
            time: Duration::from_secs(30),
            timeout: Duration::from_secs(10),
            permit_without_stream: false,
            unknown: Unknown::new(),
        }
    }
}

/// Default `max_request_bytes`: gRPC servers (grpc-go, the OpenTelemetry
/// Collector's OTLP receiver) refuse messages over 4 MiB by default.
pub const DEFAULT_MAX_REQUEST_BYTES: u64 = 4 << 20;

crate::otlp_raw_config!(RawGrpc {
    max_request_bytes: u64 = DEFAULT_MAX_REQUEST_BYTES,
    keepalive: Option<Keepalive> = None,
});

/// Serialized as the flat block a user writes (see [`OtlpCommon`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(from = "RawGrpc")]
pub struct OtlpGrpcConfig {
    #[serde(flatten)]
    pub common: OtlpCommon,
    /// Largest encoded (uncompressed) request; bigger batches are split,
    /// a single profile over it is dropped and counted. 0 = no limit.
    pub max_request_bytes: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keepalive: Option<Keepalive>,
    #[serde(skip_serializing)]
    pub unknown: Unknown,
}

impl From<RawGrpc> for OtlpGrpcConfig {
    fn from(mut raw: RawGrpc) -> Self {
        Self {
            common: raw.split_common(),
            max_request_bytes: raw.max_request_bytes,
            keepalive: raw.keepalive,
            unknown: raw.unknown,
        }
    }
}

impl OtlpGrpcConfig {
    /// `host:port` gets `https://`, or `http://` with `tls.insecure`.
    pub fn uri(&self) -> String {
        let e = self.common.endpoint.trim();
        if e.contains("://") {
            e.to_string()
        } else if self.common.tls.insecure {
            format!("http://{e}")
        } else {
            format!("https://{e}")
        }
    }
}

impl Validate for OtlpGrpcConfig {
    fn validate(&self, path: &str, problems: &mut Vec<Problem>) {
        if self.common.endpoint.trim().is_empty() {
            problems.push(Problem::new(
                join_path(path, "endpoint"),
                "endpoint is required (host:port)",
            ));
        } else {
            match self.uri().parse::<tonic::transport::Uri>() {
                Ok(u) if matches!(u.scheme_str(), Some("http" | "https")) && u.host().is_some() => {
                }
                _ => problems.push(Problem::new(
                    join_path(path, "endpoint"),
                    format!(
                        "invalid endpoint {:?} (write host:port or http(s)://host:port)",
                        self.common.endpoint
                    ),
                )),
            }
        }
        self.common.validate_common(path, problems);
        if let Some(k) = &self.keepalive {
            unknown_keys(
                &k.unknown,
                &join_path(path, "keepalive"),
                KEEPALIVE_KEYS,
                problems,
            );
        }
        unknown_keys(
            &self.unknown,
            path,
            &key_union(OTLP_COMMON_KEYS, GRPC_KEYS),
            problems,
        );
    }
}

impl OtlpGrpcConfig {
    /// The compression and level requests are framed with.
    pub fn frame_compression(&self) -> FrameCompression {
        self.common.codec()
    }
}

const EXPORT_PATH: &str =
    "/opentelemetry.proto.collector.profiles.v1development.ProfilesService/Export";

struct GrpcSender {
    channel: Channel,
    compression: FrameCompression,
    metadata: MetadataMap,
    timeout: std::time::Duration,
    max_request_bytes: u64,
    otlp_options: profcol_pdata::otlp::OtlpOptions,
    events: Arc<ExporterEvents>,
}

#[async_trait::async_trait]
impl Sender for GrpcSender {
    /// The framed (encoded, compressed) `ExportProfilesServiceRequest`.
    type Request = Frame;

    fn prepare(&self, batch: ProfileBatch) -> Vec<Prepared<Frame>> {
        let requests = otlp_requests(
            batch,
            self.max_request_bytes,
            &self.otlp_options,
            &self.events,
        );
        let mut out = Vec::with_capacity(requests.len());
        for request in requests {
            let size = request.bytes.len() as u64;
            let profiles = request.profiles;
            let framed = match request.compressed(self.compression) {
                Some(compressed) => {
                    self.events.sent_as_received();
                    frame_compressed(compressed, self.compression)
                }
                None => frame(&request.bytes, self.compression),
            };
            match framed {
                Ok(request) => out.push(Prepared {
                    bytes: size,
                    profiles,
                    request,
                }),
                Err(e) => {
                    self.events
                        .dropped("encode_failed", profiles, size, &e.to_string());
                }
            }
        }
        out
    }

    async fn send(&self, request: &Frame) -> Result<(), SendError> {
        let body = unary(
            &self.channel,
            EXPORT_PATH,
            request,
            &self.metadata,
            self.timeout,
        )
        .await
        .map_err(|s| {
            self.events.send_error(code_label(&s));
            classify(&s)
        })?;
        // An unreadable response body is not worth failing a delivered export.
        if let Some(p) = partial_success(None, &body) {
            self.events
                .partial_success(p.rejected_profiles, &p.error_message);
        }
        Ok(())
    }
}

fn metadata(cfg: &OtlpCommon) -> Result<MetadataMap, Error> {
    let mut m = MetadataMap::new();
    for (k, v) in &cfg.headers {
        let key = MetadataKey::from_bytes(k.to_ascii_lowercase().as_bytes())
            .map_err(|e| Error::Client(format!("header {k}: {e}")))?;
        let value = MetadataValue::try_from(v.expose())
            .map_err(|_| Error::Client(format!("header {k}: invalid value")))?;
        m.insert(key, value);
    }
    Ok(m)
}

pub fn start(
    id: &str,
    cfg: &OtlpGrpcConfig,
    telemetry: &profcol_runtime::Telemetry,
) -> Result<Arc<Pipeline>, Error> {
    let uri = cfg.uri();
    let mut endpoint = Endpoint::from_shared(uri.clone())
        .map_err(|e| Error::Client(format!("endpoint {uri:?}: {e}")))?
        .user_agent(crate::config::user_agent())
        .map_err(|e| Error::Client(e.to_string()))?
        .connect_timeout(cfg.common.timeout.get())
        .timeout(cfg.common.timeout.get());
    if let Some(k) = &cfg.keepalive {
        endpoint = endpoint
            .http2_keep_alive_interval(k.time.get())
            .keep_alive_timeout(k.timeout.get())
            .keep_alive_while_idle(k.permit_without_stream);
    }
    if uri.starts_with("https://") {
        endpoint = cfg.common.tls.apply_to_tonic(endpoint)?;
    }
    let channel = endpoint.connect_lazy();
    let events = Arc::new(ExporterEvents::new(
        id,
        telemetry.metrics::<crate::metrics::ExporterMetrics>(),
    ));
    let sender = GrpcSender {
        channel,
        compression: cfg.frame_compression(),
        metadata: metadata(&cfg.common)?,
        timeout: cfg.common.timeout.get(),
        max_request_bytes: cfg.max_request_bytes,
        otlp_options: cfg.common.numeric_sample_attributes.otlp_options(),
        events: events.clone(),
    };
    Pipeline::start(
        Arc::new(sender),
        &cfg.common.sending_queue,
        RetryPolicy::from(&cfg.common.retry_on_failure),
        events,
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn parse(yaml: &str) -> Result<OtlpGrpcConfig, Vec<Problem>> {
        let v = profcol_config::Body::parse(yaml).unwrap();
        profcol_config::decode::<OtlpGrpcConfig>(&v, "exporters::otlp_grpc")
    }

    #[test]
    fn compression_level_defaults_and_is_checked() {
        let c = parse("endpoint: a:1").unwrap();
        assert_eq!(c.frame_compression(), FrameCompression::Gzip { level: 1 });
        let c = parse("endpoint: a:1\ncompression: zstd").unwrap();
        assert_eq!(c.frame_compression(), FrameCompression::Zstd { level: 3 });
        let c = parse("endpoint: a:1\ncompression_params: {level: 6}").unwrap();
        assert_eq!(c.frame_compression(), FrameCompression::Gzip { level: 6 });
        assert_eq!(
            parse("endpoint: a:1\ncompression: none")
                .unwrap()
                .frame_compression(),
            FrameCompression::None
        );
        let e = parse("endpoint: a:1\ncompression_params: {level: 10}").unwrap_err();
        assert_eq!(
            e[0].to_string(),
            "exporters::otlp_grpc::compression_params::level: level 10 is out of range for compression gzip (1..=9)"
        );
        assert!(parse("endpoint: a:1\ncompression: zstd\ncompression_params: {level: 19}").is_ok());
        assert!(parse("endpoint: a:1\ncompression_params: {lvl: 1}").is_err());
    }
}
