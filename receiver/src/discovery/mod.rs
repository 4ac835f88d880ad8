//! Dynamic targets: each discovery source runs as its own task and sends
//! its full, current list of target groups to the manager whenever it
//! changes. A failing refresh sends nothing (the last good targets stay) and
//! records its error in the source's [`DiscoveryStatus`].

pub mod docker;
pub mod file_sd;
pub mod http_sd;
pub mod kubernetes;
mod poll;
pub mod target_allocator;

use profcol_pdata::Labels;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::mpsc;

/// Targets sharing labels, as Prometheus discovery returns them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TargetGroup {
    /// Label sets, each with at least `__address__`.
    pub targets: Vec<Labels>,
    /// Labels added to every target that does not set them itself.
    pub labels: Labels,
}

impl TargetGroup {
    /// Each target's labels with the group's labels merged under them.
    pub fn label_sets(&self) -> impl Iterator<Item = Labels> + '_ {
        self.targets.iter().map(|t| {
            let mut l = self.labels.clone();
            for (k, v) in t.iter() {
                l.set(k, v);
            }
            l
        })
    }
}

/// The target groups every source knows, sent as `(source, groups)`.
pub type Update = (String, Vec<TargetGroup>);
pub type UpdateSender = mpsc::Sender<Update>;

/// What a discovery source reports about itself.
#[derive(Debug, Clone, Serialize, Default)]
pub struct DiscoveryStatus {
    pub source: String,
    pub targets: usize,
    pub last_error: Option<String>,
    pub last_refresh: Option<String>,
}

/// The status of every source of one receiver.
#[derive(Debug, Default)]
pub struct DiscoveryRegistry {
    sources: Mutex<BTreeMap<String, DiscoveryStatus>>,
}

impl DiscoveryRegistry {
    pub fn update(&self, source: &str, f: impl FnOnce(&mut DiscoveryStatus)) {
        let mut map = self.sources.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = map
            .entry(source.to_string())
            .or_insert_with(|| DiscoveryStatus {
                source: source.to_string(),
                ..Default::default()
            });
        f(entry);
    }

    pub fn snapshot(&self) -> Vec<DiscoveryStatus> {
        let map = self.sources.lock().unwrap_or_else(PoisonError::into_inner);
        map.values().cloned().collect()
    }
}

/// Shared by the discovery tasks of one receiver.
#[derive(Clone)]
pub struct DiscoveryContext {
    pub component: String,
    pub registry: Arc<DiscoveryRegistry>,
    pub metrics: Arc<crate::metrics::ScrapeMetrics>,
    pub updates: UpdateSender,
}

impl DiscoveryContext {
    /// Records a successful refresh and hands the groups to the manager.
    /// Returns false when the manager is gone.
    pub async fn publish(&self, source: &str, groups: Vec<TargetGroup>) -> bool {
        let count = groups.iter().map(|g| g.targets.len()).sum();
        self.registry.update(source, |s| {
            s.targets = count;
            s.last_error = None;
            s.last_refresh = Some(crate::status::rfc3339(std::time::SystemTime::now()));
        });
        self.updates
            .send((source.to_string(), groups))
            .await
            .is_ok()
    }

    /// Records a successful refresh that changed nothing.
    pub fn publish_unchanged(&self, source: &str) {
        self.registry.update(source, |s| {
            s.last_error = None;
            s.last_refresh = Some(crate::status::rfc3339(std::time::SystemTime::now()));
        });
    }

    /// Records a failed refresh; the last good groups stay in use.
    pub fn failed(&self, source: &str, message: String) {
        let err = crate::Error::Discovery {
            source_name: source.to_string(),
            message,
        };
        crate::events::discovery_failed(&self.metrics, &self.component, source, &err);
        self.registry.update(source, |s| {
            s.last_error = Some(err.to_string());
            s.last_refresh = Some(crate::status::rfc3339(std::time::SystemTime::now()));
        });
    }
}

/// Prometheus' target group file/HTTP format: `[{targets: [...], labels: {...}}]`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGroup {
    #[serde(default)]
    pub targets: Vec<String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

impl RawGroup {
    /// Converts, adding `extra` labels (such as `__meta_url`) to the group.
    pub fn into_group(self, extra: &[(&str, &str)]) -> TargetGroup {
        let mut labels: Labels = self.labels.into_iter().collect();
        for (k, v) in extra {
            labels.set(*k, *v);
        }
        TargetGroup {
            targets: self
                .targets
                .into_iter()
                .map(|a| Labels::from_pairs([("__address__", a)]))
                .collect(),
            labels,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_labels_win_over_group_labels() {
        let g = TargetGroup {
            targets: vec![Labels::from_pairs([("__address__", "a:1"), ("env", "dev")])],
            labels: Labels::from_pairs([("env", "prod"), ("team", "x")]),
        };
        let sets: Vec<Labels> = g.label_sets().collect();
        assert_eq!(
            sets[0].to_string(),
            r#"{__address__="a:1", env="dev", team="x"}"#
        );
    }
}
