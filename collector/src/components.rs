//! The built-in component types, and checking each configured component's
//! settings with the crate that owns its type.

use profcol_config::{join_path, CollectorConfig, ComponentId, Kind, Problem};

/// `(type, stability)` of every built-in component of `kind`.
pub fn types(kind: Kind) -> Vec<(&'static str, &'static str)> {
    match kind {
        Kind::Receiver => profcol_receiver::receiver_types(),
        Kind::Exporter => profcol_exporter::exporter_types(),
        Kind::Processor => profcol_processor::processor_types(),
        Kind::Extension => crate::extensions::types(),
    }
}

/// Whether two bodies of component `id` configure the same component, as
/// the crate that owns its type decodes them: typed configs with defaults
/// applied and durations parsed compare equal (`15s` = `15000ms`, a default
/// written out = left out; a changed secret is a change). Bodies that do
/// not decode are compared as written.
pub fn same_config(
    kind: Kind,
    id: &ComponentId,
    old: &profcol_config::yaml::Value,
    new: &profcol_config::yaml::Value,
) -> bool {
    match kind {
        Kind::Receiver => profcol_receiver::same_config(id, old, new),
        Kind::Exporter => profcol_exporter::same_config(id, old, new),
        Kind::Processor => profcol_processor::same_config(id, old, new),
        Kind::Extension => crate::extensions::same_config(id, old, new),
    }
}

/// The caps a persistent sending queue checks profiles read back against:
/// the widest any configured receiver applies to what it takes in (at least
/// the decoder's defaults), without stack truncation (stacks were cut when
/// they came in). Nothing a receiver accepted is refused when read back.
pub fn read_back_limits(cfg: &CollectorConfig) -> profcol_pdata::pprof::DecodeLimits {
    let mut limits = profcol_pdata::pprof::DecodeLimits::default();
    for (id, body) in cfg.section(Kind::Receiver) {
        if let Some(l) = profcol_receiver::decode_limits(id, body) {
            limits = limits.widest(&l);
        }
    }
    limits.max_stack_depth = 0;
    limits
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
            out.push_str(&format!("  - name: {name}\n    stability: {stability}\n"));
        }
    }
    out
}

/// Checks every component body; unknown types are problems too.
pub fn validate_all(cfg: &CollectorConfig) -> Vec<Problem> {
    let mut problems = Vec::new();
    for kind in Kind::ALL {
        let known = types(kind);
        for (id, body) in cfg.section(kind) {
            let path = join_path(kind.section(), &id.to_string());
            if !known.iter().any(|(t, _)| *t == id.kind()) {
                problems.push(unknown_type(kind, id, &known, path));
                continue;
            }
            let result = match kind {
                Kind::Receiver => profcol_receiver::validate_receiver(id, body, &path),
                Kind::Exporter => profcol_exporter::validate_exporter(id, body, &path),
                Kind::Processor => profcol_processor::validate_processor(id, body, &path),
                Kind::Extension => crate::extensions::validate(id, body, &path),
            };
            if let Err(p) = result {
                problems.extend(p);
            }
        }
    }
    problems
}

/// `unknown exporter type "otlphtp": did you mean "otlphttp"? (known: …)`,
/// or what profcol offers instead of a Collector type it lacks.
fn unknown_type(kind: Kind, id: &ComponentId, known: &[(&str, &str)], path: String) -> Problem {
    let names: Vec<&str> = known.iter().map(|(t, _)| *t).collect();
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

    fn cfg(yaml: &str) -> CollectorConfig {
        let doc: profcol_config::yaml::Value = profcol_config::yaml::from_str(yaml).unwrap();
        profcol_config::collector::parse_collector(&doc).unwrap()
    }

    #[test]
    fn read_back_limits_are_the_widest_of_the_receivers() {
        let defaults = profcol_pdata::pprof::DecodeLimits::default();
        let plain = cfg("receivers: {pyroscope_scrape: {}}\nexporters: {debug: {}}\nservice: {pipelines: {profiles: {receivers: [pyroscope_scrape], exporters: [debug]}}}");
        let l = read_back_limits(&plain);
        assert_eq!(l.max_decompressed_bytes, defaults.max_decompressed_bytes);
        assert_eq!(l.max_stack_depth, 0, "no truncation when reading back");
        let wide = cfg("receivers:\n  pyroscope_scrape: {}\n  pyroscope_scrape/big: {targets: [{__address__: 'h:1'}], max_body_size: 256MiB, max_samples_per_profile: 0}\n  pyroscope: {max_decompressed_size: 96MiB}\nexporters: {debug: {}}\nservice: {pipelines: {profiles: {receivers: [pyroscope_scrape], exporters: [debug]}}}");
        let l = read_back_limits(&wide);
        assert_eq!(l.max_decompressed_bytes, 256 << 20);
        assert_eq!(l.max_samples, usize::MAX);
        assert_eq!(l.max_locations, defaults.max_locations);
    }
}
