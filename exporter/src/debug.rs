//! The `debug` exporter: profiles in the log, with the OpenTelemetry
//! Collector's `verbosity` levels adapted to profiles:
//!
//! - `basic` (default): one line per batch — profiles, samples and the OTLP
//!   requests it holds;
//! - `normal`: also one line per profile (service, type, samples, total of
//!   the first sample type, heaviest leaf frame);
//! - `detailed`: also every label and every stack with its value (first
//!   sample type, heaviest first).
//!
//! `sampling_initial`/`sampling_thereafter` thin the output as the
//! Collector's zap sampler does: in each second the first
//! `sampling_initial` batches are logged, then every `sampling_thereafter`th
//! (0: none more that second).

use crate::config::{unknown_keys, Unknown};
use profcol_config::{Problem, Validate};
use profcol_pdata::{pprof, Consumer, ProfileBatch, ProfileRecord};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tracing::info;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verbosity {
    #[default]
    Basic,
    Normal,
    Detailed,
}

/// `sampling_initial` when not given (the Collector's default).
pub const DEFAULT_SAMPLING_INITIAL: u64 = 2;
/// `sampling_thereafter` when not given: every batch is logged.
pub const DEFAULT_SAMPLING_THEREAFTER: u64 = 1;

/// The keys of [`DebugConfig`].
pub const DEBUG_KEYS: &[&str] = &["verbosity", "sampling_initial", "sampling_thereafter"];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DebugConfig {
    pub verbosity: Verbosity,
    pub sampling_initial: u64,
    pub sampling_thereafter: u64,
    #[serde(flatten, skip_serializing)]
    pub unknown: Unknown,
}

impl Default for DebugConfig {
    fn default() -> Self {
        Self {
            verbosity: Verbosity::default(),
            sampling_initial: DEFAULT_SAMPLING_INITIAL,
            sampling_thereafter: DEFAULT_SAMPLING_THEREAFTER,
            unknown: Unknown::new(),
        }
    }
}

impl Validate for DebugConfig {
    fn validate(&self, path: &str, problems: &mut Vec<Problem>) {
        unknown_keys(&self.unknown, path, DEBUG_KEYS, problems);
    }
}

/// Which batches are logged: per one-second window, the first `initial`,
/// then every `thereafter`th.
#[derive(Debug)]
pub struct Sampler {
    initial: u64,
    thereafter: u64,
    window: Mutex<(Option<Instant>, u64)>,
}

impl Sampler {
    pub fn new(initial: u64, thereafter: u64) -> Self {
        Self {
            initial,
            thereafter,
            window: Mutex::new((None, 0)),
        }
    }

    /// Whether a batch arriving `now` is logged.
    pub fn admit(&self, now: Instant) -> bool {
        let mut w = self
            .window
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match w.0 {
            Some(start) if now.saturating_duration_since(start) < Duration::from_secs(1) => {}
            _ => *w = (Some(now), 0),
        }
        w.1 += 1;
        let n = w.1;
        n <= self.initial
            || (self.thereafter > 0 && (n - self.initial).is_multiple_of(self.thereafter))
    }
}

/// What the basic line says about one profile.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub samples: usize,
    /// `type/unit` of the first sample type.
    pub sample_type: String,
    pub total: i64,
    /// The leaf function with the largest self value (first sample type).
    pub top_frame: String,
}

fn leaf_name(p: &pprof::Profile, location_id: u64) -> String {
    let Some(loc) = p.location.iter().find(|l| l.id == location_id) else {
        return "?".to_string();
    };
    let name = loc
        .line
        .first()
        .and_then(|line| p.function.iter().find(|f| f.id == line.function_id))
        .map(|f| p.str(f.name))
        .filter(|n| !n.is_empty());
    match name {
        Some(n) => n.to_string(),
        None => format!("{:#x}", loc.address),
    }
}

pub fn summarize(p: &pprof::Profile) -> Summary {
    let sample_type = p
        .sample_type
        .first()
        .map(|t| format!("{}/{}", p.str(t.r#type), p.str(t.unit)))
        .unwrap_or_default();
    let mut total = 0i64;
    let mut by_leaf: HashMap<u64, i64> = HashMap::new();
    for s in &p.sample {
        let v = s.value.first().copied().unwrap_or(0);
        total = total.saturating_add(v);
        if let Some(leaf) = s.location_id.first() {
            *by_leaf.entry(*leaf).or_default() += v;
        }
    }
    let top_frame = by_leaf
        .into_iter()
        .max_by_key(|(id, v)| (*v, std::cmp::Reverse(*id)))
        .map(|(id, _)| leaf_name(p, id))
        .unwrap_or_default();
    Summary {
        samples: p.sample.len(),
        sample_type,
        total,
        top_frame,
    }
}

/// The `n` heaviest folded stacks of the first sample type, heaviest first.
pub fn heaviest_stacks(p: &pprof::Profile, n: usize) -> Vec<(String, i64)> {
    let Some(t) = p.sample_type.first() else {
        return Vec::new();
    };
    let prefix = format!("{}/{};", p.str(t.r#type), p.str(t.unit));
    let mut stacks: Vec<(String, i64)> = profcol_pdata::pprof::folded_pprof(p)
        .into_iter()
        .filter_map(|line| {
            let rest = line.strip_prefix(&prefix)?;
            let (stack, value) = rest.rsplit_once(' ')?;
            Some((stack.to_string(), value.parse().ok()?))
        })
        .collect();
    stacks.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    stacks.truncate(n);
    stacks
}

pub struct DebugConsumer {
    id: String,
    verbosity: Verbosity,
    sampler: Sampler,
}

impl DebugConsumer {
    pub fn new(id: &str, cfg: &DebugConfig) -> Self {
        Self {
            id: id.to_string(),
            verbosity: cfg.verbosity,
            sampler: Sampler::new(cfg.sampling_initial, cfg.sampling_thereafter),
        }
    }

    fn log(&self, r: &ProfileRecord) {
        // Decoded for the log: the debug exporter is not on the data path.
        let profile = r.profile();
        let s = summarize(&profile);
        let service = r
            .labels
            .get(profcol_pdata::Labels::SERVICE_NAME)
            .unwrap_or("");
        info!(
            exporter = %self.id,
            service,
            profile_type = r.name(),
            samples = s.samples,
            sample_type = %s.sample_type,
            total = s.total,
            top_frame = %s.top_frame,
            "Profile."
        );
        if self.verbosity == Verbosity::Detailed {
            for (k, v) in r.labels.public().iter() {
                info!(exporter = %self.id, service, label = k, value = v, "Profile label.");
            }
            for (stack, value) in heaviest_stacks(&profile, usize::MAX) {
                info!(exporter = %self.id, service, value, stack = %stack, "Profile stack.");
            }
        }
    }
}

#[async_trait::async_trait]
impl Consumer for DebugConsumer {
    async fn consume(&self, batch: ProfileBatch) -> Result<(), profcol_pdata::Error> {
        if !self.sampler.admit(Instant::now()) {
            return Ok(());
        }
        let samples: usize = batch
            .records
            .iter()
            .map(|r| r.pprof.sample_count())
            .chain(batch.otlp.iter().map(|p| p.sample_count()))
            .sum();
        info!(
            exporter = %self.id,
            profiles = batch.records.len() + batch.otlp.iter().map(|p| p.profile_count()).sum::<usize>(),
            samples,
            otlp_requests = batch.otlp.len(),
            "Profiles."
        );
        if self.verbosity == Verbosity::Basic {
            return Ok(());
        }
        for p in &batch.otlp {
            info!(
                exporter = %self.id,
                resources = p.resource_count(),
                profiles = p.profile_count(),
                samples = p.sample_count(),
                bytes = p.bytes().len(),
                "OTLP request received; its profiles as pprof follow."
            );
        }
        let (records, unconvertible) = batch.into_pprof_records();
        for e in unconvertible {
            tracing::warn!(exporter = %self.id, error = %e, "An OTLP request does not convert to pprof; not shown.");
        }
        for r in &records {
            self.log(r);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sampler_logs_the_first_then_every_mth_each_second() {
        let t0 = Instant::now();
        let s = Sampler::new(2, 3);
        let admitted: Vec<bool> = (0..8).map(|_| s.admit(t0)).collect();
        // 1 2 logged, then the 3rd after them (5th overall), then the 8th.
        assert_eq!(
            admitted,
            [true, true, false, false, true, false, false, true]
        );
        // A new second starts a new count.
        assert!(s.admit(t0 + Duration::from_millis(1000)));
        assert!(s.admit(t0 + Duration::from_millis(1001)));
        assert!(!s.admit(t0 + Duration::from_millis(1002)));
        let none_after = Sampler::new(1, 0);
        assert!(none_after.admit(t0));
        assert!(!none_after.admit(t0));
        assert!(!none_after.admit(t0));
        let all = Sampler::new(DEFAULT_SAMPLING_INITIAL, DEFAULT_SAMPLING_THEREAFTER);
        assert!((0..50).all(|_| all.admit(t0)));
    }
}
