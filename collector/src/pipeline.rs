//! Pipeline assembly and the process lifecycle: start the admin server, the
//! extensions, the exporters, the fan-outs and the receivers; apply a
//! reloaded configuration by rebuilding only what changed; on a signal stop
//! them in stages — receivers first, then exporters flush within
//! `service.shutdown_timeout`, then the extensions stop.

use crate::admin::{self, AdminState};
use crate::chains::{Chain, ChainKey};
use crate::components::Decoded;
use crate::fanout::{FanOut, Switch};
use crate::reload::plan::{used, Plan};
use crate::settings::Settings;
use crate::topology::{ReceiverSlot, RunningExporter, RunningReceiver};

mod apply;
use anyhow::Context;
use profcol_config::{CollectorConfig, ComponentId, Kind};
use profcol_exporter::{ExporterHandle, EXPORTERS};
use profcol_pdata::Consumer;
use profcol_processor::PROCESSORS;
use profcol_receiver::RECEIVERS;
use profcol_runtime::{ComponentContext, MemoryGuard, Telemetry};
use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

/// Runs the configured pipelines until SIGINT/SIGTERM, reloading the
/// configuration on SIGHUP, a change of a config file or `POST /-/reload`.
pub fn run_until_signal(settings: Settings) -> anyhow::Result<ExitCode> {
    crate::logging::init(&settings.config.service.telemetry.logs);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("profcol")
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(crate::reload::run(settings))
}

/// Everything that runs, in the order it stops.
pub struct Running {
    pub admin: AdminState,
    pub admin_address: Option<std::net::SocketAddr>,
    admin_stop: CancellationToken,
    admin_task: Option<tokio::task::JoinHandle<()>>,
    /// Gossip membership (`service.cluster`); left first on shutdown.
    cluster: Option<crate::cluster::Cluster>,
    telemetry: Telemetry,
    memory: MemoryGuard,
    /// Scrapes in flight, divided among the running scrape receivers.
    scrape_budget: profcol_runtime::ScrapeBudget,
    /// What exporters' persistent queues check profiles read back against:
    /// the widest caps of every receiver configured since start.
    read_back_limits: profcol_pdata::pprof::DecodeLimits,
    /// The configuration the components below were built from.
    config: CollectorConfig,
    /// `config`'s components as their factories decoded them.
    components: Arc<Decoded>,
    receivers_stop: CancellationToken,
    exporters_stop: CancellationToken,
    /// Each pipeline's processors, by pipeline name.
    chains: BTreeMap<String, Chain>,
    processors_stop: CancellationToken,
    /// Exporters and processor chains replaced by a reload, still flushing.
    retiring: TaskTracker,
    /// The extensions `service.extensions` lists; started first, stopped last.
    extensions: BTreeMap<ComponentId, crate::extensions::Extension>,
}

impl Running {
    pub async fn start(settings: &Settings) -> anyhow::Result<Self> {
        let cfg = &settings.config;
        let telemetry = Telemetry::default();
        telemetry.with_registry(|r| {
            r.register_collector(Box::new(crate::process_metrics::ProcessCollector));
        });
        // The membership runs before anything else so that receivers start
        // with the cluster's view.
        let cluster = match cfg.service.cluster.enabled {
            true => Some(crate::cluster::Cluster::start(&cfg.service.cluster, &telemetry).await?),
            false => None,
        };
        let mut state = AdminState::new(telemetry.clone());
        state.set_config(settings);
        state.cluster = cluster.as_ref().map(|c| c.watch());
        let admin_stop = CancellationToken::new();
        let address = &cfg.service.telemetry.metrics.address;
        let (admin_address, admin_task) = if address.is_empty() {
            (None, None)
        } else {
            let (a, t) = admin::start(
                &cfg.service.telemetry.metrics,
                state.clone(),
                admin_stop.clone(),
            )
            .await?;
            let ui = crate::startup_log::ui_url(a, cfg.service.telemetry.metrics.tls.is_some());
            info!(address = %a, ui = %ui, "Admin server listening.");
            (Some(a), Some(t))
        };
        let memory = crate::memory::start(&cfg.service, &telemetry, admin_stop.clone());
        let mut running = Self {
            cluster,
            admin: state,
            admin_address,
            admin_stop,
            admin_task,
            telemetry,
            memory,
            scrape_budget: profcol_runtime::ScrapeBudget::from_open_file_limit(),
            read_back_limits: settings.components.read_back_limits(),
            // Nothing runs yet, and the service settings are the ones given.
            config: CollectorConfig {
                components: BTreeMap::new(),
                service: profcol_config::collector::ServiceConfig {
                    pipelines: BTreeMap::new(),
                    ..cfg.service.clone()
                },
            },
            components: Arc::default(),
            receivers_stop: CancellationToken::new(),
            exporters_stop: CancellationToken::new(),
            chains: BTreeMap::new(),
            processors_stop: CancellationToken::new(),
            retiring: TaskTracker::new(),
            extensions: BTreeMap::new(),
        };
        running.apply(settings).await?;
        running.admin.set_ready(true);
        info!(
            pipelines = cfg.service.pipelines.len(),
            receivers = running.admin.receivers.len(),
            exporters = running.admin.exporters.len(),
            "Everything is ready."
        );
        if let Some(a) = running.admin_address {
            let ui = crate::startup_log::ui_url(a, cfg.service.telemetry.metrics.tls.is_some());
            info!(ui = %ui, data = %crate::startup_log::destinations(cfg, &settings.components), "Open the UI at {ui}; profiles go to the exporters listed in data.");
        } else {
            info!(data = %crate::startup_log::destinations(cfg, &settings.components), "Profiles go to the exporters listed in data (no admin UI: service.telemetry.metrics.address is empty).");
        }
        Ok(running)
    }

    fn context(&self, id: &ComponentId, stop: &CancellationToken) -> ComponentContext {
        ComponentContext {
            id: id.to_string(),
            shutdown: stop.clone(),
            telemetry: self.telemetry.clone(),
            memory: self.memory.clone(),
            cluster: self.cluster.as_ref().map(|c| c.watch()),
            scrape_budget: self.scrape_budget.clone(),
            read_back_limits: self.read_back_limits.clone(),
        }
    }

    /// Moves the running components from the current configuration to
    /// `new`: exporters and receivers whose body changed get a new instance,
    /// added ones start, removed ones stop, unchanged ones keep running and
    /// are only rewired. New instances start before anything old stops, so
    /// that when one cannot start, the previous pipeline is left as it was —
    /// except an exporter with a persistent queue, whose old instance must
    /// release the queue directory first, and a changed receiver, whose old
    /// instance stops first and hands the delta state of its unchanged jobs
    /// to the new one; both are started again on failure.
    /// Returns the plan's one-line summary.
    pub async fn apply(&mut self, settings: &Settings) -> anyhow::Result<String> {
        let (new, typed) = (&settings.config, &settings.components);
        let plan = Plan::new(&self.config, new, &|kind, id| {
            self.components.same(typed, kind, id)
        });
        let deadline = new.service.shutdown_timeout.get();
        // Profiles queued on disk under the old receivers' caps stay readable.
        self.read_back_limits = self.read_back_limits.widest(&typed.read_back_limits());
        self.apply_extensions(&plan, typed, deadline).await?;
        if let Err(e) = self.apply_pipelines(&plan, settings).await {
            self.revert_extensions(&plan, deadline).await;
            return Err(e);
        }
        for kind in [Kind::Receiver, Kind::Exporter] {
            let in_use = used(new, kind);
            for (id, _) in new.section(kind) {
                if !in_use.contains(id) && !self.components.same(typed, kind, id) {
                    warn!(component = %id, "Component is defined but used by no pipeline; it is not started.");
                }
            }
        }
        for (id, _) in new.section(Kind::Extension) {
            if !new.service.extensions.contains(id)
                && !self.components.same(typed, Kind::Extension, id)
            {
                warn!(component = %id, "Extension is defined but not listed in service.extensions; it is not started.");
            }
        }
        if let Some(level) = &plan.log_level {
            match crate::logging::set_level(level) {
                Ok(true) => info!(filter = %level, "Log level changed."),
                Ok(false) => {}
                Err(e) => warn!(error = %e, "Cannot change the log level."),
            }
        }
        for key in &plan.needs_restart {
            warn!(key = %key, "This setting changed but only takes effect after a restart.");
        }
        self.config = new.clone();
        self.components = typed.clone();
        self.admin.components.applied(new, typed);
        self.admin.components.extensions(
            self.extensions
                .iter()
                .map(|(id, e)| (id.to_string(), e.debug.clone()))
                .collect(),
        );
        Ok(plan.summary())
    }

    /// Stops the extensions a reload changes or removes, then starts the
    /// changed and added ones — before any pipeline component, since
    /// exporters put their queues in `file_storage` directories, and a
    /// changed `health_check` or `pprof` must free its port for its new
    /// instance. When one cannot start, the new ones stop and the previous
    /// ones start again.
    async fn apply_extensions(
        &mut self,
        plan: &Plan,
        new: &Decoded,
        deadline: Duration,
    ) -> anyhow::Result<()> {
        let mut stopped = Vec::new();
        for id in plan.extensions.to_stop() {
            if let Some(ext) = self.extensions.remove(id) {
                ext.shutdown(deadline).await;
                stopped.push(id.clone());
            }
        }
        let mut started = BTreeMap::new();
        for id in plan.extensions.to_start() {
            match self.start_extension(id, new).await {
                Ok(ext) => {
                    started.insert(id.clone(), ext);
                }
                Err(e) => {
                    for ext in started.into_values() {
                        ext.shutdown(deadline).await;
                    }
                    self.restart_extensions(&stopped).await;
                    return Err(e);
                }
            }
        }
        self.extensions.extend(started);
        Ok(())
    }

    /// After a failed reload whose extensions were already applied: stops
    /// the new instances and starts the previous ones again.
    async fn revert_extensions(&mut self, plan: &Plan, deadline: Duration) {
        for id in plan.extensions.to_start() {
            if let Some(ext) = self.extensions.remove(id) {
                ext.shutdown(deadline).await;
            }
        }
        let previous: Vec<ComponentId> = plan.extensions.to_stop().cloned().collect();
        self.restart_extensions(&previous).await;
    }

    /// Starts `ids` again from the running configuration.
    async fn restart_extensions(&mut self, ids: &[ComponentId]) {
        for id in ids {
            match self.start_extension(id, &self.components.clone()).await {
                Ok(ext) => {
                    self.extensions.insert(id.clone(), ext);
                }
                Err(e) => {
                    warn!(component = %id, error = %format!("{e:#}"), "Cannot start the previous extension again.");
                }
            }
        }
    }

    async fn start_extension(
        &self,
        id: &ComponentId,
        typed: &Decoded,
    ) -> anyhow::Result<crate::extensions::Extension> {
        let config = typed
            .extensions
            .get(id)
            .with_context(|| format!("extension {id} is not configured"))?;
        crate::extensions::start(id, config, &self.admin.extension_host())
            .await
            .with_context(|| format!("cannot start extension {id}"))
    }

    /// The pipelines' part of [`Running::apply`]: exporters, processor
    /// chains and receivers.
    async fn apply_pipelines(&mut self, plan: &Plan, new: &Settings) -> anyhow::Result<()> {
        self.telemetry
            .metrics::<profcol_receiver::LastProfiles>()
            .set_max_bytes(new.config.service.kept_profiles_bytes());
        let deadline = new.config.service.shutdown_timeout.get();
        let mut started = self.start_stage(plan, new, deadline).await?;
        let old_chains = self.rewire_stage(plan, &new.config, &mut started);
        self.retire_stage(plan, started, old_chains, deadline).await;
        Ok(())
    }

    /// Where each exporter's state can be read while the pipeline stops:
    /// what a forced exit would leave unsent.
    pub fn exporter_statuses(&self) -> Vec<(String, profcol_exporter::StatusSource)> {
        self.admin.exporters.status_sources().into_iter().collect()
    }

    /// After a failed reload: starts the stopped `exporters` again from the
    /// running configuration and rewires every receiver to them.
    fn restore(&mut self, exporters: &[ComponentId]) {
        if exporters.is_empty() {
            return;
        }
        for id in exporters {
            match self.start_exporter(id, &self.components) {
                Ok(slot) => self.admin.exporters.insert(id.clone(), slot),
                Err(e) => {
                    warn!(component = %id, error = %format!("{e:#}"), "Cannot start the previous exporter again; its pipelines run without it.");
                }
            }
        }
        self.rewire();
    }

    /// Points every running receiver at its pipelines' processor chains,
    /// and every chain at the running exporters, as the running
    /// configuration wires them.
    fn rewire(&self) {
        let consumers = self
            .admin
            .exporters
            .lock()
            .iter()
            .map(|(id, s)| (id.clone(), s.handle.consumer()))
            .collect();
        let fans = fan_outs(&self.config, &consumers);
        let mut pipelines = BTreeMap::new();
        for (name, chain) in &self.chains {
            if let Some(fan) = fans.get(name) {
                chain.end.set(fan.clone());
            }
            pipelines.insert(name.clone(), chain.head.clone());
        }
        for (id, r) in self.admin.receivers.lock().iter() {
            r.slot.next.set(feeds(&self.config, id, &pipelines));
        }
    }

    /// The processor chain of every pipeline of `cfg` whose chain is new or
    /// changed (started in front of its exporters' fan-out), and where each
    /// pipeline's receivers hand batches: a new chain's head, or the head of
    /// the running chain that is kept. Nothing is started when one fails.
    fn start_chains(
        &self,
        new: &Settings,
        fans: &BTreeMap<String, Arc<dyn Consumer>>,
    ) -> anyhow::Result<(BTreeMap<String, Chain>, Heads)> {
        let mut started = BTreeMap::new();
        let mut heads = BTreeMap::new();
        for (name, pipeline) in &new.config.service.pipelines {
            let key = ChainKey::of(&new.components, pipeline);
            if let Some(running) = self.chains.get(name).filter(|c| c.key == key) {
                heads.insert(name.clone(), running.head.clone());
                continue;
            }
            let fan = fans
                .get(name)
                .cloned()
                .unwrap_or_else(|| Arc::new(FanOut::new(Vec::new())));
            let chain = Chain::start(key, fan, |id, config, next| {
                let stop = self.processors_stop.child_token();
                PROCESSORS
                    .start(id, config, self.context(id, &stop), next)
                    .with_context(|| format!("cannot start processor {id} in pipeline {name}"))
            });
            match chain {
                Ok(chain) => {
                    heads.insert(name.clone(), chain.head.clone());
                    started.insert(name.clone(), chain);
                }
                Err(e) => {
                    self.retire_chains(started.into_values(), Duration::from_secs(1));
                    return Err(e);
                }
            }
        }
        Ok((started, heads))
    }

    /// Stops replaced processor chains in the background within `deadline`.
    fn retire_chains(&self, chains: impl Iterator<Item = Chain>, deadline: Duration) {
        for chain in chains {
            self.retiring.spawn(chain.shutdown(deadline));
        }
    }

    fn start_exporter(&self, id: &ComponentId, typed: &Decoded) -> anyhow::Result<RunningExporter> {
        let config = typed
            .exporters
            .get(id)
            .with_context(|| format!("exporter {id} is not configured"))?;
        let stop = self.exporters_stop.child_token();
        let handle = EXPORTERS
            .start(id, config, self.context(id, &stop), ())
            .with_context(|| format!("cannot start exporter {id}"))?;
        Ok(RunningExporter {
            handle: Arc::new(handle),
            stop,
        })
    }

    fn start_receiver(
        &self,
        id: &ComponentId,
        typed: &Decoded,
        next: Arc<Switch>,
        handoff: Arc<profcol_receiver::Handoff>,
    ) -> anyhow::Result<(ComponentId, RunningReceiver)> {
        let config = typed
            .receivers
            .get(id)
            .with_context(|| format!("receiver {id} is not configured"))?;
        let stop = self.receivers_stop.child_token();
        let down = profcol_receiver::Downstream {
            next: next.clone() as Arc<dyn Consumer>,
            handoff: handoff.clone(),
        };
        let handle = RECEIVERS
            .start(id, config, self.context(id, &stop), down)
            .with_context(|| format!("cannot start receiver {id}"))?;
        Ok((
            id.clone(),
            RunningReceiver {
                slot: ReceiverSlot {
                    stop,
                    next,
                    handoff,
                },
                handle,
            },
        ))
    }

    /// After a failed reload: starts the receivers stopped for a replacement
    /// again from the running configuration, with their delta state.
    fn restore_receivers(
        &mut self,
        stopped: BTreeMap<ComponentId, Arc<profcol_receiver::Handoff>>,
    ) {
        for (id, handoff) in stopped {
            let next = Arc::new(Switch::new(Arc::new(FanOut::new(Vec::new()))));
            match self.start_receiver(&id, &self.components.clone(), next, handoff) {
                Ok((id, started)) => self.admin.receivers.insert(id, started),
                Err(e) => {
                    warn!(component = %id, error = %format!("{e:#}"), "Cannot start the previous receiver again.");
                }
            }
        }
        self.rewire();
    }

    /// Stops receivers together and waits (bounded) for their tasks. With
    /// `for_replacement`, their jobs finish a scrape in flight and leave
    /// their delta state in the returned hand-offs for the next instances.
    async fn stop_receivers(
        &mut self,
        ids: &[ComponentId],
        deadline: Duration,
        for_replacement: bool,
    ) -> BTreeMap<ComponentId, Arc<profcol_receiver::Handoff>> {
        let mut handoffs = BTreeMap::new();
        let mut waits = Vec::new();
        for id in ids {
            let Some(r) = self.admin.receivers.remove(id) else {
                continue;
            };
            if for_replacement {
                r.slot.handoff.open();
            }
            r.slot.stop.cancel();
            waits.push(wait_receiver(r.handle, deadline));
            handoffs.insert(id.clone(), r.slot.handoff);
        }
        futures::future::join_all(waits).await;
        handoffs
    }

    /// Flushes replaced exporters in the background within `deadline`.
    fn retire_all(&self, slots: impl Iterator<Item = RunningExporter>, deadline: Duration) {
        for slot in slots {
            self.retiring.spawn(async move {
                slot.handle.shutdown(deadline).await;
                slot.stop.cancel();
            });
        }
    }

    /// Staged shutdown within `deadline`.
    pub async fn stop(self, deadline: Duration) {
        let started = Instant::now();
        self.admin.set_ready(false);
        self.admin.components.stopping();
        // Tell the cluster first so the others take this node's targets over
        // while its receivers drain.
        let leaving = self.cluster.map(|c| tokio::spawn(c.leave(deadline / 4)));
        self.receivers_stop.cancel();
        let receivers = self.admin.receivers.take_all();
        let waits = futures::future::join_all(receivers.into_values().map(|r| r.handle.wait()));
        if tokio::time::timeout(deadline, waits).await.is_err() {
            warn!(timeout = ?deadline, "Receivers did not stop in time.");
        }
        // Processors hand on what they hold before the exporters flush.
        let left = deadline.saturating_sub(started.elapsed());
        futures::future::join_all(self.chains.into_values().map(|c| c.shutdown(left))).await;
        self.processors_stop.cancel();
        let left = deadline.saturating_sub(started.elapsed());
        // Exporters stay listed on the pages while they flush.
        let flushing: Vec<Arc<ExporterHandle>> = self
            .admin
            .exporters
            .lock()
            .values()
            .map(|e| e.handle.clone())
            .collect();
        futures::future::join_all(flushing.iter().map(|h| h.shutdown(left))).await;
        self.retiring.close();
        let left = deadline.saturating_sub(started.elapsed());
        if tokio::time::timeout(left, self.retiring.wait())
            .await
            .is_err()
        {
            warn!("Exporters replaced by a reload did not finish flushing in time.");
        }
        if let Some(l) = leaving {
            let _ = l.await;
        }
        self.exporters_stop.cancel();
        // Extensions stop last, in the reverse of their order.
        for (_, ext) in self.extensions.into_iter().rev() {
            let left = deadline
                .saturating_sub(started.elapsed())
                .max(Duration::from_secs(1));
            ext.shutdown(left).await;
        }
        self.admin_stop.cancel();
        if let Some(t) = self.admin_task {
            let _ = tokio::time::timeout(Duration::from_secs(1), t).await;
        }
        info!(took = ?started.elapsed(), "Stopped.");
    }
}

async fn wait_receiver(handle: profcol_receiver::ReceiverHandle, deadline: Duration) {
    if tokio::time::timeout(deadline, handle.wait()).await.is_err() {
        warn!(timeout = ?deadline, "A stopped receiver's tasks did not finish in time.");
    }
}

/// Whether exporter `id` keeps its queue on disk (`sending_queue.storage`,
/// inline or a `file_storage` reference resolved when the configuration
/// was loaded).
fn has_storage(typed: &Decoded, id: &ComponentId) -> bool {
    typed
        .exporters
        .get(id)
        .and_then(|c| c.queue())
        .is_some_and(|q| q.storage.is_some())
}

/// Where each pipeline's receivers hand batches, by pipeline name.
type Heads = BTreeMap<String, Arc<dyn Consumer>>;

/// One fan-out per pipeline over its exporters.
fn fan_outs(
    cfg: &CollectorConfig,
    exporters: &BTreeMap<ComponentId, Arc<dyn Consumer>>,
) -> BTreeMap<String, Arc<dyn Consumer>> {
    cfg.service
        .pipelines
        .iter()
        .map(|(name, p)| {
            let consumers = p
                .exporters
                .iter()
                .filter_map(|id| exporters.get(id).map(|c| (id.to_string(), c.clone())))
                .collect();
            let fan: Arc<dyn Consumer> = Arc::new(FanOut::new(consumers));
            (name.clone(), fan)
        })
        .collect()
}

/// The fan-out over every pipeline receiver `id` feeds.
fn feeds(
    cfg: &CollectorConfig,
    id: &ComponentId,
    pipelines: &BTreeMap<String, Arc<dyn Consumer>>,
) -> Arc<dyn Consumer> {
    let list = cfg
        .service
        .pipelines
        .iter()
        .filter(|(_, p)| p.receivers.contains(id))
        .filter_map(|(name, _)| pipelines.get(name).map(|c| (name.clone(), c.clone())))
        .collect();
    Arc::new(FanOut::new(list))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_persistent_queue_is_recognised() {
        let dir = tempfile::tempdir().unwrap();
        let q = dir.path().join("q").to_string_lossy().to_string();
        let typed = |queue: &str| {
            let text = format!("extensions: {{file_storage/q: {{directory: '{q}', create_directory: true}}}}\nexporters: {{otlp: {{endpoint: 'h:4317', sending_queue: {queue}}}}}\nservice: {{extensions: [file_storage/q], pipelines: {{profiles: {{receivers: [pyroscope_scrape], exporters: [otlp]}}}}}}\nreceivers: {{pyroscope_scrape: {{targets: [{{__address__: 'h:1'}}]}}}}");
            crate::settings::from_text("t.yaml", &text)
                .unwrap()
                .components
        };
        let otlp: ComponentId = "otlp".parse().unwrap();
        assert!(has_storage(
            &typed(&format!("{{storage: {{directory: '{q}'}}}}")),
            &otlp
        ));
        assert!(!has_storage(&typed("{queue_size: 5}"), &otlp));
        assert!(!has_storage(&typed("{storage: null}"), &otlp));
        assert!(has_storage(&typed("{storage: file_storage/q}"), &otlp));
        assert!(!has_storage(
            &typed("{queue_size: 5}"),
            &"debug".parse().unwrap()
        ));
    }

    fn settings(dir: &std::path::Path, out: &str, label: &str) -> Settings {
        let path = dir.join(format!("{label}.yaml"));
        std::fs::write(
            &path,
            format!(
                "receivers:\n  pyroscope_scrape/a: {{targets: [{{__address__: '127.0.0.1:1', l: '{label}'}}]}}\n  pyroscope_scrape/b: {{targets: [{{__address__: '127.0.0.1:1'}}]}}\nexporters:\n  file: {{directory: '{out}'}}\nservice:\n  pipelines:\n    profiles: {{receivers: [pyroscope_scrape/a, pyroscope_scrape/b], exporters: [file]}}\n  telemetry:\n    metrics: {{address: ''}}\n"
            ),
        )
        .unwrap();
        crate::settings::load(&[path.to_string_lossy().to_string()], &[]).unwrap()
    }

    fn label_of_a(r: &Running) -> String {
        let list = r.admin.receivers.lock();
        let a = &list[&"pyroscope_scrape/a".parse().unwrap()].handle;
        a.targets()[0].labels["l"].clone()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn apply_replaces_only_what_changed_and_nothing_when_a_start_fails() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out").to_string_lossy().to_string();
        let mut r = Running::start(&settings(dir.path(), &out, "one"))
            .await
            .unwrap();
        let b_before = r.admin.receivers.lock()[&"pyroscope_scrape/b".parse().unwrap()]
            .slot
            .next
            .clone();
        assert_eq!(label_of_a(&r), "one");

        // The exporter cannot start: nothing changes, not even receiver a.
        let bad = settings(dir.path(), "/dev/null/x", "two");
        let err = r.apply(&bad).await.unwrap_err();
        assert!(
            format!("{err:#}").contains("cannot start exporter file"),
            "{err:#}"
        );
        assert_eq!(label_of_a(&r), "one");
        assert_eq!(r.admin.receivers.len(), 2);

        // A valid change of receiver a alone: b keeps its instance.
        let good = settings(dir.path(), &out, "three");
        let summary = r.apply(&good).await.unwrap();
        assert_eq!(summary, "receivers restarted pyroscope_scrape/a");
        assert_eq!(label_of_a(&r), "three");
        assert_eq!(r.admin.receivers.len(), 2);
        let b_after = r.admin.receivers.lock()[&"pyroscope_scrape/b".parse().unwrap()]
            .slot
            .next
            .clone();
        assert!(
            Arc::ptr_eq(&b_before, &b_after),
            "receiver b was not restarted"
        );
        assert_eq!(r.apply(&good).await.unwrap(), "no component changed");
        r.stop(Duration::from_secs(2)).await;
    }
}
