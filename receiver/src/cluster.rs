//! Target ownership in a cluster: which relabeled targets this node scrapes
//! (rendezvous hashing over the labels except `__meta_*`, the same on every
//! node), and the summary `/api/v1/targets` shows — members, the targets
//! owned here and how many each other member owns.

use profcol_pdata::Labels;
use profcol_runtime::target_key;
use profcol_runtime::{ClusterView, ClusterWatch};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};

/// What a receiver reports about its share of the targets.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ClusterStatus {
    /// This node's name.
    pub local: String,
    /// Live members, sorted.
    pub members: Vec<String>,
    /// Targets (before the per-profile-type expansion) this node scrapes.
    pub owned_targets: usize,
    /// Targets every other member scrapes, by member name.
    pub targets_elsewhere: BTreeMap<String, usize>,
}

/// The receiver's side of the cluster: the watch it follows and the last
/// ownership split it computed.
pub struct Ownership {
    watch: ClusterWatch,
    status: Mutex<ClusterStatus>,
}

impl Ownership {
    pub fn new(watch: ClusterWatch) -> Self {
        Self {
            watch,
            status: Mutex::default(),
        }
    }

    /// A receiver of the membership changes.
    pub fn subscribe(&self) -> ClusterWatch {
        self.watch.clone()
    }

    /// The view every decision of one reconcile uses.
    pub fn view(&self) -> ClusterView {
        self.watch.borrow().clone()
    }

    pub fn status(&self) -> ClusterStatus {
        self.status
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub fn publish(&self, status: ClusterStatus) {
        *self.status.lock().unwrap_or_else(PoisonError::into_inner) = status;
    }
}

/// Counts owners while one reconcile walks the targets.
pub struct Split {
    view: ClusterView,
    owned: usize,
    elsewhere: BTreeMap<String, usize>,
}

impl Split {
    pub fn new(view: ClusterView) -> Self {
        Self {
            view,
            owned: 0,
            elsewhere: BTreeMap::new(),
        }
    }

    /// True when this node scrapes the relabeled target `labels`.
    pub fn take(&mut self, labels: &Labels) -> bool {
        match self.view.owner(target_key(labels)) {
            Some(o) if o != self.view.local => {
                *self.elsewhere.entry(o.to_string()).or_default() += 1;
                false
            }
            _ => {
                self.owned += 1;
                true
            }
        }
    }

    pub fn finish(self) -> ClusterStatus {
        ClusterStatus {
            local: self.view.local,
            members: self.view.members,
            owned_targets: self.owned,
            targets_elsewhere: self.elsewhere,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_nodes_split_targets_without_overlap() {
        let members: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        let targets: Vec<Labels> = (0..90)
            .map(|i| Labels::from_pairs([("__address__", format!("h:{i}"))]))
            .collect();
        let mut owned = 0;
        let mut statuses = Vec::new();
        for m in &members {
            let mut split = Split::new(ClusterView::new(m.clone(), members.clone()));
            owned += targets.iter().filter(|t| split.take(t)).count();
            statuses.push(split.finish());
        }
        assert_eq!(owned, 90);
        for s in &statuses {
            let elsewhere: usize = s.targets_elsewhere.values().sum();
            assert_eq!(s.owned_targets + elsewhere, 90, "{s:?}");
            assert!(!s.targets_elsewhere.contains_key(&s.local));
            assert!(s.owned_targets > 10, "{s:?}");
        }
        // Each node's count of another's share matches that node's own count.
        assert_eq!(
            statuses[0].targets_elsewhere["b"],
            statuses[1].owned_targets
        );
    }
}
