//! Binding and serving one push endpoint: `host:port`, plain or TLS, with
//! optional auth in front of every route, until the component stops.
//! In-flight requests finish (graceful shutdown); new connections are
//! refused once the shutdown token is cancelled.

use crate::Error;
use axum::serve::ListenerExt;
use profcol_config::http_client::BasicAuth;
use profcol_config::server::ServerTlsConfig;
use profcol_config::{Problem, Secret};
use profcol_http::server::{require_auth, ServerAuth, TlsListener};
use std::net::SocketAddr;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// What one endpoint is served with. `path` is the key path of its block
/// (`receivers::otlp::protocols::http`), named by errors and logs.
pub struct ServeOptions<'a> {
    pub path: &'a str,
    pub endpoint: &'a str,
    pub tls: Option<&'a ServerTlsConfig>,
    pub basic_auth: Option<&'a BasicAuth>,
    pub bearer_token: Option<&'a Secret>,
    pub bearer_token_file: Option<&'a str>,
}

/// Binds `opts.endpoint` at once (so that a port in use fails the start)
/// and serves `app` on it in a task of `tracker` until `stop`; returns the
/// bound address (the port, when 0 was asked). Must be called inside a
/// tokio runtime. A port in use or an unusable certificate is an error
/// naming the key.
pub fn serve(
    opts: ServeOptions<'_>,
    app: axum::Router,
    stop: CancellationToken,
    tracker: &TaskTracker,
) -> Result<SocketAddr, Error> {
    let listener = bind(&opts)?;
    let local = listener.local_addr().map_err(|e| {
        Error::InvalidConfig(vec![Problem::new(
            format!("{}::endpoint", opts.path),
            e.to_string(),
        )])
    })?;
    let app = match ServerAuth::new(
        opts.basic_auth,
        opts.bearer_token,
        opts.bearer_token_file,
        opts.path,
    ) {
        Some(auth) => app.layer(axum::middleware::from_fn_with_state(auth, require_auth)),
        None => app,
    };
    match opts.tls {
        Some(tls) => {
            let tls_key = format!("{}::tls", opts.path);
            let listener = TlsListener::new(listener, tls, &tls_key, stop.child_token())?;
            tracker.spawn(serve_until(listener, app, stop, local));
        }
        None => {
            let listener = listener.tap_io(|tcp| {
                let _ = tcp.set_nodelay(true);
            });
            tracker.spawn(serve_until(listener, app, stop, local));
        }
    }
    Ok(local)
}

/// Serves `app` from `listener` until `stop`, letting requests in flight
/// finish.
async fn serve_until<L>(listener: L, app: axum::Router, stop: CancellationToken, local: SocketAddr)
where
    L: axum::serve::Listener,
    L::Addr: std::fmt::Debug,
{
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(async move { stop.cancelled().await })
        .await;
    if let Err(e) = served {
        tracing::warn!(address = %local, error = %e, "Push endpoint stopped.");
    }
}

/// A non-blocking tokio listener on `opts.endpoint` (`host:port`; a host
/// name is resolved, its first address used).
fn bind(opts: &ServeOptions<'_>) -> Result<tokio::net::TcpListener, Error> {
    let problem = |message: String| {
        Error::InvalidConfig(vec![Problem::new(
            format!("{}::endpoint", opts.path),
            message,
        )])
    };
    let std_listener = std::net::TcpListener::bind(opts.endpoint)
        .map_err(|e| problem(format!("cannot listen on {}: {e}", opts.endpoint)))?;
    std_listener
        .set_nonblocking(true)
        .map_err(|e| problem(e.to_string()))?;
    tokio::net::TcpListener::from_std(std_listener).map_err(|e| problem(e.to_string()))
}
