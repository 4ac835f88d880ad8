//! N virtual Go targets behind ONE HTTP/1.1 listener, answering
//! net/http/pprof's five default endpoints from the pre-generated variants,
//! and recording every request's arrival.
//!
//! Target `i` is addressed as its own loopback address `127.a.b.c:PORT`
//! ([`target_ip`]; all of 127.0.0.0/8 is routed to `lo` on Linux) and is
//! told apart by the accepted socket's local address. Each target thus has
//! its own `instance` and its own connections in profcol's client, as real
//! targets do, while loadgen needs one descriptor per connection plus one
//! listener, not one listener per target: 10,000 targets fit in a
//! 20,000-descriptor limit. The listener is bound to 0.0.0.0 (the only way to
//! receive on every 127.x address with one socket); connections from
//! anything but a loopback address are closed at once.

use crate::gen::{Corpus, Kind};
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
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

/// The loopback address of target `i`: 127.1.0.1, 127.1.0.2, …, 127.1.0.250,
/// 127.1.1.1, … (last octet 1–250, up to 250 × 256 × 254 targets).
pub fn target_ip(i: usize) -> Ipv4Addr {
    let host = (i % 250) as u8 + 1;
    let third = ((i / 250) % 256) as u8;
    let second = (1 + i / (250 * 256)).min(254) as u8;
    Ipv4Addr::new(127, second, third, host)
}

/// The inverse of [`target_ip`]; `None` for addresses no target has.
pub fn target_index(ip: IpAddr, n: usize) -> Option<usize> {
    let IpAddr::V4(v4) = ip else { return None };
    let [a, second, third, host] = v4.octets();
    if a != 127 || second == 0 || !(1..=250).contains(&host) {
        return None;
    }
    let i =
        (usize::from(second) - 1) * 250 * 256 + usize::from(third) * 250 + usize::from(host) - 1;
    (i < n).then_some(i)
}

/// Binds one listener on 0.0.0.0:`port` (0 = any) and serves all `n`
/// targets on it until the process ends; returns their addresses in target
/// order.
pub async fn start(shared: Arc<Shared>, n: usize, port: u16) -> anyhow::Result<Vec<SocketAddr>> {
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::UNSPECIFIED, port)).await?;
    let port = listener.local_addr()?.port();
    let addrs = (0..n)
        .map(|i| SocketAddr::new(IpAddr::V4(target_ip(i)), port))
        .collect();
    tokio::spawn(async move {
        loop {
            let (stream, peer) = match listener.accept().await {
                Ok(s) => s,
                Err(_) => {
                    // Out of descriptors: count it and back off briefly.
                    shared.conn_errors.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            if !peer.ip().is_loopback() {
                continue; // dropped: closes the connection
            }
            let target = stream
                .local_addr()
                .ok()
                .and_then(|a| target_index(a.ip(), n));
            let Some(target) = target else {
                shared.conn_errors.fetch_add(1, Ordering::Relaxed);
                continue;
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

    #[test]
    fn target_addresses_round_trip_and_are_distinct() {
        let n = 250 * 256 * 2 + 17;
        let mut seen = std::collections::HashSet::new();
        for i in 0..n {
            let ip = target_ip(i);
            assert!(ip.is_loopback(), "{ip}");
            assert!(seen.insert(ip), "{ip} twice");
            assert_eq!(target_index(IpAddr::V4(ip), n), Some(i), "{ip}");
        }
        assert_eq!(target_ip(0), Ipv4Addr::new(127, 1, 0, 1));
        assert_eq!(target_ip(250), Ipv4Addr::new(127, 1, 1, 1));
        assert_eq!(
            target_index(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1)), n),
            None
        );
        assert_eq!(target_index(IpAddr::V4(target_ip(5)), 5), None);
    }

    #[tokio::test]
    async fn one_listener_tells_targets_apart_by_local_address() {
        let corpus = crate::gen::generate(
            1,
            crate::gen::Sizes {
                functions: 50,
                cpu: 5,
                allocs: 5,
                goroutine: 5,
                block: 5,
                mutex: 5,
            },
            1,
            2,
        );
        let shared = Shared::new(3, corpus, 0);
        let addrs = start(shared.clone(), 3, 0).await.unwrap();
        assert_eq!(addrs[0].port(), addrs[2].port());
        for (t, path) in [
            (2usize, "/debug/pprof/mutex"),
            (0, "/debug/pprof/allocs"),
            (2, "/debug/pprof/mutex"),
        ] {
            let mut s = tokio::net::TcpStream::connect(addrs[t]).await.unwrap();
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            s.write_all(
                format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
            )
            .await
            .unwrap();
            let mut buf = Vec::new();
            s.read_to_end(&mut buf).await.unwrap();
            assert!(
                buf.starts_with(b"HTTP/1.1 200"),
                "{}",
                String::from_utf8_lossy(&buf[..40.min(buf.len())])
            );
        }
        let count = |t: usize, k: Kind| shared.arrivals[t][k.index()].lock().unwrap().len();
        assert_eq!(count(2, Kind::Mutex), 2);
        assert_eq!(count(0, Kind::Allocs), 1);
        assert_eq!(
            count(1, Kind::Allocs) + count(1, Kind::Mutex) + count(0, Kind::Mutex),
            0
        );
    }
}
