//! Loads the effective configuration: the `--config` files (or the embedded
//! default pipeline), `--set` overrides and expansion, then checks the whole
//! of it — structure, pipeline references and every component's own settings
//! — reporting every problem at once with its key path and file. A live
//! reload goes through the same path ([`Settings::reread`]).

use crate::components;
use profcol_config::collector::parse_collector_partial;
use profcol_config::load::{assemble, parse_source, Loaded};
use profcol_config::{expand::SystemLookup, CollectorConfig, Error, Problem};

/// The pipeline profcol runs when started without `--config`: it scrapes its
/// own admin server and writes the profiles to `./profcol-data`.
pub const DEFAULT_CONFIG: &str = include_str!("default.yaml");
pub const DEFAULT_CONFIG_NAME: &str = "<embedded default config>";

/// A configuration that passed every check.
#[derive(Debug, Clone)]
pub struct Settings {
    pub loaded: Loaded,
    pub config: CollectorConfig,
    /// Every component of `config` as its type's factory decoded it: what
    /// components start from and what a reload compares.
    pub components: std::sync::Arc<components::Decoded>,
    /// The `--config` values (paths or `file:`/`env:`/`yaml:` URIs), in
    /// order (empty: the embedded default).
    pub files: Vec<String>,
    /// The `--set` overrides, re-applied on every reload.
    pub sets: Vec<String>,
}

impl Settings {
    /// The files this came from, for messages.
    pub fn source_names(&self) -> String {
        self.loaded
            .sources
            .iter()
            .map(|s| s.name.as_str())
            .filter(|n| *n != "--set")
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The config files a watcher polls: `file:` URIs and plain paths.
    pub fn watched_files(&self) -> Vec<String> {
        profcol_config::uri::watched_files(&self.files)
    }

    /// Reads the same files with the same overrides again, expands and
    /// validates: what a reload runs before touching anything.
    pub fn reread(&self) -> Result<Settings, Error> {
        load(&self.files, &self.sets)
    }
}

/// Reads, merges, expands and validates.
pub fn load(files: &[String], sets: &[String]) -> Result<Settings, Error> {
    let sources = if files.is_empty() {
        vec![parse_source(DEFAULT_CONFIG_NAME, DEFAULT_CONFIG)?]
    } else {
        profcol_config::uri::read_all(files, &SystemLookup)?
    };
    let loaded = assemble(sources, sets, &SystemLookup)?;
    let mut settings = check(loaded)?;
    settings.files = files.to_vec();
    settings.sets = sets.to_vec();
    Ok(settings)
}

/// Reads, expands and validates one document given as text (`name` is
/// what messages call it), with no `--set` overrides.
pub fn from_text(name: &str, text: &str) -> Result<Settings, Error> {
    let loaded = assemble(vec![parse_source(name, text)?], &[], &SystemLookup)?;
    check(loaded)
}

/// Validates an already assembled document.
pub fn check(loaded: Loaded) -> Result<Settings, Error> {
    let (mut config, mut problems) = parse_collector_partial(&loaded.doc);
    crate::extensions::storage_refs::resolve(&mut config, &mut problems);
    // Component bodies are checked even when the structure has problems, so
    // that one run shows everything.
    let (decoded, component_problems) = components::Decoded::decode(&config);
    problems.extend(component_problems);
    if problems.is_empty() {
        return Ok(Settings {
            loaded,
            config,
            components: std::sync::Arc::new(decoded),
            files: Vec::new(),
            sets: Vec::new(),
        });
    }
    dedup(&mut problems);
    problems.sort_by_key(|p| section_order(&p.path));
    Err(Error::Invalid(loaded.locate(problems)))
}

/// Problems are listed in the order of the document's sections (stable
/// within each), so that a component's problems stay together; those of
/// the top level itself (an unknown section) come first.
fn section_order(path: &str) -> usize {
    let top = path.split("::").next().unwrap_or_default();
    profcol_config::collector::TOP_LEVEL_KEYS
        .iter()
        .position(|k| *k == top)
        .map_or(0, |i| i + 1)
}

fn dedup(problems: &mut Vec<Problem>) {
    let mut seen = std::collections::HashSet::new();
    problems.retain(|p| seen.insert((p.path.clone(), p.message.clone())));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_default_is_valid() {
        let s = load(&[], &[]).unwrap();
        assert_eq!(s.source_names(), DEFAULT_CONFIG_NAME);
        assert!(!s.config.service.pipelines.is_empty());
    }

    fn problems_of(yaml: &str) -> Vec<String> {
        let loaded = assemble(
            vec![parse_source("c.yaml", yaml).unwrap()],
            &[],
            &SystemLookup,
        )
        .unwrap();
        match check(loaded) {
            Ok(_) => Vec::new(),
            Err(Error::Invalid(p)) => p
                .iter()
                .map(|p| format!("{}: {}", p.path, p.message))
                .collect(),
            Err(e) => vec![e.to_string()],
        }
    }

    #[test]
    fn extensions_are_checked_and_must_be_defined_to_be_listed() {
        let base = "receivers: {pyroscope_scrape: {targets: [{__address__: 'h:1'}]}}\nexporters: {debug: }\nservice:\n  pipelines: {profiles: {receivers: [pyroscope_scrape], exporters: [debug]}}\n";
        // Defined and not listed is valid (it is not started, with a warning).
        assert!(problems_of(&format!(
            "{base}extensions: {{health_check: , pprof: , file_storage: {{directory: /q}}}}\n"
        ))
        .is_empty());
        assert_eq!(
            problems_of(&format!("{base}  extensions: [health_check, zpages]\nextensions: {{health_check: {{path: x}}}}\n")),
            [
                "extensions::health_check::path: must start with /",
                "service::extensions::1: extension zpages is not defined under extensions (defined: health_check)",
            ]
        );
        let unknown = problems_of(&format!("{base}extensions: {{zpages: }}\n"));
        assert_eq!(unknown.len(), 1, "{unknown:?}");
        assert!(
            unknown[0].starts_with("extensions::zpages: unknown extension type \"zpages\""),
            "{unknown:?}"
        );
    }

    #[test]
    fn reread_applies_the_files_and_overrides_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.yaml");
        let write = |interval: &str| {
            std::fs::write(
                &path,
                format!(
                    "receivers:\n  pyroscope_scrape:\n    targets: [{{__address__: 'h:1'}}]\n    scrape_interval: {interval}\nexporters:\n  debug: {{}}\nservice:\n  pipelines:\n    profiles: {{receivers: [pyroscope_scrape], exporters: [debug]}}\n"
                ),
            )
            .unwrap();
        };
        write("10s");
        let file = path.to_string_lossy().to_string();
        let sets = vec!["exporters.debug.verbosity=detailed".to_string()];
        let first = load(std::slice::from_ref(&file), &sets).unwrap();
        write("20s");
        let second = first.reread().unwrap();
        let get = |s: &Settings, kind, id: &str| {
            let body = s.config.get(kind, &id.parse().unwrap()).unwrap();
            profcol_config::yaml::to_value(body).unwrap()
        };
        let interval = |s: &Settings| {
            get(s, profcol_config::Kind::Receiver, "pyroscope_scrape")["scrape_interval"].clone()
        };
        assert_eq!(interval(&first), profcol_config::yaml::Value::from("10s"));
        assert_eq!(interval(&second), profcol_config::yaml::Value::from("20s"));
        assert_eq!(
            get(&second, profcol_config::Kind::Exporter, "debug")["verbosity"],
            profcol_config::yaml::Value::from("detailed")
        );
        std::fs::write(&path, "receivers: {pyroscope_scrape: {scheme: ftp}}\n").unwrap();
        assert!(second.reread().is_err());
    }
}
