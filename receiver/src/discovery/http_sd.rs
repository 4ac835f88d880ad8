//! `http_sd_configs`: Prometheus HTTP service discovery. The endpoint
//! answers `200` with `application/json` holding a list of target groups;
//! it is polled every `refresh_interval` (default 60s).

use super::{DiscoveryContext, RawGroup, TargetGroup};
use crate::byte_size::ByteSize;
use crate::fetch::{read_body_capped, redact_url, strip_url};
use profcol_config::{join_path, Duration, HttpClientConfig, Problem, Validate};
use profcol_http::HttpClient;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use tokio_util::sync::CancellationToken;

/// Default `max_response_size`: the largest discovery answer accepted.
pub const DEFAULT_MAX_RESPONSE_SIZE: ByteSize = ByteSize::mib(16);

fn default_refresh() -> Duration {
    Duration::from_secs(60)
}
fn default_max_response_size() -> ByteSize {
    DEFAULT_MAX_RESPONSE_SIZE
}

/// The keys of an `http_sd_configs` entry besides the HTTP client's.
pub const HTTP_SD_KEYS: &[&str] = &["url", "refresh_interval", "max_response_size"];

/// One `http_sd_configs` entry; accepts the shared HTTP client blocks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HttpSdConfig {
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "profcol_config::redact::serialize_optional_url"
    )]
    pub url: Option<String>,
    #[serde(default = "default_refresh")]
    pub refresh_interval: Duration,
    /// A larger answer is refused (the last good targets stay).
    #[serde(default = "default_max_response_size")]
    pub max_response_size: ByteSize,
    #[serde(flatten)]
    pub http: HttpClientConfig,
    #[serde(flatten, skip_serializing)]
    pub unknown: BTreeMap<String, profcol_config::Body>,
}

impl Validate for HttpSdConfig {
    fn validate(&self, path: &str, problems: &mut Vec<Problem>) {
        profcol_config::unknown_keys(
            &self.unknown,
            path,
            &profcol_config::keys::key_union(
                HTTP_SD_KEYS,
                profcol_config::http_client::HTTP_CLIENT_KEYS,
            ),
            problems,
        );
        match self.url.as_deref().map(url::Url::parse) {
            None => problems.push(Problem::new(join_path(path, "url"), "url is required")),
            Some(Ok(u)) if u.scheme() == "http" || u.scheme() == "https" => {}
            Some(Ok(_)) => problems.push(Problem::new(
                join_path(path, "url"),
                "url must be an http or https URL",
            )),
            Some(Err(e)) => problems.push(Problem::new(
                join_path(path, "url"),
                format!("invalid URL: {e}"),
            )),
        }
        if self.refresh_interval.is_zero() {
            problems.push(Problem::new(
                join_path(path, "refresh_interval"),
                "refresh_interval must be greater than 0",
            ));
        }
        if self.max_response_size.0 == 0 {
            problems.push(Problem::new(
                join_path(path, "max_response_size"),
                "max_response_size must be greater than 0",
            ));
        }
        self.http.validate(path, problems);
    }
}

/// Polls the endpoint until `shutdown`; sends the groups whenever they change.
pub async fn run(
    url: url::Url,
    refresh: std::time::Duration,
    max_response_size: usize,
    client: HttpClient,
    source: String,
    ctx: DiscoveryContext,
    shutdown: CancellationToken,
) {
    super::poll::poll(
        &source,
        refresh,
        &ctx,
        &shutdown,
        || fetch_capped(&client, &url, max_response_size),
        |message| message,
        |_| None::<std::future::Ready<()>>,
    )
    .await;
}

pub(crate) async fn fetch(client: &HttpClient, url: &url::Url) -> Result<Vec<TargetGroup>, String> {
    fetch_capped(client, url, DEFAULT_MAX_RESPONSE_SIZE.0).await
}

/// GETs and parses the target groups; an answer over `max` bytes is refused.
async fn fetch_capped(
    client: &HttpClient,
    url: &url::Url,
    max: usize,
) -> Result<Vec<TargetGroup>, String> {
    let req = client.request(reqwest::Method::GET, url.clone());
    let resp = client
        .send(req)
        .await
        .map_err(|e| strip_url(&e.to_string(), url))?;
    let status = resp.status();
    if status != reqwest::StatusCode::OK {
        return Err(format!("server returned HTTP status {status}"));
    }
    let content_type = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    if !content_type.starts_with("application/json") {
        return Err(format!(
            "unsupported content type {content_type:?} (want application/json)"
        ));
    }
    let body = read_body_capped(resp, max).await.map_err(|e| match e {
        crate::Error::BodyTooLarge { limit } => {
            format!("response is larger than max_response_size ({limit} bytes)")
        }
        other => other.to_string(),
    })?;
    parse(&body, &redact_url(url))
}

/// Parses an HTTP SD answer, adding `__meta_url` to every group.
pub fn parse(body: &[u8], shown_url: &str) -> Result<Vec<TargetGroup>, String> {
    let raw: Vec<RawGroup> =
        serde_json::from_slice(body).map_err(|e| format!("invalid target groups JSON: {e}"))?;
    Ok(raw
        .into_iter()
        .map(|g| g.into_group(&[("__meta_url", shown_url)]))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_target_groups() {
        let body =
            br#"[{"targets": ["a:1", "b:2"], "labels": {"env": "prod"}}, {"targets": ["c:3"]}]"#;
        let g = parse(body, "http://sd/x").unwrap();
        assert_eq!(g.len(), 2);
        assert_eq!(g[0].targets.len(), 2);
        assert_eq!(g[0].labels.get("env"), Some("prod"));
        assert_eq!(g[1].labels.get("__meta_url"), Some("http://sd/x"));
        assert!(parse(b"{}", "u")
            .unwrap_err()
            .starts_with("invalid target groups JSON"));
    }

    #[test]
    fn default_refresh_is_60s() {
        let c: HttpSdConfig = profcol_config::yaml::from_str("url: http://x").unwrap();
        assert_eq!(c.refresh_interval, Duration::from_secs(60));
    }
}
