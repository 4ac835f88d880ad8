//! The admin HTTP server (default 127.0.0.1:8888, loopback only unless
//! configured): `/metrics`, `/-/healthy`, `/-/ready`, profcol's own
//! `/debug/pprof/{profile,heap,allocs}`, `/api/v1/targets`, the
//! `/targets` page, `/api/v1/components` and the `/components` page, the
//! `/config` page and each job's last profile as a flame graph
//! (`/profile`); optionally over TLS and behind basic or bearer auth (which
//! then covers every page, health checks included).

mod components_page;
mod config_page;
mod cpu_sampler;
mod flame;
pub(crate) mod layout;
mod pipeline_svg;
mod pprof_build;
pub(crate) mod pprof_cpu;
mod pprof_heap;
mod profile_page;
mod symbols;
mod targets;
mod targets_page;

#[cfg(test)]
mod components_tests;
#[cfg(test)]
mod security_tests;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use profcol_config::collector::MetricsConfig;
use profcol_runtime::Telemetry;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use tokio_util::sync::CancellationToken;

/// What the pages read.
#[derive(Clone)]
pub struct AdminState {
    pub telemetry: Telemetry,
    /// The running receivers, the same registry the pipeline changes.
    pub receivers: crate::topology::Receivers,
    /// The running exporters, the same registry the pipeline changes.
    pub exporters: crate::topology::Exporters,
    pub ready: Arc<AtomicBool>,
    /// When `ready` last turned true (the `health_check` extension's
    /// `upSince`).
    pub ready_since: Arc<Mutex<Option<std::time::SystemTime>>>,
    /// The cluster's membership when `service.cluster` is enabled.
    pub cluster: Option<profcol_runtime::ClusterWatch>,
    /// Asks for a config reload (`POST /-/reload`); the last outcome.
    pub reload: crate::reload::ReloadHandle,
    /// The running configuration as `print-config` prints it (secrets
    /// redacted), for `/config`; set at start and on every applied reload.
    pub config_yaml: Arc<RwLock<String>>,
    /// Every configured component's state, for `/components` and
    /// `/-/healthy`.
    pub components: crate::component_status::ComponentRegistry,
}

impl AdminState {
    pub fn new(telemetry: Telemetry) -> Self {
        Self {
            reload: crate::reload::ReloadHandle::new(&telemetry),
            telemetry,
            receivers: Default::default(),
            exporters: Default::default(),
            ready: Arc::default(),
            ready_since: Arc::default(),
            cluster: None,
            config_yaml: Arc::default(),
            components: Default::default(),
        }
    }

    /// Sets readiness (`/-/ready`, the `health_check` extension) and when
    /// it began.
    pub fn set_ready(&self, ready: bool) {
        let mut since = self
            .ready_since
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        *since = ready.then(|| since.unwrap_or_else(std::time::SystemTime::now));
        self.ready.store(ready, Ordering::Release);
    }

    /// What extensions read: readiness and since when.
    pub fn extension_host(&self) -> crate::extensions::Host {
        crate::extensions::Host {
            ready: self.ready.clone(),
            ready_since: self.ready_since.clone(),
        }
    }

    /// Keeps the effective configuration for `/config`, as
    /// [`crate::effective`] prints it (secrets redacted by type); one that
    /// cannot be written leaves a note instead.
    pub fn set_config(&self, settings: &crate::settings::Settings) {
        let text = crate::effective::yaml(settings)
            .unwrap_or_else(|e| format!("# the configuration cannot be shown: {e}\n"));
        *self
            .config_yaml
            .write()
            .unwrap_or_else(PoisonError::into_inner) = text;
    }
}

pub fn router(state: AdminState) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/metrics", get(metrics))
        .route("/-/healthy", get(components_page::healthy))
        .route("/-/ready", get(ready))
        .route("/-/reload", axum::routing::post(reload))
        .merge(pprof_routes())
        .route("/api/v1/targets", get(targets::json))
        .route("/targets", get(targets::html))
        .route("/config", get(config_page::html))
        .route("/profile", get(profile_page::handler))
        .route("/api/v1/components", get(components_page::json))
        .route("/components", get(components_page::html))
        .with_state(state)
}

/// `/debug/pprof/` (index), `/profile`, `/heap` and `/allocs`: profcol's
/// own profiles. The admin server and the `pprof` extension serve these
/// same handlers.
pub fn pprof_routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/debug/pprof/", get(pprof_index))
        .route("/debug/pprof", get(pprof_index))
        .route("/debug/pprof/profile", get(pprof_cpu::handler))
        .route("/debug/pprof/heap", get(pprof_heap::handler))
        .route("/debug/pprof/allocs", get(pprof_heap::handler))
}

/// The router with the configured auth in front of every route.
pub fn secured_router(state: AdminState, cfg: &MetricsConfig) -> Router {
    let app = router(state);
    let auth = profcol_http::server::ServerAuth::new(
        cfg.basic_auth.as_ref(),
        cfg.bearer_token.as_ref(),
        cfg.bearer_token_file.as_deref(),
        "service::telemetry::metrics",
    );
    match auth {
        Some(a) => app.layer(axum::middleware::from_fn_with_state(
            a,
            profcol_http::server::require_auth,
        )),
        None => app,
    }
}

/// Binds `cfg.address` and serves (over TLS when `cfg.tls` is set) until
/// `stop` is cancelled. Binding and certificate errors are returned at once
/// so that start-up fails clearly.
pub async fn start(
    cfg: &MetricsConfig,
    state: AdminState,
    stop: CancellationToken,
) -> anyhow::Result<(std::net::SocketAddr, tokio::task::JoinHandle<()>)> {
    let address = &cfg.address;
    let listener = tokio::net::TcpListener::bind(address).await.map_err(|e| {
        anyhow::anyhow!(
            "cannot bind the admin server to {address} (service.telemetry.metrics.address): {e}"
        )
    })?;
    let local = listener.local_addr()?;
    let secured =
        cfg.basic_auth.is_some() || cfg.bearer_token.is_some() || cfg.bearer_token_file.is_some();
    if !local.ip().is_loopback() && !secured {
        tracing::warn!(address = %local, "The admin server listens beyond loopback without auth (service.telemetry.metrics.basic_auth or bearer_token); anyone who can reach it can read targets and profiles.");
    }
    let app = secured_router(state, cfg);
    let task = match &cfg.tls {
        Some(tls) => {
            let listener = profcol_http::server::TlsListener::new(
                listener,
                tls,
                "service::telemetry::metrics::tls",
                stop.child_token(),
            )?;
            spawn_serve(listener, app, stop)
        }
        None => spawn_serve(listener, app, stop),
    };
    Ok((local, task))
}

/// Serves `app` on `listener` until `stop` (the admin server and the HTTP
/// extensions).
pub(crate) fn spawn_serve<L>(
    listener: L,
    app: Router,
    stop: CancellationToken,
) -> tokio::task::JoinHandle<()>
where
    L: axum::serve::Listener,
    L::Addr: std::fmt::Debug,
{
    tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(async move { stop.cancelled().await })
            .await;
        if let Err(e) = served {
            tracing::error!(error = %e, "HTTP server (admin or extension) failed.");
        }
    })
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

/// `/debug/pprof/`: the index Go users type, listing the profiles profcol
/// serves of itself (Go's other profile kinds have no counterpart here).
async fn pprof_index() -> Html<String> {
    let body = concat!(
        "<h1>/debug/pprof/</h1>",
        "<p>profcol's own profiles, in pprof format (<code>go tool pprof URL</code> reads them).</p>",
        "<table><tr><th>profile</th><th>what it holds</th></tr>",
        "<tr><td><a href=\"/debug/pprof/profile?seconds=30\">profile</a></td>",
        "<td>CPU time sampled over <code>seconds</code> (default 30; \
         <a href=\"/debug/pprof/profile?seconds=5\">5 s</a>)</td></tr>",
        "<tr><td><a href=\"/debug/pprof/heap\">heap</a></td>",
        "<td>memory in use and allocated since start, by allocating stack</td></tr>",
        "<tr><td><a href=\"/debug/pprof/allocs\">allocs</a></td>",
        "<td>the same profile as heap (as in Go, where both show both)</td></tr>",
        "</table>",
        "<p class=muted>goroutine, block, mutex, threadcreate and trace are Go runtime profiles; \
         profcol has none of them.</p>"
    );
    Html(layout::page("/debug/pprof/", layout::Nav::Home, "", body))
}

async fn index() -> Html<String> {
    let body = concat!(
        "<h1>profcol</h1><ul>",
        "<li><a href=\"/targets\">Targets</a> (<a href=\"/api/v1/targets\">JSON</a>)</li>",
        "<li><a href=\"/components\">Components</a> (<a href=\"/api/v1/components\">JSON</a>)</li>",
        "<li><a href=\"/metrics\">Metrics</a></li>",
        "<li><a href=\"/-/healthy\">healthy</a> · <a href=\"/-/ready\">ready</a></li>",
        "<li><a href=\"/debug/pprof/profile?seconds=5\">CPU profile (5s)</a> · ",
        "<a href=\"/debug/pprof/heap\">heap profile</a> · ",
        "<a href=\"/debug/pprof/\">all</a></li></ul>"
    );
    Html(layout::page("profcol", layout::Nav::Home, "", body))
}
