//! The connection to a Docker daemon, for bollard.
//!
//! bollard builds every request and decodes every answer; the bytes travel
//! over a transport of profcol's own ([`DockerClient`]), which:
//! - connects to a Unix socket (`unix://`), plain TCP (`tcp://`, `http://`)
//!   or TLS (`https://`, or `tcp://` with `tls_config`) with rustls on ring
//!   and the `tls_config` block — no aws-lc, no second TLS stack;
//! - opens one connection per request (nothing idle between refreshes);
//! - **bounds what is read**: bollard collects an answer whole before
//!   decoding it and sets no limit of its own, so the connection itself
//!   stops reading past `max_response_size` bytes and the refresh fails
//!   with an error that names the key.
//!
//! Each refresh starts with [`DockerClient::session`]: `GET /_ping`, whose
//! `API-Version` header gives the daemon's API version; requests then use
//! the lower of it and the version bollard's models are written for (as
//! Docker's own client negotiates).

use bollard::{BollardRequest, ClientVersion, Docker};
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use profcol_config::HttpClientConfig;
use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_rustls::rustls;

/// The API version asked for when the daemon names none in `/_ping`
/// (Docker's own client does the same).
const FALLBACK_API_VERSION: (usize, usize) = (1, 24);
/// The `Host` header sent over a Unix socket.
const UNIX_HOST_HEADER: &str = "docker";

/// Where the daemon listens.
#[derive(Clone)]
enum Endpoint {
    Unix(PathBuf),
    Tcp {
        /// `host:port` to connect to and to send as `Host`.
        authority: String,
        tls: Option<(
            Arc<rustls::ClientConfig>,
            rustls::pki_types::ServerName<'static>,
        )>,
    },
}

/// A daemon to ask; cheap to clone.
#[derive(Clone)]
pub struct DockerClient {
    endpoint: Arc<Endpoint>,
    max_response_size: usize,
    timeout: std::time::Duration,
    user_agent: String,
    /// What errors show as the daemon's address.
    shown: String,
}

impl std::fmt::Debug for DockerClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DockerClient")
            .field("host", &self.shown)
            .finish_non_exhaustive()
    }
}

impl DockerClient {
    /// A client for a validated `host`; TLS files named by `tls_config` are
    /// read now. `timeout` bounds each request; `path` (the block's key
    /// path) prefixes errors.
    pub fn new(
        host: &str,
        http: &HttpClientConfig,
        max_response_size: usize,
        timeout: std::time::Duration,
        user_agent: &str,
        path: &str,
    ) -> Result<Self, crate::Error> {
        let bad = |m: String| {
            crate::Error::Client(profcol_http::Error::InvalidConfig {
                field: profcol_config::join_path(path, "host"),
                message: m,
            })
        };
        let tls_path = profcol_config::join_path(path, "tls_config");
        let url = url::Url::parse(host.trim()).map_err(|e| bad(format!("invalid host: {e}")))?;
        let endpoint = match url.scheme() {
            "unix" => Endpoint::Unix(PathBuf::from(url.path())),
            scheme @ ("tcp" | "http" | "https") => {
                let name = url.host_str().unwrap_or_default().to_string();
                let port = url.port().unwrap_or(match scheme {
                    "https" => 443,
                    "tcp" => 2375,
                    _ => 80,
                });
                let authority = super::join_host_port(name.trim_matches(['[', ']']), port);
                let tls = if scheme == "https" || (scheme == "tcp" && http.tls_config.is_some()) {
                    let block = http.tls_config.clone().unwrap_or_default();
                    let mut cfg = profcol_http::rustls_client_config(&block, &tls_path, false)?;
                    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
                    let server = rustls::pki_types::ServerName::try_from(
                        name.trim_matches(['[', ']']).to_string(),
                    )
                    .map_err(|e| bad(format!("invalid host name {name:?}: {e}")))?;
                    Some((Arc::new(cfg), server))
                } else {
                    None
                };
                Endpoint::Tcp { authority, tls }
            }
            other => return Err(bad(format!("unsupported scheme {other:?}"))),
        };
        Ok(Self {
            endpoint: Arc::new(endpoint),
            max_response_size,
            timeout,
            user_agent: user_agent.to_string(),
            shown: host.trim().to_string(),
        })
    }

    /// Pings the daemon, settles the API version and returns a bollard
    /// client for one refresh.
    pub async fn session(&self) -> Result<Session, String> {
        let over = Arc::new(AtomicBool::new(false));
        let version = self.negotiate(&over).await?;
        let transport = Transport {
            client: self.clone(),
            over: over.clone(),
            version: Some(version),
        };
        let docker = Docker::connect_with_custom_transport(
            move |req: BollardRequest| {
                let t = transport.clone();
                async move { t.send(req).await.map_err(bollard::errors::Error::from) }
            },
            Some("http://docker"),
            self.timeout.as_secs().max(1),
            &ClientVersion {
                major_version: version.0,
                minor_version: version.1,
            },
        )
        .map_err(|e| error_chain(&e))?;
        Ok(Session {
            docker,
            version,
            over,
            client: self.clone(),
        })
    }

    async fn negotiate(&self, over: &Arc<AtomicBool>) -> Result<(usize, usize), String> {
        let t = Transport {
            client: self.clone(),
            over: over.clone(),
            version: None,
        };
        let req = http::Request::get("/_ping")
            .body(http_body_util::Full::new(Bytes::new()))
            .map_err(|e| e.to_string())?;
        let resp = tokio::time::timeout(self.timeout, t.send(req))
            .await
            .map_err(|_| "no answer to /_ping in time".to_string())?
            .map_err(|e| {
                format!(
                    "cannot reach the Docker daemon at {}: {}",
                    self.shown,
                    error_chain(&e)
                )
            })?;
        let status = resp.status();
        let header = resp
            .headers()
            .get("api-version")
            .and_then(|v| v.to_str().ok())
            .and_then(parse_version);
        let ours = (
            bollard::API_DEFAULT_VERSION.major_version,
            bollard::API_DEFAULT_VERSION.minor_version,
        );
        match header {
            Some(theirs) => Ok(theirs.min(ours)),
            None if status.is_success() => Ok(FALLBACK_API_VERSION),
            None => Err(format!(
                "the Docker daemon answered /_ping with HTTP status {status}"
            )),
        }
    }
}

/// The clients of a receiver's `docker_sd_configs` and
/// `dockerswarm_sd_configs` entries, in order.
#[derive(Debug, Default)]
pub struct DockerClients {
    pub docker: Vec<DockerClient>,
    pub swarm: Vec<DockerClient>,
}

/// Builds a client per Docker discovery entry of a validated config;
/// `path` is the receiver's key path (errors name the entry's keys).
pub fn for_config(cfg: &crate::ScrapeConfig, path: &str) -> Result<DockerClients, crate::Error> {
    let user_agent = crate::user_agent().user_agent;
    let entry = |key: &str, i: usize| {
        profcol_config::join_path(&profcol_config::join_path(path, key), &i.to_string())
    };
    let mut out = DockerClients::default();
    for (i, sd) in cfg.docker_sd_configs.iter().enumerate() {
        out.docker.push(DockerClient::new(
            sd.host.as_deref().unwrap_or_default(),
            &sd.http,
            sd.max_response_size.0,
            sd.refresh_interval.get(),
            &user_agent,
            &entry("docker_sd_configs", i),
        )?);
    }
    for (i, sd) in cfg.dockerswarm_sd_configs.iter().enumerate() {
        out.swarm.push(DockerClient::new(
            sd.host.as_deref().unwrap_or_default(),
            &sd.http,
            sd.max_response_size.0,
            sd.refresh_interval.get(),
            &user_agent,
            &entry("dockerswarm_sd_configs", i),
        )?);
    }
    Ok(out)
}

/// Whether a path starts with an API version (`/v1.47/…`).
fn is_versioned(path: &str) -> bool {
    path.strip_prefix("/v")
        .and_then(|r| r.split_once('/'))
        .is_some_and(|(v, _)| parse_version(v).is_some())
}

/// `1.47` → `(1, 47)`.
fn parse_version(s: &str) -> Option<(usize, usize)> {
    let (major, minor) = s.trim().split_once('.')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}

/// A bollard client for one refresh, and how to describe its failures.
pub struct Session {
    pub docker: Docker,
    /// The API version in use, `(major, minor)`.
    pub version: (usize, usize),
    over: Arc<AtomicBool>,
    client: DockerClient,
}

impl Session {
    /// An error message for a failed call `what` (`listing containers`):
    /// names `max_response_size` when the answer was cut off there.
    pub fn describe(&self, what: &str, e: &bollard::errors::Error) -> String {
        if self.over.load(Ordering::Acquire) {
            format!(
                "{what}: the daemon's answer is larger than max_response_size ({} bytes)",
                self.client.max_response_size
            )
        } else {
            format!("{what}: {}", error_chain(e))
        }
    }

    /// GETs `path_and_query` under the negotiated version prefix and returns
    /// the body of a 2xx answer (for the calls whose bollard model lacks a
    /// field discovery needs).
    pub async fn get_raw(&self, what: &str, path_and_query: &str) -> Result<Bytes, String> {
        let t = Transport {
            client: self.client.clone(),
            over: self.over.clone(),
            version: Some(self.version),
        };
        let uri = path_and_query.to_string();
        let req = http::Request::get(uri)
            .body(http_body_util::Full::new(Bytes::new()))
            .map_err(|e| format!("{what}: {e}"))?;
        let fail = |e: &dyn std::error::Error| {
            if self.over.load(Ordering::Acquire) {
                format!(
                    "{what}: the daemon's answer is larger than max_response_size ({} bytes)",
                    self.client.max_response_size
                )
            } else {
                format!("{what}: {}", error_chain(e))
            }
        };
        let work = async {
            let resp = t.send(req).await.map_err(|e| fail(&e))?;
            let status = resp.status();
            let body = resp
                .into_body()
                .collect()
                .await
                .map_err(|e| fail(&e))?
                .to_bytes();
            if !status.is_success() {
                let text = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
                return Err(format!(
                    "{what}: Docker responded with status code {}: {}",
                    status.as_u16(),
                    text.trim()
                ));
            }
            Ok(body)
        };
        tokio::time::timeout(self.client.timeout, work)
            .await
            .map_err(|_| format!("{what}: no answer in time"))?
    }
}

/// The message of an error and of every error under it, joined by `: `.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut next = e.source();
    while let Some(s) = next {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        next = s.source();
    }
    out
}

/// Sends one request over a new connection.
#[derive(Clone)]
struct Transport {
    client: DockerClient,
    /// Set when an answer ran past `max_response_size`.
    over: Arc<AtomicBool>,
    /// The API version put in front of every path (bollard 0.21 sends
    /// unversioned paths, which a daemon serves at its own latest version).
    version: Option<(usize, usize)>,
}

impl Transport {
    async fn send<B>(&self, req: http::Request<B>) -> io::Result<http::Response<Incoming>>
    where
        B: hyper::body::Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let (stream, host) = self.connect().await?;
        let capped = Capped {
            inner: stream,
            left: self.client.max_response_size,
            over: self.over.clone(),
        };
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(capped))
            .await
            .map_err(io::Error::other)?;
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "Docker API connection ended with an error.");
            }
        });
        let (mut parts, body) = req.into_parts();
        // The daemon gets origin-form (`/v1.47/containers/json?…`).
        let mut origin = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_else(|| "/".to_string());
        if let Some((major, minor)) = self.version {
            if !is_versioned(&origin) {
                origin = format!("/v{major}.{minor}{origin}");
            }
        }
        parts.uri = origin
            .parse()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let host_value = http::HeaderValue::from_str(&host)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        parts.headers.insert(http::header::HOST, host_value);
        if let Ok(ua) = http::HeaderValue::from_str(&self.client.user_agent) {
            parts.headers.insert(http::header::USER_AGENT, ua);
        }
        sender
            .send_request(http::Request::from_parts(parts, body))
            .await
            .map_err(io::Error::other)
    }

    async fn connect(&self) -> io::Result<(Box<dyn Stream>, String)> {
        match &*self.client.endpoint {
            Endpoint::Unix(path) => {
                let s = tokio::net::UnixStream::connect(path)
                    .await
                    .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
                Ok((Box::new(s), UNIX_HOST_HEADER.to_string()))
            }
            Endpoint::Tcp { authority, tls } => {
                let tcp = tokio::net::TcpStream::connect(authority.as_str())
                    .await
                    .map_err(|e| io::Error::new(e.kind(), format!("{authority}: {e}")))?;
                let _ = tcp.set_nodelay(true);
                match tls {
                    None => Ok((Box::new(tcp), authority.clone())),
                    Some((cfg, name)) => {
                        let s = tokio_rustls::TlsConnector::from(cfg.clone())
                            .connect(name.clone(), tcp)
                            .await?;
                        Ok((Box::new(s), authority.clone()))
                    }
                }
            }
        }
    }
}

/// A byte stream to the daemon.
trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// A stream that fails once more than `left` bytes were read from it.
struct Capped {
    inner: Box<dyn Stream>,
    left: usize,
    over: Arc<AtomicBool>,
}

impl AsyncRead for Capped {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                let n = buf.filled().len() - before;
                if n > this.left {
                    this.left = 0;
                    this.over.store(true, Ordering::Release);
                    return Poll::Ready(Err(io::Error::other(
                        "the answer is larger than max_response_size",
                    )));
                }
                this.left -= n;
                Poll::Ready(Ok(()))
            }
            other => other,
        }
    }
}

impl AsyncWrite for Capped {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse() {
        assert_eq!(parse_version("1.47"), Some((1, 47)));
        assert_eq!(parse_version(" 1.24 "), Some((1, 24)));
        assert_eq!(parse_version("x"), None);
        assert_eq!(parse_version("1.x"), None);
        assert!(is_versioned("/v1.47/containers/json"));
        assert!(!is_versioned("/containers/json"));
        assert!(!is_versioned("/volumes"));
    }
}
