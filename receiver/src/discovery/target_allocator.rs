//! `target_allocator`: targets handed out by the OpenTelemetry Operator's
//! target allocator, so that several profcol instances share the targets of
//! one job the way the Operator shards the Prometheus receiver.
//!
//! Every `interval` (default 30s) the source asks
//! `<endpoint>/jobs/<job>/targets?collector_id=<id>`, where `<job>` is the
//! receiver's `job_name`. The answer is in HTTP SD format (a list of
//! `{targets, labels}`); the allocator answers `[]` for a job it does not
//! know, so an empty answer is checked once against `<endpoint>/jobs` to
//! say so in the log. Unlike the Prometheus receiver, profcol does not read
//! the allocator's `/scrape_configs`: how to scrape comes from this
//! receiver's own settings, only *which* targets comes from the allocator.

use super::{http_sd, DiscoveryContext};
use crate::fetch::{read_body_capped, redact_url, strip_url};
use profcol_config::{join_path, Duration, HttpClientConfig, Problem, Validate};
use profcol_http::HttpClient;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use tokio_util::sync::CancellationToken;

/// The name of this source in discovery status and metrics.
pub const SOURCE: &str = "target_allocator";

/// Largest `/jobs` answer read for the unknown-job hint.
const MAX_JOBS_RESPONSE: usize = 1 << 20;

fn default_interval() -> Duration {
    Duration::from_secs(30)
}

/// The keys of the `target_allocator` block besides the HTTP client's.
pub const TARGET_ALLOCATOR_KEYS: &[&str] = &["endpoint", "interval", "collector_id"];

/// The `target_allocator` block; accepts the shared HTTP client blocks
/// (auth, TLS, proxy) for talking to the allocator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetAllocatorConfig {
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "profcol_config::redact::serialize_optional_url"
    )]
    pub endpoint: Option<String>,
    #[serde(default = "default_interval")]
    pub interval: Duration,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collector_id: Option<String>,
    #[serde(flatten)]
    pub http: HttpClientConfig,
    #[serde(flatten, skip_serializing)]
    pub unknown: BTreeMap<String, profcol_config::Body>,
}

impl Validate for TargetAllocatorConfig {
    fn validate(&self, path: &str, problems: &mut Vec<Problem>) {
        profcol_config::unknown_keys(
            &self.unknown,
            path,
            &profcol_config::keys::key_union(
                TARGET_ALLOCATOR_KEYS,
                profcol_config::http_client::HTTP_CLIENT_KEYS,
            ),
            problems,
        );
        let at = join_path(path, "endpoint");
        match self.endpoint.as_deref().map(url::Url::parse) {
            None => problems.push(Problem::new(at, "endpoint is required")),
            Some(Ok(u)) if u.scheme() != "http" && u.scheme() != "https" => problems
                .push(Problem::new(
                at,
                "endpoint must be an http or https URL (e.g. http://my-targetallocator-service)",
            )),
            Some(Ok(u)) if u.query().is_some() || u.fragment().is_some() => problems
                .push(Problem::new(
                at,
                "endpoint must not have a query or fragment: /jobs/<job>/targets is appended to it",
            )),
            Some(Ok(_)) => {}
            Some(Err(e)) => problems.push(Problem::new(at, format!("invalid URL: {e}"))),
        }
        if self.interval.is_zero() {
            problems.push(Problem::new(
                join_path(path, "interval"),
                "interval must be greater than 0",
            ));
        }
        match self.collector_id.as_deref().map(str::trim) {
            None => problems.push(Problem::new(
                join_path(path, "collector_id"),
                "collector_id is required (usually the pod name: ${env:POD_NAME})",
            )),
            Some("") => problems.push(Problem::new(
                join_path(path, "collector_id"),
                "collector_id must not be empty",
            )),
            Some(_) => {}
        }
        self.http.validate(path, problems);
    }
}

/// Escapes like Go's `url.QueryEscape`, which the allocator undoes: letters,
/// digits and `-_.~` stay, a space becomes `+`, every other byte `%XX`.
fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(b))
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// `<endpoint>/<tail>`, keeping any path prefix of the endpoint.
fn under(endpoint: &url::Url, tail: &str) -> url::Url {
    let mut u = endpoint.clone();
    let path = format!("{}/{tail}", endpoint.path().trim_end_matches('/'));
    u.set_path(&path);
    u
}

/// The URL this collector's targets of `job` are polled from.
pub fn targets_url(endpoint: &url::Url, job: &str, collector_id: &str) -> url::Url {
    let mut u = under(endpoint, &format!("jobs/{}/targets", query_escape(job)));
    u.query_pairs_mut()
        .clear()
        .append_pair("collector_id", collector_id);
    u
}

/// Polls the allocator until `shutdown`; sends the groups whenever they
/// change. A failed poll keeps the last good targets.
pub async fn run(
    endpoint: url::Url,
    job: String,
    collector_id: String,
    interval: std::time::Duration,
    client: HttpClient,
    ctx: DiscoveryContext,
    shutdown: CancellationToken,
) {
    let url = targets_url(&endpoint, &job, &collector_id);
    let shown = redact_url(&url);
    super::poll::poll(
        SOURCE,
        interval,
        &ctx,
        &shutdown,
        || http_sd::fetch(&client, &url),
        // Client errors name the URL already; others get it here.
        |message| {
            if message.contains(&shown) {
                message
            } else {
                format!("{shown}: {message}")
            }
        },
        |groups| {
            groups
                .iter()
                .all(|g| g.targets.is_empty())
                .then(|| warn_if_job_unknown(&client, &endpoint, &job, &ctx.component))
        },
    )
    .await;
}

/// The allocator answers `[]` both when this collector has no targets and
/// when it has no such job; the second is a config mistake worth a warning.
async fn warn_if_job_unknown(client: &HttpClient, endpoint: &url::Url, job: &str, component: &str) {
    let url = under(endpoint, "jobs");
    match job_names(client, &url).await {
        Ok(jobs) if !jobs.iter().any(|j| j == job) => tracing::warn!(
            component = %component,
            endpoint = %redact_url(endpoint),
            job = %job,
            known_jobs = %jobs.join(", "),
            "The target allocator has no job with this receiver's job_name: name its scrape job the same, or set job_name."
        ),
        Ok(_) => {}
        Err(e) => tracing::debug!(
            component = %component,
            url = %redact_url(&url),
            error = %e,
            "Could not list the target allocator's jobs."
        ),
    }
}

/// The job names of the allocator's `/jobs` answer (`{job: {_link}}`).
async fn job_names(client: &HttpClient, url: &url::Url) -> Result<Vec<String>, String> {
    let req = client.request(reqwest::Method::GET, url.clone());
    let resp = tokio::time::timeout(std::time::Duration::from_secs(10), client.send(req))
        .await
        .map_err(|_| "no answer within 10s".to_string())?
        .map_err(|e| strip_url(&e.to_string(), url))?;
    if !resp.status().is_success() {
        return Err(format!("server returned HTTP status {}", resp.status()));
    }
    let body = read_body_capped(resp, MAX_JOBS_RESPONSE)
        .await
        .map_err(|e| e.to_string())?;
    let jobs: BTreeMap<String, serde_json::Value> =
        serde_json::from_slice(&body).map_err(|e| format!("invalid /jobs JSON: {e}"))?;
    Ok(jobs.into_keys().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> url::Url {
        url::Url::parse(s).unwrap()
    }

    #[test]
    fn the_job_is_query_escaped_and_the_id_is_a_query_parameter() {
        let u = targets_url(
            &url("http://ta:8080"),
            "pyroscope_scrape/k8s pods~x*",
            "c-0",
        );
        assert_eq!(
            u.as_str(),
            "http://ta:8080/jobs/pyroscope_scrape%2Fk8s+pods~x%2A/targets?collector_id=c-0"
        );
        let u = targets_url(&url("https://h/prefix/"), "a", "pod&x=1");
        assert_eq!(
            u.as_str(),
            "https://h/prefix/jobs/a/targets?collector_id=pod%26x%3D1"
        );
    }

    #[test]
    fn defaults_and_problems() {
        let c: TargetAllocatorConfig =
            profcol_config::yaml::from_str("endpoint: http://ta\ncollector_id: c").unwrap();
        assert_eq!(c.interval, Duration::from_secs(30));
        let mut p = Vec::new();
        c.validate("x", &mut p);
        assert!(p.is_empty(), "{p:?}");
    }
}
