//! The `pyroscope` exporter: pushes every profile to each configured
//! endpoint with the Pyroscope push API (a Connect unary call), forwarding
//! scraped pprof byte for byte when it is unaltered.

pub mod config;
pub mod labels;
pub mod metrics;
pub mod push_proto;

use crate::events::ExporterEvents;
use crate::pipeline::{Pipeline, Prepared, Sender};
use crate::retry::{parse_retry_after, GiveUp, SendError};
use crate::rpc_status::{describe_body, RpcStatus};
use crate::split::split_to_fit;
use crate::Error;
use bytes::Bytes;
use config::{EndpointConfig, PyroscopeConfig};
use metrics::{EndpointLabels, WriteMetrics};
use profcol_http::reqwest::header::{
    HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE, RETRY_AFTER,
};
use profcol_http::reqwest::{Method, StatusCode, Url};
use profcol_http::{ClientOptions, HttpClient};
use profcol_pdata::{Labels, ProfileBatch};
use prost::Message;
use push_proto::{LabelPair, PushRequest, RawProfileSeries, RawSample};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The header that names the tenant.
pub const TENANT_HEADER: &str = "X-Scope-OrgID";

/// One push, for one tenant.
pub struct Push {
    body: Bytes,
    tenant: Option<String>,
    profiles: u64,
    /// The raw profile bytes it carries (what Alloy's byte counters count).
    raw_bytes: u64,
}

struct PushSender {
    client: HttpClient,
    url: Url,
    headers: HeaderMap,
    timeout: std::time::Duration,
    retry_429: bool,
    external: Labels,
    max_request_bytes: u64,
    events: Arc<ExporterEvents>,
    metrics: Arc<WriteMetrics>,
    label: EndpointLabels,
}

/// The endpoint URL without credentials, query or fragment, for labels.
fn display_url(url: &Url) -> String {
    let mut u = url.clone();
    let _ = u.set_username("");
    let _ = u.set_password(None);
    u.set_query(None);
    u.set_fragment(None);
    u.to_string()
}

fn push_url(base: &str) -> Result<Url, Error> {
    let joined = format!("{}/{}", base.trim_end_matches('/'), push_proto::PUSH_PATH);
    Url::parse(&joined).map_err(|e| Error::Client(format!("invalid url: {e}")))
}

impl PushSender {
    fn new(
        ep: &EndpointConfig,
        external: Labels,
        max_request_bytes: u64,
        events: Arc<ExporterEvents>,
        metrics: Arc<WriteMetrics>,
        component: &str,
    ) -> Result<Self, Error> {
        let client = HttpClient::new(
            &ep.http,
            &ClientOptions {
                user_agent: crate::config::user_agent(),
            },
        )
        .map_err(|e| Error::Client(e.to_string()))?;
        let url = push_url(&ep.url)?;
        let mut headers = HeaderMap::new();
        for (k, v) in &ep.headers {
            let name = HeaderName::from_bytes(k.as_bytes())
                .map_err(|e| Error::Client(format!("header {k}: {e}")))?;
            let mut value = HeaderValue::from_str(v.expose())
                .map_err(|_| Error::Client(format!("header {k}: invalid value")))?;
            value.set_sensitive(true);
            headers.insert(name, value);
        }
        let label = EndpointLabels {
            component_id: component.to_string(),
            endpoint: ep.name.clone().unwrap_or_else(|| display_url(&url)),
        };
        Ok(Self {
            client,
            url,
            headers,
            timeout: ep.remote_timeout.get(),
            retry_429: ep.retry_on_http_429,
            external,
            max_request_bytes,
            events,
            metrics,
            label,
        })
    }

    fn classify(&self, status: StatusCode, headers: &HeaderMap, body: &[u8]) -> SendError {
        // Connect errors are JSON `{"code": "invalid_argument", "message": …}`.
        let content_type = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok());
        let rpc = RpcStatus::from_body(content_type, body);
        self.events.send_error(
            &rpc.as_ref()
                .map_or_else(|| format!("HTTP_{}", status.as_u16()), RpcStatus::code_name),
        );
        let reason = format!("HTTP {status}: {}", describe_body(rpc.as_ref(), body));
        let after = headers
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        let retry = status.is_server_error()
            || status == StatusCode::REQUEST_TIMEOUT
            || (status == StatusCode::TOO_MANY_REQUESTS && self.retry_429);
        if retry {
            SendError::Retryable { reason, after }
        } else {
            SendError::Permanent { reason }
        }
    }
}

#[async_trait::async_trait]
impl Sender for PushSender {
    type Request = Push;

    fn prepare(&self, batch: ProfileBatch) -> Vec<Prepared<Push>> {
        let mut by_tenant: BTreeMap<Option<String>, (Vec<RawProfileSeries>, u64)> = BTreeMap::new();
        let (records, unconvertible) = batch.into_pprof_records();
        for e in unconvertible {
            self.events.dropped("convert_failed", 1, 0, &e.to_string());
        }
        for record in records {
            // The served bytes when nothing changed them, else a
            // re-encoding of the body with its delta values.
            let raw = record.pprof.pprof_gzip();
            let (pairs, tenant): (Vec<LabelPair>, _) =
                match labels::series_labels(&record.labels, &self.external) {
                    Ok(x) => x,
                    Err(reason) => {
                        self.events
                            .dropped("invalid_labels", 1, raw.len() as u64, &reason);
                        self.metrics
                            .dropped_profiles
                            .get_or_create(&self.label)
                            .inc();
                        self.metrics
                            .dropped_bytes
                            .get_or_create(&self.label)
                            .inc_by(raw.len() as u64);
                        continue;
                    }
                };
            let entry = by_tenant.entry(tenant).or_default();
            entry.1 += raw.len() as u64;
            entry.0.push(RawProfileSeries {
                labels: pairs,
                samples: vec![RawSample {
                    raw_profile: raw,
                    id: String::new(),
                }],
            });
        }
        let max = self.max_request_bytes;
        let encode = |s: &[RawProfileSeries]| PushRequest { series: s.to_vec() }.encode_to_vec();
        let mut out = Vec::new();
        for (tenant, (series, _)) in by_tenant {
            let parts = split_to_fit(series, max, &encode, &mut |n| {
                self.events.request_too_large("max_request_bytes", max, n);
                self.metrics
                    .dropped_profiles
                    .get_or_create(&self.label)
                    .inc();
                self.metrics
                    .dropped_bytes
                    .get_or_create(&self.label)
                    .inc_by(n as u64);
            });
            for (body, part) in parts {
                let profiles = part.len() as u64;
                let raw_bytes = part
                    .iter()
                    .flat_map(|s| &s.samples)
                    .map(|x| x.raw_profile.len() as u64)
                    .sum();
                out.push(Prepared {
                    bytes: body.len() as u64,
                    profiles,
                    request: Push {
                        body: Bytes::from(body),
                        tenant: tenant.clone(),
                        profiles,
                        raw_bytes,
                    },
                });
            }
        }
        out
    }

    async fn send(&self, push: &Push) -> Result<(), SendError> {
        let mut headers = self.headers.clone();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static(push_proto::CONTENT_TYPE),
        );
        headers.insert("connect-protocol-version", HeaderValue::from_static("1"));
        if let Ok(v) = HeaderValue::from_str(&self.timeout.as_millis().to_string()) {
            headers.insert("connect-timeout-ms", v);
        }
        if let Some(tenant) = &push.tenant {
            match HeaderValue::from_str(tenant) {
                Ok(v) => {
                    headers.insert(TENANT_HEADER, v);
                }
                Err(_) => {
                    return Err(SendError::permanent(format!(
                        "tenant id {tenant:?} cannot be sent as a header"
                    )))
                }
            }
        }
        let req = self
            .client
            .request(Method::POST, self.url.clone())
            .headers(headers)
            .timeout(self.timeout)
            .body(push.body.clone());
        let resp = self.client.send(req).await.map_err(|e| match e {
            profcol_http::Error::InvalidConfig { .. } | profcol_http::Error::Unsupported { .. } => {
                SendError::permanent(e.to_string())
            }
            other => {
                self.events.send_error("UNAVAILABLE");
                SendError::retryable(other.to_string())
            }
        })?;
        let status = resp.status();
        if status.is_success() {
            return Ok(());
        }
        let headers = resp.headers().clone();
        let body = crate::otlp_response::read_bounded(resp).await;
        Err(self.classify(status, &headers, &body))
    }

    fn on_attempt(&self, _push: &Push, elapsed: std::time::Duration) {
        self.metrics
            .latency
            .get_or_create(&self.label)
            .observe(elapsed.as_secs_f64());
    }

    fn on_retry(&self, _push: &Push) {
        self.metrics.retries.get_or_create(&self.label).inc();
    }

    fn on_done(&self, push: &Push, outcome: Result<(), GiveUp>) {
        let (profiles, bytes) = match outcome {
            Ok(()) => (&self.metrics.sent_profiles, &self.metrics.sent_bytes),
            Err(_) => (&self.metrics.dropped_profiles, &self.metrics.dropped_bytes),
        };
        profiles.get_or_create(&self.label).inc_by(push.profiles);
        bytes.get_or_create(&self.label).inc_by(push.raw_bytes);
    }
}

/// Starts one pipeline per endpoint.
pub fn start(
    id: &str,
    cfg: &PyroscopeConfig,
    telemetry: &profcol_runtime::Telemetry,
) -> Result<Vec<Arc<Pipeline>>, Error> {
    let external: Labels = cfg
        .external_labels
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let metrics = telemetry.metrics::<WriteMetrics>();
    let exporter_metrics = telemetry.metrics::<crate::metrics::ExporterMetrics>();
    let many = cfg.endpoints.len() > 1;
    let mut pipelines = Vec::with_capacity(cfg.endpoints.len());
    for (i, ep) in cfg.endpoints.iter().enumerate() {
        let events_id = if many {
            format!("{id}[{}]", ep.name.clone().unwrap_or_else(|| i.to_string()))
        } else {
            id.to_string()
        };
        let events = Arc::new(ExporterEvents::new(events_id, exporter_metrics.clone()));
        let sender = PushSender::new(
            ep,
            external.clone(),
            cfg.max_request_bytes,
            events.clone(),
            metrics.clone(),
            id,
        )?;
        pipelines.push(Pipeline::start(
            Arc::new(sender),
            &cfg.sending_queue,
            ep.retry_policy(),
            events,
        )?);
    }
    Ok(pipelines)
}
