//! Push mode (`--push MODE --push-url URL`): instead of serving virtual
//! targets for profcol to scrape, loadgen pushes the same generated
//! profiles to one of profcol's push receivers at a fixed rate, with
//! bounded concurrency, and measures what comes out of profcol's OTLP
//! exporter at the counting sink.
//!
//! Requests are scheduled open-loop: request `r` is due at
//! `start + r · per_request / rate`, whatever happened to earlier ones. A
//! due request goes to the first free worker of `--concurrency`; when all
//! are busy and `--concurrency` more are already waiting, it is counted as
//! `not_sent` (the client could not offer it) instead of piling up. Each
//! worker keeps one connection ([`push_client`](crate::push_client)).
//!
//! The window is counted from the first request: `--warmup` seconds, then
//! `--window` seconds measured. Requests count in the window by their
//! scheduled time (offered, not sent) or by the time their answer arrived
//! (accepted, refused, failed, latency); the sink's totals and profcol's
//! CPU are read at the window's edges, as in scrape mode.

use crate::gen::{Corpus, Kind};
use crate::push_body::{build_pool, Compression, IngestBody, Mode, PoolSpec, Prepared};
use crate::push_client::{Client, Endpoint, Outcome};
use crate::{procstat, sink};
use serde_json::json;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The push-mode flags.
#[derive(clap::Args, Debug)]
pub struct PushArgs {
    /// Push to a receiver instead of serving targets: otlp-grpc, otlp-http,
    /// ingest or connect.
    #[arg(long, value_enum)]
    pub push: Option<Mode>,
    /// The receiver's URL, `http://host:port` (the mode's path is added
    /// when the URL has none).
    #[arg(long)]
    pub push_url: Option<String>,
    /// Profiles per second offered.
    #[arg(long, default_value_t = 100.0)]
    pub rate: f64,
    /// Requests in flight at most (one connection each).
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
    /// Profiles per request (OTLP: in one ExportProfilesServiceRequest;
    /// connect: series of one PushRequest; ingest: always 1).
    #[arg(long, default_value_t = 1)]
    pub per_request: usize,
    /// Distinct virtual services (`service_name` svc-00000, …) the pushed
    /// profiles belong to.
    #[arg(long, default_value_t = 20)]
    pub push_services: usize,
    /// Compression of OTLP request bodies.
    #[arg(long, value_enum, default_value_t = Compression::Gzip)]
    pub push_compression: Compression,
    /// How an /ingest body carries the profile.
    #[arg(long, value_enum, default_value_t = IngestBody::Multipart)]
    pub ingest_body: IngestBody,
    /// Seconds before an unanswered request counts as failed.
    #[arg(long, default_value_t = 10)]
    pub request_timeout: u64,
}

/// The scrape-mode settings push mode shares.
pub struct Common<'a> {
    pub kinds: &'a [Kind],
    pub variants: usize,
    pub warmup: u64,
    pub window: u64,
    pub out_dir: &'a std::path::Path,
    pub sink_port: u16,
    pub watch_pid_file: &'a Option<PathBuf>,
    pub metrics_addr: &'a Option<String>,
    pub wait_timeout: u64,
}

/// How one scheduled request ended, on the run's clock.
#[derive(Clone, Debug)]
struct Event {
    sched_ms: u32,
    done_ms: u32,
    /// From the send to the whole answer.
    latency_us: u32,
    /// From the scheduled time to the send (waiting for a free worker).
    delay_us: u32,
    profiles: u32,
    /// `None`: not sent, all workers busy.
    outcome: Option<Outcome>,
}

struct Job {
    index: usize,
    due: Instant,
}

fn ms_since(start: Instant, t: Instant) -> u32 {
    t.saturating_duration_since(start)
        .as_millis()
        .min(u128::from(u32::MAX)) as u32
}

fn us(d: Duration) -> u32 {
    d.as_micros().min(u128::from(u32::MAX)) as u32
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Runs a push measurement and returns its report.
pub async fn run(
    p: &PushArgs,
    mode: Mode,
    c: Common<'_>,
    corpus: Corpus,
    sizes_json: serde_json::Value,
) -> anyhow::Result<serde_json::Value> {
    let url = p
        .push_url
        .clone()
        .ok_or_else(|| anyhow::anyhow!("--push needs --push-url"))?;
    anyhow::ensure!(p.rate > 0.0, "--rate must be positive");
    let concurrency = p.concurrency.max(1);
    let per_request = if mode == Mode::Ingest {
        1
    } else {
        p.per_request.max(1)
    };
    let endpoint = Endpoint::parse(&url, mode).await?;

    let pool = tokio::task::spawn_blocking({
        let kinds = c.kinds.to_vec();
        let (services, variants) = (p.push_services, c.variants);
        let (compression, ingest_body) = (p.push_compression, p.ingest_body);
        move || {
            build_pool(
                &corpus,
                &PoolSpec {
                    mode,
                    kinds: &kinds,
                    services,
                    variants,
                    per_request,
                    compression,
                    ingest_body,
                },
            )
        }
    })
    .await??;
    let pool = Arc::new(pool);
    let pool_json = pool_summary(&pool);
    eprintln!("loadgen: push {} pool {pool_json}", mode.name());

    let me = procstat::Watcher::open("self");
    std::fs::create_dir_all(c.out_dir)?;
    let stats = Arc::new(sink::SinkStats::default());
    let sink_addr = sink::start(c.sink_port, stats.clone()).await?;
    crate::write_atomic(
        &c.out_dir.join("ready.json"),
        &serde_json::to_vec(&json!({"sink": sink_addr.to_string(), "push": mode.name()}))?,
    )?;
    eprintln!(
        "loadgen: sink {sink_addr}; waiting for {} at {}",
        mode.name(),
        endpoint.addr
    );
    wait_for_listener(endpoint.addr, c.wait_timeout).await?;

    // The harness writes the pid file as it starts profcol: give it a moment.
    let mut target_pid = crate::read_pid(c.watch_pid_file);
    for _ in 0..50 {
        if target_pid.is_some() || c.watch_pid_file.is_none() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        target_pid = crate::read_pid(c.watch_pid_file);
    }
    let pc = Arc::new(target_pid.and_then(|p| procstat::Watcher::open(&p.to_string())));
    let watched = Arc::new(Mutex::new(crate::Watch {
        pid: target_pid,
        ..Default::default()
    }));
    let sampler = tokio::spawn(crate::sample_every_5s(pc.clone(), watched.clone()));

    let start = Instant::now();
    let end = start + Duration::from_secs(c.warmup + c.window);
    let events = Arc::new(Mutex::new(Vec::<Event>::new()));
    let connects = Arc::new(AtomicU64::new(0));
    let (tx, rx) = tokio::sync::mpsc::channel::<Job>(concurrency);
    let rx = Arc::new(tokio::sync::Mutex::new(rx));
    let timeout = Duration::from_secs(p.request_timeout.max(1));
    let mut workers = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        let (rx, pool, events, connects) =
            (rx.clone(), pool.clone(), events.clone(), connects.clone());
        let mut client = Client::new(mode, endpoint.clone());
        workers.push(tokio::spawn(async move {
            loop {
                let job = rx.lock().await.recv().await;
                let Some(job) = job else { break };
                let Some(req) = pool.get(job.index % pool.len().max(1)) else {
                    break;
                };
                let sent = Instant::now();
                let before = client.connects;
                let outcome = client.send(req, unix_now(), timeout).await;
                let done = Instant::now();
                connects.fetch_add(client.connects - before, Ordering::Relaxed);
                let e = Event {
                    sched_ms: ms_since(start, job.due),
                    done_ms: ms_since(start, done),
                    latency_us: us(done - sent),
                    delay_us: us(sent.saturating_duration_since(job.due)),
                    profiles: req.profiles,
                    outcome: Some(outcome),
                };
                lock(&events).push(e);
            }
        }));
    }
    let scheduler = tokio::spawn({
        let (events, pool) = (events.clone(), pool.clone());
        let per_second = p.rate / per_request as f64;
        async move {
            for r in 0usize.. {
                let due = start + Duration::from_secs_f64(r as f64 / per_second);
                if due >= end {
                    break;
                }
                tokio::time::sleep_until(due.into()).await;
                if tx.try_send(Job { index: r, due }).is_err() {
                    let at = ms_since(start, due);
                    lock(&events).push(Event {
                        sched_ms: at,
                        done_ms: at,
                        latency_us: 0,
                        delay_us: 0,
                        profiles: pool.get(r % pool.len().max(1)).map_or(0, |p| p.profiles),
                        outcome: None,
                    });
                }
            }
        }
    });

    tokio::time::sleep_until((start + Duration::from_secs(c.warmup)).into()).await;
    let from_ms = ms_since(start, Instant::now());
    let sink0 = stats.snapshot();
    let me0 = me.as_ref().and_then(|w| w.read()).unwrap_or_default();
    let pc0 = pc.as_ref().as_ref().and_then(|w| w.read());
    let load0 = crate::loadavg();
    let m0 = crate::fetch_sums(c.metrics_addr).await;
    tokio::time::sleep_until(end.into()).await;
    let to_ms = ms_since(start, Instant::now());
    let sink1 = stats.snapshot();
    let me1 = me.as_ref().and_then(|w| w.read()).unwrap_or_default();
    let pc1 = pc.as_ref().as_ref().and_then(|w| w.read());
    let load1 = crate::loadavg();
    let m1 = crate::fetch_sums(c.metrics_addr).await;
    sampler.abort();
    // No new requests; let the ones in flight end (closing their connections
    // in the middle of an answer only makes the receiver log broken pipes).
    scheduler.abort();
    let _ = scheduler.await;
    let drain = Instant::now() + Duration::from_secs(3);
    for w in workers {
        let abort = w.abort_handle();
        if tokio::time::timeout_at(drain.into(), w).await.is_err() {
            abort.abort();
        }
    }

    let secs = f64::from(to_ms - from_ms) / 1000.0;
    let got = sink1.minus(sink0);
    let events = lock(&events).clone();
    let summary = summarize(&events, from_ms, to_ms, secs);
    let exported = got.scope_profiles;
    let accepted_profiles = summary.accepted_profiles;
    let w = match watched.lock() {
        Ok(w) => w.clone(),
        Err(p) => p.into_inner().clone(),
    };
    let per = |cpu: f64, n: u64| if n > 0 { cpu / n as f64 } else { 0.0 };
    let profcol = match (pc0, pc1) {
        (Some(p0), Some(p1)) => {
            let cpu = p1.cpu_seconds - p0.cpu_seconds;
            json!({
                "pid": w.pid,
                "cpu_seconds": cpu,
                "avg_cores": cpu / secs,
                "cpu_seconds_per_profile": per(cpu, exported),
                "cpu_seconds_per_accepted_profile": per(cpu, accepted_profiles),
                "peak_rss_bytes": p1.peak_rss_bytes,
                "max_sampled_rss_bytes": w.max_rss.max(p1.rss_bytes),
                "rss_end_bytes": p1.rss_bytes,
                "max_sampled_fds": w.max_fds.max(p1.fds),
                "rss_samples": w.samples,
            })
        }
        _ => json!(null),
    };
    let me_cpu = me1.cpu_seconds - me0.cpu_seconds;
    Ok(json!({
        "push": {
            "mode": mode.name(),
            "url": url,
            "rate": p.rate,
            "concurrency": concurrency,
            "per_request": per_request,
            "services": p.push_services,
            "compression": if matches!(mode, Mode::OtlpGrpc | Mode::OtlpHttp) { format!("{:?}", p.push_compression).to_lowercase() } else { "n/a".into() },
            "ingest_body": if mode == Mode::Ingest { format!("{:?}", p.ingest_body).to_lowercase() } else { "n/a".into() },
            "pool": pool_json,
            "connections_opened": connects.load(Ordering::Relaxed),
        },
        "requests": summary.json,
        "warmup_s": c.warmup,
        "window_s": secs,
        // The sink stops with this process, right after the report: what
        // profcol logs later (failed exports) is not part of the run.
        "ended_unix_s": std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0),
        "kinds": c.kinds.iter().map(|k| k.name()).collect::<Vec<_>>(),
        "loadavg_1m": {
            "window_start": load0,
            "window_end": load1,
            "mean_of_samples": crate::mean(w.samples.iter().filter(|s| s.0 >= c.warmup).map(|s| s.3)),
            "max_of_samples": w.samples.iter().filter(|s| s.0 >= c.warmup).map(|s| s.3).fold(0.0, f64::max),
        },
        "sink": {
            "total_in_window": got,
            "profiles_per_s": got.scope_profiles as f64 / secs,
            "resource_profiles_per_s": got.resource_profiles as f64 / secs,
            "otlp_profiles_per_s": got.otlp_profiles as f64 / secs,
            "requests_per_s": got.requests as f64 / secs,
            "samples_per_s": got.samples as f64 / secs,
        },
        "profcol": profcol,
        "profcol_counters_in_window": match (m0, m1) {
            (Some(m0), Some(m1)) => json!(crate::metrics::delta(&m0, &m1)),
            _ => json!(null),
        },
        "loadgen": {
            "cpu_seconds": me_cpu,
            "avg_cores": me_cpu / secs,
            "peak_rss_bytes": me1.peak_rss_bytes,
            "fds_end": me1.fds,
        },
        "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "profiles": sizes_json,
    }))
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

fn pool_summary(pool: &[Prepared]) -> serde_json::Value {
    let n = pool.len().max(1);
    let profiles: u64 = pool.iter().map(|p| u64::from(p.profiles)).sum();
    json!({
        "requests": pool.len(),
        "profiles": profiles,
        "avg_body_bytes": pool.iter().map(|p| p.body.len()).sum::<usize>() / n,
        "avg_raw_bytes": pool.iter().map(|p| p.raw_bytes).sum::<usize>() / n,
    })
}

/// Polls a TCP connect to `addr` every 200 ms until it succeeds.
async fn wait_for_listener(addr: std::net::SocketAddr, timeout_s: u64) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(timeout_s);
    loop {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            return Ok(());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "nothing listens on {addr} after {timeout_s}s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

struct Summary {
    accepted_profiles: u64,
    json: serde_json::Value,
}

fn percentile_ms(sorted_us: &[u32], p: f64) -> f64 {
    if sorted_us.is_empty() {
        return 0.0;
    }
    let i = ((sorted_us.len() - 1) as f64 * p).round() as usize;
    f64::from(sorted_us[i.min(sorted_us.len() - 1)]) / 1000.0
}

/// Counts and latencies of the events that fall in `[from_ms, to_ms)`.
fn summarize(events: &[Event], from_ms: u32, to_ms: u32, secs: f64) -> Summary {
    let in_window = |t: u32| t >= from_ms && t < to_ms;
    let (mut offered, mut offered_profiles, mut not_sent) = (0u64, 0u64, 0u64);
    let (mut accepted, mut accepted_profiles) = (0u64, 0u64);
    let (mut refused, mut failed) = (0u64, 0u64);
    let mut reasons: BTreeMap<String, u64> = BTreeMap::new();
    let (mut lat, mut delay) = (Vec::new(), Vec::new());
    for e in events {
        if in_window(e.sched_ms) {
            offered += 1;
            offered_profiles += u64::from(e.profiles);
            if e.outcome.is_none() {
                not_sent += 1;
            }
        }
        let Some(o) = &e.outcome else { continue };
        if !in_window(e.done_ms) {
            continue;
        }
        delay.push(e.delay_us);
        match o {
            Outcome::Accepted => {
                accepted += 1;
                accepted_profiles += u64::from(e.profiles);
                lat.push(e.latency_us);
            }
            Outcome::Refused(r) => {
                refused += 1;
                lat.push(e.latency_us);
                *reasons.entry(r.clone()).or_default() += 1;
            }
            Outcome::Failed(r) => {
                failed += 1;
                *reasons.entry(format!("failed: {r}")).or_default() += 1;
            }
        }
    }
    lat.sort_unstable();
    delay.sort_unstable();
    let rate = |n: u64| n as f64 / secs.max(1e-9);
    Summary {
        accepted_profiles,
        json: json!({
            "offered": offered,
            "offered_profiles": offered_profiles,
            "offered_profiles_per_s": rate(offered_profiles),
            "not_sent": not_sent,
            "accepted": accepted,
            "accepted_per_s": rate(accepted),
            "accepted_profiles": accepted_profiles,
            "accepted_profiles_per_s": rate(accepted_profiles),
            "refused": refused,
            "failed": failed,
            "reasons": reasons,
            "latency_ms": {
                "answers": lat.len(),
                "p50": percentile_ms(&lat, 0.50),
                "p90": percentile_ms(&lat, 0.90),
                "p99": percentile_ms(&lat, 0.99),
                "max": percentile_ms(&lat, 1.0),
            },
            "send_delay_ms": {
                "p50": percentile_ms(&delay, 0.50),
                "p99": percentile_ms(&delay, 0.99),
                "max": percentile_ms(&delay, 1.0),
            },
        }),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn ev(sched_ms: u32, done_ms: u32, latency_us: u32, outcome: Option<Outcome>) -> Event {
        Event {
            sched_ms,
            done_ms,
            latency_us,
            delay_us: 0,
            profiles: 2,
            outcome,
        }
    }

    #[test]
    fn the_window_counts_offers_by_schedule_and_answers_by_arrival() {
        let events = vec![
            ev(900, 1010, 110_000, Some(Outcome::Accepted)), // answered in the window
            ev(1000, 1005, 5_000, Some(Outcome::Accepted)),
            ev(1500, 1500, 0, None), // not sent
            ev(
                1600,
                1700,
                100_000,
                Some(Outcome::Refused("http 503".into())),
            ),
            ev(1900, 2100, 200_000, Some(Outcome::Accepted)), // answered after
            ev(1950, 1990, 40_000, Some(Outcome::Failed("timeout".into()))),
        ];
        let s = summarize(&events, 1000, 2000, 1.0);
        let j = &s.json;
        assert_eq!(j["offered"], 5);
        assert_eq!(j["offered_profiles"], 10);
        assert_eq!(j["not_sent"], 1);
        assert_eq!(j["accepted"], 2);
        assert_eq!(s.accepted_profiles, 4);
        assert_eq!(j["refused"], 1);
        assert_eq!(j["failed"], 1);
        assert_eq!(j["reasons"]["http 503"], 1);
        assert_eq!(j["reasons"]["failed: timeout"], 1);
        assert_eq!(j["latency_ms"]["answers"], 3);
        assert_eq!(j["latency_ms"]["p50"], 100.0);
        assert_eq!(j["latency_ms"]["max"], 110.0);
    }
}
