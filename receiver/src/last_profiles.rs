//! The last successful profile of each scrape job, kept for the admin
//! server's flame graph viewer (`/profile`): the record the scrape loop
//! handed downstream (after the delta), shared by `Arc`, never copied.
//!
//! The store is **bounded** by one byte budget for the whole process
//! (`service.telemetry.metrics.kept_profiles_mib`, default
//! [`DEFAULT_MAX_BYTES`]; `0` keeps nothing): without it, a collector with
//! 10,000 targets × 5 profile types would pin 50,000 profiles in memory, one
//! per job, forever — each one's body, view indexes and delta overlay
//! ([`PprofData::memory_bytes`]). When a new profile does not fit, the
//! oldest kept ones (least recently stored) are evicted first; a profile
//! larger than the whole budget is not kept. A job's entry goes when the job
//! goes (its target disappeared or its receiver stopped for good).
//!
//! One store per process: it is a [`MetricSet`] of the process's
//! `Telemetry`, which also registers its gauges.

use profcol_pdata::PprofData;
use profcol_runtime::MetricSet;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

/// The default budget: 64 MiB.
pub const DEFAULT_MAX_BYTES: u64 = 64 * 1024 * 1024;

/// One kept profile.
#[derive(Debug, Clone)]
pub struct KeptProfile {
    /// The seed's profile type name of the job (`process_cpu`, `memory`, …).
    pub profile_type: String,
    /// The profile as it was handed downstream (delta values for
    /// cumulative types).
    pub data: Arc<PprofData>,
    /// When the scrape that produced it started.
    pub scraped_at: SystemTime,
}

/// (component id, job key).
type Key = (String, u64);

struct Entry {
    kept: KeptProfile,
    bytes: u64,
    seq: u64,
}

struct Inner {
    max_bytes: u64,
    bytes: u64,
    next_seq: u64,
    entries: HashMap<Key, Entry>,
    /// Insertion order: the first is the oldest.
    order: BTreeMap<u64, Key>,
}

/// The process's kept profiles; see the module documentation.
pub struct LastProfiles {
    inner: Mutex<Inner>,
    bytes_gauge: Gauge,
    count_gauge: Gauge,
    max_gauge: Gauge,
}

impl Default for LastProfiles {
    fn default() -> Self {
        let s = Self {
            inner: Mutex::new(Inner {
                max_bytes: DEFAULT_MAX_BYTES,
                bytes: 0,
                next_seq: 0,
                entries: HashMap::new(),
                order: BTreeMap::new(),
            }),
            bytes_gauge: Gauge::default(),
            count_gauge: Gauge::default(),
            max_gauge: Gauge::default(),
        };
        s.max_gauge.set(gauge_value(DEFAULT_MAX_BYTES));
        s
    }
}

impl MetricSet for LastProfiles {
    fn register(&self, r: &mut Registry) {
        r.register(
            "profcol_kept_profiles_bytes",
            "Memory held by the last profile of each scrape job kept for the flame graph viewer",
            self.bytes_gauge.clone(),
        );
        r.register(
            "profcol_kept_profiles",
            "Scrape jobs whose last profile is kept for the flame graph viewer",
            self.count_gauge.clone(),
        );
        r.register(
            "profcol_kept_profiles_max_bytes",
            "The budget of kept profiles: service.telemetry.metrics.kept_profiles_mib in bytes (0: none kept)",
            self.max_gauge.clone(),
        );
    }
}

fn gauge_value(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

impl LastProfiles {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn publish(&self, inner: &Inner) {
        self.bytes_gauge.set(gauge_value(inner.bytes));
        self.count_gauge
            .set(gauge_value(inner.entries.len() as u64));
        self.max_gauge.set(gauge_value(inner.max_bytes));
    }

    /// Sets the budget (`0`: keep nothing) and evicts down to it.
    pub fn set_max_bytes(&self, max: u64) {
        let mut inner = self.lock();
        inner.max_bytes = max;
        evict(&mut inner, 0);
        self.publish(&inner);
    }

    /// The budget in bytes.
    pub fn max_bytes(&self) -> u64 {
        self.lock().max_bytes
    }

    /// Memory held by the kept profiles.
    pub fn bytes(&self) -> u64 {
        self.lock().bytes
    }

    /// How many profiles are kept.
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// Whether nothing is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Keeps `data` as the last profile of job `key` of `component`,
    /// replacing the previous one and evicting the oldest entries until the
    /// budget holds. Returns whether it was kept.
    pub fn keep(&self, component: &str, key: u64, kept: KeptProfile) -> bool {
        let bytes = kept.data.memory_bytes() as u64;
        let mut inner = self.lock();
        let k = (component.to_string(), key);
        remove_entry(&mut inner, &k);
        let fits = bytes <= inner.max_bytes;
        if fits {
            evict(&mut inner, bytes);
            let seq = inner.next_seq;
            inner.next_seq += 1;
            inner.order.insert(seq, k.clone());
            inner.bytes += bytes;
            inner.entries.insert(k, Entry { kept, bytes, seq });
        } else if inner.max_bytes > 0 {
            tracing::debug!(
                component,
                bytes,
                max_bytes = inner.max_bytes,
                "Profile larger than service.telemetry.metrics.kept_profiles_mib: not kept for the flame graph viewer."
            );
        }
        self.publish(&inner);
        fits
    }

    /// The last profile of job `key` of `component`, if kept.
    pub fn get(&self, component: &str, key: u64) -> Option<KeptProfile> {
        self.lock()
            .entries
            .get(&(component.to_string(), key))
            .map(|e| e.kept.clone())
    }

    /// Forgets job `key` of `component` (its target went away).
    pub fn remove(&self, component: &str, key: u64) {
        let mut inner = self.lock();
        remove_entry(&mut inner, &(component.to_string(), key));
        self.publish(&inner);
    }

    /// Forgets every job of `component` for which `keep` is false.
    pub fn retain(&self, component: &str, mut keep: impl FnMut(u64) -> bool) {
        let mut inner = self.lock();
        let gone: Vec<Key> = inner
            .entries
            .keys()
            .filter(|(c, k)| c == component && !keep(*k))
            .cloned()
            .collect();
        for k in gone {
            remove_entry(&mut inner, &k);
        }
        self.publish(&inner);
    }
}

fn remove_entry(inner: &mut Inner, k: &Key) {
    if let Some(old) = inner.entries.remove(k) {
        inner.order.remove(&old.seq);
        inner.bytes = inner.bytes.saturating_sub(old.bytes);
    }
}

/// Evicts the oldest entries until `incoming` more bytes fit the budget.
fn evict(inner: &mut Inner, incoming: u64) {
    while inner.bytes.saturating_add(incoming) > inner.max_bytes {
        let Some((_, k)) = inner.order.pop_first() else {
            break;
        };
        if let Some(old) = inner.entries.remove(&k) {
            inner.bytes = inner.bytes.saturating_sub(old.bytes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use profcol_pdata::pprof::Profile;

    fn profile() -> Arc<PprofData> {
        let p = Profile::empty("samples", "count");
        Arc::new(PprofData::from_profile(&p).unwrap())
    }

    fn kept(data: &Arc<PprofData>) -> KeptProfile {
        KeptProfile {
            profile_type: "process_cpu".into(),
            data: data.clone(),
            scraped_at: SystemTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn bounded_oldest_first_and_shared_not_copied() {
        let data = profile();
        let size = data.memory_bytes() as u64;
        assert!(size > 0);
        let s = LastProfiles::default();
        s.set_max_bytes(3 * size);
        for key in 0..3 {
            assert!(s.keep("r", key, kept(&data)));
        }
        assert_eq!((s.len(), s.bytes()), (3, 3 * size));
        // Job 0 is stored again: now the newest.
        assert!(s.keep("r", 0, kept(&data)));
        assert_eq!(s.len(), 3);
        // A fourth job evicts the oldest: job 1.
        assert!(s.keep("r", 3, kept(&data)));
        assert_eq!((s.len(), s.bytes()), (3, 3 * size));
        assert!(s.get("r", 1).is_none());
        for key in [0, 2, 3] {
            let got = s.get("r", key).unwrap();
            assert!(Arc::ptr_eq(&got.data, &data), "shared, not copied");
        }
        // Another receiver's job 0 is another entry.
        assert!(s.get("other", 0).is_none());
        // Shrinking the budget evicts down to it, oldest first.
        s.set_max_bytes(size);
        assert_eq!(s.len(), 1);
        assert!(s.get("r", 3).is_some());
        // The gauge follows.
        assert_eq!(s.bytes_gauge.get(), gauge_value(size));
        assert_eq!(s.count_gauge.get(), 1);
    }

    #[test]
    fn zero_keeps_nothing_and_too_large_is_not_kept() {
        let data = profile();
        let s = LastProfiles::default();
        assert_eq!(s.max_bytes(), DEFAULT_MAX_BYTES);
        s.set_max_bytes(0);
        assert!(!s.keep("r", 1, kept(&data)));
        assert!(s.is_empty());
        s.set_max_bytes(data.memory_bytes() as u64 - 1);
        assert!(!s.keep("r", 1, kept(&data)));
        assert_eq!((s.len(), s.bytes()), (0, 0));
    }

    #[test]
    fn removal_and_retain_forget_jobs_of_one_component() {
        let data = profile();
        let s = LastProfiles::default();
        for key in 0..4 {
            s.keep("r", key, kept(&data));
        }
        s.keep("q", 0, kept(&data));
        s.remove("r", 0);
        assert!(s.get("r", 0).is_none());
        s.retain("r", |k| k == 2);
        assert!(s.get("r", 1).is_none() && s.get("r", 3).is_none());
        assert!(s.get("r", 2).is_some() && s.get("q", 0).is_some());
        assert_eq!(s.len(), 2);
        assert_eq!(s.bytes(), 2 * data.memory_bytes() as u64);
    }
}
