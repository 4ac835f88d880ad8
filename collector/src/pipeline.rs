//! Pipeline assembly and the process lifecycle: start the admin server, the
//! exporters, the fan-outs and the receivers; on a signal stop them in
//! stages — receivers first, then exporters flush within
//! `service.shutdown_timeout`.

use crate::admin::{self, AdminState};
use crate::fanout::FanOut;
use crate::settings::Settings;
use anyhow::Context;
use profcol_config::{CollectorConfig, ComponentId, Kind};
use profcol_exporter::ExporterHandle;
use profcol_pdata::{ComponentContext, Consumer, Telemetry};
use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

/// Runs the configured pipelines until SIGINT/SIGTERM.
pub fn run_until_signal(settings: Settings) -> anyhow::Result<ExitCode> {
    crate::logging::init(&settings.config.service.telemetry.logs);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("profcol")
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let running = Running::start(&settings).await?;
        let signal = crate::shutdown::signal().await;
        info!(signal, "Shutting down.");
        running
            .stop(settings.config.service.shutdown_timeout.get())
            .await;
        Ok(ExitCode::SUCCESS)
    })
}

/// Everything that runs, in the order it stops.
pub struct Running {
    pub admin: AdminState,
    pub admin_address: Option<std::net::SocketAddr>,
    admin_stop: CancellationToken,
    admin_task: Option<tokio::task::JoinHandle<()>>,
    receivers_stop: CancellationToken,
    exporters: BTreeMap<ComponentId, ExporterHandle>,
    exporters_stop: CancellationToken,
}

impl Running {
    pub async fn start(settings: &Settings) -> anyhow::Result<Self> {
        let cfg = &settings.config;
        let telemetry = Telemetry::default();
        telemetry.with_registry(|r| {
            r.register_collector(Box::new(crate::process_metrics::ProcessCollector));
        });
        let state = AdminState::new(telemetry.clone());
        let admin_stop = CancellationToken::new();
        let address = &cfg.service.telemetry.metrics.address;
        let (admin_address, admin_task) = if address.is_empty() {
            (None, None)
        } else {
            let (a, t) = admin::start(address, state.clone(), admin_stop.clone()).await?;
            info!(address = %a, "Admin server listening.");
            (Some(a), Some(t))
        };
        let exporters_stop = CancellationToken::new();
        let receivers_stop = CancellationToken::new();
        let context = |id: &ComponentId, stop: &CancellationToken| ComponentContext {
            id: id.to_string(),
            shutdown: stop.child_token(),
            telemetry: telemetry.clone(),
        };

        let mut exporters = BTreeMap::new();
        for id in used(cfg, Kind::Exporter) {
            let body = cfg.get(Kind::Exporter, &id).cloned().unwrap_or_default();
            let handle =
                profcol_exporter::start_exporter(&id, &body, context(&id, &exporters_stop))
                    .with_context(|| format!("cannot start exporter {id}"))?;
            exporters.insert(id, handle);
        }

        let mut pipelines: BTreeMap<&str, Arc<dyn Consumer>> = BTreeMap::new();
        for (name, p) in &cfg.service.pipelines {
            let consumers = p
                .exporters
                .iter()
                .filter_map(|id| exporters.get(id).map(|h| (id.to_string(), h.consumer())))
                .collect();
            pipelines.insert(name, Arc::new(FanOut::new(consumers)));
        }

        for id in used(cfg, Kind::Receiver) {
            let feeds: Vec<(String, Arc<dyn Consumer>)> = cfg
                .service
                .pipelines
                .iter()
                .filter(|(_, p)| p.receivers.contains(&id))
                .filter_map(|(name, _)| {
                    pipelines
                        .get(name.as_str())
                        .map(|c| (name.clone(), c.clone()))
                })
                .collect();
            let next: Arc<dyn Consumer> = Arc::new(FanOut::new(feeds));
            let body = cfg.get(Kind::Receiver, &id).cloned().unwrap_or_default();
            let handle =
                profcol_receiver::start_receiver(&id, &body, context(&id, &receivers_stop), next)
                    .with_context(|| format!("cannot start receiver {id}"))?;
            state
                .receivers
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push((id.to_string(), handle));
        }
        for kind in [Kind::Receiver, Kind::Exporter] {
            let in_use = used(cfg, kind);
            for (id, _) in cfg.section(kind) {
                if !in_use.contains(id) {
                    warn!(component = %id, "Component is defined but used by no pipeline; it is not started.");
                }
            }
        }
        state.ready.store(true, Ordering::Release);
        info!(
            pipelines = cfg.service.pipelines.len(),
            receivers = used(cfg, Kind::Receiver).len(),
            exporters = exporters.len(),
            "Everything is ready."
        );
        Ok(Self {
            admin: state,
            admin_address,
            admin_stop,
            admin_task,
            receivers_stop,
            exporters,
            exporters_stop,
        })
    }

    /// Staged shutdown within `deadline`.
    pub async fn stop(self, deadline: Duration) {
        let started = Instant::now();
        self.admin.ready.store(false, Ordering::Release);
        self.receivers_stop.cancel();
        let receivers: Vec<_> = std::mem::take(
            &mut *self
                .admin
                .receivers
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        let waits = futures::future::join_all(receivers.into_iter().map(|(_, h)| h.wait()));
        if tokio::time::timeout(deadline, waits).await.is_err() {
            warn!(timeout = ?deadline, "Receivers did not stop in time.");
        }
        let left = deadline.saturating_sub(started.elapsed());
        let flushes = self.exporters.into_values().map(|h| h.shutdown(left));
        futures::future::join_all(flushes).await;
        self.exporters_stop.cancel();
        self.admin_stop.cancel();
        if let Some(t) = self.admin_task {
            let _ = tokio::time::timeout(Duration::from_secs(1), t).await;
        }
        info!(took = ?started.elapsed(), "Stopped.");
    }
}

/// Components of `kind` that some pipeline uses, each once.
fn used(cfg: &CollectorConfig, kind: Kind) -> Vec<ComponentId> {
    let mut out: Vec<ComponentId> = Vec::new();
    for p in cfg.service.pipelines.values() {
        let list = match kind {
            Kind::Receiver => &p.receivers,
            Kind::Exporter => &p.exporters,
            Kind::Processor => &p.processors,
            Kind::Extension => continue,
        };
        for id in list {
            if !out.contains(id) {
                out.push(id.clone());
            }
        }
    }
    out
}
