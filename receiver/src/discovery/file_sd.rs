//! `file_sd_configs`: target groups read from JSON or YAML files named by
//! paths or globs. Every file is re-read each `refresh_interval` (default
//! 5m); in between, the matched files and their modification times are
//! checked every few seconds and a change is picked up at once. A file that
//! cannot be read or parsed keeps its last good groups.

use super::{DiscoveryContext, RawGroup, TargetGroup};
use crate::byte_size::ByteSize;
use profcol_config::{join_path, Duration, Problem, Validate};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime};
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

/// How often matched files are checked for changes (or the refresh
/// interval, when that is shorter).
pub const CHANGE_CHECK: std::time::Duration = std::time::Duration::from_secs(5);
/// Default `max_file_size`: the largest target file accepted.
pub const DEFAULT_MAX_FILE_SIZE: ByteSize = ByteSize::mib(16);

fn default_refresh() -> Duration {
    Duration::from_secs(300)
}
fn default_max_file_size() -> ByteSize {
    DEFAULT_MAX_FILE_SIZE
}

/// One `file_sd_configs` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSdConfig {
    #[serde(default)]
    pub files: Vec<String>,
    #[serde(default = "default_refresh")]
    pub refresh_interval: Duration,
    /// A larger file is refused (its last good groups stay).
    #[serde(default = "default_max_file_size")]
    pub max_file_size: ByteSize,
}

fn has_known_extension(p: &str) -> bool {
    [".json", ".yml", ".yaml"].iter().any(|e| p.ends_with(e))
}

impl Validate for FileSdConfig {
    fn validate(&self, path: &str, problems: &mut Vec<Problem>) {
        let files = join_path(path, "files");
        if self.files.is_empty() {
            problems.push(Problem::new(
                files.clone(),
                "files must list at least one path or glob",
            ));
        }
        for (i, f) in self.files.iter().enumerate() {
            let at = join_path(&files, &i.to_string());
            if !has_known_extension(f) {
                problems.push(Problem::new(
                    at,
                    format!("file {f:?} must end in .json, .yml or .yaml"),
                ));
            } else if let Err(e) = glob::Pattern::new(f) {
                problems.push(Problem::new(
                    at,
                    format!("invalid glob pattern {f:?}: {}", e.msg),
                ));
            }
        }
        if self.refresh_interval.is_zero() {
            problems.push(Problem::new(
                join_path(path, "refresh_interval"),
                "refresh_interval must be greater than 0",
            ));
        }
        if self.max_file_size.0 == 0 {
            problems.push(Problem::new(
                join_path(path, "max_file_size"),
                "max_file_size must be greater than 0",
            ));
        }
    }
}

/// What was last seen of one file.
struct FileState {
    stamp: Option<(SystemTime, u64)>,
    groups: Vec<TargetGroup>,
}

/// The files' current groups, re-read as needed.
pub struct FileSd {
    patterns: Vec<String>,
    files: BTreeMap<PathBuf, FileState>,
    max_file_size: u64,
}

impl FileSd {
    pub fn new(patterns: Vec<String>) -> Self {
        Self {
            patterns,
            files: BTreeMap::new(),
            max_file_size: DEFAULT_MAX_FILE_SIZE.0 as u64,
        }
    }

    /// Refuses files larger than `bytes`.
    pub fn with_max_file_size(mut self, bytes: usize) -> Self {
        self.max_file_size = bytes as u64;
        self
    }

    fn matched(&self) -> (Vec<PathBuf>, Vec<String>) {
        let mut paths = Vec::new();
        let mut errors = Vec::new();
        for p in &self.patterns {
            match glob::glob(p) {
                Ok(it) => {
                    for entry in it {
                        match entry {
                            Ok(path) => paths.push(path),
                            Err(e) => errors.push(e.to_string()),
                        }
                    }
                }
                Err(e) => errors.push(format!("invalid glob pattern {p:?}: {}", e.msg)),
            }
        }
        paths.sort();
        paths.dedup();
        (paths, errors)
    }

    /// Re-reads files whose stamp changed (all of them when `full`);
    /// returns the errors met. Files that vanished are forgotten.
    pub fn refresh(&mut self, full: bool) -> Vec<String> {
        let (paths, mut errors) = self.matched();
        self.files.retain(|p, _| paths.contains(p));
        for path in paths {
            let stamp = std::fs::metadata(&path)
                .ok()
                .and_then(|m| Some((m.modified().ok()?, m.len())));
            let known = self.files.get(&path).map(|s| s.stamp);
            if !full && known == Some(stamp) && stamp.is_some() {
                continue;
            }
            match read_file(&path, self.max_file_size) {
                Ok(groups) => {
                    self.files.insert(path, FileState { stamp, groups });
                }
                Err(e) => {
                    errors.push(format!("{}: {e}", path.display()));
                    // Keep the last good groups; note the stamp so a broken
                    // file is not re-read every few seconds.
                    if let Some(state) = self.files.get_mut(&path) {
                        state.stamp = stamp;
                    } else {
                        self.files.insert(
                            path,
                            FileState {
                                stamp,
                                groups: Vec::new(),
                            },
                        );
                    }
                }
            }
        }
        errors
    }

    pub fn groups(&self) -> Vec<TargetGroup> {
        self.files
            .values()
            .flat_map(|s| s.groups.iter().cloned())
            .collect()
    }
}

fn read_file(path: &Path, max: u64) -> Result<Vec<TargetGroup>, String> {
    let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
    if meta.len() > max {
        return Err(format!(
            "file has {} bytes, more than max_file_size ({max} bytes)",
            meta.len()
        ));
    }
    let body = std::fs::read(path).map_err(|e| e.to_string())?;
    let name = path.to_string_lossy();
    let raw: Vec<RawGroup> = if name.ends_with(".json") {
        serde_json::from_slice(&body).map_err(|e| format!("invalid target groups JSON: {e}"))?
    } else {
        profcol_config::yaml::from_slice(&body)
            .map_err(|e| format!("invalid target groups YAML: {e}"))?
    };
    Ok(raw
        .into_iter()
        .map(|g| g.into_group(&[("__meta_filepath", &name)]))
        .collect())
}

/// Watches the files until `shutdown`; sends the groups whenever they change.
pub async fn run(
    cfg: FileSdConfig,
    source: String,
    ctx: DiscoveryContext,
    shutdown: CancellationToken,
) {
    let refresh = cfg.refresh_interval.get();
    let period = refresh
        .min(CHANGE_CHECK)
        .max(std::time::Duration::from_millis(1));
    let mut ticker = tokio::time::interval(period);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut sd = FileSd::new(cfg.files).with_max_file_size(cfg.max_file_size.0);
    let mut last_full: Option<Instant> = None;
    let mut last_sent: Option<Vec<TargetGroup>> = None;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = ticker.tick() => {}
        }
        let full = last_full.is_none_or(|t| t.elapsed() >= refresh);
        if full {
            last_full = Some(Instant::now());
        }
        // Globbing and reading files block: keep them off the async workers.
        let (back, errors) = match tokio::task::spawn_blocking(move || {
            let errors = sd.refresh(full);
            (sd, errors)
        })
        .await
        {
            Ok(r) => r,
            Err(e) => {
                ctx.failed(&source, format!("file discovery task failed: {e}"));
                return;
            }
        };
        sd = back;
        let groups = sd.groups();
        let changed = last_sent.as_ref() != Some(&groups);
        if changed {
            last_sent = Some(groups.clone());
            if !ctx.publish(&source, groups).await {
                return;
            }
        }
        if !errors.is_empty() {
            ctx.failed(&source, errors.join("; "));
        } else if !changed {
            ctx.publish_unchanged(&source);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_json_and_yaml_and_keeps_last_good() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.json");
        let b = dir.path().join("b.yaml");
        std::fs::write(&a, r#"[{"targets": ["a:1"], "labels": {"env": "x"}}]"#).unwrap();
        std::fs::write(&b, "- targets: ['b:2', 'c:3']\n").unwrap();
        let mut sd = FileSd::new(vec![
            format!("{}/*.json", dir.path().display()),
            format!("{}/*.yaml", dir.path().display()),
        ]);
        assert!(sd.refresh(true).is_empty());
        let g = sd.groups();
        assert_eq!(g.iter().map(|g| g.targets.len()).sum::<usize>(), 3);
        assert_eq!(
            g[0].labels.get("__meta_filepath"),
            Some(a.to_string_lossy().as_ref())
        );

        std::fs::write(&a, "not json").unwrap();
        let errs = sd.refresh(true);
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert!(errs[0].contains("invalid target groups JSON"), "{errs:?}");
        assert_eq!(
            sd.groups().iter().map(|g| g.targets.len()).sum::<usize>(),
            3
        );

        std::fs::remove_file(&b).unwrap();
        sd.refresh(false);
        assert_eq!(
            sd.groups().iter().map(|g| g.targets.len()).sum::<usize>(),
            1
        );
    }

    #[test]
    fn a_changed_file_is_reread_without_a_full_refresh() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("t.json");
        std::fs::write(&a, r#"[{"targets": ["a:1"]}]"#).unwrap();
        let mut sd = FileSd::new(vec![a.to_string_lossy().into_owned()]);
        sd.refresh(true);
        // A different size is a different stamp even within one mtime tick.
        std::fs::write(&a, r#"[{"targets": ["a:1", "b:22"]}]"#).unwrap();
        sd.refresh(false);
        assert_eq!(sd.groups()[0].targets.len(), 2);
    }

    #[test]
    fn default_refresh_is_5m() {
        let c: FileSdConfig = profcol_config::yaml::from_str("files: [/x.json]").unwrap();
        assert_eq!(c.refresh_interval, Duration::from_secs(300));
    }
}
