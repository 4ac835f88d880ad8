//! The `pyroscope` exporter's config: one or more `endpoint` blocks (a map or
//! a list), `external_labels`, and the sending queue. Each endpoint carries
//! Alloy's `pyroscope.write` keys plus the full HTTP client block.
//!
//! Both serialize back to the block a user writes (`endpoint` always as a
//! list), with every secret redacted by its type: header values, the HTTP
//! client's credentials and the `url`'s userinfo and secret-looking query
//! values.

use super::labels::valid_name;
use crate::config::{key_union, unknown_keys, validate_headers, Headers, Unknown};
use crate::queue::QueueConfig;
use crate::retry::RetryPolicy;
use profcol_config::http_client::HTTP_CLIENT_KEYS;
use profcol_config::{decode_only, join_path, Duration, HttpClientConfig, Problem, Validate};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The keys of the `pyroscope` exporter's block.
pub const TOP_KEYS: &[&str] = &[
    "endpoint",
    "external_labels",
    "sending_queue",
    "max_request_bytes",
];

/// The keys of an `endpoint` block besides the HTTP client's.
pub const ENDPOINT_KEYS: &[&str] = &[
    "url",
    "name",
    "headers",
    "remote_timeout",
    "min_backoff_period",
    "max_backoff_period",
    "max_backoff_retries",
    "retry_on_http_429",
];

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
struct Top {
    endpoint: profcol_config::Body,
    external_labels: BTreeMap<String, String>,
    sending_queue: QueueConfig,
    max_request_bytes: Option<u64>,
    #[serde(flatten)]
    unknown: Unknown,
}

/// Default `max_request_bytes` of one push request.
pub const DEFAULT_MAX_REQUEST_BYTES: u64 = 16 << 20;

/// One `endpoint` block.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default)]
pub struct EndpointConfig {
    pub url: String,
    pub name: Option<String>,
    pub headers: Headers,
    pub remote_timeout: Duration,
    pub min_backoff_period: Duration,
    pub max_backoff_period: Duration,
    /// Attempts in all; 0 = retry forever.
    pub max_backoff_retries: u32,
    pub retry_on_http_429: bool,
    /// Decoded on its own (see `endpoint_at`) so its errors keep their path.
    #[serde(skip)]
    pub http: HttpClientConfig,
    #[serde(flatten)]
    pub unknown: Unknown,
}

/// The endpoint's own keys and its HTTP client's, in one block.
impl Serialize for EndpointConfig {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Shown<'a> {
            #[serde(serialize_with = "profcol_config::redact::serialize_url")]
            url: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            name: Option<&'a str>,
            headers: &'a Headers,
            remote_timeout: Duration,
            min_backoff_period: Duration,
            max_backoff_period: Duration,
            max_backoff_retries: u32,
            retry_on_http_429: bool,
            #[serde(flatten)]
            http: &'a HttpClientConfig,
        }
        Shown {
            url: &self.url,
            name: self.name.as_deref(),
            headers: &self.headers,
            remote_timeout: self.remote_timeout,
            min_backoff_period: self.min_backoff_period,
            max_backoff_period: self.max_backoff_period,
            max_backoff_retries: self.max_backoff_retries,
            retry_on_http_429: self.retry_on_http_429,
            http: &self.http,
        }
        .serialize(s)
    }
}

impl Default for EndpointConfig {
    fn default() -> Self {
        Self {
            url: String::new(),
            name: None,
            headers: Headers::new(),
            remote_timeout: Duration::from_secs(10),
            min_backoff_period: Duration::from_millis(500),
            max_backoff_period: Duration::from_secs(300),
            max_backoff_retries: 10,
            retry_on_http_429: true,
            http: HttpClientConfig::default(),
            unknown: Unknown::new(),
        }
    }
}

impl EndpointConfig {
    /// The endpoint's backoff keys as a retry policy.
    pub fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy {
            enabled: true,
            initial_interval: self.min_backoff_period.get(),
            max_interval: self.max_backoff_period.get(),
            max_elapsed_time: std::time::Duration::ZERO,
            multiplier: 2.0,
            randomization_factor: 0.0,
            max_attempts: (self.max_backoff_retries > 0).then_some(self.max_backoff_retries),
        }
    }
}

impl Validate for EndpointConfig {
    fn validate(&self, path: &str, problems: &mut Vec<Problem>) {
        if self.url.is_empty() {
            problems.push(Problem::new(join_path(path, "url"), "url is required"));
        } else {
            match reqwest::Url::parse(&self.url) {
                Ok(u) if matches!(u.scheme(), "http" | "https") => {}
                Ok(u) => problems.push(Problem::new(
                    join_path(path, "url"),
                    format!("unsupported scheme {:?} (use http or https)", u.scheme()),
                )),
                Err(e) => problems.push(Problem::new(
                    join_path(path, "url"),
                    format!("invalid URL: {e}"),
                )),
            }
        }
        if self.remote_timeout.is_zero() {
            problems.push(Problem::new(
                join_path(path, "remote_timeout"),
                "must be greater than 0",
            ));
        }
        if self.min_backoff_period.is_zero() {
            problems.push(Problem::new(
                join_path(path, "min_backoff_period"),
                "must be greater than 0",
            ));
        }
        if self.max_backoff_period < self.min_backoff_period {
            problems.push(Problem::new(
                join_path(path, "max_backoff_period"),
                "must not be smaller than min_backoff_period",
            ));
        }
        validate_headers(&self.headers, path, problems);
        self.http.validate(path, problems);
        unknown_keys(
            &self.unknown,
            path,
            &key_union(ENDPOINT_KEYS, HTTP_CLIENT_KEYS),
            problems,
        );
    }
}

/// The whole, validated `pyroscope` block.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PyroscopeConfig {
    #[serde(rename = "endpoint")]
    pub endpoints: Vec<EndpointConfig>,
    #[serde(serialize_with = "serialize_labels")]
    pub external_labels: BTreeMap<String, String>,
    pub sending_queue: QueueConfig,
    /// Largest encoded push request; bigger batches are split, a single
    /// profile over it is dropped and counted. 0 = no limit.
    pub max_request_bytes: u64,
}

/// Labels with the values of credential-looking names (`api_key`,
/// `token`, …) redacted, as the collector has always printed them.
fn serialize_labels<S: serde::Serializer>(
    labels: &BTreeMap<String, String>,
    s: S,
) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut map = s.serialize_map(Some(labels.len()))?;
    for (name, value) in labels {
        if profcol_config::redact::is_secret_param(name) {
            map.serialize_entry(name, profcol_config::secret::REDACTED)?;
        } else {
            map.serialize_entry(name, value)?;
        }
    }
    map.end()
}

/// Decodes one endpoint block: the HTTP client keys as an
/// `HttpClientConfig`, the rest as the endpoint's own keys, so that errors in
/// either carry their full key path.
fn endpoint_at(
    body: &profcol_config::Body,
    path: &str,
    problems: &mut Vec<Problem>,
) -> Option<EndpointConfig> {
    let Some((http_body, own_body)) = body.split_keys(HTTP_CLIENT_KEYS) else {
        problems.push(Problem::new(
            path,
            "an endpoint must be a mapping (url and its settings)",
        ));
        return None;
    };
    let own = decode_only::<EndpointConfig>(&own_body, path);
    let http = decode_only::<HttpClientConfig>(&http_body, path);
    match (own, http) {
        (Ok(mut e), Ok(http)) => {
            e.http = http;
            e.validate(path, problems);
            Some(e)
        }
        (own, http) => {
            problems.extend(own.err());
            problems.extend(http.err());
            None
        }
    }
}

/// Decodes and validates, collecting every problem.
pub fn parse(body: &profcol_config::Body, path: &str) -> Result<PyroscopeConfig, Vec<Problem>> {
    let top: Top = decode_only(body, path).map_err(|p| vec![p])?;
    let mut problems = Vec::new();
    let ep_path = join_path(path, "endpoint");
    let mut endpoints = Vec::new();
    match top.endpoint.items() {
        Some(list) if !list.is_empty() => {
            for (i, v) in list.iter().enumerate() {
                endpoints.extend(endpoint_at(
                    v,
                    &join_path(&ep_path, &i.to_string()),
                    &mut problems,
                ));
            }
        }
        _ if top.endpoint.is_mapping() => {
            endpoints.extend(endpoint_at(&top.endpoint, &ep_path, &mut problems))
        }
        _ => problems.push(Problem::new(
            ep_path.clone(),
            "at least one endpoint block (with a url) is required",
        )),
    }
    for name in top.external_labels.keys() {
        if !valid_name(name) || name.starts_with("__") {
            problems.push(Problem::new(
                join_path(&join_path(path, "external_labels"), name),
                "label names may contain only letters, digits, '_' and '.', and must not start with \"__\"",
            ));
        }
    }
    top.sending_queue
        .validate(&join_path(path, "sending_queue"), &mut problems);
    unknown_keys(&top.unknown, path, TOP_KEYS, &mut problems);
    if problems.is_empty() {
        Ok(PyroscopeConfig {
            endpoints,
            external_labels: top.external_labels,
            sending_queue: top.sending_queue,
            max_request_bytes: top.max_request_bytes.unwrap_or(DEFAULT_MAX_REQUEST_BYTES),
        })
    } else {
        Err(problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(yaml: &str) -> Vec<String> {
        let v = profcol_config::Body::parse(yaml).unwrap();
        match parse(&v, "exporters::pyroscope") {
            Ok(_) => vec![],
            Err(p) => p.iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn one_map_or_a_list_with_defaults() {
        let v = profcol_config::Body::parse("endpoint: {url: 'http://p:4040'}").unwrap();
        let c = parse(&v, "x").unwrap();
        let e = &c.endpoints[0];
        assert_eq!(e.remote_timeout, Duration::from_secs(10));
        assert_eq!(e.max_backoff_retries, 10);
        assert!(e.retry_on_http_429);
        assert_eq!(e.retry_policy().max_attempts, Some(10));
        let v = profcol_config::Body::parse(
            "endpoint: [{url: 'http://a'}, {url: 'http://b', max_backoff_retries: 0, basic_auth: {username: u, password: p}}]",
        )
        .unwrap();
        let c = parse(&v, "x").unwrap();
        assert_eq!(c.endpoints.len(), 2);
        assert_eq!(c.endpoints[1].retry_policy().max_attempts, None);
        assert_eq!(
            c.endpoints[1].http.basic_auth.as_ref().unwrap().username,
            "u"
        );
    }

    #[test]
    fn every_problem_at_once_with_its_path() {
        let got = problems(
            "endpoint: [{url: 'http://a', bogus: 1}, {url: 'ftp://b', bearer_token: t, bearer_token_file: f}]\nexternal_labels: {bad-name: x}\nextra: 1",
        );
        assert_eq!(
            got,
            vec![
                "exporters::pyroscope::endpoint::0::bogus: unknown key `bogus` (valid keys: url, name, headers, remote_timeout, min_backoff_period, max_backoff_period, max_backoff_retries, retry_on_http_429, bearer_token, bearer_token_file, basic_auth, authorization, oauth2, tls_config, enable_http2, follow_redirects, proxy_url, no_proxy, proxy_from_environment, proxy_connect_header)",
                "exporters::pyroscope::endpoint::1::url: unsupported scheme \"ftp\" (use http or https)",
                "exporters::pyroscope::endpoint::1::bearer_token: at most one of bearer_token & bearer_token_file must be configured",
                "exporters::pyroscope::external_labels::bad-name: label names may contain only letters, digits, '_' and '.', and must not start with \"__\"",
                "exporters::pyroscope::extra: unknown key `extra` (valid keys: endpoint, external_labels, sending_queue, max_request_bytes)",
            ]
        );
        assert_eq!(
            problems("endpoint: {url: 'http://a', basic_auth: {usernme: u}, remote_timeout: x}"),
            vec![
                "exporters::pyroscope::endpoint::remote_timeout: invalid duration \"x\": expected a number (write it like 15s, 1m30s or 500ms)",
                "exporters::pyroscope::endpoint::basic_auth::usernme: unknown key `usernme`: did you mean `username`? (valid keys: username, password, password_file)",
            ]
        );
        assert_eq!(
            problems("{}"),
            vec!["exporters::pyroscope::endpoint: at least one endpoint block (with a url) is required"]
        );
    }
}
