//! What a reload changes: for receivers, processors, exporters and
//! extensions, which are added, changed, removed or kept, comparing only the
//! components some pipeline uses (extensions: those `service.extensions`
//! lists); and which settings need a restart.
//!
//! "Changed" is decided by a [`SameConfig`] comparison; the collector's
//! ([`crate::components::Decoded::same`]) compares the typed configs the
//! components start from, so a change of spelling only (`15s` →
//! `15000ms`, a default written out, key order) keeps the component
//! running, with its state.

use profcol_config::{CollectorConfig, ComponentId, Kind};

/// Whether a component of the old configuration is configured the same in
/// the new one.
pub type SameConfig<'a> = dyn Fn(Kind, &ComponentId) -> bool + 'a;

/// The components of one kind, sorted by what a reload does to them.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Changes {
    pub added: Vec<ComponentId>,
    pub changed: Vec<ComponentId>,
    pub removed: Vec<ComponentId>,
    pub kept: Vec<ComponentId>,
}

impl Changes {
    fn between(
        old: &CollectorConfig,
        new: &CollectorConfig,
        kind: Kind,
        same: &SameConfig,
    ) -> Self {
        let before = used(old, kind);
        let after = used(new, kind);
        let mut c = Changes::default();
        for id in &after {
            if !before.contains(id) {
                c.added.push(id.clone());
            } else if same(kind, id) {
                c.kept.push(id.clone());
            } else {
                c.changed.push(id.clone());
            }
        }
        c.removed = before
            .into_iter()
            .filter(|id| !after.contains(id))
            .collect();
        c
    }

    /// Components that get a new instance: added and changed ones.
    pub fn to_start(&self) -> impl Iterator<Item = &ComponentId> {
        self.added.iter().chain(&self.changed)
    }

    /// Instances that go away: changed and removed ones.
    pub fn to_stop(&self) -> impl Iterator<Item = &ComponentId> {
        self.changed.iter().chain(&self.removed)
    }

    fn describe(&self, noun: &str) -> Option<String> {
        let parts: Vec<String> = [
            ("added", &self.added),
            ("restarted", &self.changed),
            ("removed", &self.removed),
        ]
        .iter()
        .filter(|(_, ids)| !ids.is_empty())
        .map(|(verb, ids)| {
            let names: Vec<String> = ids.iter().map(ToString::to_string).collect();
            format!("{verb} {}", names.join(", "))
        })
        .collect();
        (!parts.is_empty()).then(|| format!("{noun} {}", parts.join("; ")))
    }
}

/// Everything a reload from `old` to `new` does.
#[derive(Debug, Default)]
pub struct Plan {
    pub receivers: Changes,
    pub exporters: Changes,
    pub processors: Changes,
    pub extensions: Changes,
    /// A pipeline's receiver, processor or exporter list changed.
    pub wiring_changed: bool,
    /// Settings that changed but only take effect after a restart.
    pub needs_restart: Vec<String>,
    /// The new `service.telemetry.logs.level`, when it changed.
    pub log_level: Option<String>,
}

impl Plan {
    /// The plan from `old` to `new`; `same` decides whether a component's
    /// body changed.
    pub fn new(old: &CollectorConfig, new: &CollectorConfig, same: &SameConfig) -> Self {
        let wiring = |c: &CollectorConfig| {
            c.service
                .pipelines
                .iter()
                .map(|(n, p)| {
                    (
                        n.clone(),
                        p.receivers.clone(),
                        p.processors.clone(),
                        p.exporters.clone(),
                    )
                })
                .collect::<Vec<_>>()
        };
        let needs_restart = restart_only_changes(old, new);
        Self {
            receivers: Changes::between(old, new, Kind::Receiver, same),
            exporters: Changes::between(old, new, Kind::Exporter, same),
            processors: Changes::between(old, new, Kind::Processor, same),
            extensions: Changes::between(old, new, Kind::Extension, same),
            wiring_changed: wiring(old) != wiring(new),
            needs_restart,
            log_level: (old.service.telemetry.logs.level != new.service.telemetry.logs.level)
                .then(|| new.service.telemetry.logs.level.clone()),
        }
    }

    /// One line for the log and the `/-/reload` answer.
    pub fn summary(&self) -> String {
        let mut parts: Vec<String> = [
            self.extensions.describe("extensions"),
            self.receivers.describe("receivers"),
            self.processors.describe("processors"),
            self.exporters.describe("exporters"),
        ]
        .into_iter()
        .flatten()
        .collect();
        if self.wiring_changed {
            parts.push("pipelines rewired".into());
        }
        if parts.is_empty() {
            "no component changed".into()
        } else {
            parts.join("; ")
        }
    }
}

/// Settings reloaded without a restart.
const RELOADABLE: [&str; 5] = [
    "service::pipelines",
    "service::extensions",
    "service::shutdown_timeout",
    "service::telemetry::logs::level",
    "service::telemetry::metrics::kept_profiles_mib",
];

/// `service` settings read once at start-up that differ, by key path
/// (`telemetry` and its `logs` and `metrics` blocks one level down).
fn restart_only_changes(old: &CollectorConfig, new: &CollectorConfig) -> Vec<String> {
    fn walk(
        a: &profcol_config::yaml::Value,
        b: &profcol_config::yaml::Value,
        path: &str,
        out: &mut Vec<String>,
    ) {
        if a == b {
            return;
        }
        let descend = matches!(
            path,
            "service"
                | "service::telemetry"
                | "service::telemetry::logs"
                | "service::telemetry::metrics"
        );
        match (a, b) {
            (
                profcol_config::yaml::Value::Mapping(ma),
                profcol_config::yaml::Value::Mapping(mb),
            ) if descend => {
                let null = profcol_config::yaml::Value::Null;
                let mut keys: Vec<&profcol_config::yaml::Value> = ma.keys().collect();
                keys.extend(mb.keys().filter(|k| !ma.contains_key(*k)));
                for k in keys {
                    let child = format!("{path}::{}", k.as_str().unwrap_or_default());
                    walk(
                        ma.get(k).unwrap_or(&null),
                        mb.get(k).unwrap_or(&null),
                        &child,
                        out,
                    );
                }
            }
            _ => out.push(path.to_string()),
        }
    }
    let value =
        |c: &CollectorConfig| profcol_config::yaml::to_value(&c.service).unwrap_or_default();
    let mut out = Vec::new();
    walk(&value(old), &value(new), "service", &mut out);
    out.retain(|p| !RELOADABLE.contains(&p.as_str()));
    out
}

/// Components of `kind` that some pipeline uses, each once, in pipeline
/// order; extensions: those `service.extensions` lists, in its order.
pub fn used(cfg: &CollectorConfig, kind: Kind) -> Vec<ComponentId> {
    let mut out: Vec<ComponentId> = Vec::new();
    if kind == Kind::Extension {
        for id in &cfg.service.extensions {
            if !out.contains(id) {
                out.push(id.clone());
            }
        }
        return out;
    }
    for p in cfg.service.pipelines.values() {
        let list = match kind {
            Kind::Receiver => &p.receivers,
            Kind::Exporter => &p.exporters,
            Kind::Processor => &p.processors,
            Kind::Extension => return out,
        };
        for id in list {
            if !out.contains(id) {
                out.push(id.clone());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(yaml: &str) -> CollectorConfig {
        let doc: profcol_config::yaml::Value = profcol_config::yaml::from_str(yaml).unwrap();
        profcol_config::collector::parse_collector(&doc).unwrap()
    }

    /// The plan with the collector's typed comparison.
    fn typed(old: &CollectorConfig, new: &CollectorConfig) -> Plan {
        let decode = |c: &CollectorConfig| crate::components::Decoded::decode(c).0;
        let (a, b) = (decode(old), decode(new));
        Plan::new(old, new, &|kind, id| a.same(&b, kind, id))
    }

    fn ids(list: &[ComponentId]) -> Vec<String> {
        list.iter().map(ToString::to_string).collect()
    }

    const OLD: &str = "
receivers:
  pyroscope_scrape/a: {targets: [{__address__: 'h:1'}]}
  pyroscope_scrape/b: {targets: [{__address__: 'h:2'}]}
  pyroscope_scrape/gone: {targets: [{__address__: 'h:3'}]}
exporters:
  debug: {}
  file: {directory: /tmp/x}
service:
  pipelines:
    profiles: {receivers: [pyroscope_scrape/a, pyroscope_scrape/b, pyroscope_scrape/gone], exporters: [debug, file]}
";

    #[test]
    fn sorts_components_by_what_changes() {
        let new = "
receivers:
  pyroscope_scrape/a: {targets: [{__address__: 'h:1'}]}
  pyroscope_scrape/b: {targets: [{__address__: 'h:2', env: prod}]}
  pyroscope_scrape/gone: {targets: [{__address__: 'h:3'}]}
  pyroscope_scrape/new: {targets: [{__address__: 'h:4'}]}
exporters:
  debug: {}
  file: {directory: /tmp/y}
service:
  pipelines:
    profiles: {receivers: [pyroscope_scrape/a, pyroscope_scrape/b, pyroscope_scrape/new], exporters: [debug, file]}
  telemetry:
    logs: {level: debug, format: json}
    metrics: {address: '127.0.0.1:9999', kept_profiles_mib: 8}
  memory_limit_mib: 100
";
        let plan = typed(&cfg(OLD), &cfg(new));
        assert_eq!(ids(&plan.receivers.kept), ["pyroscope_scrape/a"]);
        assert_eq!(ids(&plan.receivers.changed), ["pyroscope_scrape/b"]);
        // Defined but no longer used counts as removed.
        assert_eq!(ids(&plan.receivers.removed), ["pyroscope_scrape/gone"]);
        assert_eq!(ids(&plan.receivers.added), ["pyroscope_scrape/new"]);
        assert_eq!(ids(&plan.exporters.kept), ["debug"]);
        assert_eq!(ids(&plan.exporters.changed), ["file"]);
        assert!(plan.wiring_changed);
        assert_eq!(
            plan.needs_restart,
            [
                "service::telemetry::logs::format",
                "service::telemetry::metrics::address",
                "service::memory_limit_mib",
            ]
        );
        assert_eq!(plan.log_level.as_deref(), Some("debug"));
        assert_eq!(
            plan.summary(),
            "receivers added pyroscope_scrape/new; restarted pyroscope_scrape/b; removed pyroscope_scrape/gone; exporters restarted file; pipelines rewired"
        );
    }

    #[test]
    fn the_same_config_changes_nothing() {
        let plan = typed(&cfg(OLD), &cfg(OLD));
        assert_eq!(plan.receivers.kept.len(), 3);
        assert_eq!(plan.exporters.kept.len(), 2);
        assert!(plan.receivers.to_start().next().is_none());
        assert!(plan.exporters.to_stop().next().is_none());
        assert!(!plan.wiring_changed);
        assert!(plan.needs_restart.is_empty());
        assert!(plan.log_level.is_none());
        assert_eq!(plan.summary(), "no component changed");
    }

    #[test]
    fn extensions_listed_in_service_are_compared_by_body() {
        let with = |hc: &str, listed: &str| {
            OLD.replace(
                "service:\n",
                &format!("extensions:\n  health_check: {hc}\n  pprof: {{}}\n  file_storage: {{directory: /q}}\nservice:\n  extensions: [{listed}]\n"),
            )
        };
        let old = cfg(&with("{endpoint: 'localhost:1'}", "health_check, pprof"));
        let new = cfg(&with(
            "{endpoint: 'localhost:2'}",
            "health_check, file_storage",
        ));
        let plan = typed(&old, &new);
        assert_eq!(ids(&plan.extensions.changed), ["health_check"]);
        assert_eq!(ids(&plan.extensions.added), ["file_storage"]);
        assert_eq!(ids(&plan.extensions.removed), ["pprof"]);
        assert!(plan.receivers.to_start().next().is_none());
        assert!(plan.exporters.to_start().next().is_none());
        // service.extensions is reloaded, not a restart-only setting.
        assert!(plan.needs_restart.is_empty(), "{:?}", plan.needs_restart);
        assert_eq!(
            plan.summary(),
            "extensions added file_storage; restarted health_check; removed pprof"
        );
        // Defined but not listed: not compared, not started.
        let unlisted = cfg(&with("{endpoint: 'localhost:3'}", "pprof"));
        let plan = typed(&cfg(&with("{}", "pprof")), &unlisted);
        assert_eq!(ids(&plan.extensions.kept), ["pprof"]);
        assert!(plan.extensions.changed.is_empty());
    }

    #[test]
    fn key_order_in_a_body_is_not_a_change() {
        let a = OLD.replace("{directory: /tmp/x}", "{directory: /tmp/x, max_files: 3}");
        let b = OLD.replace("{directory: /tmp/x}", "{max_files: 3, directory: /tmp/x}");
        let plan = typed(&cfg(&a), &cfg(&b));
        assert!(plan.exporters.changed.is_empty(), "{plan:?}");
    }

    /// A config with one receiver, one processor, one exporter and one
    /// extension, each with the body given.
    fn one_each(
        receiver: &str,
        processor: &str,
        exporter: &str,
        extension: &str,
    ) -> CollectorConfig {
        cfg(&format!(
            "
receivers:
  pyroscope_scrape/a: {receiver}
processors:
  batch: {processor}
exporters:
  otlp: {exporter}
extensions:
  health_check: {extension}
service:
  extensions: [health_check]
  pipelines:
    profiles: {{receivers: [pyroscope_scrape/a], processors: [batch], exporters: [otlp]}}
"
        ))
    }

    const RECEIVER: &str = "{targets: [{__address__: 'h:1'}], scrape_interval: 15s}";
    const PROCESSOR: &str = "{timeout: 200ms}";
    const EXPORTER: &str = "{endpoint: 'h:4317', timeout: 5s}";
    const EXTENSION: &str = "{endpoint: 'localhost:13133'}";

    fn base() -> CollectorConfig {
        one_each(RECEIVER, PROCESSOR, EXPORTER, EXTENSION)
    }

    #[test]
    fn a_change_of_spelling_only_changes_nothing() {
        let respelled = one_each(
            "{targets: [{__address__: 'h:1'}], scrape_interval: 15000ms}",
            "{timeout: 0.2s}",
            "{endpoint: 'h:4317', timeout: 5000ms}",
            "{endpoint: 'localhost:13133', path: /}",
        );
        let plan = typed(&base(), &respelled);
        for c in [
            &plan.receivers,
            &plan.processors,
            &plan.exporters,
            &plan.extensions,
        ] {
            assert_eq!(c.kept.len(), 1, "{plan:?}");
            assert!(c.changed.is_empty(), "{plan:?}");
        }
        assert_eq!(plan.summary(), "no component changed");
        // Raw bodies would have said otherwise.
        let (old, new) = (base(), respelled.clone());
        let raw = Plan::new(&old, &new, &|kind, id| {
            old.get(kind, id) == new.get(kind, id)
        });
        assert_eq!(
            raw.summary(),
            "extensions restarted health_check; receivers restarted pyroscope_scrape/a; processors restarted batch; exporters restarted otlp"
        );
    }

    #[test]
    fn defaults_written_out_change_nothing() {
        let written = one_each(
            "{targets: [{__address__: 'h:1'}], scrape_interval: 15s, scrape_timeout: 18s, job_name: pyroscope_scrape/a, scheme: http, max_body_size: '67108864', profiling_config: {profile: {memory: {enabled: true}, fgprof: {enabled: false}}}}",
            "{timeout: 200ms, send_batch_size: 8192, send_batch_max_size: 0}",
            "{endpoint: 'h:4317', timeout: 5s, compression: gzip}",
            "{endpoint: 'localhost:13133', path: /}",
        );
        let plan = typed(&base(), &written);
        assert_eq!(plan.summary(), "no component changed", "{plan:?}");
    }

    #[test]
    fn a_real_change_of_value_is_a_change() {
        let cases = [
            (
                one_each(
                    "{targets: [{__address__: 'h:1'}], scrape_interval: 20s}",
                    PROCESSOR,
                    EXPORTER,
                    EXTENSION,
                ),
                "receivers restarted pyroscope_scrape/a",
            ),
            (
                one_each(
                    "{targets: [{__address__: 'h:1'}], scrape_interval: 15s, scrape_timeout: 19s}",
                    PROCESSOR,
                    EXPORTER,
                    EXTENSION,
                ),
                "receivers restarted pyroscope_scrape/a",
            ),
            (
                one_each(RECEIVER, "{timeout: 300ms}", EXPORTER, EXTENSION),
                "processors restarted batch",
            ),
            (
                one_each(
                    RECEIVER,
                    PROCESSOR,
                    "{endpoint: 'h:4317', timeout: 6s}",
                    EXTENSION,
                ),
                "exporters restarted otlp",
            ),
            (
                one_each(
                    RECEIVER,
                    PROCESSOR,
                    EXPORTER,
                    "{endpoint: 'localhost:13134'}",
                ),
                "extensions restarted health_check",
            ),
        ];
        for (new, summary) in cases {
            assert_eq!(typed(&base(), &new).summary(), summary);
        }
    }

    #[test]
    fn a_changed_secret_is_a_change() {
        let receiver = |auth: &str| {
            one_each(
                &format!("{{targets: [{{__address__: 'h:1'}}], {auth}}}"),
                PROCESSOR,
                EXPORTER,
                EXTENSION,
            )
        };
        let password = |p: &str| receiver(&format!("basic_auth: {{username: u, password: {p}}}"));
        assert_eq!(
            typed(&password("a"), &password("a")).summary(),
            "no component changed"
        );
        assert_eq!(
            typed(&password("a"), &password("b")).summary(),
            "receivers restarted pyroscope_scrape/a"
        );
        let token = |t: &str| receiver(&format!("bearer_token: {t}"));
        assert_eq!(
            typed(&token("a"), &token("b")).summary(),
            "receivers restarted pyroscope_scrape/a"
        );
        let header = |v: &str| {
            one_each(
                RECEIVER,
                PROCESSOR,
                &format!("{{endpoint: 'h:4317', headers: {{authorization: {v}}}}}"),
                EXTENSION,
            )
        };
        assert_eq!(
            typed(&header("a"), &header("b")).summary(),
            "exporters restarted otlp"
        );
    }

    #[test]
    fn the_comparison_is_the_one_given() {
        let other = one_each(RECEIVER, "{timeout: 1s}", EXPORTER, EXTENSION);
        let only_processors_differ = |kind: Kind, _: &ComponentId| kind != Kind::Processor;
        let plan = Plan::new(&base(), &other, &only_processors_differ);
        assert_eq!(plan.summary(), "processors restarted batch");
        let plan = Plan::new(&base(), &other, &|_, _| true);
        assert_eq!(plan.summary(), "no component changed");
    }
}
