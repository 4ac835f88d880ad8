//! HTTP clients built from `profcol_config::HttpClientConfig`: the scrape
//! receiver and the Pyroscope exporter both get their TLS, proxy, HTTP/2,
//! redirect and authentication behaviour from here, so the seed's client
//! blocks mean the same thing everywhere.
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
mod client;
mod credential;
mod error;
mod no_proxy;
mod oauth2;
mod proxy;
mod reload;
mod tls;
mod verifier;

pub use client::{ClientOptions, HttpClient};
pub use error::Error;
pub use reqwest;
