//! The `pprof` extension: profcol's own profiles on a listener of its own
//! (default `localhost:1777`) — the same `/debug/pprof/` handlers as the
//! admin server ([`crate::admin::pprof_routes`]), without the admin
//! server's auth, as the Collector's extension has none.
//!
//! `save_to_file` is the Collector's: a CPU profile taken from the start
//! of the extension to its stop (process exit, or a reload that changes
//! this extension), written to that file (gzipped pprof) when it stops.
//! Meanwhile `/debug/pprof/profile` answers `409`, as Go's answers an
//! error while a CPU profile runs.
//!
//! `block_profile_fraction` and `mutex_profile_fraction` are accepted and
//! do nothing: they tune Go runtime profiles that profcol does not have,
//! and accepting them lets a Collector config move over unchanged (a
//! non-zero value logs a warning once at start).

use crate::admin::pprof_cpu::WholeRunProfile;
use profcol_config::{join_path, ComponentId, Problem, Validate};
use serde::{Deserialize, Serialize};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// `extensions.pprof[/name]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PprofConfig {
    #[serde(
        default = "default_endpoint",
        serialize_with = "profcol_config::redact::serialize_url"
    )]
    pub endpoint: String,
    #[serde(default)]
    pub block_profile_fraction: i64,
    #[serde(default)]
    pub mutex_profile_fraction: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub save_to_file: Option<String>,
}

/// The Collector's default endpoint.
pub const DEFAULT_ENDPOINT: &str = "localhost:1777";

fn default_endpoint() -> String {
    DEFAULT_ENDPOINT.into()
}

impl Validate for PprofConfig {
    fn validate(&self, path: &str, problems: &mut Vec<Problem>) {
        if self.endpoint.is_empty() || !self.endpoint.contains(':') {
            problems.push(Problem::new(
                join_path(path, "endpoint"),
                format!("{:?} is not host:port", self.endpoint),
            ));
        }
        if self.save_to_file.as_deref() == Some("") {
            problems.push(Problem::new(
                join_path(path, "save_to_file"),
                "must not be empty (leave it out to take no profile of the whole run)",
            ));
        }
    }
}

/// Serves until `stop`; with `save_to_file`, samples until `stop` and then
/// writes the profile. Returns what `/components` shows and the tasks.
pub async fn start(
    id: &ComponentId,
    cfg: &PprofConfig,
    path: &str,
    stop: CancellationToken,
) -> anyhow::Result<(serde_json::Value, Vec<JoinHandle<()>>)> {
    if cfg.block_profile_fraction != 0 || cfg.mutex_profile_fraction != 0 {
        tracing::warn!(component = %id, "block_profile_fraction and mutex_profile_fraction tune Go runtime profiles; profcol has none, so they do nothing.");
    }
    let whole_run = match &cfg.save_to_file {
        Some(file) => Some((
            file.clone(),
            WholeRunProfile::start().map_err(|e| {
                anyhow::anyhow!(
                    "{}: cannot profile the whole run: {e}",
                    join_path(path, "save_to_file")
                )
            })?,
        )),
        None => None,
    };
    let app = crate::admin::pprof_routes();
    let served = super::server::serve(&cfg.endpoint, None, path, app, stop.clone()).await;
    let (address, server) = match served {
        Ok(s) => s,
        Err(e) => {
            if let Some((_, profile)) = whole_run {
                let _ = tokio::task::spawn_blocking(move || profile.finish()).await;
            }
            return Err(e);
        }
    };
    tracing::info!(component = %id, address = %address, "pprof extension listening.");
    let mut tasks = vec![server];
    if let Some((file, profile)) = whole_run {
        let component = id.to_string();
        tasks.push(tokio::spawn(async move {
            stop.cancelled().await;
            let target = file.clone();
            let written = tokio::task::spawn_blocking(move || {
                let bytes = profile.finish()?;
                std::fs::write(&target, bytes).map_err(|e| e.to_string())
            })
            .await;
            match written {
                Ok(Ok(())) => {
                    tracing::info!(component = %component, file = %file, "CPU profile of the whole run written.")
                }
                Ok(Err(e)) => {
                    tracing::warn!(component = %component, file = %file, error = %e, "Cannot write the CPU profile of the whole run.")
                }
                Err(e) => {
                    tracing::warn!(component = %component, error = %e, "The CPU profile of the whole run failed.")
                }
            }
        }));
    }
    let debug = serde_json::json!({
        "listening": format!("http://{address}/debug/pprof/"),
        "save_to_file": cfg.save_to_file,
    });
    Ok((debug, tasks))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(yaml: &str) -> Vec<String> {
        let v = profcol_config::Body::parse(yaml).unwrap();
        match profcol_config::decode::<PprofConfig>(&v, "extensions::pprof") {
            Ok(_) => vec![],
            Err(p) => p.iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn keys_defaults_and_problems() {
        let cfg: PprofConfig = profcol_config::decode(&profcol_config::Body::empty(), "x").unwrap();
        assert_eq!(cfg.endpoint, "localhost:1777");
        assert!(cfg.save_to_file.is_none());
        assert!(check("{endpoint: '127.0.0.1:0', block_profile_fraction: 3, mutex_profile_fraction: 5, save_to_file: /tmp/cpu.pprof}").is_empty());
        assert_eq!(
            check("{endpoint: nope, save_to_file: ''}"),
            [
                "extensions::pprof::endpoint: \"nope\" is not host:port",
                "extensions::pprof::save_to_file: must not be empty (leave it out to take no profile of the whole run)",
            ]
        );
        assert!(check("{tls: {}}")[0].starts_with("extensions::pprof::tls: unknown key `tls`"));
    }
}
