//! The `otlp_grpc` exporter (alias `otlp`): calls
//! `ProfilesService/Export` with one `ExportProfilesServiceRequest` per
//! (merged) batch.

use crate::config::{unknown_keys, Compression, Unknown};
use crate::events::ExporterEvents;
use crate::grpc_status::classify;
use crate::otlp_config::OtlpCommon;
use crate::pipeline::{Pipeline, Prepared, Sender};
use crate::retry::{RetryPolicy, SendError};
use crate::Error;
use profcol_config::{join_path, Duration, Problem, Validate};
use profcol_pdata::otlp_collector::profiles_service_client::ProfilesServiceClient;
use profcol_pdata::otlp_collector::ExportProfilesServiceRequest;
use profcol_pdata::ProfileBatch;
use prost::Message;
use serde::Deserialize;
use std::sync::Arc;
use tonic::codec::CompressionEncoding;
use tonic::metadata::{MetadataKey, MetadataMap, MetadataValue};
use tonic::transport::{Channel, Endpoint};

/// HTTP/2 keepalive pings (`keepalive`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct Keepalive {
    pub time: Duration,
    pub timeout: Duration,
    pub permit_without_stream: bool,
    #[serde(flatten)]
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

crate::otlp_raw_config!(RawGrpc { keepalive: Option<Keepalive> = None });

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(from = "RawGrpc")]
pub struct OtlpGrpcConfig {
    pub common: OtlpCommon,
    pub keepalive: Option<Keepalive>,
    pub unknown: Unknown,
}

impl From<RawGrpc> for OtlpGrpcConfig {
    fn from(mut raw: RawGrpc) -> Self {
        Self {
            common: raw.split_common(),
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
            unknown_keys(&k.unknown, &join_path(path, "keepalive"), problems);
        }
        unknown_keys(&self.unknown, path, problems);
    }
}

struct GrpcSender {
    client: ProfilesServiceClient<Channel>,
    metadata: MetadataMap,
    timeout: std::time::Duration,
    events: Arc<ExporterEvents>,
}

#[async_trait::async_trait]
impl Sender for GrpcSender {
    type Request = ExportProfilesServiceRequest;

    fn prepare(&self, batch: ProfileBatch) -> Vec<Prepared<ExportProfilesServiceRequest>> {
        let request = profcol_pdata::to_otlp::to_otlp(&batch.records);
        vec![Prepared {
            bytes: request.encoded_len() as u64,
            profiles: batch.len() as u64,
            request,
        }]
    }

    async fn send(&self, request: &ExportProfilesServiceRequest) -> Result<(), SendError> {
        let mut req = tonic::Request::new(request.clone());
        *req.metadata_mut() = self.metadata.clone();
        req.set_timeout(self.timeout);
        let resp = self
            .client
            .clone()
            .export(req)
            .await
            .map_err(|s| classify(&s))?;
        if let Some(p) = resp
            .into_inner()
            .partial_success
            .filter(|p| p.rejected_profiles != 0 || !p.error_message.is_empty())
        {
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
    telemetry: &profcol_pdata::Telemetry,
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
    let mut client = ProfilesServiceClient::new(endpoint.connect_lazy())
        .max_decoding_message_size(16 * 1024 * 1024)
        .max_encoding_message_size(usize::MAX);
    client = match cfg.common.compression {
        Compression::Gzip => client.send_compressed(CompressionEncoding::Gzip),
        Compression::Zstd => client.send_compressed(CompressionEncoding::Zstd),
        Compression::None => client,
    }
    .accept_compressed(CompressionEncoding::Gzip)
    .accept_compressed(CompressionEncoding::Zstd);
    let events = Arc::new(ExporterEvents::new(
        id,
        telemetry.metrics::<crate::metrics::ExporterMetrics>(),
    ));
    let sender = GrpcSender {
        client,
        metadata: metadata(&cfg.common)?,
        timeout: cfg.common.timeout.get(),
        events: events.clone(),
    };
    Pipeline::start(
        Arc::new(sender),
        &cfg.common.sending_queue,
        RetryPolicy::from(&cfg.common.retry_on_failure),
        events,
    )
}
