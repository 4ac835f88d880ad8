//! Back-pressure in the running binary: profcol scrapes a local target
//! every second and exports over OTLP/HTTP to a sink in this test that
//! stalls (holds every request) for a few seconds, through a sending queue
//! of one batch and one worker.
//!
//! (a) `block_on_overflow: true`: while the sink stalls, `/targets` and
//!     `/api/v1/targets` show the job waiting for the pipeline and
//!     `pyroscope_scrape_backpressure_waiting` is 1; afterwards the waiting
//!     time and the skipped scrapes are counted, every profile handed to
//!     the exporter arrives exactly once, and nothing is dropped anywhere.
//! (b) `block_on_overflow: false` (the default): the same stall drops the
//!     newest batches, counted by the exporter (`reason="queue_full"`) and
//!     the receiver; the job never waits.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod e2e;

use e2e::{
    free_port, http_get, marked_goroutine_target, marked_profile, markers_of, metric, read_request,
    respond, serve, Running,
};
use profcol_pdata::otlp::collector::ExportProfilesServiceRequest;
use profcol_pdata::otlp::from_otlp;
use prost::Message;
use std::net::TcpListener;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const JOB: &str = "pyroscope_scrape/held";
const EXPORTER: &str = "otlp_http/sink";

/// `/debug/pprof/goroutine`, each answer marked with the next number.
fn start_target() -> (u16, Arc<Mutex<Vec<String>>>) {
    marked_goroutine_target("", marked_profile)
}

/// An OTLP/HTTP sink that holds every request while `stalled` is set, then
/// records the profiles' markers and answers 200.
struct Sink {
    port: u16,
    stalled: Arc<AtomicBool>,
    got: Arc<Mutex<Vec<String>>>,
}

impl Sink {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let stalled = Arc::new(AtomicBool::new(true));
        let got: Arc<Mutex<Vec<String>>> = Arc::default();
        let (hold, seen) = (stalled.clone(), got.clone());
        serve(listener, move |mut s| loop {
            let Ok((head, body)) = read_request(&mut s) else {
                return;
            };
            if !head.starts_with("POST /v1development/profiles") {
                respond(&mut s, "404 Not Found", b"");
                return;
            }
            while hold.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(20));
            }
            let req = ExportProfilesServiceRequest::decode(body.as_slice()).unwrap();
            let markers: Vec<String> = from_otlp(&req)
                .unwrap()
                .iter()
                .flat_map(|r| markers_of(&r.profile()))
                .collect();
            seen.lock().unwrap().extend(markers);
            respond(&mut s, "200 OK", b"");
        });
        Self { port, stalled, got }
    }

    fn got(&self) -> Vec<String> {
        self.got.lock().unwrap().clone()
    }
}

fn config(target: u16, sink: u16, admin: u16, block: bool) -> String {
    format!(
        "receivers:
  {JOB}:
    targets: [{{__address__: '127.0.0.1:{target}', service_name: held}}]
    scrape_interval: 1s
    profiling_config:
      profile:
        memory: {{enabled: false}}
        block: {{enabled: false}}
        mutex: {{enabled: false}}
        process_cpu: {{enabled: false}}
        goroutine: {{enabled: true}}
exporters:
  {EXPORTER}:
    endpoint: http://127.0.0.1:{sink}
    compression: none
    timeout: 60s
    sending_queue:
      queue_size: 1
      num_consumers: 1
      max_batch_size: 1
      flush_timeout: 0s
      block_on_overflow: {block}
service:
  pipelines:
    profiles: {{receivers: [{JOB}], exporters: [{EXPORTER}]}}
  telemetry:
    metrics: {{address: '127.0.0.1:{admin}'}}
"
    )
}

fn start_profcol(dir: &Path, cfg: &str, admin: u16) -> Running {
    let path = dir.join("profcol.yaml");
    std::fs::write(&path, cfg).unwrap();
    let mut p = Running::start(&["--config", path.to_str().unwrap()], dir);
    p.expect_ready(admin, "/-/ready", Duration::from_secs(30));
    p
}

fn page(admin: u16, path: &str) -> String {
    let (status, body) = http_get(admin, path).unwrap();
    assert_eq!(status, 200, "{path}");
    String::from_utf8(body).unwrap()
}

fn job_status(admin: u16) -> serde_json::Value {
    let v: serde_json::Value = serde_json::from_str(&page(admin, "/api/v1/targets")).unwrap();
    v["data"]["receivers"][JOB][0].clone()
}

fn wait_until(limit: Duration, what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn log_of(p: Running) -> String {
    let (status, log) = p.interrupt(Duration::from_secs(20));
    assert!(status.is_some_and(|s| s.success()), "{log}");
    log
}

#[test]
fn a_blocking_queue_holds_the_scrape_loop_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (target, served) = start_target();
    let sink = Sink::start();
    let admin = free_port();
    let p = start_profcol(dir.path(), &config(target, sink.port, admin, true), admin);
    let component = format!("component=\"{JOB}\"");
    let exporter = format!("exporter=\"{EXPORTER}\"");

    // One request held by the sink, one batch queued: the next hand-off waits.
    wait_until(
        Duration::from_secs(20),
        "the job to wait for its pipeline",
        || job_status(admin)["waiting_for_pipeline_since"].is_string(),
    );
    let stalled_at = Instant::now();
    assert_eq!(
        metric(
            admin,
            "pyroscope_scrape_backpressure_waiting",
            &[&component]
        ),
        1.0
    );
    assert_eq!(
        metric(
            admin,
            "profcol_exporter_queue_waiting_callers",
            &[&exporter]
        ),
        1.0,
        "the exporter counts the caller waiting for room"
    );
    let html = page(admin, "/targets");
    assert!(html.contains("1 waiting for the pipeline"), "{html}");
    assert!(html.contains("waiting for the pipeline since"), "{html}");
    // Nothing is scraped meanwhile.
    let scraped = served.lock().unwrap().len();
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        served.lock().unwrap().len(),
        scraped,
        "no scrape while waiting"
    );
    assert!(job_status(admin)["waiting_for_pipeline_since"].is_string());

    sink.stalled.store(false, Ordering::SeqCst);
    wait_until(Duration::from_secs(10), "the wait to end", || {
        job_status(admin)["waiting_for_pipeline_since"].is_null()
    });
    let waited_for = stalled_at.elapsed().as_secs_f64();
    let st = job_status(admin);
    let last_wait = st["last_pipeline_wait_seconds"].as_f64().unwrap();
    assert!(last_wait >= 3.0 && last_wait <= waited_for + 2.0, "{st}");
    let skipped = st["scrapes_skipped_total"].as_u64().unwrap();
    assert!(skipped >= 3, "{st}");
    eprintln!("held {waited_for:.1}s: last wait {last_wait:.2}s, {skipped} scrapes skipped");
    assert_eq!(
        metric(
            admin,
            "pyroscope_scrape_refused_total",
            &[&component, "reason=\"backpressure\""]
        ),
        skipped as f64
    );
    assert!(
        metric(
            admin,
            "pyroscope_scrape_backpressure_seconds_total",
            &[&component]
        ) >= 3.0
    );
    assert_eq!(
        metric(
            admin,
            "pyroscope_scrape_backpressure_waiting",
            &[&component]
        ),
        0.0
    );
    assert_eq!(
        metric(
            admin,
            "profcol_exporter_queue_waiting_callers",
            &[&exporter]
        ),
        0.0
    );

    // Scraping again; then everything handed to the exporter has arrived.
    let resumed = served.lock().unwrap().len();
    wait_until(Duration::from_secs(10), "scrapes to resume", || {
        served.lock().unwrap().len() >= resumed + 3
    });
    wait_until(
        Duration::from_secs(10),
        "the sink to get every forwarded profile",
        || {
            let forwarded = metric(
                admin,
                "pyroscope_scrape_profiles_forwarded_total",
                &[&component],
            );
            let sent = metric(admin, "profcol_exporter_sent_profiles_total", &[&exporter]);
            forwarded >= 6.0 && sent == forwarded && sink.got().len() as f64 == sent
        },
    );
    assert_eq!(
        metric(
            admin,
            "profcol_exporter_dropped_profiles_total",
            &[&exporter]
        ),
        0.0
    );
    assert_eq!(
        metric(
            admin,
            "pyroscope_scrape_profiles_dropped_total",
            &[&component]
        ),
        0.0
    );
    let got = sink.got();
    let mut unique = got.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), got.len(), "each profile once: {got:?}");
    let served_now = served.lock().unwrap().clone();
    assert!(got.iter().all(|m| served_now.contains(m)), "{got:?}");
    let log = log_of(p);
    assert!(
        log.contains("they were skipped and the job resumes at its next slot"),
        "{log}"
    );
}

#[test]
fn by_default_a_full_queue_drops_the_newest_and_counts_it() {
    let dir = tempfile::tempdir().unwrap();
    let (target, _served) = start_target();
    let sink = Sink::start();
    let admin = free_port();
    let p = start_profcol(dir.path(), &config(target, sink.port, admin, false), admin);
    let component = format!("component=\"{JOB}\"");
    let exporter = format!("exporter=\"{EXPORTER}\"");

    wait_until(Duration::from_secs(20), "the full queue to drop", || {
        metric(
            admin,
            "profcol_exporter_dropped_profiles_total",
            &[&exporter, "reason=\"queue_full\""],
        ) >= 2.0
    });
    assert!(
        metric(
            admin,
            "pyroscope_scrape_profiles_dropped_total",
            &[&component]
        ) >= 2.0
    );
    let st = job_status(admin);
    assert!(st["waiting_for_pipeline_since"].is_null(), "{st}");
    assert_eq!(st["scrapes_skipped_total"].as_u64(), Some(0), "{st}");
    assert_eq!(
        metric(
            admin,
            "pyroscope_scrape_backpressure_waiting",
            &[&component]
        ),
        0.0
    );
    assert_eq!(
        metric(
            admin,
            "profcol_exporter_queue_waiting_callers",
            &[&exporter]
        ),
        0.0
    );
    sink.stalled.store(false, Ordering::SeqCst);
    let log = log_of(p);
    assert!(
        log.contains("the sending queue is full; the newest batch is refused"),
        "{log}"
    );
}
