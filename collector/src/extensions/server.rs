//! The listener an HTTP extension serves on: binds its `endpoint`
//! (failing start-up at once when it cannot), optionally over TLS with
//! profcol's reloadable-certificate listener, until its stop token.

use anyhow::Context;
use axum::Router;
use profcol_config::server::ServerTlsConfig;
use std::net::SocketAddr;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Binds `endpoint` and serves `app` until `stop`; `path` is the
/// extension's key path, named by errors.
pub async fn serve(
    endpoint: &str,
    tls: Option<&ServerTlsConfig>,
    path: &str,
    app: Router,
    stop: CancellationToken,
) -> anyhow::Result<(SocketAddr, JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(endpoint)
        .await
        .with_context(|| format!("cannot bind {endpoint} ({path}::endpoint)"))?;
    let local = listener.local_addr()?;
    let task = match tls {
        Some(tls) => {
            let tls_path = format!("{path}::tls");
            let listener = profcol_http::server::TlsListener::new(
                listener,
                tls,
                &tls_path,
                stop.child_token(),
            )?;
            crate::admin::spawn_serve(listener, app, stop)
        }
        None => crate::admin::spawn_serve(listener, app, stop),
    };
    Ok((local, task))
}
