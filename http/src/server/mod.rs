//! Server side: what every HTTP server of profcol (the admin server, the
//! push receivers) puts in front of its routes — [`ServerAuth`] (basic auth
//! or a bearer token, checked by the [`require_auth`] middleware) and
//! [`TlsListener`] (TLS with certificate files reloaded when they change).
//!
//! ```no_run
//! # async fn run(cfg: profcol_config::server::ServerTlsConfig) -> Result<(), profcol_http::Error> {
//! use profcol_http::server::{require_auth, ServerAuth, TlsListener};
//! let stop = tokio_util::sync::CancellationToken::new();
//! let auth = ServerAuth::new(None, None, Some("/etc/profcol/token"), "receivers::pyroscope");
//! let mut app = axum::Router::new();
//! if let Some(auth) = auth {
//!     app = app.layer(axum::middleware::from_fn_with_state(auth, require_auth));
//! }
//! let tcp = tokio::net::TcpListener::bind("127.0.0.1:4040").await.map_err(|e| {
//!     profcol_http::Error::invalid("endpoint", e.to_string())
//! })?;
//! let tls = TlsListener::new(tcp, &cfg, "receivers::pyroscope::tls", stop.clone())?;
//! let _ = axum::serve(tls, app).await;
//! # Ok(()) }
//! ```

mod auth;
mod tls;

pub use auth::{require_auth, ServerAuth};
pub use tls::TlsListener;
