//! Extensions: components outside the pipelines, as in the OpenTelemetry
//! Collector — `health_check` (its own health endpoint), `pprof` (profcol's
//! own profiles on a listener of its own) and `file_storage` (a directory
//! that exporters' persistent queues reference).
//!
//! An extension runs when it is defined under `extensions` **and** listed
//! in `service.extensions`; it starts before the pipelines and stops after
//! them. This module is the registry: [`EXTENSIONS`] (one factory per
//! type), [`start`] and [`Extension::shutdown`]. [`storage_refs`] resolves
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

use futures::future::BoxFuture;
use profcol_config::Body;
use profcol_config::{decode, ComponentId, Problem};
use profcol_runtime::factory::{wrong_config, Factory, Kind, Registry, Stability};
use profcol_runtime::ComponentContext;
use serde_json::Value as Json;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The extension kind: starting one binds, opens or locks, so a factory
/// returns the start to await.
pub struct Extensions;

impl Kind for Extensions {
    const SINGULAR: &'static str = "extension";
    type Config = ExtensionConfig;
    type Input = Host;
    type Running = BoxFuture<'static, anyhow::Result<Extension>>;
    type Error = anyhow::Error;
    fn invalid(problems: Vec<Problem>) -> anyhow::Error {
        let lines: Vec<String> = problems.iter().map(ToString::to_string).collect();
        anyhow::anyhow!(lines.join("; "))
    }
}

/// Every extension type, in the order `profcol components` lists them.
pub static EXTENSIONS: Registry<Extensions> =
    Registry::new(&[&HealthCheckFactory, &PprofFactory, &FileStorageFactory]);

/// A decoded, validated extension config, whatever its type; equal configs
/// configure the same extension (what a reload compares).
#[derive(Debug, Clone, PartialEq)]
pub enum ExtensionConfig {
    HealthCheck(health_check::HealthCheckConfig),
    Pprof(pprof::PprofConfig),
    FileStorage(file_storage::FileStorageConfig),
}

fn path_of(id: &ComponentId) -> String {
    format!("extensions::{id}")
}

struct HealthCheckFactory;

impl Factory<Extensions> for HealthCheckFactory {
    fn name(&self) -> &'static str {
        "health_check"
    }
    fn stability(&self) -> Stability {
        Stability::Beta
    }
    fn decode(
        &self,
        _: &ComponentId,
        body: &Body,
        path: &str,
    ) -> Result<ExtensionConfig, Vec<Problem>> {
        decode(body, path).map(ExtensionConfig::HealthCheck)
    }
    fn start(
        &self,
        id: &ComponentId,
        config: &ExtensionConfig,
        _: ComponentContext,
        host: Host,
    ) -> anyhow::Result<BoxFuture<'static, anyhow::Result<Extension>>> {
        let ExtensionConfig::HealthCheck(cfg) = config else {
            return Err(wrong_config(self, id));
        };
        let (id, cfg) = (id.clone(), cfg.clone());
        Ok(Box::pin(async move {
            let stop = CancellationToken::new();
            let (debug, task) =
                health_check::start(&id, &cfg, &host, &path_of(&id), stop.clone()).await?;
            Ok(Extension::new(debug, stop, vec![task], None))
        }))
    }
}

struct PprofFactory;

impl Factory<Extensions> for PprofFactory {
    fn name(&self) -> &'static str {
        "pprof"
    }
    fn stability(&self) -> Stability {
        Stability::Beta
    }
    fn decode(
        &self,
        _: &ComponentId,
        body: &Body,
        path: &str,
    ) -> Result<ExtensionConfig, Vec<Problem>> {
        decode(body, path).map(ExtensionConfig::Pprof)
    }
    fn start(
        &self,
        id: &ComponentId,
        config: &ExtensionConfig,
        _: ComponentContext,
        _: Host,
    ) -> anyhow::Result<BoxFuture<'static, anyhow::Result<Extension>>> {
        let ExtensionConfig::Pprof(cfg) = config else {
            return Err(wrong_config(self, id));
        };
        let (id, cfg) = (id.clone(), cfg.clone());
        Ok(Box::pin(async move {
            let stop = CancellationToken::new();
            let (debug, tasks) = pprof::start(&id, &cfg, &path_of(&id), stop.clone()).await?;
            Ok(Extension::new(debug, stop, tasks, None))
        }))
    }
}

struct FileStorageFactory;

impl Factory<Extensions> for FileStorageFactory {
    fn name(&self) -> &'static str {
        "file_storage"
    }
    fn stability(&self) -> Stability {
        Stability::Alpha
    }
    fn decode(
        &self,
        _: &ComponentId,
        body: &Body,
        path: &str,
    ) -> Result<ExtensionConfig, Vec<Problem>> {
        decode(body, path).map(ExtensionConfig::FileStorage)
    }
    fn start(
        &self,
        id: &ComponentId,
        config: &ExtensionConfig,
        _: ComponentContext,
        _: Host,
    ) -> anyhow::Result<BoxFuture<'static, anyhow::Result<Extension>>> {
        let ExtensionConfig::FileStorage(cfg) = config else {
            return Err(wrong_config(self, id));
        };
        let (id, cfg) = (id.clone(), cfg.clone());
        Ok(Box::pin(async move {
            let (debug, lock) = file_storage::start(&cfg, &path_of(&id)).await?;
            Ok(Extension::new(
                debug,
                CancellationToken::new(),
                Vec::new(),
                Some(Box::new(lock)),
            ))
        }))
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
    fn new(
        debug: Json,
        stop: CancellationToken,
        tasks: Vec<JoinHandle<()>>,
        hold: Option<Box<dyn std::any::Any + Send + Sync>>,
    ) -> Self {
        Self {
            debug,
            stop,
            tasks,
            hold,
        }
    }

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

/// Starts the extension `id` from its decoded config; binding,
/// certificate and directory errors are returned at once.
pub async fn start(
    id: &ComponentId,
    config: &ExtensionConfig,
    host: &Host,
) -> anyhow::Result<Extension> {
    let ctx = ComponentContext::standalone(&id.to_string());
    EXTENSIONS.start(id, config, ctx, host.clone())?.await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_decodes_its_defaults_and_unknown_ones_are_named() {
        for (name, _) in EXTENSIONS.names() {
            let id: ComponentId = name.parse().unwrap();
            assert!(
                EXTENSIONS
                    .decode(&id, &Body::empty(), "extensions::x")
                    .is_ok(),
                "{name}"
            );
        }
        let unknown: ComponentId = "zpages".parse().unwrap();
        let problems = EXTENSIONS
            .decode(&unknown, &Body::empty(), "extensions::zpages")
            .unwrap_err();
        assert!(problems[0].to_string().contains("unknown extension type"));
    }
}
