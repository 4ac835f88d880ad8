//! The `otlp` push receiver: OTLP profiles over gRPC
//! (`ProfilesService/Export`, default `localhost:4317`) and HTTP
//! (`POST /v1development/profiles`, protobuf or JSON, default
//! `localhost:4318`), configured with the OpenTelemetry Collector's
//! `otlpreceiver` keys.
//!
//! Each request is taken whole: decompressed under its size cap, checked
//! once ([`OtlpPayload`](profcol_pdata::otlp::OtlpPayload): it decodes,
//! stays within limits, every dictionary index is in range), and handed
//! downstream as [`ProfileBatch::from_otlp`](profcol_pdata::ProfileBatch::from_otlp)
//! — the protobuf bytes as they arrived, so OTLP exporters forward them
//! unchanged. A request is accepted or refused as a whole; a refusal tells
//! the sender whether to retry ([`answer`]).
//!
//! Files: [`config`] (keys, defaults, checks), [`listen`] (bind, TLS,
//! connection settings, stop), [`grpc`] and [`http`] (the two protocols),
//! [`decompress`], [`intake`] (memory check, decoding off the async
//! threads, the hand-off, events), [`answer`] (responses and status
//! mapping), [`cors`], [`layers`] (auth, response headers).

pub mod answer;
pub mod config;
pub mod cors;
pub mod decompress;
pub mod grpc;
pub mod http;
pub mod intake;
pub mod layers;
pub mod listen;

use crate::push::{PushEvents, PushHandle};
use crate::Error;
use config::OtlpConfig;
use layers::Protocol;
use listen::{ConnectionSettings, Endpoint};
use profcol_config::{join_path, ComponentId, Problem};
use profcol_pdata::Consumer;
use profcol_runtime::ComponentContext;
use std::sync::Arc;
use tokio_util::task::TaskTracker;

/// The component type.
pub const TYPE: &str = "otlp";

/// Checks the receiver's body; problems carry key paths under `path`.
pub fn validate(body: &profcol_config::Body, path: &str) -> Result<(), Vec<Problem>> {
    profcol_config::decode::<OtlpConfig>(body, path).map(|_| ())
}

/// Starts the receiver's servers on the current tokio runtime; they stop
/// when `ctx.shutdown` is cancelled (in-flight requests get
/// [`listen::STOP_GRACE`] to finish).
pub fn start(
    id: &ComponentId,
    cfg: &OtlpConfig,
    ctx: ComponentContext,
    next: Arc<dyn Consumer>,
) -> Result<PushHandle, Error> {
    let path = join_path("receivers", &id.to_string());
    let runtime = tokio::runtime::Handle::try_current().map_err(|_| Error::NoRuntime)?;
    let _guard = runtime.enter();
    let component = id.to_string();
    let events = PushEvents::new(&ctx, &component);
    let intake = Arc::new(intake::Intake::new(
        next,
        ctx.memory.clone(),
        events.clone(),
        ctx.shutdown.clone(),
    ));
    let tracker = TaskTracker::new();
    let protocols = join_path(&path, "protocols");

    // Stop whatever started if a later endpoint fails.
    let stop = ctx.shutdown.child_token();
    let started = (|| {
        if let Some(g) = &cfg.protocols.grpc {
            let block = join_path(&protocols, "grpc");
            warn_not_honoured(&component, g.not_honoured(&block));
            let state = Arc::new(grpc::GrpcState {
                intake: intake.clone(),
                max_message: g.max_message_bytes(),
            });
            let app = layers::with_auth(
                grpc::router(state),
                g.auth_keys(),
                &block,
                Protocol::Grpc,
                intake.clone(),
            );
            let settings = ConnectionSettings {
                http2_only: true,
                max_concurrent_streams: g.max_concurrent_streams.filter(|n| *n > 0),
                ping: Some((g.keepalive_time(), g.keepalive_timeout())),
                http1_keep_alive: true,
                header_read_timeout: None,
                max_idle: g.max_connection_idle(),
                max_age: g.max_connection_age(),
                age_grace: g.max_connection_age_grace(),
            };
            let endpoint = Endpoint {
                path: &block,
                endpoint: &g.endpoint,
                family: g.family(),
                tls: g.tls.as_ref().map(config::TlsSettings::server_tls),
                settings,
            };
            let addr = listen::serve(endpoint, app, stop.clone(), &tracker)?;
            events.listening(grpc::PROTOCOL, addr);
        }
        if let Some(h) = &cfg.protocols.http {
            let block = join_path(&protocols, "http");
            warn_not_honoured(&component, h.not_honoured(&block));
            let state = Arc::new(http::HttpState {
                intake: intake.clone(),
                path: h.profiles_path(),
                max_body: h.max_body_bytes(),
                encodings: h.encodings(),
                read_timeout: h.read_timeout(),
            });
            let mut app = layers::with_auth(
                http::router(state),
                h.auth_keys(),
                &block,
                Protocol::Http,
                intake.clone(),
            );
            if let Some(policy) = h.cors.as_ref().and_then(cors::CorsPolicy::new) {
                app = app.layer(axum::middleware::from_fn_with_state(
                    Arc::new(policy),
                    cors::layer,
                ));
            }
            let headers = h
                .response_headers
                .as_ref()
                .map(|r| {
                    r.pairs()
                        .into_iter()
                        .filter_map(|(k, v)| {
                            Some((
                                axum::http::HeaderName::from_bytes(k.as_bytes()).ok()?,
                                axum::http::HeaderValue::from_str(v.expose()).ok()?,
                            ))
                        })
                        .collect()
                })
                .unwrap_or_default();
            app = layers::with_response_headers(app, headers);
            let settings = ConnectionSettings {
                http2_only: false,
                max_concurrent_streams: None,
                ping: None,
                http1_keep_alive: h.keep_alives(),
                header_read_timeout: h.read_header_timeout(),
                max_idle: h.idle_timeout(),
                max_age: None,
                age_grace: None,
            };
            let endpoint = Endpoint {
                path: &block,
                endpoint: &h.endpoint,
                family: h.family(),
                tls: h.tls.as_ref().map(config::TlsSettings::server_tls),
                settings,
            };
            let addr = listen::serve(endpoint, app, stop.clone(), &tracker)?;
            events.listening(http::PROTOCOL, addr);
        }
        Ok::<(), Error>(())
    })();
    if let Err(e) = started {
        stop.cancel();
        return Err(e);
    }
    tracing::info!(component = %component, "Receiver started.");
    Ok(PushHandle {
        tracker,
        status: events.status().clone(),
    })
}

/// One warning naming every key set that has no effect.
fn warn_not_honoured(component: &str, keys: Vec<String>) {
    if !keys.is_empty() {
        tracing::warn!(
            component,
            keys = %keys.join(", "),
            "These keys are accepted for compatibility with the OpenTelemetry Collector but have no effect in profcol (see the receiver README)."
        );
    }
}
