//! The admin HTTP server (default 127.0.0.1:8888): `/metrics`, `/-/healthy`,
//! `/-/ready`, profcol's own `/debug/pprof/{profile,heap,allocs}`,
//! `/api/v1/targets` and the `/targets` page.

mod pprof_cpu;
mod pprof_heap;
mod targets;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use profcol_pdata::Telemetry;
use profcol_receiver::ReceiverHandle;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use tokio_util::sync::CancellationToken;

/// What the pages read.
#[derive(Clone)]
pub struct AdminState {
    pub telemetry: Telemetry,
    pub receivers: Arc<Mutex<Vec<(String, ReceiverHandle)>>>,
    pub ready: Arc<AtomicBool>,
    /// Asks for a config reload (`POST /-/reload`); the last outcome.
    pub reload: crate::reload::ReloadHandle,
}

impl AdminState {
    pub fn new(telemetry: Telemetry) -> Self {
        Self {
            reload: crate::reload::ReloadHandle::new(&telemetry),
            telemetry,
            receivers: Arc::default(),
            ready: Arc::default(),
        }
    }

    /// Every receiver's targets, by receiver id.
    pub fn targets(&self) -> Vec<(String, Vec<serde_json::Value>)> {
        let receivers = self
            .receivers
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        receivers
            .iter()
            .map(|(id, h)| {
                let list = h
                    .targets()
                    .iter()
                    .filter_map(|t| serde_json::to_value(t).ok())
                    .collect();
                (id.clone(), list)
            })
            .collect()
    }
}

pub fn router(state: AdminState) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/metrics", get(metrics))
        .route("/-/healthy", get(|| async { "OK\n" }))
        .route("/-/ready", get(ready))
        .route("/-/reload", axum::routing::post(reload))
        .route("/debug/pprof/profile", get(pprof_cpu::handler))
        .route("/debug/pprof/heap", get(pprof_heap::handler))
        .route("/debug/pprof/allocs", get(pprof_heap::handler))
        .route("/api/v1/targets", get(targets::json))
        .route("/targets", get(targets::html))
        .with_state(state)
}

/// Binds `address` and serves until `stop` is cancelled. Binding errors are
/// returned at once so that a taken port fails start-up clearly.
pub async fn start(
    address: &str,
    state: AdminState,
    stop: CancellationToken,
) -> anyhow::Result<(std::net::SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(address).await.map_err(|e| {
        anyhow::anyhow!(
            "cannot bind the admin server to {address} (service.telemetry.metrics.address): {e}"
        )
    })?;
    let local = listener.local_addr()?;
    let app = router(state);
    let task = tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(async move { stop.cancelled().await })
            .await;
        if let Err(e) = served {
            tracing::error!(error = %e, "Admin server failed.");
        }
    });
    Ok((local, task))
}

async fn metrics(State(s): State<AdminState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        s.telemetry.encode(),
    )
        .into_response()
}

async fn ready(State(s): State<AdminState>) -> Response {
    if s.ready.load(Ordering::Acquire) {
        // Still ready after a failed reload: the previous config keeps running.
        let details = s.reload.status.ready_details();
        (StatusCode::OK, format!("Ready\n{details}")).into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "Starting\n").into_response()
    }
}

/// `POST /-/reload`: 200 with the change summary, or 500 with the problems
/// (the previous configuration keeps running), like Prometheus.
async fn reload(State(s): State<AdminState>) -> Response {
    match s.reload.request("POST /-/reload").await {
        Ok(summary) => (StatusCode::OK, format!("Reloaded: {summary}\n")).into_response(),
        Err(problems) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("Reload failed: {problems}\n"),
        )
            .into_response(),
    }
}

async fn index() -> Html<&'static str> {
    Html(concat!(
        "<!doctype html><title>profcol</title><h1>profcol ",
        env!("CARGO_PKG_VERSION"),
        "</h1><ul>",
        "<li><a href=\"/targets\">targets</a> (<a href=\"/api/v1/targets\">JSON</a>)</li>",
        "<li><a href=\"/metrics\">metrics</a></li>",
        "<li><a href=\"/-/healthy\">healthy</a> · <a href=\"/-/ready\">ready</a></li>",
        "<li><a href=\"/debug/pprof/profile?seconds=5\">CPU profile (5s)</a> · ",
        "<a href=\"/debug/pprof/heap\">heap profile</a></li></ul>"
    ))
}
