//! The `pyroscope` push receiver: takes what the Pyroscope SDKs and agents
//! push — `/ingest` ([`ingest`]: pprof, folded, lines) and the push API
//! ([`push_api`]: Connect, protobuf or JSON) — on one HTTP endpoint (TLS
//! and auth optional), and hands each profile downstream as a
//! [`ProfileRecord`](profcol_pdata::ProfileRecord) whose pprof keeps the
//! bytes as sent, so that the `pyroscope` exporter forwards them unchanged.
//!
//! Files: [`config`] (keys and defaults), [`query`] (the `/ingest` query),
//! [`labels`],
//! [`body`] (reading and inflating under the caps), [`request`] (state
//! shared per request), [`refusal`] (status codes and messages). The
//! formats themselves (the `name` parameter, multipart forms, collapsed
//! stacks, profile types, the push API's messages) are codecs in
//! [`profcol_pdata::ingest`].

pub mod body;
pub mod config;
pub mod ingest;
pub mod jfr;
pub mod labels;
pub mod push_api;
pub mod query;
pub mod refusal;
pub mod request;

use crate::push::{serve, PushEvents, PushHandle, ServeOptions};
use crate::Error;
use axum::routing::post;
use config::PyroscopeReceiverConfig;
use profcol_config::{join_path, ComponentId, Problem};
use profcol_pdata::Consumer;
use profcol_runtime::ComponentContext;
use request::{Limits, Shared};
use std::sync::Arc;
use tokio_util::task::TaskTracker;

/// The component type.
pub const TYPE: &str = "pyroscope";
/// The protocol name its endpoint is listed under ([`PushHandle`]'s status).
pub const LISTEN_PROTOCOL: &str = "http";
/// The `/ingest` route.
pub const INGEST_PATH: &str = "/ingest";

/// Checks the receiver's body; problems carry key paths under `path`.
pub fn validate(body: &profcol_config::Body, path: &str) -> Result<(), Vec<Problem>> {
    profcol_config::decode::<PyroscopeReceiverConfig>(body, path).map(|_| ())
}

/// The routes, served by [`start`] (and by tests directly).
pub fn router(shared: Arc<Shared>) -> axum::Router {
    axum::Router::new()
        .route(INGEST_PATH, post(ingest::handle))
        .route(push_api::PATH, post(push_api::handle))
        .with_state(shared)
}

/// Binds the endpoint (a port in use fails here) and serves until
/// `ctx.shutdown`; must be called inside a tokio runtime.
pub fn start(
    id: &ComponentId,
    cfg: &PyroscopeReceiverConfig,
    ctx: ComponentContext,
    next: Arc<dyn Consumer>,
) -> Result<PushHandle, Error> {
    let path = join_path("receivers", &id.to_string());
    tokio::runtime::Handle::try_current().map_err(|_| Error::NoRuntime)?;
    let events = PushEvents::new(&ctx, &id.to_string());
    let shared = Arc::new(Shared {
        events: events.clone(),
        next,
        memory: ctx.memory.clone(),
        limits: Limits::new(cfg),
        stop: ctx.shutdown.clone(),
    });
    let tracker = TaskTracker::new();
    let addr = serve(
        ServeOptions {
            path: &path,
            endpoint: &cfg.endpoint,
            tls: cfg.tls.as_ref(),
            basic_auth: cfg.basic_auth.as_ref(),
            bearer_token: cfg.bearer_token.as_ref(),
            bearer_token_file: cfg.bearer_token_file.as_deref(),
        },
        router(shared),
        ctx.shutdown.clone(),
        &tracker,
    )?;
    events.listening(LISTEN_PROTOCOL, addr);
    Ok(PushHandle {
        tracker,
        status: events.status().clone(),
    })
}
