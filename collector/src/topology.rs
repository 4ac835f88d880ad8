//! The running receivers and exporters, keyed by component id, in
//! registries that the pipeline (which starts, rewires and stops them) and
//! the admin server (which reads receivers' targets, status and kept
//! profiles, and exporters' queues and errors) share, so the two never
//! disagree about what runs.
//!
//! The pipeline inserts a component once it started and removes it when it
//! retires it; pages take the lock only to read. At shutdown exporters stay
//! listed while they flush.

use crate::fanout::{FanOut, Switch};
use profcol_config::ComponentId;
use profcol_exporter::{ExporterHandle, StatusSource};
use profcol_receiver::ReceiverHandle;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use tokio_util::sync::CancellationToken;

/// A running receiver's own stop token, the switch it sends through and
/// where its loops leave their delta state for a replacement.
pub struct ReceiverSlot {
    pub stop: CancellationToken,
    pub next: Arc<Switch>,
    pub handoff: Arc<profcol_receiver::Handoff>,
}

impl ReceiverSlot {
    /// A slot that sends nowhere and is stopped by nobody else: for a
    /// receiver started outside a pipeline (tests of the pages).
    pub fn detached() -> Self {
        Self {
            stop: CancellationToken::new(),
            next: Arc::new(Switch::new(Arc::new(FanOut::new(Vec::new())))),
            handoff: Arc::default(),
        }
    }
}

/// One running receiver: what the pipeline holds and what the pages read.
pub struct RunningReceiver {
    pub slot: ReceiverSlot,
    pub handle: ReceiverHandle,
}

/// One running exporter: its handle (shared, so that it stays listed
/// while it flushes at shutdown) and the token its background tasks stop on.
pub struct RunningExporter {
    pub handle: Arc<ExporterHandle>,
    pub stop: CancellationToken,
}

/// The running receivers by component id.
pub type Receivers = Registry<RunningReceiver>;

/// The running exporters by component id.
pub type Exporters = Registry<RunningExporter>;

impl Exporters {
    /// Where each exporter's state is read: stays valid after it stopped.
    pub fn status_sources(&self) -> BTreeMap<String, StatusSource> {
        self.lock()
            .iter()
            .map(|(id, e)| (id.to_string(), e.handle.status_source()))
            .collect()
    }
}

/// Running components of one kind by component id; clones share it.
pub struct Registry<T>(Arc<Mutex<BTreeMap<ComponentId, T>>>);

impl<T> Clone for Registry<T> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<T> Default for Registry<T> {
    fn default() -> Self {
        Self(Arc::default())
    }
}

impl<T> Registry<T> {
    /// The registry, locked; hold it only to read or to change it, never
    /// across an await.
    pub fn lock(&self) -> MutexGuard<'_, BTreeMap<ComponentId, T>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn insert(&self, id: ComponentId, component: T) {
        self.lock().insert(id, component);
    }

    pub fn remove(&self, id: &ComponentId) -> Option<T> {
        self.lock().remove(id)
    }

    /// Every component, leaving the registry empty.
    pub fn take_all(&self) -> BTreeMap<ComponentId, T> {
        std::mem::take(&mut *self.lock())
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clone_sees_what_the_other_changed() {
        let pipeline = Receivers::default();
        let pages = pipeline.clone();
        assert!(pages.is_empty());
        let id: ComponentId = "pyroscope_scrape/a".parse().unwrap();
        let ctx = profcol_runtime::ComponentContext {
            id: id.to_string(),
            shutdown: CancellationToken::new(),
            telemetry: Default::default(),
            memory: Default::default(),
            cluster: None,
            scrape_budget: Default::default(),
            read_back_limits: Default::default(),
        };
        let body =
            profcol_config::yaml::from_str("{targets: [{__address__: '127.0.0.1:1'}]}").unwrap();
        let rt = tokio::runtime::Runtime::new().unwrap();
        let _guard = rt.enter();
        let handle =
            profcol_receiver::start_receiver(&id, &body, ctx, Arc::new(FanOut::new(Vec::new())))
                .unwrap();
        pipeline.insert(
            id.clone(),
            RunningReceiver {
                slot: ReceiverSlot::detached(),
                handle,
            },
        );
        assert_eq!(pages.len(), 1);
        assert!(pages.lock().contains_key(&id));
        assert!(pipeline.remove(&id).is_some());
        assert!(pages.is_empty());
        assert!(pages.take_all().is_empty());
    }
}
