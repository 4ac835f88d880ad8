//! The `otlp_http` exporter (alias `otlphttp`): POSTs protobuf
//! `ExportProfilesServiceRequest`s to `{endpoint}/v1development/profiles`.

use crate::compression::Codec;
use crate::config::{key_union, unknown_keys, Unknown};
use crate::events::ExporterEvents;
use crate::grpc_status::UNIMPLEMENTED_HINT;
use crate::otlp_config::OtlpCommon;
use crate::otlp_config::OTLP_COMMON_KEYS;
use crate::otlp_response::{partial_success, read_bounded};
use crate::pipeline::{Pipeline, Prepared, Sender};
use crate::retry::{parse_retry_after, RetryPolicy, SendError};
use crate::rpc_status::{describe_body, RpcStatus};
use crate::Error;
use bytes::Bytes;
use profcol_config::{join_path, Problem, Validate};
use profcol_pdata::ProfileBatch;
use reqwest::header::{
    HeaderMap, HeaderName, HeaderValue, CONTENT_ENCODING, CONTENT_TYPE, RETRY_AFTER,
};
use reqwest::{StatusCode, Url};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// The path appended to `endpoint`.
pub const PROFILES_PATH: &str = "v1development/profiles";
const PROTOBUF: &str = "application/x-protobuf";

/// Default `max_request_bytes`: the OpenTelemetry Collector's OTLP/HTTP
/// receiver refuses bodies over 20 MiB by default.
pub const DEFAULT_MAX_REQUEST_BYTES: u64 = 20 << 20;

/// The keys of `otlp_http` besides [`OTLP_COMMON_KEYS`].
pub const HTTP_KEYS: &[&str] = &["profiles_endpoint", "max_request_bytes"];

crate::otlp_raw_config!(RawHttp {
    profiles_endpoint: Option<String> = None,
    max_request_bytes: u64 = DEFAULT_MAX_REQUEST_BYTES,
});

/// Serialized as the flat block a user writes (see [`OtlpCommon`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(from = "RawHttp")]
pub struct OtlpHttpConfig {
    #[serde(flatten)]
    pub common: OtlpCommon,
    /// The full URL to POST to, instead of `{endpoint}/v1development/profiles`.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "profcol_config::redact::serialize_optional_url"
    )]
    pub profiles_endpoint: Option<String>,
    /// Largest encoded (uncompressed) request; bigger batches are split,
    /// a single profile over it is dropped and counted. 0 = no limit.
    pub max_request_bytes: u64,
    #[serde(skip_serializing)]
    pub unknown: Unknown,
}

impl From<RawHttp> for OtlpHttpConfig {
    fn from(mut raw: RawHttp) -> Self {
        Self {
            common: raw.split_common(),
            profiles_endpoint: raw.profiles_endpoint,
            max_request_bytes: raw.max_request_bytes,
            unknown: raw.unknown,
        }
    }
}

impl OtlpHttpConfig {
    /// The URL profiles are POSTed to.
    pub fn url(&self) -> Result<Url, String> {
        let raw = match &self.profiles_endpoint {
            Some(u) => u.clone(),
            None => format!(
                "{}/{PROFILES_PATH}",
                self.common.endpoint.trim_end_matches('/')
            ),
        };
        let url = Url::parse(&raw).map_err(|e| format!("invalid URL {raw:?}: {e}"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!(
                "unsupported scheme {:?} (use http or https)",
                url.scheme()
            ));
        }
        Ok(url)
    }
}

impl Validate for OtlpHttpConfig {
    fn validate(&self, path: &str, problems: &mut Vec<Problem>) {
        let field = if self.profiles_endpoint.is_some() {
            "profiles_endpoint"
        } else {
            "endpoint"
        };
        if self.common.endpoint.is_empty() && self.profiles_endpoint.is_none() {
            problems.push(Problem::new(
                join_path(path, "endpoint"),
                "endpoint or profiles_endpoint is required",
            ));
        } else if let Err(e) = self.url() {
            problems.push(Problem::new(join_path(path, field), e));
        }
        self.common.validate_common(path, problems);
        unknown_keys(
            &self.unknown,
            path,
            &key_union(OTLP_COMMON_KEYS, HTTP_KEYS),
            problems,
        );
    }
}

/// One encoded (and compressed) request body.
pub struct Body(Bytes);

struct HttpSender {
    client: reqwest::Client,
    url: Url,
    headers: HeaderMap,
    timeout: std::time::Duration,
    compression: Codec,
    max_request_bytes: u64,
    otlp_options: profcol_pdata::otlp::OtlpOptions,
    events: Arc<ExporterEvents>,
}

fn header_map(cfg: &OtlpCommon) -> Result<HeaderMap, Error> {
    let mut headers = HeaderMap::new();
    for (k, v) in &cfg.headers {
        let name = HeaderName::from_bytes(k.as_bytes())
            .map_err(|e| Error::Client(format!("header {k}: {e}")))?;
        let mut value = HeaderValue::from_str(v.expose())
            .map_err(|_| Error::Client(format!("header {k}: invalid value")))?;
        value.set_sensitive(true);
        headers.insert(name, value);
    }
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(PROTOBUF));
    if let Some(enc) = cfg.codec().encoding() {
        headers.insert(CONTENT_ENCODING, HeaderValue::from_static(enc));
    }
    Ok(headers)
}

#[async_trait::async_trait]
impl Sender for HttpSender {
    type Request = Body;

    fn prepare(&self, batch: ProfileBatch) -> Vec<Prepared<Body>> {
        let requests = crate::otlp_requests::otlp_requests(
            batch,
            self.max_request_bytes,
            &self.otlp_options,
            &self.events,
        );
        let mut out = Vec::with_capacity(requests.len());
        for request in requests {
            let profiles = request.profiles;
            let body = match request.compressed(self.compression) {
                Some(compressed) => {
                    self.events.sent_as_received();
                    Ok(compressed.clone())
                }
                None => self.compression.compress_bytes(request.bytes),
            };
            match body {
                Ok(body) => out.push(Prepared {
                    bytes: body.len() as u64,
                    profiles,
                    request: Body(body),
                }),
                Err(e) => {
                    self.events
                        .dropped("encode_failed", profiles, 0, &e.to_string());
                }
            }
        }
        out
    }

    async fn send(&self, body: &Body) -> Result<(), SendError> {
        let resp = match self
            .client
            .post(self.url.clone())
            .headers(self.headers.clone())
            .timeout(self.timeout)
            .body(body.0.clone())
            .send()
            .await
        {
            Ok(r) => r,
            Err(e) => {
                self.events.send_error(if e.is_timeout() {
                    "DEADLINE_EXCEEDED"
                } else {
                    "UNAVAILABLE"
                });
                return Err(SendError::retryable(error_chain(&e)));
            }
        };
        let status = resp.status();
        let headers = resp.headers().clone();
        let content_type = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok());
        let bytes = read_bounded(resp).await;
        if status.is_success() {
            if let Some(p) = partial_success(content_type, &bytes) {
                self.events
                    .partial_success(p.rejected_profiles, &p.error_message);
            }
            return Ok(());
        }
        let (code, reason, hint) = describe_error(status, content_type, &bytes);
        self.events.send_error(&code);
        match status {
            StatusCode::TOO_MANY_REQUESTS
            | StatusCode::BAD_GATEWAY
            | StatusCode::SERVICE_UNAVAILABLE
            | StatusCode::GATEWAY_TIMEOUT => Err(SendError::Retryable {
                reason,
                after: headers
                    .get(RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(parse_retry_after)
                    .or(hint),
            }),
            _ => Err(SendError::Permanent { reason }),
        }
    }
}

/// The metric code, the log reason and the status's retry delay of a
/// non-2xx answer. The body is a `google.rpc.Status` (protobuf or JSON,
/// per its `Content-Type`) from an OTLP server; anything else is quoted as
/// a short escaped prefix.
fn describe_error(
    status: StatusCode,
    content_type: Option<&str>,
    body: &[u8],
) -> (String, String, Option<std::time::Duration>) {
    let rpc = RpcStatus::from_body(content_type, body);
    let code = rpc
        .as_ref()
        .map_or_else(|| format!("HTTP_{}", status.as_u16()), RpcStatus::code_name);
    let mut reason = format!("HTTP {status}: {}", describe_body(rpc.as_ref(), body));
    if status == StatusCode::NOT_FOUND {
        reason.push_str(UNIMPLEMENTED_HINT);
    }
    (code, reason, rpc.and_then(|r| r.retry_delay))
}

/// A reqwest error with its causes (the top level alone says little).
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        out.push_str(": ");
        out.push_str(&s.to_string());
        src = s.source();
    }
    out
}

pub fn start(
    id: &str,
    cfg: &OtlpHttpConfig,
    telemetry: &profcol_runtime::Telemetry,
) -> Result<Arc<Pipeline>, Error> {
    let url = cfg.url().map_err(Error::Client)?;
    let client = reqwest::Client::builder()
        .use_preconfigured_tls(cfg.common.tls.rustls_config()?)
        .user_agent(crate::config::user_agent())
        .connect_timeout(cfg.common.timeout.get())
        .build()
        .map_err(|e| Error::Client(error_chain(&e)))?;
    let events = Arc::new(ExporterEvents::new(
        id,
        telemetry.metrics::<crate::metrics::ExporterMetrics>(),
    ));
    let sender = HttpSender {
        client,
        url,
        headers: header_map(&cfg.common)?,
        timeout: cfg.common.timeout.get(),
        compression: cfg.common.codec(),
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
