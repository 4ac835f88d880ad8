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

pub mod file_storage;
mod go_time;
pub mod health_check;
pub mod pprof;
mod server;
pub mod storage_refs;

use profcol_config::{decode, ComponentId, Problem};
use serde_json::Value as Json;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// `(type, stability)` of every extension type.
pub fn types() -> Vec<(&'static str, &'static str)> {
    vec![
        ("health_check", "beta"),
        ("pprof", "beta"),
        ("file_storage", "alpha"),
    ]
}

/// A decoded, validated extension config.
enum Parsed {
    HealthCheck(health_check::HealthCheckConfig),
    Pprof(pprof::PprofConfig),
    FileStorage(file_storage::FileStorageConfig),
}

fn parse(
    id: &ComponentId,
    body: &profcol_config::yaml::Value,
    path: &str,
) -> Result<Parsed, Vec<Problem>> {
    match id.kind() {
        "health_check" => decode(body, path).map(Parsed::HealthCheck),
        "pprof" => decode(body, path).map(Parsed::Pprof),
        "file_storage" => decode(body, path).map(Parsed::FileStorage),
        other => Err(vec![Problem::new(
            path,
            format!("unknown extension type {other:?}"),
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
        Parsed::HealthCheck(cfg) => {
            let (debug, task) = health_check::start(id, &cfg, host, &path, stop.clone()).await?;
            (debug, vec![task], None)
        }
        Parsed::Pprof(cfg) => {
            let (debug, tasks) = pprof::start(id, &cfg, &path, stop.clone()).await?;
            (debug, tasks, None)
        }
        Parsed::FileStorage(cfg) => {
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
