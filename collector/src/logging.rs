//! Log set-up from `service.telemetry.logs`: level (or a tracing filter) and
//! `logfmt`, `json` or `text` output on stderr.

use profcol_config::collector::{LogFormat, LogsConfig};
use tracing_subscriber::{fmt, prelude::*, EnvFilter};

/// Installs the global subscriber. `RUST_LOG`, when set, wins over the config.
pub fn init(cfg: &LogsConfig) {
    // The CPU sampler announces every start and stop at info; keep it quiet
    // unless asked for by RUST_LOG.
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(format!("{},pprof=warn", cfg.level)))
        .unwrap_or_else(|_| EnvFilter::new("info,pprof=warn"));
    let registry = tracing_subscriber::registry().with(filter);
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
    let _ = result;
}
