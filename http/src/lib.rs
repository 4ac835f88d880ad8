//! HTTP clients built from `profcol_config::HttpClientConfig`: the scrape
//! receiver and the Pyroscope exporter both get their TLS, proxy, HTTP/2,
//! redirect and authentication behaviour from here, so the seed's client
//! blocks mean the same thing everywhere.
//!
//! How the settings behave (Go's `prometheus/common` client is the model):
//! - Auth: `bearer_token(_file)`, `authorization`, `basic_auth` or `oauth2`
//!   sets `Authorization` unless the request already has one. Credential
//!   files are re-read (and trimmed) on every request; empty credentials send
//!   no header. oauth2: see the `oauth2` module notes.
//! - TLS (rustls, ring): with `ca_pem`/`ca_file` only that CA is trusted (as
//!   in Go), otherwise the system store. `min_version` TLS12 (default) or
//!   TLS13. `server_name` sets the name the certificate must be valid for;
//!   the SNI sent stays the URL host (rustls/reqwest offer no SNI override).
//!   Files named by `tls_config` are re-checked on every request and the
//!   client is rebuilt when they change.
//! - `enable_http2`: ALPN offers `h2, http/1.1` (true) or only `http/1.1`.
//!   Plain `http://` is always HTTP/1.1 (no h2c).
//! - `follow_redirects`: up to 10, or none (the 3xx is returned).
//! - Proxies: `proxy_url` proxies every request; with `no_proxy`, Go's
//!   `httpproxy` rules apply (ports, CIDRs, subdomains, and loopback is
//!   never proxied). `proxy_from_environment` reads `HTTP_PROXY`,
//!   `HTTPS_PROXY`, `NO_PROXY` (or lowercase) when the client is built.
//!   `proxy_connect_header` goes on CONNECT only (as in Go), not on
//!   plain-http requests forwarded through the proxy; with a SOCKS proxy it
//!   is refused.
//!
//! ```no_run
//! # async fn run(cfg: profcol_config::HttpClientConfig) -> Result<(), Box<dyn std::error::Error>> {
//! use profcol_http::{reqwest, ClientOptions, HttpClient};
//! let client = HttpClient::new(&cfg, &ClientOptions { user_agent: "profcol/0.1.0".into() })?;
//! let url: reqwest::Url = "http://127.0.0.1:4040/debug/pprof/heap".parse()?;
//! let resp = client.send(client.request(reqwest::Method::GET, url)).await?;
//! println!("{}", resp.status());
//! # Ok(()) }
//! ```

mod auth;
mod ca_leaf;
mod client;
mod credential;
mod der_validity;
mod error;
mod file_mode;
mod no_proxy;
mod oauth2;
mod proxy;
mod reload;
pub mod server;
mod tls;
mod verifier;

pub use client::{ClientOptions, HttpClient, PoolOptions};
pub use error::Error;
pub use file_mode::warn_if_world_readable;
pub use reqwest;
pub use tls::rustls_client_config;
pub use verifier::insecure_verifier;
