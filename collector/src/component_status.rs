//! What the `/components` page, `/api/v1/components` and `/-/healthy` read:
//! one [`ComponentStatus`] per configured receiver, processor, exporter and
//! extension (its health, its effective arguments with secrets redacted,
//! its own debug information) and the pipelines that wire them.
//!
//! [`ComponentRegistry`] is told by the pipeline what runs
//! ([`ComponentRegistry::applied`], after every start or reload), by the
//! reloader which configuration was refused ([`ComponentRegistry::refused`])
//! and by the shutdown that everything stops. A component a reload replaced
//! shows its new instance's state; one it removed disappears.
//!
//! # Health
//!
//! The seed (Alloy's `pyroscope.scrape`) says: "pyroscope.scrape is only
//! reported as unhealthy if given an invalid configuration." profcol
//! applies that to every component:
//!
//! - **unhealthy**: the last reload gave this component a configuration
//!   that was refused (invalid, or its instance could not start); the
//!   previous instance keeps running, as in Alloy, until a reload succeeds.
//! - **degraded** (exporters): the backend failed more recently than it
//!   last accepted a request; the reason is the last error. Degraded is not
//!   unhealthy: the configuration is valid, the queue and retries are doing
//!   their job, and a restart would not bring the backend back (it would
//!   lose the in-memory queue). Targets that are down do not change a
//!   receiver's health either (they are its debug information).
//! - **stopped**: defined but used by no pipeline (so not started), or
//!   profcol is shutting down.
//! - **healthy**: everything else.

use crate::reload::plan::used;
use profcol_config::{CollectorConfig, Kind};
use profcol_exporter::status::ExporterStatus;
use profcol_exporter::StatusSource;
use profcol_receiver::{Health as TargetHealth, ReceiverHandle};
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

/// A component's health; see the module docs for the rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "lowercase")]
pub enum Health {
    Healthy,
    Degraded { reason: String },
    Unhealthy { reason: String },
    Stopped { reason: String },
}

impl Health {
    /// `healthy`, `degraded`, `unhealthy` or `stopped` (also the CSS class).
    pub fn name(&self) -> &'static str {
        match self {
            Health::Healthy => "healthy",
            Health::Degraded { .. } => "degraded",
            Health::Unhealthy { .. } => "unhealthy",
            Health::Stopped { .. } => "stopped",
        }
    }

    pub fn reason(&self) -> Option<&str> {
        match self {
            Health::Healthy => None,
            Health::Degraded { reason }
            | Health::Unhealthy { reason }
            | Health::Stopped { reason } => Some(reason),
        }
    }
}

/// One configured component.
#[derive(Debug, Clone, Serialize)]
pub struct ComponentStatus {
    /// `receiver`, `processor`, `exporter` or `extension`.
    pub kind: &'static str,
    pub id: String,
    #[serde(rename = "type")]
    pub type_name: String,
    pub health: Health,
    /// The component's configuration as YAML, secrets redacted.
    pub arguments: String,
    /// Receivers: target counts and discovery; exporters: one entry per
    /// endpoint (queue, in flight, retries, last error).
    pub debug: Value,
}

/// One pipeline's wiring.
#[derive(Debug, Clone, Serialize)]
pub struct PipelineView {
    pub name: String,
    pub receivers: Vec<String>,
    pub processors: Vec<String>,
    pub exporters: Vec<String>,
}

/// Everything the pages show.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Snapshot {
    pub components: Vec<ComponentStatus>,
    pub pipelines: Vec<PipelineView>,
}

impl Snapshot {
    /// The unhealthy components as `(kind, id, reason)`.
    pub fn unhealthy(&self) -> Vec<(&'static str, &str, &str)> {
        self.components
            .iter()
            .filter_map(|c| match &c.health {
                Health::Unhealthy { reason } => Some((c.kind, c.id.as_str(), reason.as_str())),
                _ => None,
            })
            .collect()
    }
}

#[derive(Default)]
struct Inner {
    config: Option<CollectorConfig>,
    /// `config`'s components as their factories decoded them.
    typed: Arc<crate::components::Decoded>,
    /// What each running extension serves or holds.
    extensions: BTreeMap<String, Value>,
    refused: Option<String>,
    stopping: bool,
}

/// Shared between the pipeline (which writes) and the admin server.
#[derive(Clone, Default)]
pub struct ComponentRegistry {
    inner: Arc<Mutex<Inner>>,
}

impl ComponentRegistry {
    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        f(&mut self.inner.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// `cfg` now runs; a refusal before is forgotten.
    pub fn applied(&self, cfg: &CollectorConfig, typed: &Arc<crate::components::Decoded>) {
        self.with(|i| {
            i.config = Some(cfg.clone());
            i.typed = typed.clone();
            i.refused = None;
        });
    }

    /// The running extensions and what each serves or holds.
    pub fn extensions(&self, debug: BTreeMap<String, Value>) {
        self.with(|i| i.extensions = debug);
    }

    /// A reload was refused with `problems`; the components they name are
    /// unhealthy until the next successful reload.
    pub fn refused(&self, problems: &str) {
        self.with(|i| i.refused = Some(problems.to_string()));
    }

    /// Shutdown began: every component is stopping.
    pub fn stopping(&self) {
        self.with(|i| i.stopping = true);
    }

    /// The state of every configured component, read from the running
    /// receivers and exporters (each registry under its own lock).
    pub fn snapshot(
        &self,
        receivers: &crate::topology::Receivers,
        exporters: &crate::topology::Exporters,
    ) -> Snapshot {
        let receiver_debug: BTreeMap<String, Value> = receivers
            .lock()
            .iter()
            .map(|(id, r)| (id.to_string(), receiver_debug(&r.handle)))
            .collect();
        let exporter_status = exporters.status_sources();
        self.with(|i| build(i, &receiver_debug, &exporter_status))
    }
}

fn build(
    i: &Inner,
    receiver_debug: &BTreeMap<String, Value>,
    exporter_status: &BTreeMap<String, StatusSource>,
) -> Snapshot {
    let Some(cfg) = &i.config else {
        return Snapshot::default();
    };
    let mut components = Vec::new();
    for kind in Kind::ALL {
        let in_use = used(cfg, kind);
        for (id, _) in cfg.section(kind) {
            let name = id.to_string();
            let arguments = crate::effective::component(&i.typed, kind, id)
                .unwrap_or_else(|| "# not decoded\n".to_string());
            let (debug, degraded) = match kind {
                Kind::Receiver => (
                    receiver_debug
                        .get(&name)
                        .cloned()
                        .unwrap_or_else(|| json!({"running": false})),
                    None,
                ),
                Kind::Exporter => {
                    let list = exporter_status
                        .get(&name)
                        .map(StatusSource::snapshot)
                        .unwrap_or_default();
                    (exporter_debug(&list), exporter_degraded(&list))
                }
                Kind::Extension => (
                    i.extensions
                        .get(&name)
                        .cloned()
                        .unwrap_or_else(|| json!({"running": false})),
                    None,
                ),
                Kind::Processor => (Value::Null, None),
            };
            let used_here = match kind {
                Kind::Extension => cfg.service.extensions.contains(id),
                _ => in_use.contains(id),
            };
            let health = if i.stopping {
                Health::Stopped {
                    reason: "profcol is shutting down".into(),
                }
            } else if let Some(reason) = i
                .refused
                .as_deref()
                .and_then(|p| refusal_for(p, kind, &name))
            {
                Health::Unhealthy { reason }
            } else if !used_here {
                Health::Stopped {
                    reason: match kind {
                        Kind::Extension => "not listed in service.extensions, so not started",
                        _ => "used by no pipeline, so not started",
                    }
                    .into(),
                }
            } else if let Some(reason) = degraded {
                Health::Degraded { reason }
            } else {
                Health::Healthy
            };
            components.push(ComponentStatus {
                kind: kind.singular(),
                id: name,
                type_name: id.kind().to_string(),
                health,
                arguments,
                debug,
            });
        }
    }
    let ids = |v: &[profcol_config::ComponentId]| v.iter().map(|i| i.to_string()).collect();
    let pipelines = cfg
        .service
        .pipelines
        .iter()
        .map(|(name, p)| PipelineView {
            name: name.clone(),
            receivers: ids(&p.receivers),
            processors: ids(&p.processors),
            exporters: ids(&p.exporters),
        })
        .collect();
    Snapshot {
        components,
        pipelines,
    }
}

/// The lines of a refused reload's `problems` that name component `id`
/// (as a key path `receivers::id::…` or as `cannot start receiver id`).
fn refusal_for(problems: &str, kind: Kind, id: &str) -> Option<String> {
    let path = format!("{}::{id}", kind.section());
    let start = format!("cannot start {} {id}", kind.singular());
    let names_it = |line: &str| {
        [&path, &start].iter().any(|needle| {
            line.match_indices(needle.as_str()).any(|(at, _)| {
                matches!(
                    line[at + needle.len()..].chars().next(),
                    None | Some(':') | Some(' ')
                )
            })
        })
    };
    let lines: Vec<&str> = problems
        .lines()
        .filter(|l| names_it(l))
        .map(|l| l.trim().trim_start_matches("- "))
        .collect();
    if lines.is_empty() {
        return None;
    }
    Some(format!(
        "the last reload gave it a configuration that was refused; the previous one keeps running: {}",
        lines.join("; ")
    ))
}

fn receiver_debug(h: &ReceiverHandle) -> Value {
    if let Some(push) = h.push_status() {
        return json!({
            "running": true,
            "listening": push.listening.iter().map(|(protocol, address)| {
                json!({"protocol": protocol, "address": address})
            }).collect::<Vec<_>>(),
            "requests_accepted": push.requests_accepted,
            "profiles_accepted": push.profiles_accepted,
            "requests_refused": push.requests_refused,
            "last_refusal": push.last_refusal,
        });
    }
    let targets = h.targets();
    let count = |health: TargetHealth| targets.iter().filter(|t| t.health == health).count();
    json!({
        "running": true,
        "jobs": targets.len(),
        "targets_up": count(TargetHealth::Up),
        "targets_down": count(TargetHealth::Down),
        "targets_unknown": count(TargetHealth::Unknown),
        "discovery": h.discovery(),
        "scrape_slots": h.scrape_slots(),
    })
}

fn exporter_debug(list: &[ExporterStatus]) -> Value {
    let time = |t: Option<std::time::SystemTime>| t.map(profcol_receiver::status::rfc3339);
    Value::Array(
        list.iter()
            .map(|s| {
                json!({
                    "endpoint": s.endpoint,
                    "queue_length": s.queue_length,
                    "queue_capacity": s.queue_capacity,
                    "queue_bytes": s.queue_bytes,
                    "in_flight": s.in_flight,
                    "sent_profiles": s.sent_profiles,
                    "retries": s.retries,
                    "failed_profiles": s.failed_profiles,
                    "dropped_profiles": s.dropped_profiles,
                    "last_error": s.last_error,
                    "last_error_at": time(s.last_error_at),
                    "last_success_at": time(s.last_success_at),
                })
            })
            .collect(),
    )
}

/// Degraded when any endpoint is; the reason names the endpoint when there
/// are several.
fn exporter_degraded(list: &[ExporterStatus]) -> Option<String> {
    let reasons: Vec<String> = list
        .iter()
        .filter_map(|s| {
            let r = s.degraded()?;
            Some(match list.len() {
                1 => r.to_string(),
                _ => format!("{}: {r}", s.endpoint),
            })
        })
        .collect();
    (!reasons.is_empty()).then(|| reasons.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_names_only_its_component() {
        let problems = "exporters::file/x::directory: must not be empty\ncannot start receiver pyroscope_scrape: bad";
        assert!(refusal_for(problems, Kind::Exporter, "file/x").is_some());
        assert!(refusal_for(problems, Kind::Exporter, "file").is_none());
        assert!(refusal_for(problems, Kind::Receiver, "pyroscope_scrape").is_some());
        assert!(refusal_for(problems, Kind::Receiver, "pyroscope_scrape/a").is_none());
        assert!(refusal_for("yaml: syntax error", Kind::Exporter, "file").is_none());
    }
}
