//! Live reload: SIGHUP, a change of a `--config` file, or `POST /-/reload`
//! re-reads the files with the same `--set` overrides and expansion, and
//! validates the result before touching anything. An invalid configuration
//! leaves the running pipeline as it is and is reported (log, `/-/ready`,
//! `profcol_config_last_reload_successful`); a valid one is applied by
//! [`Running::apply`], which rebuilds only the components whose config
//! changed. Reloads run one at a time, in the order they were asked for.

pub mod plan;
pub mod status;
pub mod watch;

use crate::pipeline::Running;
use crate::settings::Settings;
use status::{Outcome, ReloadStatus};
use std::process::ExitCode;
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tracing::info;

/// One reload asked for, and where to send its result.
pub struct Request {
    pub trigger: &'static str,
    reply: Option<oneshot::Sender<Result<String, String>>>,
}

impl Request {
    pub fn without_reply(trigger: &'static str) -> Self {
        Self {
            trigger,
            reply: None,
        }
    }
}

/// The admin server's way to ask for a reload and to read its outcome.
#[derive(Clone)]
pub struct ReloadHandle {
    pub status: ReloadStatus,
    requests: Arc<Mutex<Option<mpsc::Sender<Request>>>>,
}

impl ReloadHandle {
    pub fn new(telemetry: &profcol_runtime::Telemetry) -> Self {
        Self {
            status: ReloadStatus::new(telemetry),
            requests: Arc::default(),
        }
    }

    fn attach(&self, tx: mpsc::Sender<Request>) {
        *self.requests.lock().unwrap_or_else(PoisonError::into_inner) = Some(tx);
    }

    /// Asks for a reload and waits for it: the change summary, or why the
    /// configuration was refused.
    pub async fn request(&self, trigger: &'static str) -> Result<String, String> {
        let tx = self
            .requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let Some(tx) = tx else {
            return Err("reloading is not available: the pipeline is not running".into());
        };
        let (reply, answer) = oneshot::channel();
        let req = Request {
            trigger,
            reply: Some(reply),
        };
        if tx.send(req).await.is_err() {
            return Err("profcol is shutting down".into());
        }
        answer
            .await
            .unwrap_or_else(|_| Err("profcol is shutting down".into()))
    }
}

/// Runs the pipeline, serving reload requests, until SIGINT/SIGTERM; then
/// stops it in stages within the current `service.shutdown_timeout`.
pub async fn run(settings: Settings) -> anyhow::Result<ExitCode> {
    let mut hangups = crate::shutdown::Hangups::new();
    let watched = settings.watched_files();
    let fingerprint = watch::fingerprint(&watched);
    let mut running = Running::start(&settings).await?;
    let (tx, mut rx) = mpsc::channel(4);
    running.admin.reload.attach(tx.clone());
    let stop_watching = CancellationToken::new();
    watch::spawn(
        watched,
        fingerprint,
        watch::POLL_EVERY,
        tx,
        stop_watching.clone(),
    );
    let mut current = settings;
    let shutdown = crate::shutdown::signal();
    tokio::pin!(shutdown);
    let signal = loop {
        let req = tokio::select! {
            s = &mut shutdown => break s,
            _ = hangups.recv() => Request::without_reply("SIGHUP"),
            Some(r) = rx.recv() => r,
        };
        let result = reload_once(&mut running, &mut current, req.trigger).await;
        if let Some(reply) = req.reply {
            let _ = reply.send(result);
        }
    };
    stop_watching.cancel();
    let timeout = current.config.service.shutdown_timeout.get();
    info!(signal, shutdown_timeout = ?timeout, "Shutting down; a second SIGINT or SIGTERM exits at once.");
    let exporters = running.exporter_statuses();
    tokio::select! {
        _ = running.stop(timeout) => Ok(ExitCode::SUCCESS),
        again = crate::shutdown::signal() => {
            crate::shutdown::log_forced_exit(again, &exporters);
            Ok(ExitCode::FAILURE)
        }
    }
}

/// Re-reads and validates; applies only a valid configuration.
async fn reload_once(
    running: &mut Running,
    current: &mut Settings,
    trigger: &'static str,
) -> Result<String, String> {
    info!(trigger, "Reloading the configuration.");
    let result = match current.reread() {
        Err(e) => Err(e.to_string()),
        Ok(next) => match running.apply(&next).await {
            Ok(summary) => {
                running.admin.set_config(&next);
                *current = next;
                Ok(summary)
            }
            Err(e) => Err(format!("{e:#}")),
        },
    };
    let outcome = match &result {
        Ok(summary) => Outcome::Reloaded {
            summary: summary.clone(),
        },
        Err(problems) => {
            running.admin.components.refused(problems);
            Outcome::Failed {
                problems: problems.clone(),
            }
        }
    };
    running.admin.reload.status.record(trigger, outcome);
    result
}
