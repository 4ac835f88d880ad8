//! How a reload moves the running pipelines to a new configuration, in
//! four stages, each with its own way back:
//!
//! 1. **plan** — [`Plan`] says which components are added, changed,
//!    removed or kept (made by the caller);
//! 2. **start** — [`Running::start_stage`] starts every new instance
//!    (exporters, processor chains, receivers) beside the running ones; a
//!    failure stops what this stage started and restores what it had to
//!    stop, so the old pipelines run on unchanged;
//! 3. **rewire** — [`Running::rewire_stage`] points kept chains and kept
//!    receivers at the new instances and registers the new receivers;
//!    nothing can fail here;
//! 4. **retire** — [`Running::retire_stage`] stops what was replaced or
//!    removed, in the background where it flushes (a retired chain flushes
//!    into the new exporters).

use super::{fan_outs, feeds, has_storage, wait_receiver, Heads, Running};
use crate::chains::Chain;
use crate::fanout::Switch;
use crate::reload::plan::{used, Plan};
use crate::settings::Settings;
use crate::topology::{RunningExporter, RunningReceiver};
use profcol_config::{CollectorConfig, ComponentId, Kind};
use profcol_pdata::Consumer;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tracing::info;

/// What the start stage brought up, for the next stages.
pub(super) struct Started {
    exporters: BTreeMap<ComponentId, RunningExporter>,
    fans: Heads,
    chains: BTreeMap<String, Chain>,
    /// Where each pipeline's receivers hand batches.
    heads: Heads,
    receivers: Vec<(ComponentId, RunningReceiver)>,
}

impl Running {
    /// Stage 2: starts every new instance. On failure, nothing of `new`
    /// runs and the running configuration is whole again.
    pub(super) async fn start_stage(
        &mut self,
        plan: &Plan,
        settings: &Settings,
        deadline: Duration,
    ) -> anyhow::Result<Started> {
        let (new, typed) = (&settings.config, &settings.components);
        // A changed exporter with a persistent queue releases its directory
        // before its replacement opens it.
        let exclusive: Vec<ComponentId> = plan
            .exporters
            .changed
            .iter()
            .filter(|id| has_storage(&self.components, id) || has_storage(typed, id))
            .cloned()
            .collect();
        for id in &exclusive {
            if let Some(slot) = self.admin.exporters.remove(id) {
                info!(component = %id, "Stopping the exporter before its replacement opens the same persistent queue.");
                slot.handle.shutdown(deadline).await;
                slot.stop.cancel();
            }
        }

        let mut exporters = BTreeMap::new();
        for id in plan.exporters.to_start() {
            match self.start_exporter(id, typed) {
                Ok(slot) => {
                    exporters.insert(id.clone(), slot);
                }
                Err(e) => {
                    self.retire_all(exporters.into_values(), deadline);
                    self.restore(&exclusive);
                    return Err(e);
                }
            }
        }
        let consumers: BTreeMap<ComponentId, Arc<dyn Consumer>> = {
            let running = self.admin.exporters.lock();
            used(new, Kind::Exporter)
                .into_iter()
                .filter_map(|id| {
                    let slot = exporters.get(&id).or_else(|| running.get(&id))?;
                    Some((id, slot.handle.consumer()))
                })
                .collect()
        };
        let fans = fan_outs(new, &consumers);
        let (chains, heads) = match self.start_chains(settings, &fans) {
            Ok(started) => started,
            Err(e) => {
                self.retire_all(exporters.into_values(), deadline);
                self.restore(&exclusive);
                return Err(e);
            }
        };

        let handoffs = self
            .stop_receivers(&plan.receivers.changed, deadline, true)
            .await;
        let mut receivers = Vec::new();
        for id in plan.receivers.to_start() {
            let next = Arc::new(Switch::new(feeds(new, id, &heads)));
            let handoff = handoffs.get(id).cloned().unwrap_or_default();
            match self.start_receiver(id, typed, next, handoff) {
                Ok(started) => receivers.push(started),
                Err(e) => {
                    for (_, started) in receivers {
                        started.slot.stop.cancel();
                        wait_receiver(started.handle, deadline).await;
                    }
                    self.retire_chains(chains.into_values(), deadline);
                    self.retire_all(exporters.into_values(), deadline);
                    self.restore(&exclusive);
                    self.restore_receivers(handoffs);
                    return Err(e);
                }
            }
        }
        Ok(Started {
            exporters,
            fans,
            chains,
            heads,
            receivers,
        })
    }

    /// Stage 3: everything new is up; kept chains end at the new exporters'
    /// fan-outs, kept receivers hand to the new chain heads, the new
    /// receivers join the registry. Returns the chains to retire.
    pub(super) fn rewire_stage(
        &mut self,
        plan: &Plan,
        new: &CollectorConfig,
        started: &mut Started,
    ) -> Vec<Chain> {
        let old_chains: Vec<Chain> = std::mem::take(&mut self.chains)
            .into_iter()
            .filter_map(|(name, chain)| {
                if let Some(fan) = started.fans.get(&name) {
                    chain.end.set(fan.clone());
                }
                if started.chains.contains_key(&name) || !new.service.pipelines.contains_key(&name)
                {
                    Some(chain)
                } else {
                    self.chains.insert(name, chain);
                    None
                }
            })
            .collect();
        self.chains.extend(std::mem::take(&mut started.chains));
        {
            let running = self.admin.receivers.lock();
            for id in &plan.receivers.kept {
                if let Some(r) = running.get(id) {
                    r.slot.next.set(feeds(new, id, &started.heads));
                }
            }
        }
        old_chains
    }

    /// Stage 4: stops what was replaced or removed; the new receivers and
    /// exporters take their places.
    pub(super) async fn retire_stage(
        &mut self,
        plan: &Plan,
        started: Started,
        old_chains: Vec<Chain>,
        deadline: Duration,
    ) {
        self.retire_chains(old_chains.into_iter(), deadline);
        self.stop_receivers(&plan.receivers.removed, deadline, false)
            .await;
        for (id, receiver) in started.receivers {
            self.admin.receivers.insert(id, receiver);
        }
        let old: Vec<RunningExporter> = plan
            .exporters
            .to_stop()
            .filter_map(|id| self.admin.exporters.remove(id))
            .collect();
        self.retire_all(old.into_iter(), deadline);
        self.admin.exporters.lock().extend(started.exporters);
    }
}
