//! The top-level document: `receivers`, `processors`, `exporters`,
//! `extensions` and `service`. Component bodies stay raw YAML here; the crate
//! that owns a component type decodes its body.

use crate::body::Body;
use crate::cluster::ClusterConfig;
use crate::component_id::ComponentId;
use crate::decode::{decode_value, Validate};
use crate::duration::Duration;
use crate::error::{join_path, Problem};
use crate::expand::key_name;
use crate::http_client::BasicAuth;
use crate::secret::Secret;
use crate::server::ServerTlsConfig;
use crate::yaml::Value;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The four component sections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Receiver,
    Processor,
    Exporter,
    Extension,
}

impl Kind {
    pub fn section(self) -> &'static str {
        match self {
            Kind::Receiver => "receivers",
            Kind::Processor => "processors",
            Kind::Exporter => "exporters",
            Kind::Extension => "extensions",
        }
    }
    pub fn singular(self) -> &'static str {
        match self {
            Kind::Receiver => "receiver",
            Kind::Processor => "processor",
            Kind::Exporter => "exporter",
            Kind::Extension => "extension",
        }
    }
    pub const ALL: [Kind; 4] = [
        Kind::Receiver,
        Kind::Processor,
        Kind::Exporter,
        Kind::Extension,
    ];
}

/// The whole config with component bodies still raw.
#[derive(Debug, Clone, Default)]
pub struct CollectorConfig {
    pub components: BTreeMap<Kind, BTreeMap<ComponentId, Body>>,
    pub service: ServiceConfig,
}

impl CollectorConfig {
    pub fn section(&self, kind: Kind) -> impl Iterator<Item = (&ComponentId, &Body)> {
        self.components
            .get(&kind)
            .into_iter()
            .flat_map(|m| m.iter())
    }
    pub fn get(&self, kind: Kind, id: &ComponentId) -> Option<&Body> {
        self.components.get(&kind).and_then(|m| m.get(id))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceConfig {
    #[serde(default)]
    pub pipelines: BTreeMap<String, PipelineConfig>,
    #[serde(default)]
    pub extensions: Vec<ComponentId>,
    #[serde(default)]
    pub telemetry: TelemetryConfig,
    #[serde(default = "default_shutdown_timeout")]
    pub shutdown_timeout: Duration,
    /// Memory bound of the process in MiB; 0 (the default) is no bound.
    #[serde(default)]
    pub memory_limit_mib: u64,
    /// Head room below `memory_limit_mib`: new scrapes are refused from
    /// `memory_limit_mib - memory_spike_limit_mib` on. Default: 20% of the limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_spike_limit_mib: Option<u64>,
    /// Gossip membership shared with other profcol nodes.
    #[serde(default)]
    pub cluster: ClusterConfig,
}

impl ServiceConfig {
    /// Bytes of memory use from which new work is refused; 0 = no bound.
    pub fn memory_soft_limit_bytes(&self) -> u64 {
        let limit = self.memory_limit_mib;
        let spike = self.memory_spike_limit_mib.unwrap_or(limit / 5);
        limit.saturating_sub(spike).saturating_mul(1 << 20)
    }
}

impl Default for ServiceConfig {
    fn default() -> Self {
        Self {
            pipelines: BTreeMap::new(),
            extensions: Vec::new(),
            telemetry: TelemetryConfig::default(),
            shutdown_timeout: default_shutdown_timeout(),
            memory_limit_mib: 0,
            memory_spike_limit_mib: None,
            cluster: ClusterConfig::default(),
        }
    }
}

fn default_shutdown_timeout() -> Duration {
    Duration::from_secs(10)
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineConfig {
    #[serde(default)]
    pub receivers: Vec<ComponentId>,
    #[serde(default)]
    pub processors: Vec<ComponentId>,
    #[serde(default)]
    pub exporters: Vec<ComponentId>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelemetryConfig {
    #[serde(default)]
    pub logs: LogsConfig,
    #[serde(default)]
    pub metrics: MetricsConfig,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogsConfig {
    /// `trace`, `debug`, `info`, `warn`, `error`, or a tracing filter.
    #[serde(default = "default_level")]
    pub level: String,
    #[serde(default)]
    pub format: LogFormat,
}

impl Default for LogsConfig {
    fn default() -> Self {
        Self {
            level: default_level(),
            format: LogFormat::default(),
        }
    }
}

fn default_level() -> String {
    "info".into()
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Logfmt,
    Json,
    Text,
}

/// `service.telemetry.metrics`: the admin server (metrics, health, pprof,
/// targets): where it listens, and optionally TLS and one kind of auth.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// The bind address; loopback unless configured otherwise.
    #[serde(default = "default_admin_address")]
    pub address: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<ServerTlsConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basic_auth: Option<BasicAuth>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bearer_token: Option<Secret>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bearer_token_file: Option<String>,
    /// Memory (MiB) for the last profile of each scrape job that the flame
    /// graph viewer (`/profile`) shows; the oldest are evicted first, `0`
    /// keeps none. Default [`DEFAULT_KEPT_PROFILES_MIB`], at most a quarter
    /// of `service.memory_limit_mib` when that is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kept_profiles_mib: Option<u64>,
}

/// `service.telemetry.metrics.kept_profiles_mib` when not given.
pub const DEFAULT_KEPT_PROFILES_MIB: u64 = 64;
/// The largest `kept_profiles_mib` accepted (1 TiB).
pub const MAX_KEPT_PROFILES_MIB: u64 = 1 << 20;

impl Default for MetricsConfig {
    fn default() -> Self {
        Self {
            address: default_admin_address(),
            tls: None,
            basic_auth: None,
            bearer_token: None,
            bearer_token_file: None,
            kept_profiles_mib: None,
        }
    }
}

impl Validate for MetricsConfig {
    fn validate(&self, path: &str, problems: &mut Vec<Problem>) {
        let field = |name: &str| join_path(path, name);
        let addr = &self.address;
        if !addr.is_empty() && addr.parse::<std::net::SocketAddr>().is_err() && !addr.contains(':')
        {
            problems.push(Problem::new(
                field("address"),
                format!("{addr:?} is not host:port"),
            ));
        }
        if let Some(tls) = &self.tls {
            tls.validate(&field("tls"), problems);
        }
        if let Some(kept) = self
            .kept_profiles_mib
            .filter(|&k| k > MAX_KEPT_PROFILES_MIB)
        {
            problems.push(Problem::new(
                field("kept_profiles_mib"),
                format!("{kept} is more than {MAX_KEPT_PROFILES_MIB} (1 TiB)"),
            ));
        }
        crate::server::validate_auth(
            self.basic_auth.as_ref(),
            self.bearer_token.as_ref(),
            self.bearer_token_file.as_deref(),
            path,
            problems,
        );
    }
}

pub fn default_admin_address() -> String {
    "127.0.0.1:8888".into()
}

impl ServiceConfig {
    /// The byte budget of the profiles kept for the flame graph viewer:
    /// `telemetry.metrics.kept_profiles_mib`, else the default (at most a
    /// quarter of `memory_limit_mib` when that is set).
    pub fn kept_profiles_bytes(&self) -> u64 {
        let mib = match self.telemetry.metrics.kept_profiles_mib {
            Some(m) => m,
            None if self.memory_limit_mib > 0 => {
                DEFAULT_KEPT_PROFILES_MIB.min(self.memory_limit_mib / 4)
            }
            None => DEFAULT_KEPT_PROFILES_MIB,
        };
        mib.min(MAX_KEPT_PROFILES_MIB).saturating_mul(1024 * 1024)
    }
}

impl Validate for ServiceConfig {
    fn validate(&self, path: &str, problems: &mut Vec<Problem>) {
        let lp = join_path(path, "telemetry::logs::level");
        let level = self.telemetry.logs.level.to_ascii_lowercase();
        if !["trace", "debug", "info", "warn", "error", "off"].contains(&level.as_str())
            && !level.contains('=')
        {
            problems.push(Problem::new(
                lp,
                format!(
                    "unknown level {:?} (use trace, debug, info, warn, error or off)",
                    self.telemetry.logs.level
                ),
            ));
        }
        self.telemetry
            .metrics
            .validate(&join_path(path, "telemetry::metrics"), problems);
        self.cluster.validate(&join_path(path, "cluster"), problems);
        let kept = self.telemetry.metrics.kept_profiles_mib;
        if let Some(kept) =
            kept.filter(|&k| self.memory_limit_mib > 0 && k >= self.memory_limit_mib)
        {
            problems.push(Problem::new(
                join_path(path, "telemetry::metrics::kept_profiles_mib"),
                format!(
                    "kept_profiles_mib ({kept}) must be smaller than memory_limit_mib ({})",
                    self.memory_limit_mib
                ),
            ));
        }
        if let Some(spike) = self.memory_spike_limit_mib {
            if self.memory_limit_mib == 0 {
                problems.push(Problem::new(
                    join_path(path, "memory_spike_limit_mib"),
                    "memory_spike_limit_mib needs memory_limit_mib",
                ));
            } else if spike >= self.memory_limit_mib {
                problems.push(Problem::new(
                    join_path(path, "memory_spike_limit_mib"),
                    format!(
                        "memory_spike_limit_mib ({spike}) must be smaller than memory_limit_mib ({})",
                        self.memory_limit_mib
                    ),
                ));
            }
        }
    }
}

/// The keys of the document's top level.
pub const TOP_LEVEL_KEYS: &[&str] = &[
    "receivers",
    "processors",
    "exporters",
    "extensions",
    "service",
];

/// The keys of `service`, each decoded on its own by `parse_service`.
pub const SERVICE_KEYS: &[&str] = &[
    "pipelines",
    "extensions",
    "telemetry",
    "shutdown_timeout",
    "memory_limit_mib",
    "memory_spike_limit_mib",
    "cluster",
];

/// Splits the document into sections, checking only the structure (known
/// top-level keys, valid ids, the `service` block, pipeline references).
pub fn parse_collector(doc: &Value) -> Result<CollectorConfig, Vec<Problem>> {
    let (cfg, problems) = parse_collector_partial(doc);
    if problems.is_empty() {
        Ok(cfg)
    } else {
        Err(problems)
    }
}

/// Like [`parse_collector`], but also returns whatever parsed, so that the
/// component bodies can be checked next to the structural problems.
pub fn parse_collector_partial(doc: &Value) -> (CollectorConfig, Vec<Problem>) {
    let mut problems = Vec::new();
    let mut cfg = CollectorConfig::default();
    let Value::Mapping(root) = doc else {
        problems.push(Problem::new("", "the top level must be a mapping"));
        return (cfg, problems);
    };
    for (k, v) in root {
        let key = key_name(k);
        if key == "service" {
            cfg.service = parse_service(v, &mut problems);
            cfg.service.validate("service", &mut problems);
            continue;
        }
        let Some(kind) = Kind::ALL.into_iter().find(|k| k.section() == key) else {
            problems.push(crate::suggest::unknown_key("", &key, TOP_LEVEL_KEYS));
            continue;
        };
        let section = cfg.components.entry(kind).or_default();
        match v {
            Value::Null => {}
            Value::Mapping(m) => {
                for (id, body) in m {
                    let id_text = key_name(id);
                    match id_text.parse::<ComponentId>() {
                        Ok(id) => {
                            section.insert(id, Body::from_value(body.clone()));
                        }
                        Err(e) => {
                            problems.push(Problem::new(join_path(&key, &id_text), e.to_string()))
                        }
                    }
                }
            }
            _ => problems.push(Problem::new(
                key,
                "must be a mapping of component ids to their settings",
            )),
        }
    }
    check_pipelines(&cfg, &mut problems);
    (cfg, problems)
}

/// Decodes `service` key by key, so that one bad key does not hide the
/// problems of the others (pipelines are checked even next to a typo).
fn parse_service(v: &Value, problems: &mut Vec<Problem>) -> ServiceConfig {
    let mut service = ServiceConfig::default();
    let map = match v {
        Value::Null => return service,
        Value::Mapping(m) => m,
        _ => {
            problems.push(Problem::new("service", "must be a mapping"));
            return service;
        }
    };
    for (k, value) in map {
        let key = key_name(k);
        let path = join_path("service", &key);
        let value = value.clone();
        let result = match key.as_str() {
            "pipelines" => {
                service.pipelines = decode_pipelines(value, &path, problems);
                Ok(())
            }
            "extensions" => decode_value(value, &path).map(|x| service.extensions = x),
            "telemetry" => {
                let mut value = value;
                crate::telemetry_compat::normalize(&mut value, &path, problems);
                decode_value(value, &path).map(|x| service.telemetry = x)
            }
            "shutdown_timeout" => decode_value(value, &path).map(|x| service.shutdown_timeout = x),
            "memory_limit_mib" => decode_value(value, &path).map(|x| service.memory_limit_mib = x),
            "memory_spike_limit_mib" => {
                decode_value(value, &path).map(|x| service.memory_spike_limit_mib = Some(x))
            }
            "cluster" => decode_value(value, &path).map(|x| service.cluster = x),
            _ => Err(crate::suggest::unknown_key("service", &key, SERVICE_KEYS)),
        };
        if let Err(p) = result {
            problems.push(p);
        }
    }
    service
}

/// `exporter otlphtp is not defined under exporters: did you mean
/// otlphttp? (defined: debug, otlphttp)`.
fn undefined(cfg: &CollectorConfig, kind: Kind, id: &ComponentId) -> String {
    let defined: Vec<String> = cfg.section(kind).map(|(d, _)| d.to_string()).collect();
    let names: Vec<&str> = defined.iter().map(String::as_str).collect();
    let mut out = format!(
        "{} {id} is not defined under {}",
        kind.singular(),
        kind.section()
    );
    if let Some(near) = crate::suggest::nearest(&id.to_string(), &names) {
        out.push_str(&format!(": did you mean {near}?"));
    }
    if names.is_empty() {
        out.push_str(&format!(" (no {} are defined)", kind.section()));
    } else {
        out.push_str(&format!(" (defined: {})", names.join(", ")));
    }
    out
}

/// Decodes each pipeline on its own: one with a mistake is reported and
/// left out, and the others are still checked.
fn decode_pipelines(
    value: Value,
    path: &str,
    problems: &mut Vec<Problem>,
) -> BTreeMap<String, PipelineConfig> {
    let mut out = BTreeMap::new();
    let pipelines: BTreeMap<String, Value> = match decode_value(value, path) {
        Ok(p) => p,
        Err(p) => {
            problems.push(p);
            return out;
        }
    };
    for (name, body) in pipelines {
        match decode_value(body, &join_path(path, &name)) {
            Ok(p) => {
                out.insert(name, p);
            }
            Err(p) => problems.push(p),
        }
    }
    out
}

fn check_pipelines(cfg: &CollectorConfig, problems: &mut Vec<Problem>) {
    let reported = problems
        .iter()
        .any(|p| p.path.starts_with("service::pipelines"));
    if cfg.service.pipelines.is_empty() && !reported {
        problems.push(Problem::new(
            "service::pipelines",
            "at least one pipeline is required (service.pipelines.profiles)",
        ));
    }
    for (name, p) in &cfg.service.pipelines {
        let path = join_path("service::pipelines", name);
        match name.parse::<ComponentId>() {
            Ok(id) if id.kind() == "profiles" => {}
            Ok(id) => problems.push(Problem::new(
                path.clone(),
                format!("signal {:?} is not supported: profcol runs only profiles pipelines (profiles or profiles/<name>)", id.kind()),
            )),
            Err(e) => problems.push(Problem::new(path.clone(), e.to_string())),
        }
        if p.receivers.is_empty() {
            problems.push(Problem::new(
                join_path(&path, "receivers"),
                "a pipeline needs at least one receiver",
            ));
        }
        if p.exporters.is_empty() {
            problems.push(Problem::new(
                join_path(&path, "exporters"),
                "a pipeline needs at least one exporter",
            ));
        }
        for (kind, list, field) in [
            (Kind::Receiver, &p.receivers, "receivers"),
            (Kind::Processor, &p.processors, "processors"),
            (Kind::Exporter, &p.exporters, "exporters"),
        ] {
            for (i, id) in list.iter().enumerate() {
                if cfg.get(kind, id).is_none() {
                    problems.push(Problem::new(
                        join_path(&join_path(&path, field), &i.to_string()),
                        undefined(cfg, kind, id),
                    ));
                }
                if list[..i].contains(id) {
                    problems.push(Problem::new(
                        join_path(&join_path(&path, field), &i.to_string()),
                        format!("{id} is listed twice"),
                    ));
                }
            }
        }
    }
    for (i, id) in cfg.service.extensions.iter().enumerate() {
        if cfg.get(Kind::Extension, id).is_none() {
            problems.push(Problem::new(
                format!("service::extensions::{i}"),
                undefined(cfg, Kind::Extension, id),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(yaml: &str) -> Vec<String> {
        let doc: Value = crate::yaml::from_str(yaml).unwrap();
        match parse_collector(&doc) {
            Ok(_) => vec![],
            Err(p) => p.iter().map(|p| p.to_string()).collect(),
        }
    }

    #[test]
    fn accepts_a_minimal_pipeline() {
        let doc: Value = crate::yaml::from_str(
            "receivers: {pyroscope_scrape: {}}\nexporters: {debug: }\nservice: {pipelines: {profiles: {receivers: [pyroscope_scrape], exporters: [debug]}}}",
        )
        .unwrap();
        let cfg = parse_collector(&doc).unwrap();
        assert_eq!(cfg.service.shutdown_timeout, Duration::from_secs(10));
        assert_eq!(cfg.service.telemetry.metrics.address, "127.0.0.1:8888");
        assert_eq!(cfg.section(Kind::Exporter).count(), 1);
    }

    #[test]
    fn memory_limit_and_its_head_room() {
        let base = "receivers: {r: {}}\nexporters: {debug: }\nservice:\n  pipelines: {profiles: {receivers: [r], exporters: [debug]}}\n";
        let parse = |extra: &str| {
            let doc: Value = crate::yaml::from_str(&format!("{base}{extra}")).unwrap();
            parse_collector(&doc)
        };
        let off = parse("").unwrap();
        assert_eq!(off.service.memory_soft_limit_bytes(), 0);
        let on = parse("  memory_limit_mib: 500\n").unwrap();
        assert_eq!(on.service.memory_soft_limit_bytes(), 400 << 20);
        let spike = parse("  memory_limit_mib: 500\n  memory_spike_limit_mib: 50\n").unwrap();
        assert_eq!(spike.service.memory_soft_limit_bytes(), 450 << 20);
        let bad = parse("  memory_limit_mib: 100\n  memory_spike_limit_mib: 100\n").unwrap_err();
        assert_eq!(
            bad[0].to_string(),
            "service::memory_spike_limit_mib: memory_spike_limit_mib (100) must be smaller than memory_limit_mib (100)"
        );
    }

    #[test]
    fn reports_every_structural_problem() {
        let got = problems(
            "receivers: {'bad-id': {}, r: {}}\nbogus: 1\nservice:\n  pipelines:\n    traces: {receivers: [r], exporters: [nope]}\n    profiles/x: {}\n  telemetry: {logs: {level: loud}}",
        );
        assert_eq!(
            got,
            vec![
                "receivers::bad-id: invalid component id \"bad-id\": the type must start with a letter and contain only letters, digits and '_' (at most 63)",
                "bogus: unknown key `bogus` (valid keys: receivers, processors, exporters, extensions, service)",
                "service::telemetry::logs::level: unknown level \"loud\" (use trace, debug, info, warn, error or off)",
                "service::pipelines::profiles/x::receivers: a pipeline needs at least one receiver",
                "service::pipelines::profiles/x::exporters: a pipeline needs at least one exporter",
                "service::pipelines::traces: signal \"traces\" is not supported: profcol runs only profiles pipelines (profiles or profiles/<name>)",
                "service::pipelines::traces::exporters::0: exporter nope is not defined under exporters (no exporters are defined)",
            ]
        );
    }

    #[test]
    fn service_keys_are_the_structs() {
        use crate::keys::{serialized_keys, struct_fields};
        assert_eq!(struct_fields::<ServiceConfig>(), SERVICE_KEYS);
        // An unset spike limit is left out (a written-out null is refused).
        let spike = ServiceConfig {
            memory_spike_limit_mib: Some(1),
            ..ServiceConfig::default()
        };
        assert_eq!(serialized_keys(&spike), SERVICE_KEYS);
        for key in SERVICE_KEYS {
            let got = problems(&format!("service: {{{key}: null}}"));
            assert!(
                !got.iter().any(|p| p.contains("unknown key")),
                "{key}: {got:?}"
            );
        }
    }

    #[test]
    fn typos_in_the_structure_name_what_was_meant() {
        assert_eq!(
            problems("exporter: {}
receivers: {pyroscope_scrape: {}}
exporters: {otlphttp/x: {}}
service:
  pipeline: {}
  pipelines: {profiles: {receivers: [pyroscope-scrape], exporters: [otlphttp/y]}}"),
            [
                "exporter: unknown key `exporter`: did you mean `exporters`? (valid keys: receivers, processors, exporters, extensions, service)",
                "service::pipeline: unknown key `pipeline`: did you mean `pipelines`? (valid keys: pipelines, extensions, telemetry, shutdown_timeout, memory_limit_mib, memory_spike_limit_mib, cluster)",
                "service::pipelines::profiles::receivers::0: invalid component id \"pyroscope-scrape\": the type must start with a letter and contain only letters, digits and '_' (at most 63)",
            ]
        );
        assert_eq!(
            problems("exporters: {otlphttp/x: {}}\nservice:\n  pipelines: {profiles: {receivers: [r], exporters: [otlphttp/y]}}"),
            [
                "service::pipelines::profiles::receivers::0: receiver r is not defined under receivers (no receivers are defined)",
                "service::pipelines::profiles::exporters::0: exporter otlphttp/y is not defined under exporters: did you mean otlphttp/x? (defined: otlphttp/x)",
            ]
        );
    }

    fn with_metrics(metrics: &str) -> Vec<String> {
        problems(&format!(
            "receivers: {{r: {{}}}}\nexporters: {{e: {{}}}}\nservice:\n  pipelines: {{profiles: {{receivers: [r], exporters: [e]}}}}\n  telemetry: {{metrics: {metrics}}}"
        ))
    }

    #[test]
    fn kept_profiles_budget_is_bounded() {
        let mut svc = ServiceConfig::default();
        assert_eq!(svc.kept_profiles_bytes(), 64 * 1024 * 1024);
        svc.memory_limit_mib = 100;
        assert_eq!(svc.kept_profiles_bytes(), 25 * 1024 * 1024);
        svc.telemetry.metrics.kept_profiles_mib = Some(0);
        assert_eq!(svc.kept_profiles_bytes(), 0);
        assert_eq!(with_metrics("{kept_profiles_mib: 0}"), Vec::<String>::new());
        assert_eq!(
            with_metrics("{kept_profiles_mib: 1048577}"),
            ["service::telemetry::metrics::kept_profiles_mib: 1048577 is more than 1048576 (1 TiB)"]
        );
        let over = problems(
            "receivers: {r: {}}\nexporters: {e: {}}\nservice:\n  memory_limit_mib: 64\n  telemetry: {metrics: {kept_profiles_mib: 64}}\n  pipelines: {profiles: {receivers: [r], exporters: [e]}}",
        );
        assert_eq!(
            over,
            ["service::telemetry::metrics::kept_profiles_mib: kept_profiles_mib (64) must be smaller than memory_limit_mib (64)"]
        );
    }

    #[test]
    fn admin_security_settings_decode_and_validate() {
        assert_eq!(
            with_metrics("{tls: {cert_file: c.pem, key_file: k.pem}, basic_auth: {username: u, password_file: p}}"),
            Vec::<String>::new()
        );
        assert_eq!(with_metrics("{bearer_token: t}"), Vec::<String>::new());
        assert_eq!(
            with_metrics("{tls: {cert_file: c.pem, min_version: TLS11}, bearer_token: t, bearer_token_file: f, basic_auth: {password: ''}}"),
            vec![
                "service::telemetry::metrics::tls::key_file: is required when tls is set",
                "service::telemetry::metrics::tls::min_version: TLS 1.0 and 1.1 are not offered by profcol's TLS stack (rustls supports TLS 1.2 and 1.3); use TLS12 or TLS13",
                "service::telemetry::metrics::bearer_token: at most one of bearer_token and bearer_token_file may be set",
                "service::telemetry::metrics::basic_auth: at most one of basic_auth and bearer_token/bearer_token_file may be set",
                "service::telemetry::metrics::basic_auth::username: is required",
                "service::telemetry::metrics::basic_auth::password: must not be empty",
            ]
        );
        assert_eq!(
            with_metrics("{basic_auth: {username: u, pasword: x}}"),
            ["service::telemetry::metrics::basic_auth::pasword: unknown key `pasword`: did you mean `password`? (valid keys: username, password, password_file)"]
        );
    }

    #[test]
    fn the_collector_s_telemetry_forms_decode_into_profcol_s() {
        let doc: Value = crate::yaml::from_str(
            "receivers: {r: {}}\nexporters: {e: {}}\nservice:\n  pipelines: {profiles: {receivers: [r], exporters: [e]}}\n  telemetry:\n    logs: {encoding: json}\n    metrics: {level: detailed, readers: [{pull: {exporter: {prometheus: {host: 127.0.0.1, port: 9464}}}}]}",
        )
        .unwrap();
        let cfg = parse_collector(&doc).unwrap();
        assert_eq!(cfg.service.telemetry.logs.format, LogFormat::Json);
        assert_eq!(cfg.service.telemetry.metrics.address, "127.0.0.1:9464");
        assert_eq!(
            with_metrics("{readers: [{periodic: {exporter: {otlp: {}}}}]}"),
            ["service::telemetry::metrics::readers::0::periodic: only pull is supported here: profcol serves its metrics to be pulled, on the admin server: set service::telemetry::metrics::address (host:port) instead"]
        );
    }

    #[test]
    fn admin_secrets_do_not_print() {
        let doc: Value = crate::yaml::from_str(
            "receivers: {r: {}}\nexporters: {e: {}}\nservice:\n  pipelines: {profiles: {receivers: [r], exporters: [e]}}\n  telemetry: {metrics: {basic_auth: {username: u, password: hunter2}}}",
        )
        .unwrap();
        let cfg = parse_collector(&doc).unwrap();
        let shown = format!(
            "{:?} {}",
            cfg.service,
            crate::yaml::to_string(&cfg.service).unwrap()
        );
        assert!(!shown.contains("hunter2"), "{shown}");
        let pw = cfg
            .service
            .telemetry
            .metrics
            .basic_auth
            .unwrap()
            .password
            .unwrap();
        assert_eq!(pw.expose(), "hunter2");
    }
}
