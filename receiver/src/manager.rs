//! Reconciles the target sets: keeps the latest groups of every source
//! (static list and each discovery), expands them into scrape jobs, and
//! starts only the jobs that are new and stops only the ones that are gone.
//! A job whose URL and labels are unchanged keeps its loop, its status and
//! its delta state. In a cluster, a relabeled target is expanded only on the
//! node that owns it, and every membership change reconciles again, so only
//! the targets that moved start or stop.

use crate::cluster::{Ownership, Split};
use crate::discovery::{TargetGroup, Update};
use crate::relabel;
use crate::scrape_loop::{ScrapeLoop, Shared};
use crate::status::{StatusRegistry, TargetStatus};
use crate::targets::{expand, ScrapeTarget};
use crate::{events, Error};
use profcol_pdata::Labels;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

struct Running {
    stop: CancellationToken,
    discovered: Arc<Labels>,
}

pub struct Manager {
    shared: Arc<Shared>,
    status: Arc<StatusRegistry>,
    sources: BTreeMap<String, Vec<TargetGroup>>,
    running: HashMap<u64, Running>,
    /// Instances already warned about an unspecified service_name.
    warned: HashSet<String>,
    tracker: TaskTracker,
    shutdown: CancellationToken,
    /// Set when this receiver splits its targets with the cluster.
    ownership: Option<Arc<Ownership>>,
}

impl Manager {
    pub fn new(
        shared: Arc<Shared>,
        status: Arc<StatusRegistry>,
        tracker: TaskTracker,
        shutdown: CancellationToken,
    ) -> Self {
        Self {
            shared,
            status,
            sources: BTreeMap::new(),
            running: HashMap::new(),
            warned: HashSet::new(),
            tracker,
            shutdown,
            ownership: None,
        }
    }

    /// Scrapes only the targets this node owns in the cluster.
    pub fn with_ownership(mut self, ownership: Arc<Ownership>) -> Self {
        self.ownership = Some(ownership);
        self
    }

    /// Starts the jobs of the sources known up front (the static targets),
    /// so that they show in the status at once. Needs a runtime context.
    pub fn start(&mut self, initial: Vec<Update>) {
        for (source, groups) in initial {
            self.sources.insert(source, groups);
        }
        self.reconcile();
    }

    /// Applies updates until shutdown; then stops every loop.
    pub async fn run(mut self, mut updates: mpsc::Receiver<Update>) {
        let mut membership = self.ownership.as_ref().map(|o| o.subscribe());
        // Static targets only: the channel closes at once, but membership
        // changes still need reconciling.
        let mut discovering = true;
        loop {
            tokio::select! {
                _ = self.shutdown.cancelled() => break,
                Some(changed) = async {
                    match membership.as_mut() {
                        Some(w) => Some(w.changed().await),
                        None => None,
                    }
                } => {
                    if changed.is_err() {
                        // The collector dropped the cluster: keep the last split.
                        membership = None;
                    } else {
                        self.reconcile();
                    }
                }
                u = updates.recv(), if discovering => match u {
                    Some((source, groups)) => {
                        self.sources.insert(source, groups);
                        // Take whatever else is already queued before reconciling.
                        while let Ok((s, g)) = updates.try_recv() {
                            self.sources.insert(s, g);
                        }
                        self.reconcile();
                    }
                    None => discovering = false,
                },
            }
        }
        for (_, r) in self.running.drain() {
            r.stop.cancel();
        }
        if !self.shared.handoff.is_open() {
            // Stopped for good, not for a replacement: keep nothing.
            self.shared
                .last
                .retain(&self.shared.settings.component, |_| false);
        }
    }

    /// Every job the current sources describe, by key (first one wins).
    fn desired(&self) -> BTreeMap<u64, ScrapeTarget> {
        let mut out = BTreeMap::new();
        let mut split = self.ownership.as_ref().map(|o| Split::new(o.view()));
        for groups in self.sources.values() {
            for g in groups {
                for labels in g.label_sets() {
                    let Some(relabeled) =
                        relabel::apply(&self.shared.settings.relabel, labels.clone())
                    else {
                        continue;
                    };
                    if let Some(split) = split.as_mut() {
                        if !split.take(&relabeled) {
                            continue;
                        }
                    }
                    match expand(&self.shared.settings, &relabeled) {
                        Ok(jobs) => {
                            let discovered = Arc::new(labels);
                            for mut j in jobs {
                                j.discovered = discovered.clone();
                                out.entry(j.key).or_insert(j);
                            }
                        }
                        Err(e) => self.invalid(&labels, e),
                    }
                }
            }
        }
        if let (Some(split), Some(o)) = (split, &self.ownership) {
            let status = split.finish();
            events::ownership_computed(
                &self.shared.metrics,
                &self.shared.settings.component,
                &status,
                &o.status(),
            );
            o.publish(status);
        }
        out
    }

    fn invalid(&self, labels: &Labels, e: Error) {
        // Only the address: other labels may carry secrets (`__param_*`).
        let address = labels.get(crate::targets::ADDRESS).unwrap_or("");
        events::invalid_target(
            &self.shared.metrics,
            &self.shared.settings.component,
            address,
            &e,
        );
    }

    fn reconcile(&mut self) {
        let desired = self.desired();
        // Kept profiles of jobs that are gone (also those a predecessor of
        // this receiver left) are forgotten.
        self.shared
            .last
            .retain(&self.shared.settings.component, |k| {
                desired.contains_key(&k)
            });
        self.running.retain(|key, r| {
            if desired.contains_key(key) {
                true
            } else {
                r.stop.cancel();
                self.status.remove(*key);
                false
            }
        });
        for (key, target) in desired {
            if let Some(r) = self.running.get_mut(&key) {
                if r.discovered != target.discovered {
                    self.status.set_discovered(key, &target.discovered);
                    r.discovered = target.discovered;
                }
                continue;
            }
            if target.service_name_unspecified && self.warned.insert(target.instance().to_string())
            {
                events::service_name_unspecified(
                    &self.shared.settings.component,
                    target.instance(),
                );
            }
            let status = self.status.insert(
                key,
                TargetStatus::new(&self.shared.settings.component, &target),
            );
            let stop = self.shutdown.child_token();
            let discovered = target.discovered.clone();
            let job = ScrapeLoop {
                target,
                shared: self.shared.clone(),
                status,
                stop: stop.clone(),
            };
            self.tracker.spawn(job.run());
            self.running.insert(key, Running { stop, discovered });
        }
        self.shared.slots.set_jobs(self.running.len());
    }
}
