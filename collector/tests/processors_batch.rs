//! The `batch` and `memory_limiter` processors in the running binary, with
//! an OTLP/HTTP backend in this test that records each request it gets.
//! Each exporter sends every batch it is handed as a request of its own
//! (`sending_queue.max_batch_size: 1`), so the requests show the
//! processor's batches.
//!
//! (a) Scrape → `batch` → backend: targets serve goroutine profiles of two
//!     samples, each marked with a unique function name. One pipeline cuts
//!     batches by size (`send_batch_size: 6`, `send_batch_max_size: 6`,
//!     i.e. three profiles), another by time (`timeout: 3s`). Every profile
//!     scraped arrives exactly once; every size batch but the one flushed
//!     at shutdown holds exactly three profiles; time batches arrive about
//!     three seconds apart.
//! (b) Push → `memory_limiter` → `batch` → backend, with a spike made
//!     honestly visible to the limiter: profcol's resident memory is read
//!     from `/proc/<pid>/status` and the limit is reloaded to half of it
//!     (`limit_mib` below what the process measurably uses is what a spike
//!     looks like to the limiter), then raised again. While over, pushes
//!     are answered 429 and counted as refused; every push answered 2xx,
//!     including those held by `batch` across both reloads, arrives;
//!     none answered 429 does.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod e2e;

use e2e::{
    free_port, http_get, marked_goroutine_target, markers_of, read_request, respond, serve,
    wait_ready, Running,
};
use profcol_pdata::otlp::collector::ExportProfilesServiceRequest;
use profcol_pdata::otlp::from_otlp;
use profcol_pdata::pprof;
use prost::Message;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One request the backend got.
#[derive(Debug, Clone)]
struct Received {
    at: Instant,
    /// One marker per profile.
    markers: Vec<String>,
    /// OTLP samples over all profiles.
    samples: usize,
}

/// An OTLP/HTTP backend that records every request.
struct Backend {
    port: u16,
    requests: Arc<Mutex<Vec<Received>>>,
}

impl Backend {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests: Arc<Mutex<Vec<Received>>> = Arc::default();
        let seen = requests.clone();
        serve(listener, move |mut s| {
            let Ok((head, body)) = read_request(&mut s) else {
                return;
            };
            if !head.starts_with("POST /v1development/profiles") {
                respond(&mut s, "404 Not Found", b"");
                return;
            }
            let req = ExportProfilesServiceRequest::decode(body.as_slice()).unwrap();
            let samples = req
                .resource_profiles
                .iter()
                .flat_map(|r| &r.scope_profiles)
                .flat_map(|s| &s.profiles)
                .map(|p| p.samples.len())
                .sum();
            let markers = from_otlp(&req)
                .unwrap()
                .iter()
                .flat_map(|r| markers_of(&r.profile()))
                .collect();
            seen.lock().unwrap().push(Received {
                at: Instant::now(),
                markers,
                samples,
            });
            respond(&mut s, "200 OK", b"");
        });
        Self { port, requests }
    }

    fn requests(&self) -> Vec<Received> {
        self.requests.lock().unwrap().clone()
    }

    fn markers(&self) -> Vec<String> {
        let mut all: Vec<String> = self
            .requests()
            .into_iter()
            .flat_map(|r| r.markers)
            .collect();
        all.sort();
        all
    }
}

/// A goroutine profile of two samples (two stacks), both through `marker`.
fn marked_profile(marker: &str) -> Vec<u8> {
    let line = |function_id| pprof::Line {
        function_id,
        line: 1,
        column: 0,
    };
    let p = pprof::Profile {
        sample_type: vec![pprof::ValueType { r#type: 1, unit: 2 }],
        sample: vec![
            pprof::Sample {
                location_id: vec![1],
                value: vec![1],
                label: vec![],
            },
            pprof::Sample {
                location_id: vec![2, 1],
                value: vec![2],
                label: vec![],
            },
        ],
        location: vec![
            pprof::Location {
                id: 1,
                line: vec![line(1)],
                ..Default::default()
            },
            pprof::Location {
                id: 2,
                line: vec![line(2)],
                ..Default::default()
            },
        ],
        function: vec![
            pprof::Function {
                id: 1,
                name: 3,
                system_name: 3,
                ..Default::default()
            },
            pprof::Function {
                id: 2,
                name: 4,
                system_name: 4,
                ..Default::default()
            },
        ],
        string_table: vec![
            String::new(),
            "goroutine".into(),
            "count".into(),
            marker.to_string(),
            "runtime.gopark".into(),
        ],
        ..Default::default()
    };
    pprof::encode_pprof_gzip(&p)
}

/// A target serving `/debug/pprof/goroutine`, each answer with the next marker.
struct Target {
    port: u16,
    served: Arc<Mutex<Vec<String>>>,
}

impl Target {
    fn start(name: &str) -> Self {
        let (port, served) = marked_goroutine_target(&format!("{name}-"), marked_profile);
        Self { port, served }
    }

    fn served(&self) -> Vec<String> {
        self.served.lock().unwrap().clone()
    }
}

fn scrape_receiver(name: &str, targets: &[&Target]) -> String {
    let list: Vec<String> = targets
        .iter()
        .map(|t| {
            format!(
                "{{__address__: '127.0.0.1:{}', service_name: {name}}}",
                t.port
            )
        })
        .collect();
    format!(
        "  pyroscope_scrape/{name}:
    targets: [{}]
    scrape_interval: 1s
    profiling_config:
      profile:
        memory: {{enabled: false}}
        block: {{enabled: false}}
        mutex: {{enabled: false}}
        process_cpu: {{enabled: false}}
        goroutine: {{enabled: true}}
",
        list.join(", ")
    )
}

/// An exporter that sends every batch it is handed as one request.
fn exporter(name: &str, backend: &Backend) -> String {
    format!(
        "  otlp_http/{name}:
    endpoint: http://127.0.0.1:{}
    compression: none
    sending_queue: {{max_batch_size: 1, flush_timeout: 0s}}
",
        backend.port
    )
}

fn start_profcol(dir: &Path, cfg: &str, admin: u16) -> Running {
    let path = dir.join("profcol.yaml");
    std::fs::write(&path, cfg).unwrap();
    let log = std::fs::File::create(dir.join("profcol.log")).unwrap();
    let child = std::process::Command::new(e2e::profcol_bin())
        .args(["--config", path.to_str().unwrap()])
        .current_dir(dir)
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let p = Running { child };
    assert!(
        wait_ready(admin, "/-/ready", Duration::from_secs(30)),
        "profcol never became ready:\n{}",
        std::fs::read_to_string(dir.join("profcol.log")).unwrap_or_default()
    );
    p
}

/// SIGINT, then waits for a clean exit.
fn stop(p: Running, dir: &Path) -> String {
    let (status, _) = p.interrupt(Duration::from_secs(20));
    let log = std::fs::read_to_string(dir.join("profcol.log")).unwrap_or_default();
    assert!(status.is_some_and(|s| s.success()), "{log}");
    log
}

/// The value of the series `series` (name and labels as on the page).
fn metric(admin: u16, series: &str) -> Option<f64> {
    let (_, body) = http_get(admin, "/metrics").ok()?;
    String::from_utf8_lossy(&body)
        .lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

fn wait_until(limit: Duration, what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[test]
fn scraped_profiles_arrive_whole_in_the_configured_batches() {
    let dir = tempfile::tempdir().unwrap();
    let admin = free_port();
    let sized: Vec<Target> = ["a", "b", "c"].map(Target::start).into();
    let timed = Target::start("t");
    let size_backend = Backend::start();
    let time_backend = Backend::start();
    let cfg = format!(
        "receivers:
{}{}processors:
  batch/size: {{send_batch_size: 6, send_batch_max_size: 6, timeout: 1h}}
  batch/time: {{send_batch_size: 100000, timeout: 3s}}
exporters:
{}{}service:
  shutdown_timeout: 10s
  pipelines:
    profiles/size: {{receivers: [pyroscope_scrape/size], processors: [batch/size], exporters: [otlp_http/size]}}
    profiles/time: {{receivers: [pyroscope_scrape/time], processors: [batch/time], exporters: [otlp_http/time]}}
  telemetry:
    metrics: {{address: '127.0.0.1:{admin}'}}
",
        scrape_receiver("size", &sized.iter().collect::<Vec<_>>()),
        scrape_receiver("time", &[&timed]),
        exporter("size", &size_backend),
        exporter("time", &time_backend),
    );
    let p = start_profcol(dir.path(), &cfg, admin);
    wait_until(Duration::from_secs(30), "four size batches", || {
        size_backend.requests().len() >= 4
    });
    wait_until(Duration::from_secs(30), "three time batches", || {
        time_backend.requests().len() >= 3
    });
    let full = metric(
        admin,
        "profcol_processor_batch_batch_size_trigger_send_total{component=\"batch/size\"}",
    )
    .unwrap();
    let log = stop(p, dir.path());

    // Everything scraped arrived, once.
    let served: Vec<String> = sorted(sized.iter().flat_map(Target::served).collect());
    assert!(served.len() >= 12, "{served:?}");
    assert_eq!(size_backend.markers(), served, "{log}");
    assert_eq!(time_backend.markers(), sorted(timed.served()), "{log}");

    // Size batches: three profiles, six samples; the last may be the
    // shutdown flush of what was left.
    let size_requests = size_backend.requests();
    let (last, whole) = size_requests.split_last().unwrap();
    for r in whole {
        assert_eq!((r.markers.len(), r.samples), (3, 6), "{size_requests:#?}");
    }
    assert!(last.markers.len() <= 3 && last.samples == 2 * last.markers.len());
    assert!(full >= 4.0 && full <= size_requests.len() as f64, "{full}");

    // Time batches (the last is the shutdown flush): a few profiles each,
    // about three seconds apart.
    let time_requests = time_backend.requests();
    let (_, time_requests) = time_requests.split_last().unwrap();
    for w in time_requests.windows(2) {
        let gap = w[1].at - w[0].at;
        assert!(
            gap > Duration::from_millis(2500),
            "{gap:?} between time batches"
        );
    }
    for r in time_requests {
        assert!(
            (2..=4).contains(&r.markers.len()),
            "{} profiles in a 3s batch of a 1s scrape",
            r.markers.len()
        );
    }
}

/// `POST /ingest` of a folded stack through `marker`; the status code and
/// the response head.
fn push(port: u16, marker: &str) -> (u16, String) {
    let body = format!("main;{marker} 10\n");
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "POST /ingest?name=shop.cpu&format=folded HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let head = raw.split("\r\n\r\n").next().unwrap().to_string();
    (
        head.split_whitespace().nth(1).unwrap().parse().unwrap(),
        head,
    )
}

/// Pushes, sorted by their answer.
struct Pushes {
    port: u16,
    accepted: Vec<String>,
    refused: Vec<String>,
}

impl Pushes {
    fn send(&mut self, marker: String) -> u16 {
        let (status, head) = push(self.port, &marker);
        match status {
            200..=299 => self.accepted.push(marker),
            429 => {
                // Back-pressure, not bad data: the sender is told when to retry.
                assert!(head.to_ascii_lowercase().contains("retry-after:"), "{head}");
                self.refused.push(marker);
            }
            other => panic!("push {marker}: {other}\n{head}"),
        }
        status
    }
}

fn reload(admin: u16) {
    let mut s = TcpStream::connect(("127.0.0.1", admin)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "POST /-/reload HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    assert!(
        raw.starts_with("HTTP/1.1 200") || raw.starts_with("HTTP/1.0 200"),
        "{raw}"
    );
}

/// Resident memory of process `pid` in MiB.
fn resident_mib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap();
    kib >> 10
}

#[test]
fn memory_limiter_refuses_pushes_while_over_and_loses_nothing_it_accepted() {
    if !Path::new("/proc/self/status").exists() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let admin = free_port();
    let push_port = free_port();
    let backend = Backend::start();
    let config = |limit_mib: u64| {
        format!(
            "receivers:
  pyroscope: {{endpoint: '127.0.0.1:{push_port}'}}
processors:
  memory_limiter: {{check_interval: 100ms, limit_mib: {limit_mib}, spike_limit_mib: 1}}
  batch: {{timeout: 1h}}
exporters:
{}service:
  shutdown_timeout: 10s
  pipelines:
    profiles: {{receivers: [pyroscope], processors: [memory_limiter, batch], exporters: [otlp_http/sink]}}
  telemetry:
    metrics: {{address: '127.0.0.1:{admin}'}}
",
            exporter("sink", &backend)
        )
    };
    let p = start_profcol(dir.path(), &config(100_000), admin);
    let mut pushes = Pushes {
        port: push_port,
        accepted: Vec::new(),
        refused: Vec::new(),
    };

    // 1. Far below the limit: taken, and held by the batch processor.
    for i in 0..5 {
        assert_eq!(pushes.send(format!("mark-before-{i}")), 200);
    }
    assert!(backend.requests().is_empty(), "held by batch (timeout 1h)");

    // 2. The limit goes to half of what profcol measurably uses.
    let rss = resident_mib(p.child.id());
    let low = (rss / 2).max(2);
    eprintln!("profcol uses {rss} MiB resident; limit_mib goes to {low}");
    std::fs::write(dir.path().join("profcol.yaml"), config(low)).unwrap();
    reload(admin);
    // The replaced chain's batch handed its five on to the exporters.
    wait_until(Duration::from_secs(10), "the retired batch's flush", || {
        backend.markers().len() == 5
    });
    for i in 0..5 {
        pushes.send(format!("mark-over-{i}"));
    }
    let refused_while_over = pushes.refused.len();
    assert!(
        refused_while_over >= 4,
        "limit {low} MiB of {rss} MiB used: {:?} refused",
        pushes.refused
    );
    assert_eq!(
        metric(
            admin,
            "profcol_processor_memory_limiter_refusing{component=\"memory_limiter\"}"
        ),
        Some(1.0)
    );
    assert_eq!(
        metric(
            admin,
            "profcol_processor_refused_profiles_total{component=\"memory_limiter\"}"
        ),
        Some(refused_while_over as f64)
    );

    // 3. Room again.
    std::fs::write(dir.path().join("profcol.yaml"), config(100_000)).unwrap();
    reload(admin);
    for i in 0..5 {
        assert_eq!(pushes.send(format!("mark-after-{i}")), 200);
    }
    assert_eq!(
        metric(
            admin,
            "profcol_processor_memory_limiter_refusing{component=\"memory_limiter\"}"
        ),
        Some(0.0)
    );
    let log = stop(p, dir.path());

    // Every profile answered 2xx arrived (the last five at the shutdown
    // flush); none answered 429 did.
    assert_eq!(backend.markers(), sorted(pushes.accepted.clone()), "{log}");
    assert!(pushes
        .refused
        .iter()
        .all(|m| !backend.markers().contains(m)));
    assert_eq!(
        log.matches("new profiles are refused").count(),
        1,
        "one warning for the one crossing:\n{log}"
    );
}
