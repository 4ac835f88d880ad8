//! Hands scrape loops' delta state from a receiver instance to the one that
//! replaces it on a reload. A job of the new instance whose key (URL and
//! labels) and scrape settings ([`Fingerprint`]: typed, so a respelled
//! interval is no change) are unchanged takes over the old job's delta
//! baseline and scrapes when the old job would have next, so the cadence
//! has no gap. Jobs whose settings changed start afresh.

use crate::config::ScrapeConfig;
use profcol_pdata::delta::DeltaComputer;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// State nobody took within this long is dropped.
const KEEP: Duration = Duration::from_secs(600);

/// What shapes how a receiver's jobs scrape: its typed `pyroscope_scrape`
/// config with its defaults written out ([`ScrapeConfig::resolved`]) and
/// the target sources (`targets`, the `*_sd_configs`, `target_allocator`,
/// `relabel_configs`, `clustering`) left out — those decide which jobs
/// exist, and a job's key (URL and labels) already tells them apart. Two
/// receivers with equal fingerprints scrape a job the same way however
/// their bodies were spelled (`15s` or `15000ms`, a default written out or
/// not); a changed interval, timeout, client setting (a password or token
/// included: compared by value, never printed), profile type or limit makes
/// another fingerprint. Compared by value, not hashed, so that no two
/// settings can collide.
#[derive(Debug, Clone, PartialEq)]
pub struct Fingerprint(ScrapeConfig);

impl Fingerprint {
    /// The fingerprint of receiver `component`'s decoded config.
    pub fn of(cfg: &ScrapeConfig, component: &str) -> Self {
        let mut c = cfg.resolved(component);
        c.targets = None;
        c.http_sd_configs.clear();
        c.file_sd_configs.clear();
        c.docker_sd_configs.clear();
        c.dockerswarm_sd_configs.clear();
        c.kubernetes_sd_configs.clear();
        c.target_allocator = None;
        c.relabel_configs.clear();
        c.clustering = None;
        Self(c)
    }
}

struct Parked {
    fingerprint: Arc<Fingerprint>,
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
    pub fn park(&self, key: u64, fingerprint: Arc<Fingerprint>, job: JobState) {
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
    pub fn take(&self, key: u64, fingerprint: &Fingerprint) -> Option<JobState> {
        self.open.store(false, Ordering::Release);
        let mut parked = self.parked.lock().unwrap_or_else(PoisonError::into_inner);
        parked.retain(|_, p| p.at.elapsed() < KEEP);
        let p = parked.remove(&key)?;
        (*p.fingerprint == *fingerprint).then_some(p.job)
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

    fn fp(body: &str) -> Fingerprint {
        let v = profcol_config::Body::parse(body).unwrap();
        let cfg: ScrapeConfig = profcol_config::decode(&v, "receivers::r").unwrap();
        Fingerprint::of(&cfg, "pyroscope_scrape/r")
    }

    fn job() -> JobState {
        JobState {
            delta: Some(DeltaComputer::new()),
            next_scrape: tokio::time::Instant::now(),
        }
    }

    #[test]
    fn only_target_sources_leave_the_fingerprint_alone() {
        let base = fp("{targets: [{__address__: 'a:1'}], scrape_interval: 5s}");
        let more_targets = fp(
            "{targets: [{__address__: 'a:1'}, {__address__: 'b:1'}], scrape_interval: 5s, relabel_configs: [{target_label: env, replacement: prod}]}",
        );
        assert_eq!(more_targets, base);
        let k8s = fp(
            "{targets: [{__address__: 'a:1'}], scrape_interval: 5s, kubernetes_sd_configs: [{role: pod}], clustering: {enabled: true}}",
        );
        assert_eq!(k8s, base);
        let other_interval = fp("{targets: [{__address__: 'a:1'}], scrape_interval: 6s}");
        assert_ne!(other_interval, base);
    }

    #[test]
    fn a_respelled_setting_keeps_the_fingerprint_and_a_changed_one_does_not() {
        let base = fp("{targets: [{__address__: 'a:1'}], scrape_interval: 15s}");
        for same in [
            "{targets: [{__address__: 'a:1'}], scrape_interval: 15000ms}",
            "{targets: [{__address__: 'a:1'}], scrape_interval: 0.25m}",
            // Every default written out: timeout = interval + 3s, seconds =
            // interval - 1s, the job name, a built-in type's settings.
            "{targets: [{__address__: 'a:1'}], scrape_interval: 15s, scrape_timeout: 18s, delta_profiling_duration: 14s, job_name: pyroscope_scrape/r, max_body_size: 64MiB, profiling_config: {profile: {memory: {enabled: true, path: /debug/pprof/allocs, delta: false}}}}",
            "{targets: [{__address__: 'a:1'}], max_body_size: '67108864', enable_http2: true}",
        ] {
            assert_eq!(fp(same), base, "{same}");
        }
        for changed in [
            "{targets: [{__address__: 'a:1'}], scrape_interval: 16s}",
            "{targets: [{__address__: 'a:1'}], scrape_timeout: 20s}",
            "{targets: [{__address__: 'a:1'}], profiling_config: {profile: {mutex: {enabled: false}}}}",
            "{targets: [{__address__: 'a:1'}], max_samples_per_profile: 10}",
            "{targets: [{__address__: 'a:1'}], job_name: other}",
        ] {
            assert_ne!(fp(changed), base, "{changed}");
        }
        let password = |p: &str| {
            fp(&format!(
                "{{targets: [{{__address__: 'a:1'}}], basic_auth: {{username: u, password: {p}}}}}"
            ))
        };
        assert_eq!(password("one"), password("one"));
        assert_ne!(
            password("one"),
            password("two"),
            "a changed password is a change"
        );
        let token = |t: &str| {
            fp(&format!(
                "{{targets: [{{__address__: 'a:1'}}], bearer_token: {t}}}"
            ))
        };
        assert_ne!(token("one"), token("two"));
        assert!(
            !format!("{:?}", password("hunter2")).contains("hunter2"),
            "a fingerprint never prints a secret"
        );
    }

    #[test]
    fn state_is_parked_only_when_open_and_taken_once_with_the_same_settings() {
        let (seven, eight) = (
            Arc::new(fp("{targets: [{__address__: 'a:1'}], scrape_interval: 7s}")),
            fp("{targets: [{__address__: 'a:1'}], scrape_interval: 8s}"),
        );
        let h = Handoff::default();
        h.park(1, seven.clone(), job());
        assert_eq!(h.parked(), 0, "closed: a plain stop parks nothing");
        h.open();
        h.park(1, seven.clone(), job());
        h.park(2, seven.clone(), job());
        assert_eq!(h.parked(), 2);
        assert!(h.take(1, &eight).is_none(), "other settings: start afresh");
        let respelled = fp("{targets: [{__address__: 'b:1'}], scrape_interval: 7000ms}");
        assert!(
            h.take(2, &respelled).is_some(),
            "same settings, other spelling"
        );
        assert!(h.take(2, &seven).is_none());
        h.park(3, seven, job());
        assert_eq!(h.parked(), 0, "the first take closed it");
    }
}
