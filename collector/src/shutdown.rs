//! Process signals: the one that starts the staged shutdown (SIGINT,
//! SIGTERM) and SIGHUP, which asks for a configuration reload.

/// Resolves on SIGINT or SIGTERM (Ctrl-C elsewhere) and names it.
pub async fn signal() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) {
            (Ok(mut int), Ok(mut term)) => tokio::select! {
                _ = int.recv() => "SIGINT",
                _ = term.recv() => "SIGTERM",
            },
            _ => ctrl_c().await,
        }
    }
    #[cfg(not(unix))]
    {
        ctrl_c().await
    }
}

/// A second SIGINT/SIGTERM arrived while the pipeline was stopping: says,
/// per exporter endpoint, what is left unsent — queued batches and requests
/// in flight are dropped from memory; a persistent queue keeps its batches
/// on disk for the next start.
pub fn log_forced_exit(signal: &str, exporters: &[(String, profcol_exporter::StatusSource)]) {
    let mut dropped = 0usize;
    for (id, source) in exporters {
        for s in source.snapshot() {
            let persistent = s.queue_capacity.is_none() && s.queue_length > 0;
            if s.queue_length == 0 && s.in_flight == 0 {
                continue;
            }
            if !persistent {
                dropped += s.queue_length;
            }
            tracing::warn!(
                exporter = %id,
                endpoint = %s.endpoint,
                queued_batches = s.queue_length,
                queued_bytes = s.queue_bytes,
                requests_in_flight = s.in_flight,
                kept_on_disk = persistent,
                "Exiting before this exporter finished."
            );
        }
    }
    tracing::warn!(
        signal,
        dropped_batches = dropped,
        "Second signal during shutdown: exiting now."
    );
}

async fn ctrl_c() -> &'static str {
    match tokio::signal::ctrl_c().await {
        Ok(()) => "Ctrl-C",
        Err(_) => std::future::pending().await,
    }
}

/// SIGHUPs, as a stream of reload requests. Creating it replaces the default
/// action (terminate), so it is made before anything else starts.
pub struct Hangups {
    #[cfg(unix)]
    inner: Option<tokio::signal::unix::Signal>,
}

impl Hangups {
    /// Must be called inside the runtime.
    pub fn new() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let inner = match signal(SignalKind::hangup()) {
                Ok(s) => Some(s),
                Err(e) => {
                    tracing::warn!(error = %e, "Cannot listen for SIGHUP; reload by file change or POST /-/reload instead.");
                    None
                }
            };
            Self { inner }
        }
        #[cfg(not(unix))]
        {
            Self {}
        }
    }

    /// Resolves on the next SIGHUP; never where there is none.
    pub async fn recv(&mut self) {
        #[cfg(unix)]
        if let Some(s) = self.inner.as_mut() {
            if s.recv().await.is_some() {
                return;
            }
        }
        std::future::pending::<()>().await;
    }
}

impl Default for Hangups {
    fn default() -> Self {
        Self::new()
    }
}
