//! N virtual Go targets, one HTTP/1.1 listener each on 127.0.0.1 with a
//! kernel-chosen port, answering net/http/pprof's five default endpoints
//! from the pre-generated variants, and recording every request's arrival.
//!
//! One port per target (rather than one port with many 127.x.y.z
//! addresses) keeps everything on 127.0.0.1 and gives each target its own
//! `instance` and its own connections in profcol's client, as real targets
//! do; the cost is one descriptor per listener, hence the raised NOFILE limit.

use crate::gen::{Corpus, Kind};
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// Arrival times in milliseconds since `Shared::start`, one list per
/// (target, kind).
pub struct Shared {
    pub start: Instant,
    pub arrivals: Vec<[Mutex<Vec<u32>>; 5]>,
    pub not_found: AtomicU64,
    pub served: AtomicU64,
    pub conn_errors: AtomicU64,
    pub first_request: Notify,
    first_seen: std::sync::atomic::AtomicBool,
    corpus: Corpus,
    max_seconds: u64,
}

impl Shared {
    pub fn new(n: usize, corpus: Corpus, max_seconds: u64) -> Arc<Shared> {
        Arc::new(Shared {
            start: Instant::now(),
            arrivals: (0..n).map(|_| Default::default()).collect(),
            not_found: AtomicU64::new(0),
            served: AtomicU64::new(0),
            conn_errors: AtomicU64::new(0),
            first_request: Notify::new(),
            first_seen: false.into(),
            corpus,
            max_seconds,
        })
    }

    /// Records an arrival and returns how many came before it.
    fn record(&self, target: usize, kind: Kind) -> usize {
        let ms = self.start.elapsed().as_millis().min(u32::MAX as u128) as u32;
        let Some(slot) = self.arrivals.get(target) else {
            return 0;
        };
        let mut v = match slot[kind.index()].lock() {
            Ok(v) => v,
            Err(p) => p.into_inner(),
        };
        let before = v.len();
        v.push(ms);
        drop(v);
        if !self.first_seen.swap(true, Ordering::Relaxed) {
            self.first_request.notify_one();
        }
        before
    }

    fn body(&self, target: usize, kind: Kind, nth: usize) -> Bytes {
        let vs = &self.corpus.variants[kind.index()];
        if vs.is_empty() {
            return Bytes::new();
        }
        let i = if kind.cumulative() {
            // In order, so every target's totals only grow.
            nth.min(vs.len() - 1)
        } else {
            (nth + target) % vs.len()
        };
        vs[i].clone()
    }
}

fn seconds_param(query: Option<&str>) -> Option<u64> {
    query?
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == "seconds")
        .and_then(|(_, v)| v.parse().ok())
}

async fn handle(
    shared: Arc<Shared>,
    target: usize,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let Some(kind) = Kind::from_path(req.uri().path()) else {
        shared.not_found.fetch_add(1, Ordering::Relaxed);
        let mut r = Response::new(Full::new(Bytes::from_static(b"404 page not found\n")));
        *r.status_mut() = StatusCode::NOT_FOUND;
        return Ok(r);
    };
    let nth = shared.record(target, kind);
    if kind == Kind::Cpu {
        // Like Go: the CPU profile is answered after `seconds` (default 30).
        let secs = seconds_param(req.uri().query())
            .unwrap_or(30)
            .min(shared.max_seconds);
        tokio::time::sleep(Duration::from_secs(secs)).await;
    }
    let body = shared.body(target, kind, nth);
    shared.served.fetch_add(1, Ordering::Relaxed);
    let mut r = Response::new(Full::new(body));
    let h = r.headers_mut();
    h.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/octet-stream"),
    );
    h.insert(
        http::header::CONTENT_DISPOSITION,
        http::HeaderValue::from_static("attachment; filename=\"profile\""),
    );
    h.insert(
        "X-Content-Type-Options",
        http::HeaderValue::from_static("nosniff"),
    );
    Ok(r)
}

/// Binds `n` listeners and serves them until the process ends; returns
/// their addresses in target order.
pub async fn start(shared: Arc<Shared>, n: usize) -> anyhow::Result<Vec<SocketAddr>> {
    let mut addrs = Vec::with_capacity(n);
    for target in 0..n {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        addrs.push(listener.local_addr()?);
        let shared = shared.clone();
        tokio::spawn(async move {
            loop {
                let (stream, _) = match listener.accept().await {
                    Ok(s) => s,
                    Err(_) => {
                        // Out of descriptors: count it and back off briefly.
                        shared.conn_errors.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let shared = shared.clone();
                tokio::spawn(async move {
                    let svc =
                        hyper::service::service_fn(move |req| handle(shared.clone(), target, req));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .keep_alive(true)
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
    }
    Ok(addrs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_is_read_from_the_query() {
        assert_eq!(seconds_param(Some("seconds=14")), Some(14));
        assert_eq!(seconds_param(Some("a=b&seconds=3")), Some(3));
        assert_eq!(seconds_param(Some("seconds=x")), None);
        assert_eq!(seconds_param(None), None);
    }
}
