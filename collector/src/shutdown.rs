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
