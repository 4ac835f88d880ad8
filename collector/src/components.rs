//! The built-in component types, and every configured component decoded
//! once by the factory of its type: [`Decoded`] holds the typed configs the
//! collector starts components from and compares on reload.

use crate::extensions::{ExtensionConfig, EXTENSIONS};
use profcol_config::{join_path, CollectorConfig, ComponentId, Kind, Problem};
use profcol_exporter::{ExporterConfig, EXPORTERS};
use profcol_processor::{ProcessorConfig, PROCESSORS};
use profcol_receiver::{ReceiverConfig, RECEIVERS};
use profcol_runtime::factory::{Registry, Stability};
use std::collections::BTreeMap;

/// `(type, stability)` of every built-in component of `kind`, each alias
/// after its type.
pub fn types(kind: Kind) -> Vec<(&'static str, Stability)> {
    match kind {
        Kind::Receiver => RECEIVERS.names(),
        Kind::Exporter => EXPORTERS.names(),
        Kind::Processor => PROCESSORS.names(),
        Kind::Extension => EXTENSIONS.names(),
    }
}

/// Every component of a configuration as its type's factory decoded it:
/// defaults applied, durations parsed, patterns compiled. Two configs
/// whose component decodes to equal values configure the same component
/// (`15s` = `15000ms`, a default written out = left out; a changed secret
/// is a change).
#[derive(Clone, Default)]
pub struct Decoded {
    pub receivers: BTreeMap<ComponentId, ReceiverConfig>,
    pub processors: BTreeMap<ComponentId, ProcessorConfig>,
    pub exporters: BTreeMap<ComponentId, ExporterConfig>,
    pub extensions: BTreeMap<ComponentId, ExtensionConfig>,
}

/// Lists ids only: configs hold secrets.
impl std::fmt::Debug for Decoded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decoded")
            .field("receivers", &self.receivers.keys())
            .field("processors", &self.processors.keys())
            .field("exporters", &self.exporters.keys())
            .field("extensions", &self.extensions.keys())
            .finish()
    }
}

impl Decoded {
    /// Decodes every component body of `cfg`; what does not decode (an
    /// unknown type too) is a problem under its key path, all at once.
    pub fn decode(cfg: &CollectorConfig) -> (Self, Vec<Problem>) {
        let mut problems = Vec::new();
        let decoded = Self {
            receivers: decode_section(cfg, Kind::Receiver, &RECEIVERS, &mut problems),
            processors: decode_section(cfg, Kind::Processor, &PROCESSORS, &mut problems),
            exporters: decode_section(cfg, Kind::Exporter, &EXPORTERS, &mut problems),
            extensions: decode_section(cfg, Kind::Extension, &EXTENSIONS, &mut problems),
        };
        (decoded, problems)
    }

    /// Whether component `id` of `kind` is configured the same in `self`
    /// and `other` (false when either lacks it).
    pub fn same(&self, other: &Decoded, kind: Kind, id: &ComponentId) -> bool {
        fn same_in<T: PartialEq>(
            a: &BTreeMap<ComponentId, T>,
            b: &BTreeMap<ComponentId, T>,
            id: &ComponentId,
        ) -> bool {
            matches!((a.get(id), b.get(id)), (Some(x), Some(y)) if x == y)
        }
        match kind {
            Kind::Receiver => same_in(&self.receivers, &other.receivers, id),
            Kind::Processor => same_in(&self.processors, &other.processors, id),
            Kind::Exporter => same_in(&self.exporters, &other.exporters, id),
            Kind::Extension => same_in(&self.extensions, &other.extensions, id),
        }
    }

    /// The caps a persistent sending queue checks profiles read back
    /// against: the widest any configured receiver applies to what it takes
    /// in (at least the decoder's defaults), without stack truncation
    /// (stacks were cut when they came in). Nothing a receiver accepted is
    /// refused when read back.
    pub fn read_back_limits(&self) -> profcol_pdata::pprof::DecodeLimits {
        let mut limits = profcol_pdata::pprof::DecodeLimits::default();
        for (id, config) in &self.receivers {
            if let Some(l) = config.decode_limits(&id.to_string()) {
                limits = limits.widest(&l);
            }
        }
        limits.max_stack_depth = 0;
        limits
    }
}

fn decode_section<K: profcol_runtime::factory::Kind>(
    cfg: &CollectorConfig,
    kind: Kind,
    registry: &Registry<K>,
    problems: &mut Vec<Problem>,
) -> BTreeMap<ComponentId, K::Config> {
    let mut out = BTreeMap::new();
    for (id, body) in cfg.section(kind) {
        let path = join_path(kind.section(), &id.to_string());
        if registry.lookup(id.kind()).is_none() {
            problems.push(unknown_type(kind, id, path));
            continue;
        }
        match registry.decode(id, body, &path) {
            Ok(config) => {
                out.insert(id.clone(), config);
            }
            Err(p) => problems.extend(p),
        }
    }
    out
}

/// The `profcol components` listing.
pub fn listing() -> String {
    let mut out = String::new();
    for kind in Kind::ALL {
        out.push_str(kind.section());
        out.push_str(":\n");
        let list = types(kind);
        if list.is_empty() {
            out.push_str("  (none built in)\n");
        }
        for (name, stability) in list {
            out.push_str(&format!(
                "  - name: {name}\n    stability: {}\n",
                stability.as_str()
            ));
        }
    }
    out
}

/// `unknown exporter type "otlphtp": did you mean "otlphttp"? (known: …)`,
/// or what profcol offers instead of a Collector type it lacks.
fn unknown_type(kind: Kind, id: &ComponentId, path: String) -> Problem {
    let names: Vec<&str> = types(kind).into_iter().map(|(t, _)| t).collect();
    let instead = crate::alternatives::instead(kind, id.kind());
    Problem::new(
        path,
        profcol_config::suggest::unknown_type(
            kind.singular(),
            id.kind(),
            &names,
            instead.as_deref(),
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use profcol_config::yaml::Value;

    fn decoded(yaml: &str) -> Decoded {
        let doc: Value = profcol_config::yaml::from_str(yaml).unwrap();
        let cfg = profcol_config::collector::parse_collector(&doc).unwrap();
        let (decoded, problems) = Decoded::decode(&cfg);
        assert!(problems.is_empty(), "{problems:?}");
        decoded
    }

    /// Every name (aliases too) appears once in its kind's registry and
    /// finds its factory; a canonical name finds the factory of that name.
    fn names_are_unique_and_found<K: profcol_runtime::factory::Kind>(registry: &Registry<K>) {
        let mut names: Vec<&str> = registry.names().into_iter().map(|(n, _)| n).collect();
        let n = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(
            names.len(),
            n,
            "a name or alias appears twice in {}s",
            K::SINGULAR
        );
        for name in names {
            assert!(registry.lookup(name).is_some(), "{name}");
        }
        for factory in registry.factories() {
            let found = registry.lookup(factory.name()).map(|f| f.name());
            assert_eq!(found, Some(factory.name()));
        }
    }

    #[test]
    fn every_registry_names_each_type_once() {
        names_are_unique_and_found(&RECEIVERS);
        names_are_unique_and_found(&PROCESSORS);
        names_are_unique_and_found(&EXPORTERS);
        names_are_unique_and_found(&EXTENSIONS);
    }

    #[test]
    fn read_back_limits_are_the_widest_of_the_receivers() {
        let defaults = profcol_pdata::pprof::DecodeLimits::default();
        let plain = decoded("receivers: {pyroscope_scrape: {targets: [{__address__: 'h:1'}]}}\nexporters: {debug: {}}\nservice: {pipelines: {profiles: {receivers: [pyroscope_scrape], exporters: [debug]}}}");
        let l = plain.read_back_limits();
        assert_eq!(l.max_decompressed_bytes, defaults.max_decompressed_bytes);
        assert_eq!(l.max_stack_depth, 0, "no truncation when reading back");
        let wide = decoded("receivers:\n  pyroscope_scrape: {targets: [{__address__: 'h:1'}]}\n  pyroscope_scrape/big: {targets: [{__address__: 'h:1'}], max_body_size: 256MiB, max_samples_per_profile: 0}\n  pyroscope: {max_decompressed_size: 96MiB}\nexporters: {debug: {}}\nservice: {pipelines: {profiles: {receivers: [pyroscope_scrape], exporters: [debug]}}}");
        let l = wide.read_back_limits();
        assert_eq!(l.max_decompressed_bytes, 256 << 20);
        assert_eq!(l.max_samples, usize::MAX);
        assert_eq!(l.max_locations, defaults.max_locations);
    }

    #[test]
    fn every_problem_of_every_kind_is_reported_at_once() {
        let doc: Value = profcol_config::yaml::from_str(
            "receivers: {pyroscope_scrape: {scrape_interval: soon}, prometheus: {}}\nprocessors: {batch: {timeout: x}}\nexporters: {otlphtp: {}}\nextensions: {pprof: {endpoint: 7}}\nservice: {pipelines: {}}",
        )
        .unwrap();
        let (cfg, _) = profcol_config::collector::parse_collector_partial(&doc);
        let (decoded, problems) = Decoded::decode(&cfg);
        let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
        let has = |prefix: &str| text.iter().any(|t| t.starts_with(prefix));
        assert!(
            has("receivers::pyroscope_scrape::scrape_interval: "),
            "{text:?}"
        );
        assert!(
            has("receivers::prometheus: unknown receiver type"),
            "{text:?}"
        );
        assert!(has("processors::batch::timeout: "), "{text:?}");
        assert!(
            has(
                "exporters::otlphtp: unknown exporter type \"otlphtp\": did you mean \"otlphttp\"?"
            ),
            "{text:?}"
        );
        assert!(decoded.receivers.is_empty() && decoded.exporters.is_empty());
    }
}
