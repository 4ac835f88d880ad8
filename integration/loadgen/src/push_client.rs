//! The sending side of push mode: one connection per worker (HTTP/1.1 kept
//! alive for `otlp-http`, `ingest` and `connect`; HTTP/2 for `otlp-grpc`),
//! opened again after a transport error, and the answer of each request
//! classified as accepted, refused (with its status) or failed.
//!
//! Nothing from the network is trusted: a missing or unparsable status, a
//! body that cannot be read or a timeout is an outcome, never a panic.

use crate::push_body::{Mode, Prepared, BOUNDARY, FROM, UNTIL};
use bytes::Bytes;
use http::{HeaderValue, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::net::SocketAddr;
use std::time::Duration;

/// Where requests go: the resolved address, the `Host`/`:authority`, and the path.
#[derive(Clone, Debug)]
pub struct Endpoint {
    pub addr: SocketAddr,
    pub authority: String,
    pub path: String,
}

impl Endpoint {
    /// Parses `http://host:port[/path]`; the mode's path is used when the
    /// URL has none. Only plain `http` is supported.
    pub async fn parse(url: &str, mode: Mode) -> anyhow::Result<Endpoint> {
        let uri: http::Uri = url.parse()?;
        anyhow::ensure!(
            uri.scheme_str().unwrap_or("http") == "http",
            "only http:// push URLs are supported: {url}"
        );
        let authority = uri
            .authority()
            .ok_or_else(|| anyhow::anyhow!("no host:port in {url}"))?
            .to_string();
        let port = uri.port_u16().unwrap_or(80);
        let host = uri.host().unwrap_or("127.0.0.1");
        let addr = tokio::net::lookup_host((host, port))
            .await?
            .next()
            .ok_or_else(|| anyhow::anyhow!("{host} does not resolve"))?;
        let path = match uri.path() {
            "" | "/" => mode.default_path().to_string(),
            p => p.to_string(),
        };
        Ok(Endpoint {
            addr,
            authority,
            path,
        })
    }
}

/// How one request ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// 2xx (HTTP) or `grpc-status: 0`.
    Accepted,
    /// An answer that refuses: `http 503`, `grpc 8`, …
    Refused(String),
    /// No usable answer: connection, protocol or timeout error.
    Failed(String),
}

enum Conn {
    H1(http1::SendRequest<Full<Bytes>>),
    H2(http2::SendRequest<Full<Bytes>>),
}

/// One worker's connection, opened lazily and again after a failure.
pub struct Client {
    mode: Mode,
    endpoint: Endpoint,
    conn: Option<Conn>,
    /// Connections opened so far.
    pub connects: u64,
}

impl Client {
    pub fn new(mode: Mode, endpoint: Endpoint) -> Client {
        Client {
            mode,
            endpoint,
            conn: None,
            connects: 0,
        }
    }

    async fn connect(&mut self) -> anyhow::Result<()> {
        let stream = tokio::net::TcpStream::connect(self.endpoint.addr).await?;
        stream.set_nodelay(true)?;
        let io = TokioIo::new(stream);
        self.connects += 1;
        if self.mode == Mode::OtlpGrpc {
            let (send, conn) = http2::handshake(TokioExecutor::new(), io).await?;
            tokio::spawn(async move {
                let _ = conn.await;
            });
            self.conn = Some(Conn::H2(send));
        } else {
            let (send, conn) = http1::handshake(io).await?;
            tokio::spawn(async move {
                let _ = conn.await;
            });
            self.conn = Some(Conn::H1(send));
        }
        Ok(())
    }

    fn request(&self, p: &Prepared, unix_now: u64) -> anyhow::Result<Request<Full<Bytes>>> {
        let e = &self.endpoint;
        let b = Request::post(match self.mode {
            // HTTP/2 needs the scheme and authority for its pseudo-headers.
            Mode::OtlpGrpc => format!("http://{}{}", e.authority, e.path),
            Mode::Ingest => {
                // pyroscope-go (multipart) counts in nanoseconds, Node (raw) in seconds.
                let (from, until) = if p.body.starts_with(b"--") {
                    let ns = u128::from(unix_now) * 1_000_000_000;
                    (
                        ns.saturating_sub(15_000_000_000).to_string(),
                        ns.to_string(),
                    )
                } else {
                    (
                        unix_now.saturating_sub(15).to_string(),
                        unix_now.to_string(),
                    )
                };
                let q = p.query.replace(FROM, &from).replace(UNTIL, &until);
                format!("{}?{q}", e.path)
            }
            _ => e.path.clone(),
        });
        let b = match self.mode {
            Mode::OtlpGrpc => b
                .header("content-type", "application/grpc")
                .header("te", "trailers")
                .header("grpc-accept-encoding", "gzip"),
            Mode::OtlpHttp => b
                .header("host", &e.authority)
                .header("content-type", "application/x-protobuf"),
            Mode::Ingest => b
                .header("host", &e.authority)
                .header("accept-encoding", "gzip"),
            Mode::Connect => b
                .header("host", &e.authority)
                .header("content-type", "application/proto")
                .header("connect-protocol-version", "1"),
        };
        let b = b.header(
            "user-agent",
            if self.mode == Mode::Ingest {
                "Go-http-client/1.1"
            } else {
                "profcol-loadgen"
            },
        );
        let (b, body) = match self.mode {
            Mode::OtlpGrpc => {
                let compressed = p.gzipped;
                let mut framed = Vec::with_capacity(5 + p.body.len());
                framed.push(u8::from(compressed));
                let len = u32::try_from(p.body.len())?;
                framed.extend_from_slice(&len.to_be_bytes());
                framed.extend_from_slice(&p.body);
                let b = if compressed {
                    b.header("grpc-encoding", "gzip")
                } else {
                    b
                };
                (b, Bytes::from(framed))
            }
            Mode::OtlpHttp if p.gzipped => (b.header("content-encoding", "gzip"), p.body.clone()),
            Mode::Ingest if p.body.starts_with(b"--") => (
                b.header(
                    "content-type",
                    HeaderValue::from_str(&format!("multipart/form-data; boundary={BOUNDARY}"))?,
                ),
                p.body.clone(),
            ),
            Mode::Ingest => (
                b.header("content-type", "application/octet-stream"),
                p.body.clone(),
            ),
            _ => (b, p.body.clone()),
        };
        Ok(b.body(Full::new(body))?)
    }

    /// Sends `p` and waits for the whole answer, at most `timeout`.
    pub async fn send(&mut self, p: &Prepared, unix_now: u64, timeout: Duration) -> Outcome {
        let req = match self.request(p, unix_now) {
            Ok(r) => r,
            Err(e) => return Outcome::Failed(format!("request: {e}")),
        };
        match tokio::time::timeout(timeout, self.round_trip(req)).await {
            Ok(Ok(o)) => o,
            Ok(Err(e)) => {
                self.conn = None;
                Outcome::Failed(short(&e))
            }
            Err(_) => {
                // The answer may still come on this connection: drop it.
                self.conn = None;
                Outcome::Failed("timeout".into())
            }
        }
    }

    async fn round_trip(&mut self, req: Request<Full<Bytes>>) -> anyhow::Result<Outcome> {
        if self.conn.is_none() {
            self.connect().await?;
        }
        let resp = match self.conn.as_mut() {
            Some(Conn::H1(s)) => {
                s.ready().await?;
                s.send_request(req).await?
            }
            Some(Conn::H2(s)) => {
                s.ready().await?;
                s.send_request(req).await?
            }
            None => anyhow::bail!("not connected"),
        };
        let (parts, body) = resp.into_parts();
        let collected = body.collect().await?;
        if self.mode != Mode::OtlpGrpc {
            if parts
                .headers
                .get("connection")
                .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"close"))
            {
                self.conn = None;
            }
            return Ok(if parts.status.is_success() {
                Outcome::Accepted
            } else {
                Outcome::Refused(format!("http {}", parts.status.as_u16()))
            });
        }
        if parts.status != StatusCode::OK {
            return Ok(Outcome::Refused(format!("http {}", parts.status.as_u16())));
        }
        // Trailers-only answers carry the status in the headers.
        let status = parts
            .headers
            .get("grpc-status")
            .or_else(|| collected.trailers().and_then(|t| t.get("grpc-status")))
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        Ok(match status.as_deref() {
            Some("0") => Outcome::Accepted,
            Some(code) => Outcome::Refused(format!("grpc {code}")),
            None => Outcome::Failed("no grpc-status".into()),
        })
    }
}

/// An error's first line, without addresses that vary per connection, so
/// that reasons can be counted.
fn short(e: &anyhow::Error) -> String {
    let s = e.to_string();
    let s = s.lines().next().unwrap_or("").to_string();
    if s.len() > 80 {
        s.chars().take(80).collect()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test]
    async fn endpoint_takes_the_mode_path_when_the_url_has_none() {
        let e = Endpoint::parse("http://127.0.0.1:4040", Mode::Connect)
            .await
            .unwrap();
        assert_eq!(e.path, "/push.v1.PusherService/Push");
        assert_eq!(e.authority, "127.0.0.1:4040");
        let e = Endpoint::parse(
            "http://127.0.0.1:4318/v1development/profiles/",
            Mode::OtlpHttp,
        )
        .await
        .unwrap();
        assert_eq!(e.path, "/v1development/profiles/");
        assert!(Endpoint::parse("https://127.0.0.1:1", Mode::Ingest)
            .await
            .is_err());
    }

    #[tokio::test]
    async fn answers_are_classified() {
        // A server answering 200, then 503, then closing without an answer.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = vec![0u8; 65536];
            for answer in [
                "HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n",
                "HTTP/1.1 503 Service Unavailable\r\ncontent-length: 2\r\n\r\nno",
            ] {
                let mut got = Vec::new();
                while !got.ends_with(b"tail") {
                    let n = s.read(&mut buf).await.unwrap();
                    assert!(n > 0);
                    got.extend_from_slice(&buf[..n]);
                }
                s.write_all(answer.as_bytes()).await.unwrap();
            }
            drop(s);
        });
        let e = Endpoint::parse(&format!("http://{addr}"), Mode::Connect)
            .await
            .unwrap();
        let mut c = Client::new(Mode::Connect, e);
        let p = Prepared {
            body: Bytes::from_static(b"body tail"),
            query: String::new(),
            profiles: 1,
            raw_bytes: 9,
            gzipped: false,
        };
        let t = Duration::from_secs(5);
        assert_eq!(c.send(&p, 0, t).await, Outcome::Accepted);
        assert_eq!(c.send(&p, 0, t).await, Outcome::Refused("http 503".into()));
        assert!(matches!(c.send(&p, 0, t).await, Outcome::Failed(_)));
        assert_eq!(c.connects, 1);
    }
}
