//! Log set-up from `service.telemetry.logs`: level (or a tracing filter) and
//! `logfmt`, `json` or `text` output on stderr. The level can be changed
//! while running ([`set_level`], used by a config reload); the format cannot.

use profcol_config::collector::{LogFormat, LogsConfig};
use std::sync::OnceLock;
use tracing_subscriber::{fmt, prelude::*, reload, EnvFilter, Registry};

/// The installed filter's handle, and whether `RUST_LOG` chose it.
static FILTER: OnceLock<(reload::Handle<EnvFilter, Registry>, bool)> = OnceLock::new();

/// The filter for a configured level. The CPU sampler announces every start
/// and stop at info; keep it quiet unless asked for by RUST_LOG.
fn filter(level: &str) -> Option<EnvFilter> {
    EnvFilter::try_new(format!("{level},pprof=warn")).ok()
}

/// Installs the global subscriber. `RUST_LOG`, when set, wins over the config.
pub fn init(cfg: &LogsConfig) {
    let from_env = EnvFilter::try_from_default_env().ok();
    let env_set = from_env.is_some();
    let chosen = from_env
        .or_else(|| filter(&cfg.level))
        .unwrap_or_else(|| EnvFilter::new("info,pprof=warn"));
    let (layer, handle) = reload::Layer::new(chosen);
    let registry = tracing_subscriber::registry().with(layer);
    let result = match cfg.format {
        LogFormat::Logfmt => registry
            .with(
                tracing_logfmt::builder()
                    .layer()
                    .with_writer(std::io::stderr),
            )
            .try_init(),
        LogFormat::Json => registry
            .with(fmt::layer().json().with_writer(std::io::stderr))
            .try_init(),
        LogFormat::Text => registry
            .with(fmt::layer().with_writer(std::io::stderr))
            .try_init(),
    };
    // A second init (tests) keeps the first subscriber, which is fine.
    if result.is_ok() {
        let _ = FILTER.set((handle, env_set));
    }
}

/// Switches the running subscriber to `level`. `Ok(false)` when nothing
/// changed because `RUST_LOG` overrides the config (or no subscriber of
/// ours is installed).
pub fn set_level(level: &str) -> Result<bool, String> {
    let Some((handle, env_set)) = FILTER.get() else {
        return Ok(false);
    };
    if *env_set {
        return Ok(false);
    }
    let f = filter(level).ok_or_else(|| format!("invalid log level {level:?}"))?;
    handle.reload(f).map_err(|e| e.to_string())?;
    Ok(true)
}
