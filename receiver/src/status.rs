//! What each scrape job reports for `/api/v1/targets` and `/targets`:
//! health, last error, timings, sizes, URL (redacted) and labels. Secrets
//! never reach a status: URLs are redacted and secret-looking parameter
//! labels hidden.

use crate::fetch::{is_secret_param, redact_url};
use crate::targets::{ScrapeTarget, PARAM_PREFIX};
use profcol_pdata::Labels;
use profcol_runtime::calendar::civil_from_days;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Health {
    Unknown,
    Up,
    Down,
}

/// The state of one (target, profile type) scrape job.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TargetStatus {
    /// The job key the receiver keeps the job under (a hash of its URL and
    /// labels, stable while the job runs); not part of the JSON.
    #[serde(skip)]
    pub key: u64,
    /// The component id (`pyroscope_scrape/local`).
    pub component: String,
    pub job: String,
    pub instance: String,
    /// The seed's profile type name (`process_cpu`, `godeltaprof_mutex`, …).
    pub profile_type: String,
    /// Scrape URL without userinfo or secret query values.
    pub url: String,
    pub health: Health,
    pub last_error: Option<String>,
    /// RFC 3339 UTC times.
    pub last_scrape: Option<String>,
    pub last_success: Option<String>,
    pub last_scrape_duration_seconds: f64,
    /// Size of the last body as served (compressed).
    pub last_scrape_bytes: u64,
    pub last_scrape_samples: u64,
    /// Samples of the last scrape whose stack was cut to `max_stack_depth`.
    pub last_scrape_truncated_stacks: u64,
    /// Scrapes since this job started (it restarts only when it changes).
    pub scrapes_total: u64,
    /// Set while the job waits for its pipeline to take a profile (a full
    /// sending queue with `block_on_overflow`); no scrape starts meanwhile.
    pub waiting_for_pipeline_since: Option<String>,
    /// How long the last such wait took.
    pub last_pipeline_wait_seconds: f64,
    /// Scrapes skipped because their slot passed while the job waited.
    pub scrapes_skipped_total: u64,
    /// The labels the profiles carry.
    pub labels: BTreeMap<String, String>,
    /// The labels as discovered, before processing.
    pub discovered_labels: BTreeMap<String, String>,
}

fn map(l: &Labels) -> BTreeMap<String, String> {
    l.iter()
        .map(|(k, v)| {
            let hide = k.strip_prefix(PARAM_PREFIX).is_some_and(is_secret_param);
            let v = if hide {
                profcol_config::secret::REDACTED
            } else {
                v
            };
            (k.to_string(), v.to_string())
        })
        .collect()
}

impl TargetStatus {
    pub fn new(component: &str, t: &ScrapeTarget) -> Self {
        Self {
            key: t.key,
            component: component.to_string(),
            job: t.job().to_string(),
            instance: t.instance().to_string(),
            profile_type: t.profile.name.clone(),
            url: redact_url(&t.url),
            health: Health::Unknown,
            last_error: None,
            last_scrape: None,
            last_success: None,
            last_scrape_duration_seconds: 0.0,
            last_scrape_bytes: 0,
            last_scrape_samples: 0,
            last_scrape_truncated_stacks: 0,
            scrapes_total: 0,
            waiting_for_pipeline_since: None,
            last_pipeline_wait_seconds: 0.0,
            scrapes_skipped_total: 0,
            labels: map(&t.labels),
            discovered_labels: map(&t.discovered),
        }
    }
}

/// The live statuses of one receiver, keyed by job key.
#[derive(Debug, Default)]
pub struct StatusRegistry {
    jobs: Mutex<BTreeMap<u64, Arc<Mutex<TargetStatus>>>>,
}

impl StatusRegistry {
    pub fn insert(&self, key: u64, status: TargetStatus) -> Arc<Mutex<TargetStatus>> {
        let s = Arc::new(Mutex::new(status));
        self.jobs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key, s.clone());
        s
    }

    pub fn remove(&self, key: u64) {
        self.jobs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&key);
    }

    /// Updates the discovered labels of a job that keeps running.
    pub fn set_discovered(&self, key: u64, discovered: &Labels) {
        let jobs = self.jobs.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(s) = jobs.get(&key) {
            s.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .discovered_labels = map(discovered);
        }
    }

    /// Every status, sorted by URL then profile type.
    pub fn snapshot(&self) -> Vec<TargetStatus> {
        let jobs = self.jobs.lock().unwrap_or_else(PoisonError::into_inner);
        let mut out: Vec<TargetStatus> = jobs
            .values()
            .map(|s| s.lock().unwrap_or_else(PoisonError::into_inner).clone())
            .collect();
        out.sort_by(|a, b| (&a.url, &a.profile_type).cmp(&(&b.url, &b.profile_type)));
        out
    }
}

/// `2026-11-25T11:40:00.123Z`.
pub fn rfc3339(t: SystemTime) -> String {
    let d = t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, day) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60,
        d.subsec_millis()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn formats_utc_times() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_millis(1_764_070_800_123);
        assert_eq!(rfc3339(t), "2025-11-25T11:40:00.123Z");
        assert_eq!(rfc3339(SystemTime::UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let leap = SystemTime::UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(rfc3339(leap), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn secret_parameter_labels_are_hidden() {
        let l = Labels::from_pairs([
            ("__param_token", "abc"),
            ("__param_seconds", "5"),
            ("env", "x"),
        ]);
        let m = map(&l);
        assert_eq!(m["__param_token"], "<secret>");
        assert_eq!(m["__param_seconds"], "5");
        assert_eq!(m["env"], "x");
    }
}
