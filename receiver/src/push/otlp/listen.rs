//! Serving one endpoint of the receiver: bind `host:port` (plain, or TLS
//! through `profcol_http`'s reloading listener), then one task per
//! connection with the connection settings the Collector's blocks
//! configure — HTTP/2 stream limits and keepalive pings, HTTP/1.1
//! keep-alive and header timeout, and connection lifetimes: closed after
//! `max_idle` without a request in flight, asked to close after `max_age`
//! (then given `age_grace` to finish). Closing is graceful: HTTP/2 gets a
//! GOAWAY and in-flight calls finish.
//!
//! (`crate::push::serve` serves through `axum::serve`, which sets none of
//! these; this is the same bind/TLS/stop behaviour with them.)

use super::config::Family;
use crate::Error;
use axum::serve::Listener;
use hyper::service::Service;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use profcol_config::server::ServerTlsConfig;
use profcol_config::{join_path, Problem};
use profcol_http::server::TlsListener;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How long in-flight requests may still run once the receiver stops.
pub const STOP_GRACE: Duration = Duration::from_secs(5);

/// Per-connection behaviour.
#[derive(Debug, Clone, Copy, Default)]
pub struct ConnectionSettings {
    /// Speak HTTP/2 only (gRPC).
    pub http2_only: bool,
    /// HTTP/2 `SETTINGS_MAX_CONCURRENT_STREAMS`; `None`: hyper's default.
    pub max_concurrent_streams: Option<u32>,
    /// HTTP/2 pings after this long without activity, and how long an
    /// answer may take before the connection is closed.
    pub ping: Option<(Duration, Duration)>,
    /// HTTP/1.1 keep-alive.
    pub http1_keep_alive: bool,
    /// The request head must arrive within this (HTTP/1.1).
    pub header_read_timeout: Option<Duration>,
    pub max_idle: Option<Duration>,
    pub max_age: Option<Duration>,
    pub age_grace: Option<Duration>,
}

/// Where and how an endpoint listens. `path` is the key path of its block,
/// named by errors and logs.
pub struct Endpoint<'a> {
    pub path: &'a str,
    pub endpoint: &'a str,
    pub family: Family,
    pub tls: Option<ServerTlsConfig>,
    pub settings: ConnectionSettings,
}

/// Binds at once (a port in use fails the start), then serves `app` in
/// tasks of `tracker` until `stop`; returns the bound address.
pub fn serve(
    ep: Endpoint<'_>,
    app: axum::Router,
    stop: CancellationToken,
    tracker: &TaskTracker,
) -> Result<SocketAddr, Error> {
    let listener = bind(&ep)?;
    let local = listener.local_addr().map_err(|e| {
        Error::InvalidConfig(vec![Problem::new(
            join_path(ep.path, "endpoint"),
            e.to_string(),
        )])
    })?;
    let settings = ep.settings;
    match &ep.tls {
        Some(tls) => {
            let key = join_path(ep.path, "tls");
            let listener = TlsListener::new(listener, tls, &key, stop.child_token())?;
            tracker.spawn(accept_loop(listener, app, settings, stop, tracker.clone()));
        }
        None => {
            tracker.spawn(accept_loop(listener, app, settings, stop, tracker.clone()));
        }
    }
    Ok(local)
}

/// The first address of `ep.endpoint` of the wanted family that binds; an
/// empty host is every interface.
fn bind(ep: &Endpoint<'_>) -> Result<tokio::net::TcpListener, Error> {
    let problem = |message: String| {
        Error::InvalidConfig(vec![Problem::new(join_path(ep.path, "endpoint"), message)])
    };
    let endpoint = match ep.endpoint.strip_prefix(':') {
        Some(port) if ep.family == Family::V6 => format!("[::]:{port}"),
        Some(port) => format!("0.0.0.0:{port}"),
        None => ep.endpoint.to_string(),
    };
    let mut addrs: Vec<SocketAddr> = endpoint
        .to_socket_addrs()
        .map_err(|e| problem(format!("cannot resolve {}: {e}", ep.endpoint)))?
        .filter(|a| match ep.family {
            Family::Any => true,
            Family::V4 => a.is_ipv4(),
            Family::V6 => a.is_ipv6(),
        })
        .collect();
    // IPv4 first, as Go's listener picks for a name (`localhost`), so that
    // clients dialling 127.0.0.1 reach a receiver at `localhost:4317`.
    addrs.sort_by_key(|a| a.is_ipv6());
    let mut last = format!("{} has no address of the transport's family", ep.endpoint);
    for addr in addrs {
        match std::net::TcpListener::bind(addr) {
            Ok(l) => {
                l.set_nonblocking(true)
                    .map_err(|e| problem(e.to_string()))?;
                return tokio::net::TcpListener::from_std(l).map_err(|e| problem(e.to_string()));
            }
            Err(e) => last = format!("cannot listen on {addr}: {e}"),
        }
    }
    Err(problem(last))
}

async fn accept_loop<L: Listener>(
    mut listener: L,
    app: axum::Router,
    settings: ConnectionSettings,
    stop: CancellationToken,
    tracker: TaskTracker,
) where
    L::Addr: std::fmt::Debug,
{
    loop {
        let (io, peer) = tokio::select! {
            _ = stop.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        tracker.spawn(connection(
            io,
            format!("{peer:?}"),
            app.clone(),
            settings,
            stop.clone(),
        ));
    }
}

/// When a connection last had no request in flight.
struct Activity {
    in_flight: AtomicUsize,
    idle_since: Mutex<Instant>,
}

impl Activity {
    fn begin(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        InFlight(self.clone())
    }

    /// `None` while busy, else how long it has been idle.
    fn idle_for(&self) -> Option<Duration> {
        if self.in_flight.load(Ordering::SeqCst) > 0 {
            return None;
        }
        let since = *self
            .idle_since
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        Some(since.elapsed())
    }
}

/// One request in flight; its end restarts the idle clock.
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        *self
            .0
            .idle_since
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Instant::now();
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

fn builder(settings: &ConnectionSettings) -> auto::Builder<TokioExecutor> {
    let mut b = auto::Builder::new(TokioExecutor::new());
    b.http1()
        .timer(TokioTimer::new())
        .keep_alive(settings.http1_keep_alive)
        .header_read_timeout(settings.header_read_timeout);
    {
        let mut h2 = b.http2();
        h2.timer(TokioTimer::new());
        if let Some(n) = settings.max_concurrent_streams {
            h2.max_concurrent_streams(n);
        }
        if let Some((interval, timeout)) = settings.ping {
            h2.keep_alive_interval(interval).keep_alive_timeout(timeout);
        }
    }
    if settings.http2_only {
        b = b.http2_only();
    }
    b
}

/// ±10% around `age`, from the peer, so that connections opened together
/// do not all close together (grpc-go jitters `max_connection_age` alike).
fn jittered(age: Duration, peer: &str) -> Duration {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let seed = xxhash_rust::xxh3::xxh3_64(peer.as_bytes()) ^ u64::from(now);
    let permille = (seed % 201) as i64 - 100; // -100..=100
    let nanos = age.as_nanos() as i128;
    let delta = nanos * i128::from(permille) / 1000;
    Duration::from_nanos(u64::try_from((nanos + delta).max(0)).unwrap_or(u64::MAX))
}

async fn connection<I>(
    io: I,
    peer: String,
    app: axum::Router,
    settings: ConnectionSettings,
    stop: CancellationToken,
) where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let activity = Arc::new(Activity {
        in_flight: AtomicUsize::new(0),
        idle_since: Mutex::new(Instant::now()),
    });
    let inner = TowerToHyperService::new(app);
    let tracked = activity.clone();
    let svc = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
        let guard = tracked.begin();
        let call = inner.call(req);
        async move {
            let response = call.await;
            drop(guard);
            response
        }
    });
    let b = builder(&settings);
    let conn = b.serve_connection(TokioIo::new(io), svc);
    tokio::pin!(conn);

    let far = Duration::from_secs(100 * 365 * 24 * 3600);
    let age_at = Instant::now() + settings.max_age.map_or(far, |a| jittered(a, &peer));
    // Once closing: the connection is dropped at this instant.
    let mut drop_at: Option<Instant> = None;
    let mut closing = false;
    let mut stopping = false;
    loop {
        let idle_check = async {
            match settings.max_idle {
                Some(max) => loop {
                    match activity.idle_for() {
                        Some(idle) if idle >= max => return,
                        Some(idle) => tokio::time::sleep(max - idle).await,
                        None => tokio::time::sleep(max).await,
                    }
                },
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            done = conn.as_mut() => {
                if let Err(e) = done {
                    tracing::debug!(peer = %peer, error = %e, "Connection ended with an error.");
                }
                return;
            }
            _ = stop.cancelled(), if !stopping => {
                if !closing {
                    conn.as_mut().graceful_shutdown();
                    closing = true;
                }
                stopping = true;
                let limit = Instant::now() + STOP_GRACE;
                drop_at = Some(drop_at.map_or(limit, |d| d.min(limit)));
            }
            _ = tokio::time::sleep_until(age_at), if !closing && settings.max_age.is_some() => {
                tracing::debug!(peer = %peer, "Connection reached max_connection_age; closing it.");
                conn.as_mut().graceful_shutdown();
                closing = true;
                drop_at = settings.age_grace.map(|g| Instant::now() + g);
            }
            _ = idle_check, if !closing => {
                tracing::debug!(peer = %peer, "Connection idle; closing it.");
                conn.as_mut().graceful_shutdown();
                closing = true;
                drop_at = Some(Instant::now() + STOP_GRACE);
            }
            _ = tokio::time::sleep_until(drop_at.unwrap_or(age_at)), if drop_at.is_some() => {
                tracing::debug!(peer = %peer, "Connection still busy after its grace period; closing it.");
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn jitter_stays_within_ten_percent() {
        for i in 0..200 {
            let j = jittered(Duration::from_secs(100), &format!("127.0.0.1:{i}"));
            assert!(
                j >= Duration::from_secs(90) && j <= Duration::from_secs(110),
                "{j:?}"
            );
        }
    }

    #[tokio::test]
    async fn a_port_in_use_names_the_endpoint() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = taken.local_addr().unwrap().to_string();
        let err = bind(&Endpoint {
            path: "receivers::otlp::protocols::http",
            endpoint: &endpoint,
            family: Family::Any,
            tls: None,
            settings: ConnectionSettings::default(),
        })
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("receivers::otlp::protocols::http::endpoint: cannot listen on"),
            "{err}"
        );
        let err = bind(&Endpoint {
            path: "p",
            endpoint: "127.0.0.1:0",
            family: Family::V6,
            tls: None,
            settings: ConnectionSettings::default(),
        })
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("no address of the transport's family"),
            "{err}"
        );
    }
}
