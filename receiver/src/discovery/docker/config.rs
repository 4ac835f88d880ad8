//! The `docker_sd_configs` and `dockerswarm_sd_configs` blocks: Prometheus'
//! keys and defaults, plus `max_response_size` (profcol's bound on one
//! answer of the daemon), and their validation with key paths.
//!
//! Of the shared HTTP client block only `tls_config` applies, and only to
//! an `https://` host or a `tcp://` host (which then speaks TLS):
//! authentication (`bearer_token*`, `basic_auth`, `authorization`,
//! `oauth2`) and proxies (`proxy_*`, `no_proxy`) are refused, because
//! profcol talks to the daemon directly. `enable_http2` and
//! `follow_redirects` are accepted and ignored: the Docker API is HTTP/1.1
//! and a redirect is reported as an error.

use crate::byte_size::ByteSize;
use profcol_config::{join_path, Duration, HttpClientConfig, Problem, Validate};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Default `refresh_interval` of both blocks.
pub const DEFAULT_REFRESH_INTERVAL: Duration = Duration::from_secs(60);
/// Default `port` of both blocks: used when a target has no port of its own.
pub const DEFAULT_PORT: u16 = 80;
/// Default `host_networking_host`.
pub const DEFAULT_HOST_NETWORKING_HOST: &str = "localhost";
/// Default `match_first_network`.
pub const DEFAULT_MATCH_FIRST_NETWORK: bool = true;
/// Default `max_response_size`: the most one answer of the daemon may hold
/// (status line, headers and body). A larger answer fails the refresh.
pub const DEFAULT_MAX_RESPONSE_SIZE: ByteSize = ByteSize::mib(64);

fn default_refresh() -> Duration {
    DEFAULT_REFRESH_INTERVAL
}
fn default_port() -> u16 {
    DEFAULT_PORT
}
fn default_host_networking_host() -> String {
    DEFAULT_HOST_NETWORKING_HOST.to_string()
}
fn default_match_first_network() -> bool {
    DEFAULT_MATCH_FIRST_NETWORK
}
fn default_max_response_size() -> ByteSize {
    DEFAULT_MAX_RESPONSE_SIZE
}

/// One `filters` entry: passed to the daemon's list call, which returns only
/// the objects that match (see the Docker Engine API for the names each
/// list accepts, e.g. `label`, `name`, `status`, `network`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Filter {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub values: Vec<String>,
}

/// One `docker_sd_configs` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DockerSdConfig {
    /// `unix:///var/run/docker.sock`, `tcp://host:2375`, `http://…`, `https://…`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "profcol_config::redact::serialize_optional_url"
    )]
    pub host: Option<String>,
    /// The port of targets of containers that publish or expose none.
    #[serde(default = "default_port")]
    pub port: u16,
    /// The address of containers in `host` network mode.
    #[serde(default = "default_host_networking_host")]
    pub host_networking_host: String,
    /// With several networks, only the first by name gives targets.
    #[serde(default = "default_match_first_network")]
    pub match_first_network: bool,
    #[serde(default)]
    pub filters: Vec<Filter>,
    #[serde(default = "default_refresh")]
    pub refresh_interval: Duration,
    #[serde(default = "default_max_response_size")]
    pub max_response_size: ByteSize,
    #[serde(flatten)]
    pub http: HttpClientConfig,
    #[serde(flatten, skip_serializing)]
    pub unknown: BTreeMap<String, profcol_config::Body>,
}

/// The keys of a `docker_sd_configs` entry besides the HTTP client's.
pub const DOCKER_SD_KEYS: &[&str] = &[
    "host",
    "port",
    "host_networking_host",
    "match_first_network",
    "filters",
    "refresh_interval",
    "max_response_size",
];

/// The keys of a `dockerswarm_sd_configs` entry besides the HTTP client's.
pub const DOCKERSWARM_SD_KEYS: &[&str] = &[
    "host",
    "role",
    "port",
    "filters",
    "refresh_interval",
    "max_response_size",
];

/// What `dockerswarm_sd_configs` discovers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SwarmRole {
    /// One target per service virtual IP and published TCP port.
    Services,
    /// One target per task network address and service TCP port, and per
    /// published host-mode port.
    Tasks,
    /// One target per node, at its address and `port`.
    Nodes,
}

impl SwarmRole {
    /// Parses a `role` value.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "services" => Some(Self::Services),
            "tasks" => Some(Self::Tasks),
            "nodes" => Some(Self::Nodes),
            _ => None,
        }
    }
}

/// One `dockerswarm_sd_configs` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DockerSwarmSdConfig {
    /// The address of a Swarm manager's daemon (same forms as `docker_sd_configs`).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "profcol_config::redact::serialize_optional_url"
    )]
    pub host: Option<String>,
    /// `services`, `tasks` or `nodes`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// The port of targets that have no published port of their own.
    #[serde(default = "default_port")]
    pub port: u16,
    #[serde(default)]
    pub filters: Vec<Filter>,
    #[serde(default = "default_refresh")]
    pub refresh_interval: Duration,
    #[serde(default = "default_max_response_size")]
    pub max_response_size: ByteSize,
    #[serde(flatten)]
    pub http: HttpClientConfig,
    #[serde(flatten, skip_serializing)]
    pub unknown: BTreeMap<String, profcol_config::Body>,
}

impl DockerSwarmSdConfig {
    /// The validated role (`None` only in an invalid config).
    pub fn role(&self) -> Option<SwarmRole> {
        self.role.as_deref().and_then(SwarmRole::parse)
    }
}

/// The schemes `host` may have.
const HOST_FORMS: &str =
    "unix:///path/to/docker.sock, tcp://host:port, http://host:port or https://host:port";

/// Checks the keys both blocks share.
#[allow(clippy::too_many_arguments)]
fn validate_common(
    path: &str,
    host: Option<&str>,
    filters: &[Filter],
    refresh_interval: Duration,
    max_response_size: ByteSize,
    http: &HttpClientConfig,
    (unknown, own_keys): (&BTreeMap<String, profcol_config::Body>, &[&'static str]),
    problems: &mut Vec<Problem>,
) {
    let at = |k: &str| join_path(path, k);
    let valid =
        profcol_config::keys::key_union(own_keys, profcol_config::http_client::HTTP_CLIENT_KEYS);
    profcol_config::unknown_keys(unknown, path, &valid, problems);
    let mut scheme = None;
    match host.map(str::trim) {
        None | Some("") => problems.push(Problem::new(at("host"), "host is required")),
        Some(h) => match url::Url::parse(h) {
            Err(e) => problems.push(Problem::new(
                at("host"),
                format!("invalid host {h:?}: {e} (want {HOST_FORMS})"),
            )),
            Ok(u) => match u.scheme() {
                "unix" if u.path().is_empty() || u.path() == "/" => problems.push(Problem::new(
                    at("host"),
                    format!("host {h:?} names no socket path (want unix:///path/to/docker.sock)"),
                )),
                "tcp" | "http" | "https" if u.host_str().is_none_or(str::is_empty) => problems
                    .push(Problem::new(
                        at("host"),
                        format!("host {h:?} names no host (want {HOST_FORMS})"),
                    )),
                s @ ("unix" | "tcp" | "http" | "https") => scheme = Some(s.to_string()),
                other => problems.push(Problem::new(
                    at("host"),
                    format!("unsupported host scheme {other:?} (want {HOST_FORMS})"),
                )),
            },
        },
    }
    for (i, f) in filters.iter().enumerate() {
        if f.name.trim().is_empty() {
            problems.push(Problem::new(
                join_path(&join_path(&at("filters"), &i.to_string()), "name"),
                "a filter needs a name",
            ));
        }
    }
    if refresh_interval.is_zero() {
        problems.push(Problem::new(
            at("refresh_interval"),
            "refresh_interval must be greater than 0",
        ));
    }
    if max_response_size.0 == 0 {
        problems.push(Problem::new(
            at("max_response_size"),
            "max_response_size must be greater than 0",
        ));
    }
    http.validate(path, problems);
    let unsupported: [(&str, bool); 9] = [
        ("bearer_token", http.bearer_token.is_some()),
        ("bearer_token_file", http.bearer_token_file.is_some()),
        ("basic_auth", http.basic_auth.is_some()),
        ("authorization", http.authorization.is_some()),
        ("oauth2", http.oauth2.is_some()),
        ("proxy_url", http.proxy_url.is_some()),
        ("no_proxy", http.no_proxy.is_some()),
        ("proxy_from_environment", http.proxy_from_environment),
        (
            "proxy_connect_header",
            !http.proxy_connect_header.is_empty(),
        ),
    ];
    for (key, set) in unsupported {
        if set {
            problems.push(Problem::new(
                at(key),
                format!("{key} is not supported by Docker discovery (profcol connects to the daemon directly; only tls_config applies, to https:// and tcp:// hosts)"),
            ));
        }
    }
    if http.tls_config.is_some() {
        if let Some(s @ ("unix" | "http")) = scheme.as_deref() {
            problems.push(Problem::new(
                at("tls_config"),
                format!("tls_config does not apply to a {s}:// host (use https:// or tcp://)"),
            ));
        }
    }
}

impl Validate for DockerSdConfig {
    fn validate(&self, path: &str, problems: &mut Vec<Problem>) {
        validate_common(
            path,
            self.host.as_deref(),
            &self.filters,
            self.refresh_interval,
            self.max_response_size,
            &self.http,
            (&self.unknown, DOCKER_SD_KEYS),
            problems,
        );
        if self.port == 0 {
            problems.push(Problem::new(
                join_path(path, "port"),
                "port must be between 1 and 65535",
            ));
        }
        if self.host_networking_host.trim().is_empty() {
            problems.push(Problem::new(
                join_path(path, "host_networking_host"),
                "host_networking_host must not be empty",
            ));
        }
    }
}

impl Validate for DockerSwarmSdConfig {
    fn validate(&self, path: &str, problems: &mut Vec<Problem>) {
        validate_common(
            path,
            self.host.as_deref(),
            &self.filters,
            self.refresh_interval,
            self.max_response_size,
            &self.http,
            (&self.unknown, DOCKERSWARM_SD_KEYS),
            problems,
        );
        match self.role.as_deref() {
            None | Some("") => problems.push(Problem::new(
                join_path(path, "role"),
                "role is required (one of: services, tasks, nodes)",
            )),
            Some(r) if SwarmRole::parse(r).is_none() => problems.push(Problem::new(
                join_path(path, "role"),
                profcol_config::suggest::unknown_value(r, "role", &["services", "tasks", "nodes"]),
            )),
            Some(_) => {}
        }
        if self.port == 0 {
            problems.push(Problem::new(
                join_path(path, "port"),
                "port must be between 1 and 65535",
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems<T: Validate + for<'de> Deserialize<'de>>(yaml: &str) -> Vec<String> {
        let c: T = profcol_config::yaml::from_str(yaml).unwrap();
        let mut p = Vec::new();
        c.validate("sd", &mut p);
        p.iter().map(|p| p.to_string()).collect()
    }

    #[test]
    fn docker_defaults_match_prometheus() {
        let c: DockerSdConfig =
            profcol_config::yaml::from_str("host: unix:///var/run/docker.sock").unwrap();
        assert_eq!(c.port, 80);
        assert_eq!(c.host_networking_host, "localhost");
        assert!(c.match_first_network);
        assert!(c.filters.is_empty());
        assert_eq!(c.refresh_interval, Duration::from_secs(60));
        assert!(problems::<DockerSdConfig>("host: unix:///var/run/docker.sock").is_empty());
    }

    #[test]
    fn swarm_defaults_and_roles() {
        let ok = "host: tcp://manager:2375\nrole: tasks";
        let c: DockerSwarmSdConfig = profcol_config::yaml::from_str(ok).unwrap();
        assert_eq!((c.port, c.role()), (80, Some(SwarmRole::Tasks)));
        assert!(problems::<DockerSwarmSdConfig>(ok).is_empty());
        let p = problems::<DockerSwarmSdConfig>("host: tcp://m:2375\nrole: pods");
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].starts_with("sd::role"), "{p:?}");
        let p = problems::<DockerSwarmSdConfig>("host: tcp://m:2375");
        assert!(p[0].contains("role is required"), "{p:?}");
    }

    #[test]
    fn bad_hosts_and_unsupported_keys_name_their_path() {
        let p = problems::<DockerSdConfig>("port: 9090");
        assert!(
            p.iter()
                .any(|p| p.starts_with("sd::host") && p.contains("required")),
            "{p:?}"
        );
        let p = problems::<DockerSdConfig>("host: ftp://docker:21");
        assert!(
            p.iter()
                .any(|p| p.contains("unsupported host scheme \"ftp\"")),
            "{p:?}"
        );
        let p = problems::<DockerSdConfig>("host: unix://");
        assert!(p.iter().any(|p| p.contains("no socket path")), "{p:?}");
        let p = problems::<DockerSdConfig>(
            "host: unix:///run/docker.sock\nbearer_token: x\ntls_config: {insecure_skip_verify: true}\nrefresh: 1s",
        );
        assert!(p.iter().any(|p| p.starts_with("sd::bearer_token")), "{p:?}");
        assert!(p.iter().any(|p| p.starts_with("sd::tls_config")), "{p:?}");
        assert!(
            p.iter()
                .any(|p| p.starts_with("sd::refresh: unknown key `refresh`: did you mean `refresh_interval`? (valid keys: host, ")),
            "{p:?}"
        );
        let p = problems::<DockerSdConfig>(
            "host: https://docker:2376\ntls_config: {insecure_skip_verify: true}\nfilters: [{values: [a]}]",
        );
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].starts_with("sd::filters::0::name"), "{p:?}");
    }
}
