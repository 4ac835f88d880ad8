//! Loads the effective configuration: the `--config` files (or the embedded
//! default pipeline), `--set` overrides and expansion, then checks the whole
//! of it — structure, pipeline references and every component's own settings
//! — reporting every problem at once with its key path and file.

use crate::components;
use profcol_config::collector::parse_collector_partial;
use profcol_config::load::{assemble, parse_source, read_files, Loaded};
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
}

/// Reads, merges, expands and validates.
pub fn load(files: &[String], sets: &[String]) -> Result<Settings, Error> {
    let sources = if files.is_empty() {
        vec![parse_source(DEFAULT_CONFIG_NAME, DEFAULT_CONFIG)?]
    } else {
        read_files(files)?
    };
    let loaded = assemble(sources, sets, &SystemLookup)?;
    check(loaded)
}

/// Validates an already assembled document.
pub fn check(loaded: Loaded) -> Result<Settings, Error> {
    let (config, mut problems) = parse_collector_partial(&loaded.doc);
    // Component bodies are checked even when the structure has problems, so
    // that one run shows everything.
    problems.extend(components::validate_all(&config));
    if problems.is_empty() {
        return Ok(Settings { loaded, config });
    }
    dedup(&mut problems);
    Err(Error::Invalid(loaded.locate(problems)))
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
}
