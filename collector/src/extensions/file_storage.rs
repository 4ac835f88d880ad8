//! The `file_storage` extension: a directory for exporters' persistent
//! queues, referenced as in the Collector with `sending_queue.storage:
//! file_storage[/name]` ([`super::storage_refs`]). Each exporter keeps its
//! queue in `<directory>/<exporter id>` (every character other than ASCII
//! letters, digits, `.`, `-`, `_` replaced by `_`) — the sub-directory the
//! inline `storage: {directory: …}` form uses, so that moving an exporter
//! between the two forms with the same directory keeps its queue.
//!
//! Keys, as in the Collector: `directory` (default
//! [`DEFAULT_DIRECTORY`]), `timeout` (how long start-up waits for the
//! directory's lock file, `profcol.lock`; 0 waits indefinitely, as bbolt's
//! lock does), `create_directory` (default false: the directory must exist)
//! and `directory_permissions` (default `0750`, minus the umask). `fsync:
//! true` is what profcol always does (every batch is synced before it is
//! accepted); `fsync: false` is refused. `compaction` is accepted while it
//! compacts nothing: `on_start`/`on_rebound: true` are refused, since the
//! queue deletes each segment file once all its batches are delivered and
//! has nothing to compact.

use profcol_config::{join_path, Problem, Validate};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The Collector's default (`/var/lib/otelcol/file_storage`) with
/// profcol's name: the systemd unit's `StateDirectory=profcol` is
/// `/var/lib/profcol`, and a profcol beside an otelcol on one host must not
/// share a queue directory.
pub const DEFAULT_DIRECTORY: &str = "/var/lib/profcol/file_storage";

/// The lock file held in `directory` while the extension runs.
pub const LOCK_FILE: &str = "profcol.lock";

/// `extensions.file_storage[/name]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileStorageConfig {
    #[serde(default = "default_directory")]
    pub directory: String,
    #[serde(default = "default_timeout")]
    pub timeout: profcol_config::Duration,
    #[serde(default)]
    pub create_directory: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub directory_permissions: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fsync: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compaction: Option<Compaction>,
}

/// `compaction`: only its inert form is accepted.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Compaction {
    #[serde(default)]
    pub on_start: bool,
    #[serde(default)]
    pub on_rebound: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub directory: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_transaction_size: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rebound_needed_threshold_mib: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rebound_trigger_threshold_mib: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check_interval: Option<profcol_config::Duration>,
    #[serde(default)]
    pub cleanup_on_start: bool,
}

fn default_directory() -> String {
    DEFAULT_DIRECTORY.into()
}
fn default_timeout() -> profcol_config::Duration {
    profcol_config::Duration::from_secs(1)
}

const NO_COMPACTION: &str = "profcol's queue has nothing to compact: it keeps batches in segment files and deletes each file, giving its space back, once all its batches are delivered";

impl FileStorageConfig {
    /// `directory_permissions` as a mode (default `0750`).
    pub fn mode(&self) -> Option<u32> {
        match &self.directory_permissions {
            None => Some(0o750),
            Some(p) => u32::from_str_radix(p.trim_start_matches("0o"), 8)
                .ok()
                .filter(|m| *m <= 0o7777),
        }
    }
}

impl Validate for FileStorageConfig {
    fn validate(&self, path: &str, problems: &mut Vec<Problem>) {
        if self.directory.trim().is_empty() {
            problems.push(Problem::new(
                join_path(path, "directory"),
                "must not be empty",
            ));
        }
        if self.mode().is_none() {
            problems.push(Problem::new(
                join_path(path, "directory_permissions"),
                format!(
                    "{:?} is not an octal mode such as \"0750\"",
                    self.directory_permissions.as_deref().unwrap_or_default()
                ),
            ));
        } else if self.directory_permissions.is_some() && !self.create_directory {
            problems.push(Problem::new(
                join_path(path, "directory_permissions"),
                "only applies with create_directory: true",
            ));
        }
        if self.fsync == Some(false) {
            problems.push(Problem::new(
                join_path(path, "fsync"),
                "profcol's persistent queue syncs every batch to disk before accepting it and cannot skip that; leave fsync out (or set it to true)",
            ));
        }
        if let Some(c) = &self.compaction {
            let cp = join_path(path, "compaction");
            for (key, on) in [("on_start", c.on_start), ("on_rebound", c.on_rebound)] {
                if on {
                    problems.push(Problem::new(join_path(&cp, key), NO_COMPACTION));
                }
            }
            if c.max_transaction_size.is_some_and(|n| n < 0) {
                problems.push(Problem::new(
                    join_path(&cp, "max_transaction_size"),
                    "cannot be less than 0",
                ));
            }
        }
    }
}

/// The exclusive lock on a storage directory; released when dropped.
pub struct DirectoryLock {
    _file: std::fs::File,
}

/// Makes sure the directory exists (creating it when asked) and takes its
/// lock, waiting up to `timeout`. Returns what `/components` shows.
pub async fn start(
    cfg: &FileStorageConfig,
    path: &str,
) -> anyhow::Result<(serde_json::Value, DirectoryLock)> {
    let cfg = cfg.clone();
    let path = path.to_string();
    tokio::task::spawn_blocking(move || open(&cfg, &path)).await?
}

fn open(cfg: &FileStorageConfig, path: &str) -> anyhow::Result<(serde_json::Value, DirectoryLock)> {
    let dir = PathBuf::from(&cfg.directory);
    let dp = join_path(path, "directory");
    if cfg.create_directory && !dir.is_dir() {
        create(&dir, cfg.mode().unwrap_or(0o750))
            .map_err(|e| anyhow::anyhow!("{dp}: cannot create {}: {e}", dir.display()))?;
    }
    match std::fs::metadata(&dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => anyhow::bail!("{dp}: {} is not a directory", dir.display()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => anyhow::bail!(
            "{dp}: directory must exist: {} (or set create_directory: true)",
            dir.display()
        ),
        Err(e) => anyhow::bail!("{dp}: cannot access {}: {e}", dir.display()),
    }
    let lock = lock(&dir, cfg.timeout.get())
        .map_err(|e| anyhow::anyhow!("{}: {e}", join_path(path, "timeout")))?;
    let debug = serde_json::json!({
        "directory": std::path::absolute(&dir).unwrap_or(dir).display().to_string(),
        "lock": LOCK_FILE,
    });
    Ok((debug, lock))
}

#[cfg(unix)]
fn create(dir: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(mode)
        .create(dir)
}

#[cfg(not(unix))]
fn create(dir: &Path, _mode: u32) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}

/// Takes the exclusive lock on `<dir>/profcol.lock`, trying every 50 ms
/// until `timeout` (zero: indefinitely).
fn lock(dir: &Path, timeout: Duration) -> Result<DirectoryLock, String> {
    let file_path = dir.join(LOCK_FILE);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&file_path)
        .map_err(|e| format!("cannot open the lock file {}: {e}", file_path.display()))?;
    let began = Instant::now();
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(DirectoryLock { _file: file }),
            Err(std::fs::TryLockError::WouldBlock) => {
                if !timeout.is_zero() && began.elapsed() >= timeout {
                    return Err(format!(
                        "{} is locked by another process (another profcol using the same directory?); waited {timeout:?}",
                        file_path.display()
                    ));
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(format!("cannot lock {}: {e}", file_path.display()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(yaml: &str) -> Vec<String> {
        let v = profcol_config::Body::parse(yaml).unwrap();
        match profcol_config::decode::<FileStorageConfig>(&v, "extensions::file_storage") {
            Ok(_) => vec![],
            Err(p) => p.iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn keys_defaults_and_problems() {
        let cfg: FileStorageConfig =
            profcol_config::decode(&profcol_config::Body::empty(), "x").unwrap();
        assert_eq!(cfg.directory, "/var/lib/profcol/file_storage");
        assert_eq!(cfg.timeout.get(), Duration::from_secs(1));
        assert!(!cfg.create_directory);
        assert_eq!(cfg.mode(), Some(0o750));
        assert!(check("{directory: /q, timeout: 2s, create_directory: true, directory_permissions: '0700', fsync: true, compaction: {on_start: false, on_rebound: false, directory: /tmp, max_transaction_size: 65536, rebound_needed_threshold_mib: 100, rebound_trigger_threshold_mib: 10, check_interval: 5s, cleanup_on_start: true}}").is_empty());
        assert_eq!(
            check("{directory: '', directory_permissions: '0999', fsync: false, compaction: {on_start: true, on_rebound: true, max_transaction_size: -1}}"),
            [
                "extensions::file_storage::directory: must not be empty",
                "extensions::file_storage::directory_permissions: \"0999\" is not an octal mode such as \"0750\"",
                "extensions::file_storage::fsync: profcol's persistent queue syncs every batch to disk before accepting it and cannot skip that; leave fsync out (or set it to true)",
                &format!("extensions::file_storage::compaction::on_start: {NO_COMPACTION}"),
                &format!("extensions::file_storage::compaction::on_rebound: {NO_COMPACTION}"),
                "extensions::file_storage::compaction::max_transaction_size: cannot be less than 0",
            ]
        );
        assert_eq!(
            check("{directory_permissions: '0700'}"),
            ["extensions::file_storage::directory_permissions: only applies with create_directory: true"]
        );
        assert!(check("{recreate: true}")[0]
            .starts_with("extensions::file_storage::recreate: unknown key `recreate`"));
    }

    #[tokio::test]
    async fn a_missing_directory_is_created_only_when_asked_and_locked_once() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("a/b");
        let cfg = |create: bool| FileStorageConfig {
            directory: target.display().to_string(),
            timeout: profcol_config::Duration::from_millis(200),
            create_directory: create,
            directory_permissions: Some("0700".into()),
            fsync: None,
            compaction: None,
        };
        let err = start(&cfg(false), "extensions::file_storage")
            .await
            .err()
            .unwrap();
        assert!(
            err.to_string()
                .starts_with("extensions::file_storage::directory: directory must exist"),
            "{err}"
        );
        let (_, held) = start(&cfg(true), "extensions::file_storage").await.unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&target).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode & !0o700, 0, "{mode:o}");
        }
        let again = start(&cfg(true), "extensions::file_storage")
            .await
            .err()
            .unwrap();
        assert!(
            again
                .to_string()
                .starts_with("extensions::file_storage::timeout: ")
                && again.to_string().contains("is locked by another process"),
            "{again}"
        );
        drop(held);
        assert!(start(&cfg(true), "extensions::file_storage").await.is_ok());
    }
}
