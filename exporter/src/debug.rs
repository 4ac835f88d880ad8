//! The `debug` exporter: one `info!` line per profile (service, type,
//! samples, total of the first sample type, heaviest leaf frame); with
//! `verbosity: detailed` also every label and the five heaviest stacks.

use crate::config::{unknown_keys, Unknown};
use profcol_config::{Problem, Validate};
use profcol_pdata::{pprof, Consumer, ProfileBatch, ProfileRecord};
use serde::Deserialize;
use std::collections::HashMap;
use tracing::info;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verbosity {
    #[default]
    Basic,
    Detailed,
}

/// The keys of [`DebugConfig`].
pub const DEBUG_KEYS: &[&str] = &["verbosity"];

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct DebugConfig {
    pub verbosity: Verbosity,
    #[serde(flatten)]
    pub unknown: Unknown,
}

impl Validate for DebugConfig {
    fn validate(&self, path: &str, problems: &mut Vec<Problem>) {
        unknown_keys(&self.unknown, path, DEBUG_KEYS, problems);
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
}

impl DebugConsumer {
    pub fn new(id: &str, cfg: &DebugConfig) -> Self {
        Self {
            id: id.to_string(),
            verbosity: cfg.verbosity,
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
            for (stack, value) in heaviest_stacks(&profile, 5) {
                info!(exporter = %self.id, service, value, stack = %stack, "Profile stack.");
            }
        }
    }
}

#[async_trait::async_trait]
impl Consumer for DebugConsumer {
    async fn consume(&self, batch: ProfileBatch) -> Result<(), profcol_pdata::Error> {
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
