//! Extensions: components outside the pipelines, as in the OpenTelemetry
//! Collector — `health_check` (its own health endpoint), `pprof` (profcol's
//! own profiles on a listener of its own) and `file_storage` (a directory
//! that exporters' persistent queues reference).
//!
//! An extension runs when it is defined under `extensions` **and** listed
//! in `service.extensions`; it starts before the pipelines and stops after
//! them. This module is the registry: [`types`], [`validate`], [`start`]
//! and [`Extension::shutdown`]. [`storage_refs`] resolves
//! `sending_queue.storage: file_storage[/name]` before exporters decode
//! their bodies.

#[cfg(test)]
mod config_serialize_tests;
pub mod file_storage;
mod go_time;
pub mod health_check;
pub mod pprof;
mod serialize;
mod server;
pub mod storage_refs;

use profcol_config::{decode, ComponentId, Problem};
use serde_json::Value as Json;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// A decoded, validated extension config, whatever its type; equal configs
/// configure the same extension (what a reload compares).
#[derive(PartialEq)]
pub enum ExtensionConfig {
    HealthCheck(health_check::HealthCheckConfig),
    Pprof(pprof::PprofConfig),
    FileStorage(file_storage::FileStorageConfig),
}

/// One extension type: its name, stability and how its config decodes.
pub struct ExtensionType {
    pub name: &'static str,
    pub stability: &'static str,
    pub decode: fn(&profcol_config::yaml::Value, &str) -> Result<ExtensionConfig, Vec<Problem>>,
}

/// Every extension type, in the order `profcol components` lists them: the
/// one table the listing, validation, reload comparison and [`start`] read.
pub const TYPES: &[ExtensionType] = &[
    ExtensionType {
        name: "health_check",
        stability: "beta",
        decode: |body, path| decode(body, path).map(ExtensionConfig::HealthCheck),
    },
    ExtensionType {
        name: "pprof",
        stability: "beta",
        decode: |body, path| decode(body, path).map(ExtensionConfig::Pprof),
    },
    ExtensionType {
        name: "file_storage",
        stability: "alpha",
        decode: |body, path| decode(body, path).map(ExtensionConfig::FileStorage),
    },
];

/// `(type, stability)` of every extension type.
pub fn types() -> Vec<(&'static str, &'static str)> {
    TYPES.iter().map(|t| (t.name, t.stability)).collect()
}

fn parse(
    id: &ComponentId,
    body: &profcol_config::yaml::Value,
    path: &str,
) -> Result<ExtensionConfig, Vec<Problem>> {
    match TYPES.iter().find(|t| t.name == id.kind()) {
        Some(t) => (t.decode)(body, path),
        None => Err(vec![Problem::new(
            path,
            format!("unknown extension type {:?}", id.kind()),
        )]),
    }
}

/// Checks an extension's settings; every problem at once, under `path`.
pub fn validate(
    id: &ComponentId,
    body: &profcol_config::yaml::Value,
    path: &str,
) -> Result<(), Vec<Problem>> {
    parse(id, body, path).map(|_| ())
}

/// Whether two bodies of extension `id` configure the same extension: both
/// decode to equal typed configs, defaults applied and durations parsed.
/// When either does not decode, whether the bodies are equal.
pub fn same_config(
    id: &ComponentId,
    old: &profcol_config::yaml::Value,
    new: &profcol_config::yaml::Value,
) -> bool {
    let path = format!("extensions::{id}");
    match (parse(id, old, &path), parse(id, new, &path)) {
        (Ok(a), Ok(b)) => a == b,
        _ => old == new,
    }
}

/// What extensions read from the rest of profcol: whether it is ready
/// (the admin server's `/-/ready` flag) and since when.
#[derive(Clone, Default)]
pub struct Host {
    pub ready: Arc<AtomicBool>,
    pub ready_since: Arc<Mutex<Option<SystemTime>>>,
}

/// A running extension.
pub struct Extension {
    /// For `/components`: what it serves or holds.
    pub debug: Json,
    stop: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
    /// Released when the extension stops (a lock file, say).
    hold: Option<Box<dyn std::any::Any + Send + Sync>>,
}

impl Extension {
    /// Stops it and waits for its tasks (a `save_to_file` profile is written
    /// then), at most `deadline`.
    pub async fn shutdown(self, deadline: Duration) {
        self.stop.cancel();
        let all = futures::future::join_all(self.tasks);
        if tokio::time::timeout(deadline, all).await.is_err() {
            tracing::warn!(timeout = ?deadline, "An extension did not stop in time.");
        }
        drop(self.hold);
    }
}

/// Starts the extension `id`; binding, certificate and directory errors
/// are returned at once.
pub async fn start(
    id: &ComponentId,
    body: &profcol_config::yaml::Value,
    host: &Host,
) -> anyhow::Result<Extension> {
    let path = format!("extensions::{id}");
    let parsed = parse(id, body, &path).map_err(|p| {
        let lines: Vec<String> = p.iter().map(ToString::to_string).collect();
        anyhow::anyhow!(lines.join("; "))
    })?;
    let stop = CancellationToken::new();
    let (debug, tasks, hold): (
        Json,
        Vec<JoinHandle<()>>,
        Option<Box<dyn std::any::Any + Send + Sync>>,
    ) = match parsed {
        ExtensionConfig::HealthCheck(cfg) => {
            let (debug, task) = health_check::start(id, &cfg, host, &path, stop.clone()).await?;
            (debug, vec![task], None)
        }
        ExtensionConfig::Pprof(cfg) => {
            let (debug, tasks) = pprof::start(id, &cfg, &path, stop.clone()).await?;
            (debug, tasks, None)
        }
        ExtensionConfig::FileStorage(cfg) => {
            let (debug, lock) = file_storage::start(&cfg, &path).await?;
            (debug, Vec::new(), Some(Box::new(lock)))
        }
    };
    Ok(Extension {
        debug,
        stop,
        tasks,
        hold,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_names_each_type_once_and_decodes_defaults() {
        let mut names: Vec<&str> = TYPES.iter().map(|t| t.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), TYPES.len());
        for t in TYPES {
            let id: ComponentId = t.name.parse().unwrap();
            let null = profcol_config::yaml::Value::Null;
            assert!(validate(&id, &null, "extensions::x").is_ok(), "{}", t.name);
        }
        let unknown: ComponentId = "zpages".parse().unwrap();
        let problems = validate(
            &unknown,
            &profcol_config::yaml::Value::Null,
            "extensions::zpages",
        )
        .unwrap_err();
        assert!(problems[0].to_string().contains("unknown extension type"));
    }
}
