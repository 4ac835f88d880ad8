//! Hands scrape loops' delta state from a receiver instance to the one that
//! replaces it on a reload. A job of the new instance whose key (URL and
//! labels) and scrape settings are unchanged takes over the old job's delta
//! baseline and scrapes when the old job would have next, so the cadence
//! has no gap. Jobs whose settings changed start afresh.

use profcol_pdata::delta::DeltaComputer;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// State nobody took within this long is dropped.
const KEEP: Duration = Duration::from_secs(600);

/// Scrape settings not listed here change the fingerprint: only the target
/// sources may differ for a job to keep its state.
const TARGET_SOURCES: [&str; 9] = [
    "targets",
    "http_sd_configs",
    "file_sd_configs",
    "docker_sd_configs",
    "dockerswarm_sd_configs",
    "kubernetes_sd_configs",
    "target_allocator",
    "relabel_configs",
    "clustering",
];

/// A hash of every setting of a receiver body that shapes how its jobs
/// scrape (interval, timeout, client, profile types, limits, …).
pub fn fingerprint(body: &profcol_config::yaml::Value) -> u64 {
    let mut rest = body.clone();
    if let Some(map) = rest.as_mapping_mut() {
        for key in TARGET_SOURCES {
            map.remove(key);
        }
    }
    let text = profcol_config::yaml::to_string(&rest).unwrap_or_default();
    xxhash_rust::xxh3::xxh3_64(text.as_bytes())
}

struct Parked {
    fingerprint: u64,
    job: JobState,
    at: Instant,
}

/// What a stopped job leaves for its successor.
#[derive(Debug)]
pub struct JobState {
    /// For cumulative profile types.
    pub delta: Option<DeltaComputer>,
    /// When the stopped job would have scraped next.
    pub next_scrape: tokio::time::Instant,
}

/// Shared by a receiver instance and its replacement.
#[derive(Default)]
pub struct Handoff {
    /// Set just before the instance is stopped for a replacement; loops only
    /// park their state then, not on a plain shutdown or target removal.
    open: AtomicBool,
    parked: Mutex<HashMap<u64, Parked>>,
}

impl std::fmt::Debug for Handoff {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Handoff")
    }
}

impl Handoff {
    /// The loops stopping from now on leave their state for a successor.
    pub fn open(&self) {
        self.open.store(true, Ordering::Release);
    }

    /// Whether the instance is being stopped for a replacement.
    pub fn is_open(&self) -> bool {
        self.open.load(Ordering::Acquire)
    }

    /// Called by a stopping loop.
    pub fn park(&self, key: u64, fingerprint: u64, job: JobState) {
        if !self.is_open() {
            return;
        }
        let mut parked = self.parked.lock().unwrap_or_else(PoisonError::into_inner);
        parked.retain(|_, p| p.at.elapsed() < KEEP);
        parked.insert(
            key,
            Parked {
                fingerprint,
                job,
                at: Instant::now(),
            },
        );
    }

    /// Called by a starting loop: the predecessor's state when the job and
    /// its settings are the same. Closes the hand-off for later stops.
    pub fn take(&self, key: u64, fingerprint: u64) -> Option<JobState> {
        self.open.store(false, Ordering::Release);
        let mut parked = self.parked.lock().unwrap_or_else(PoisonError::into_inner);
        parked.retain(|_, p| p.at.elapsed() < KEEP);
        let p = parked.remove(&key)?;
        (p.fingerprint == fingerprint).then_some(p.job)
    }

    /// How many states wait for a successor.
    pub fn parked(&self) -> usize {
        self.parked
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(s: &str) -> profcol_config::yaml::Value {
        profcol_config::yaml::from_str(s).unwrap()
    }

    fn job() -> JobState {
        JobState {
            delta: Some(DeltaComputer::new()),
            next_scrape: tokio::time::Instant::now(),
        }
    }

    #[test]
    fn only_target_sources_leave_the_fingerprint_alone() {
        let base = fingerprint(&yaml(
            "{targets: [{__address__: 'a:1'}], scrape_interval: 5s}",
        ));
        let more_targets = yaml(
            "{targets: [{__address__: 'a:1'}, {__address__: 'b:1'}], scrape_interval: 5s, relabel_configs: []}",
        );
        assert_eq!(fingerprint(&more_targets), base);
        let k8s = yaml(
            "{targets: [{__address__: 'a:1'}], scrape_interval: 5s, kubernetes_sd_configs: [{role: pod}]}",
        );
        assert_eq!(fingerprint(&k8s), base);
        let other_interval = yaml("{targets: [{__address__: 'a:1'}], scrape_interval: 6s}");
        assert_ne!(fingerprint(&other_interval), base);
    }

    #[test]
    fn state_is_parked_only_when_open_and_taken_once_with_the_same_settings() {
        let h = Handoff::default();
        h.park(1, 7, job());
        assert_eq!(h.parked(), 0, "closed: a plain stop parks nothing");
        h.open();
        h.park(1, 7, job());
        h.park(2, 7, job());
        assert_eq!(h.parked(), 2);
        assert!(h.take(1, 8).is_none(), "other settings: start afresh");
        assert!(h.take(2, 7).is_some());
        assert!(h.take(2, 7).is_none());
        h.park(3, 7, job());
        assert_eq!(h.parked(), 0, "the first take closed it");
    }
}
