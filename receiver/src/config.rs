//! The `pyroscope_scrape` config: every seed argument under its seed name
//! with its default, the shared HTTP client blocks, discovery, and the
//! checks that report every problem at once with its key path. It
//! serializes back to the YAML it decodes from, credentials redacted.

use crate::byte_size::ByteSize;
use crate::discovery::docker::{DockerSdConfig, DockerSwarmSdConfig};
use crate::discovery::file_sd::FileSdConfig;
use crate::discovery::http_sd::HttpSdConfig;
use crate::discovery::kubernetes::KubernetesSdConfig;
use crate::discovery::target_allocator::TargetAllocatorConfig;
use crate::profile_types::{valid_name, ProfileType, ProfilingConfig};
use crate::relabel::{compile_all, RelabelConfig, Rule};
use crate::targets::{address_with_port, ADDRESS, SCHEME};
use profcol_config::{join_path, Duration, HttpClientConfig, Problem, Validate};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Default `scrape_interval`.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(15);
/// `scrape_timeout` defaults to the interval plus this.
pub const DEFAULT_TIMEOUT_MARGIN: std::time::Duration = std::time::Duration::from_secs(3);
/// Default `max_body_size`.
pub const DEFAULT_MAX_BODY_SIZE: ByteSize = ByteSize::mib(64);

/// Default `max_samples_per_profile`.
pub const DEFAULT_MAX_SAMPLES_PER_PROFILE: usize = 4_000_000;
/// Default `max_labels_per_sample`.
pub const DEFAULT_MAX_LABELS_PER_SAMPLE: usize =
    profcol_pdata::pprof::DEFAULT_MAX_LABELS_PER_SAMPLE;
/// Default `label_limit`.
pub const DEFAULT_LABEL_LIMIT: usize = 100;
/// Default `label_name_length_limit`.
pub const DEFAULT_LABEL_NAME_LENGTH_LIMIT: usize = 1024;
/// Default `label_value_length_limit`.
pub const DEFAULT_LABEL_VALUE_LENGTH_LIMIT: usize = 4096;

fn default_max_samples_per_profile() -> usize {
    DEFAULT_MAX_SAMPLES_PER_PROFILE
}
fn default_max_labels_per_sample() -> usize {
    DEFAULT_MAX_LABELS_PER_SAMPLE
}

/// Default `max_stack_depth`: Grafana Pyroscope's default
/// `validation.max-profile-stacktrace-depth`.
pub const DEFAULT_MAX_STACK_DEPTH: usize = 1_000;

fn default_max_stack_depth() -> usize {
    DEFAULT_MAX_STACK_DEPTH
}
fn default_label_limit() -> usize {
    DEFAULT_LABEL_LIMIT
}
fn default_label_name_length_limit() -> usize {
    DEFAULT_LABEL_NAME_LENGTH_LIMIT
}
fn default_label_value_length_limit() -> usize {
    DEFAULT_LABEL_VALUE_LENGTH_LIMIT
}
fn default_interval() -> Duration {
    DEFAULT_INTERVAL
}
fn default_scheme() -> String {
    "http".to_string()
}
fn default_max_body_size() -> ByteSize {
    DEFAULT_MAX_BODY_SIZE
}

/// `clustering { enabled }`: with `service.cluster.enabled`, this receiver
/// scrapes only the targets this node owns among the cluster's live members;
/// without a cluster the block changes nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Clustering {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

/// The keys of a `pyroscope_scrape` receiver besides the HTTP client's.
pub const SCRAPE_KEYS: &[&str] = &[
    "targets",
    "http_sd_configs",
    "file_sd_configs",
    "docker_sd_configs",
    "dockerswarm_sd_configs",
    "kubernetes_sd_configs",
    "target_allocator",
    "relabel_configs",
    "job_name",
    "params",
    "scrape_interval",
    "scrape_timeout",
    "scheme",
    "delta_profiling_duration",
    "max_body_size",
    "max_samples_per_profile",
    "max_labels_per_sample",
    "max_stack_depth",
    "label_limit",
    "label_name_length_limit",
    "label_value_length_limit",
    "profiling_config",
    "clustering",
];

/// A `pyroscope_scrape` receiver's YAML body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScrapeConfig {
    /// Static targets: label maps with at least `__address__`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "crate::redacted::serialize_targets"
    )]
    pub targets: Option<Vec<BTreeMap<String, String>>>,
    #[serde(default)]
    pub http_sd_configs: Vec<HttpSdConfig>,
    #[serde(default)]
    pub file_sd_configs: Vec<FileSdConfig>,
    /// Containers of a Docker daemon.
    #[serde(default)]
    pub docker_sd_configs: Vec<DockerSdConfig>,
    /// Services, tasks or nodes of a Docker Swarm.
    #[serde(default)]
    pub dockerswarm_sd_configs: Vec<DockerSwarmSdConfig>,
    /// Targets watched in the Kubernetes API (Prometheus' roles and labels).
    #[serde(default)]
    pub kubernetes_sd_configs: Vec<KubernetesSdConfig>,
    /// Targets handed out by the OpenTelemetry Operator's target allocator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_allocator: Option<TargetAllocatorConfig>,
    /// Applied to every discovered target before it is expanded.
    #[serde(default)]
    pub relabel_configs: Vec<RelabelConfig>,
    /// Default: the component id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_name: Option<String>,
    #[serde(
        default,
        serialize_with = "profcol_config::redact::serialize_param_lists"
    )]
    pub params: BTreeMap<String, Vec<String>>,
    #[serde(default = "default_interval")]
    pub scrape_interval: Duration,
    /// Default: `scrape_interval` + 3s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scrape_timeout: Option<Duration>,
    #[serde(default = "default_scheme")]
    pub scheme: String,
    /// Default: `scrape_interval` − 1s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delta_profiling_duration: Option<Duration>,
    #[serde(default = "default_max_body_size")]
    pub max_body_size: ByteSize,
    /// Samples one profile may hold (0: no limit).
    #[serde(default = "default_max_samples_per_profile")]
    pub max_samples_per_profile: usize,
    /// pprof labels one sample may carry (0: no limit).
    #[serde(default = "default_max_labels_per_sample")]
    pub max_labels_per_sample: usize,
    /// Frames kept of one stack: deeper stacks are truncated to their
    /// root-most frames (0: no limit).
    #[serde(default = "default_max_stack_depth")]
    pub max_stack_depth: usize,
    /// Labels a target may carry after relabeling (0: no limit).
    #[serde(default = "default_label_limit")]
    pub label_limit: usize,
    /// Bytes of one label name after relabeling (0: no limit).
    #[serde(default = "default_label_name_length_limit")]
    pub label_name_length_limit: usize,
    /// Bytes of one label value after relabeling (0: no limit).
    #[serde(default = "default_label_value_length_limit")]
    pub label_value_length_limit: usize,
    #[serde(default)]
    pub profiling_config: ProfilingConfig,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clustering: Option<Clustering>,
    #[serde(flatten)]
    pub http: HttpClientConfig,
    /// Every key nothing above claimed; each is reported as a problem.
    #[serde(flatten, skip_serializing)]
    pub unknown: BTreeMap<String, profcol_config::Body>,
}

impl ScrapeConfig {
    pub fn scrape_timeout(&self) -> Duration {
        self.scrape_timeout
            .unwrap_or_else(|| Duration(self.scrape_interval.get() + DEFAULT_TIMEOUT_MARGIN))
    }

    /// The `seconds` query parameter of `delta: true` profile types.
    pub fn delta_seconds(&self) -> u64 {
        match self.delta_profiling_duration {
            Some(d) => d.get().as_secs(),
            None => self
                .scrape_interval
                .get()
                .saturating_sub(std::time::Duration::from_secs(1))
                .as_secs(),
        }
    }
}

impl ScrapeConfig {
    /// The same config with the defaults that depend on other keys written
    /// out (`job_name`, `scrape_timeout`, the `seconds` of delta types, every
    /// profile type's settings, `clustering`): two bodies that configure the
    /// same receiver resolve to equal values however they were spelled.
    /// `component` is the receiver's id, `job_name`'s default.
    pub fn resolved(&self, component: &str) -> ScrapeConfig {
        let mut out = self.clone();
        out.job_name = Some(
            self.job_name
                .clone()
                .unwrap_or_else(|| component.to_string()),
        );
        out.scrape_timeout = Some(self.scrape_timeout());
        out.delta_profiling_duration = Some(Duration::from_secs(self.delta_seconds()));
        out.profiling_config = self.profiling_config.resolved();
        out.targets = Some(self.targets.clone().unwrap_or_default());
        let clustering = self.clustering.as_ref().and_then(|c| c.enabled) == Some(true);
        out.clustering = Some(Clustering {
            enabled: Some(clustering),
        });
        out
    }
}

impl Validate for ScrapeConfig {
    fn validate(&self, path: &str, problems: &mut Vec<Problem>) {
        let at = |field: &str| join_path(path, field);
        let valid = profcol_config::keys::key_union(
            SCRAPE_KEYS,
            profcol_config::http_client::HTTP_CLIENT_KEYS,
        );
        for key in self.unknown.keys() {
            match key.as_str() {
                "forward_to" => problems.push(Problem::new(
                    at(key),
                    "forward_to is not used by profcol: list this receiver in a pipeline of service.pipelines instead",
                )),
                _ => problems.push(profcol_config::suggest::unknown_key(path, key, &valid)),
            }
        }
        if let Err(p) = compile_all(&self.relabel_configs, &at("relabel_configs")) {
            problems.extend(p);
        }
        check_targets(self, path, problems);
        if let Some(job) = &self.job_name {
            if job.is_empty() {
                problems.push(Problem::new(
                    at("job_name"),
                    "job_name must not be empty (omit it to use the component id)",
                ));
            }
        }
        for (k, v) in &self.params {
            if v.is_empty() {
                problems.push(Problem::new(
                    join_path(&at("params"), k),
                    "a query parameter needs at least one value",
                ));
            }
        }
        let interval = self.scrape_interval;
        if interval.is_zero() {
            problems.push(Problem::new(
                at("scrape_interval"),
                "scrape_interval must be greater than 0",
            ));
        }
        let timeout = self.scrape_timeout();
        if timeout <= interval {
            problems.push(Problem::new(
                at("scrape_timeout"),
                format!(
                    "scrape_timeout ({timeout}) must be larger than scrape_interval ({interval})"
                ),
            ));
        }
        if self.scheme != "http" && self.scheme != "https" {
            problems.push(Problem::new(
                at("scheme"),
                format!(
                    "scheme must be \"http\" or \"https\" (got {:?})",
                    self.scheme
                ),
            ));
        }
        let delta_in_use = self.profiling_config.enabled().iter().any(|p| p.delta);
        if delta_in_use && interval.get() < std::time::Duration::from_secs(2) {
            problems.push(Problem::new(
                at("scrape_interval"),
                format!("scrape_interval ({interval}) must be at least 2s when a profile type with delta: true is enabled (seconds = scrape_interval - 1s)"),
            ));
        }
        if let Some(d) = self.delta_profiling_duration {
            let max = interval
                .get()
                .saturating_sub(std::time::Duration::from_secs(1));
            if d.get() <= std::time::Duration::from_secs(1) {
                problems.push(Problem::new(
                    at("delta_profiling_duration"),
                    format!("delta_profiling_duration ({d}) must be larger than 1s"),
                ));
            } else if d.get() > max {
                problems.push(Problem::new(
                    at("delta_profiling_duration"),
                    format!(
                        "delta_profiling_duration ({d}) must be at most scrape_interval - 1s ({})",
                        Duration(max)
                    ),
                ));
            }
        }
        if self.max_body_size.0 == 0 {
            problems.push(Problem::new(
                at("max_body_size"),
                "max_body_size must be greater than 0",
            ));
        }
        let pc = at("profiling_config");
        self.profiling_config.check(&pc, problems);
        if self.profiling_config.enabled().is_empty() {
            problems.push(Problem::new(
                join_path(&pc, "profile"),
                "every profile type is disabled: enable at least one",
            ));
        }
        if let Some(c) = &self.clustering {
            if c.enabled.is_none() {
                problems.push(Problem::new(
                    join_path(&at("clustering"), "enabled"),
                    "enabled is required",
                ));
            }
        }
        for (i, sd) in self.http_sd_configs.iter().enumerate() {
            sd.validate(&join_path(&at("http_sd_configs"), &i.to_string()), problems);
        }
        for (i, sd) in self.file_sd_configs.iter().enumerate() {
            sd.validate(&join_path(&at("file_sd_configs"), &i.to_string()), problems);
        }
        for (i, sd) in self.docker_sd_configs.iter().enumerate() {
            sd.validate(
                &join_path(&at("docker_sd_configs"), &i.to_string()),
                problems,
            );
        }
        for (i, sd) in self.dockerswarm_sd_configs.iter().enumerate() {
            let here = join_path(&at("dockerswarm_sd_configs"), &i.to_string());
            sd.validate(&here, problems);
        }
        for (i, sd) in self.kubernetes_sd_configs.iter().enumerate() {
            sd.validate(
                &join_path(&at("kubernetes_sd_configs"), &i.to_string()),
                problems,
            );
        }
        if let Some(ta) = &self.target_allocator {
            ta.validate(&at("target_allocator"), problems);
        }
        self.http.validate(path, problems);
    }
}

fn check_targets(cfg: &ScrapeConfig, path: &str, problems: &mut Vec<Problem>) {
    let at = join_path(path, "targets");
    let Some(targets) = &cfg.targets else {
        if cfg.http_sd_configs.is_empty()
            && cfg.file_sd_configs.is_empty()
            && cfg.docker_sd_configs.is_empty()
            && cfg.dockerswarm_sd_configs.is_empty()
            && cfg.kubernetes_sd_configs.is_empty()
            && cfg.target_allocator.is_none()
        {
            problems.push(Problem::new(
                at,
                "targets is required (list targets here, or discover them with http_sd_configs, file_sd_configs, kubernetes_sd_configs, docker_sd_configs, dockerswarm_sd_configs or target_allocator)",
            ));
        }
        return;
    };
    for (i, t) in targets.iter().enumerate() {
        let here = join_path(&at, &i.to_string());
        match t.get(ADDRESS).filter(|a| !a.is_empty()) {
            None => problems.push(Problem::new(
                here.clone(),
                "a target needs an __address__ label",
            )),
            Some(addr) => {
                let mut scheme = t.get(SCHEME).unwrap_or(&cfg.scheme).as_str();
                if scheme != "http" && scheme != "https" {
                    if t.contains_key(SCHEME) {
                        problems.push(Problem::new(
                            join_path(&here, SCHEME),
                            format!("__scheme__ must be \"http\" or \"https\" (got {scheme:?})"),
                        ));
                    }
                    scheme = "http";
                }
                if let Err(e) = address_with_port(addr, scheme) {
                    let msg = match e {
                        crate::Error::InvalidTarget(m) => m,
                        other => other.to_string(),
                    };
                    problems.push(Problem::new(join_path(&here, ADDRESS), msg));
                }
            }
        }
        for name in t.keys() {
            if !valid_name(name) {
                problems.push(Problem::new(
                    join_path(&here, name),
                    format!("invalid label name {name:?} (must match [a-zA-Z_][a-zA-Z0-9_]*)"),
                ));
            }
        }
    }
}

/// A validated config resolved for running: defaults applied.
#[derive(Debug, Clone)]
pub struct Settings {
    pub component: String,
    pub job_name: String,
    pub scheme: String,
    pub params: BTreeMap<String, Vec<String>>,
    pub interval: std::time::Duration,
    pub timeout: std::time::Duration,
    pub delta_seconds: u64,
    pub path_prefix: String,
    pub profiles: Vec<Arc<ProfileType>>,
    pub max_body_size: usize,
    pub limits: Limits,
    pub relabel: Vec<Rule>,
}

/// The per-input caps besides the body size; 0 means no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_samples_per_profile: usize,
    pub max_labels_per_sample: usize,
    pub max_stack_depth: usize,
    pub label_limit: usize,
    pub label_name_length_limit: usize,
    pub label_value_length_limit: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_samples_per_profile: DEFAULT_MAX_SAMPLES_PER_PROFILE,
            max_labels_per_sample: DEFAULT_MAX_LABELS_PER_SAMPLE,
            max_stack_depth: DEFAULT_MAX_STACK_DEPTH,
            label_limit: DEFAULT_LABEL_LIMIT,
            label_name_length_limit: DEFAULT_LABEL_NAME_LENGTH_LIMIT,
            label_value_length_limit: DEFAULT_LABEL_VALUE_LENGTH_LIMIT,
        }
    }
}

impl Limits {
    /// The decoder's caps for one scraped body.
    pub fn decode_limits(&self, max_body_size: usize) -> profcol_pdata::pprof::DecodeLimits {
        let or_max = |n: usize| if n == 0 { usize::MAX } else { n };
        profcol_pdata::pprof::DecodeLimits {
            max_decompressed_bytes: max_body_size,
            max_samples: or_max(self.max_samples_per_profile),
            max_labels_per_sample: or_max(self.max_labels_per_sample),
            max_stack_depth: self.max_stack_depth,
            ..profcol_pdata::pprof::DecodeLimits::default()
        }
    }
}

impl Settings {
    pub fn new(component: &str, cfg: &ScrapeConfig) -> Self {
        Self {
            component: component.to_string(),
            job_name: cfg
                .job_name
                .clone()
                .unwrap_or_else(|| component.to_string()),
            scheme: cfg.scheme.clone(),
            params: cfg.params.clone(),
            interval: cfg.scrape_interval.get(),
            timeout: cfg.scrape_timeout().get(),
            delta_seconds: cfg.delta_seconds(),
            path_prefix: cfg.profiling_config.path_prefix.clone().unwrap_or_default(),
            profiles: cfg
                .profiling_config
                .enabled()
                .into_iter()
                .map(Arc::new)
                .collect(),
            max_body_size: cfg.max_body_size.0,
            limits: Limits {
                max_samples_per_profile: cfg.max_samples_per_profile,
                max_labels_per_sample: cfg.max_labels_per_sample,
                max_stack_depth: cfg.max_stack_depth,
                label_limit: cfg.label_limit,
                label_name_length_limit: cfg.label_name_length_limit,
                label_value_length_limit: cfg.label_value_length_limit,
            },
            // Validation has compiled these once already; a config that
            // reaches here has no invalid rule.
            relabel: compile_all(&cfg.relabel_configs, "relabel_configs").unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod tests;
