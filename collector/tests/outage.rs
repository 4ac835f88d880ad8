//! Fault suite for the persistent sending queue, with the real binary on
//! loopback: two targets serve goroutine profiles that each carry a unique
//! marker (`mark-<target>-<n>` as the function name), profcol scrapes them
//! every second and exports over OTLP/HTTP with `sending_queue.storage` to
//! a backend in this test that can be switched off (port closed) and on.
//!
//! (a) The backend is down for [`outage()`] (20 s, or
//!     `PROFCOL_OUTAGE_SECS`): after it is back, every profile
//!     served meanwhile arrives, exactly once.
//! (b) profcol is killed with SIGKILL in the middle of an outage and started
//!     again with the same config: every profile that was written to the
//!     disk queue before the kill (read from the queue files between the
//!     two runs) and every profile scraped after the restart arrives,
//!     exactly once. A profile the target served but that was not yet on
//!     disk at the kill may be lost; there can be at most one per target
//!     (the scrape in flight), and the test checks that bound.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod e2e;

use e2e::{
    free_port, http_get, marked_profile, markers_of, profcol_bin, read_request, respond, Running,
};
use profcol_pdata::otlp::collector::ExportProfilesServiceRequest;
use profcol_pdata::otlp::from_otlp;
use profcol_pdata::ProfileBatch;
use prost::Message;
use std::collections::{BTreeMap, BTreeSet};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long the backend is down in (a): 20 s by default, so that the suite
/// stays quick; `PROFCOL_OUTAGE_SECS=120` runs the two-minute outage the
/// persistent-queue issue asked for.
fn outage() -> Duration {
    let secs = std::env::var("PROFCOL_OUTAGE_SECS")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .filter(|&s| s >= 5)
        .unwrap_or(20);
    Duration::from_secs(secs)
}
/// How long the backend is down before the kill in (b), and after the
/// restart before it comes back.
const BEFORE_KILL: Duration = Duration::from_secs(20);
const AFTER_RESTART: Duration = Duration::from_secs(10);
/// The exporter id in the config, and its queue directory's name.
const EXPORTER: &str = "otlp_http/o";
const EXPORTER_DIR: &str = "otlp_http_o";

/// Accepts until `stop`; each connection is handled on its own thread.
fn accept_loop(
    listener: TcpListener,
    stop: Arc<AtomicBool>,
    handle: impl Fn(TcpStream) + Send + Sync + 'static,
) -> JoinHandle<()> {
    let handle = Arc::new(handle);
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        while !stop.load(Ordering::SeqCst) {
            match listener.accept() {
                Ok((s, _)) => {
                    s.set_nonblocking(false).unwrap();
                    let h = handle.clone();
                    std::thread::spawn(move || h(s));
                }
                Err(_) => std::thread::sleep(Duration::from_millis(5)),
            }
        }
    })
}

/// A target serving `/debug/pprof/goroutine`, each response with the next
/// marker; frozen, it answers 503 (so nothing more is scraped).
struct Target {
    name: String,
    port: u16,
    next: AtomicU64,
    served: Mutex<Vec<String>>,
    frozen: AtomicBool,
}

impl Target {
    fn start(name: &str) -> Arc<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let t = Arc::new(Self {
            name: name.to_string(),
            port: listener.local_addr().unwrap().port(),
            next: AtomicU64::new(0),
            served: Mutex::default(),
            frozen: AtomicBool::new(false),
        });
        let t2 = t.clone();
        // Runs until the test process ends.
        accept_loop(listener, Arc::new(AtomicBool::new(false)), move |mut s| {
            let Ok((head, _)) = read_request(&mut s) else {
                return;
            };
            if t2.frozen.load(Ordering::SeqCst) || !head.contains("/debug/pprof/goroutine") {
                respond(&mut s, "503 Service Unavailable", b"");
                return;
            }
            let marker = format!(
                "mark-{}-{}",
                t2.name,
                t2.next.fetch_add(1, Ordering::SeqCst)
            );
            t2.served.lock().unwrap().push(marker.clone());
            respond(&mut s, "200 OK", &marked_profile(&marker));
        });
        t
    }

    fn served(&self) -> Vec<String> {
        self.served.lock().unwrap().clone()
    }
}

fn markers_of_batches(batches: &[ProfileBatch]) -> Vec<String> {
    batches
        .iter()
        .flat_map(|b| &b.records)
        .flat_map(|r| markers_of(&r.profile()))
        .collect()
}

/// The OTLP/HTTP backend: counts every marker it receives; can be
/// switched off (its port closed) and on again on the same port.
struct Backend {
    port: u16,
    received: Arc<Mutex<BTreeMap<String, usize>>>,
    running: Option<(Arc<AtomicBool>, JoinHandle<()>)>,
}

impl Backend {
    fn new() -> Self {
        let mut b = Self {
            port: free_port(),
            received: Arc::default(),
            running: None,
        };
        b.up();
        b
    }

    fn up(&mut self) {
        let listener = TcpListener::bind(("127.0.0.1", self.port)).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let received = self.received.clone();
        let thread = accept_loop(listener, stop.clone(), move |mut s| {
            let Ok((head, body)) = read_request(&mut s) else {
                return;
            };
            if !head.starts_with("POST /v1development/profiles") {
                respond(&mut s, "404 Not Found", b"");
                return;
            }
            let plain = profcol_pdata::pprof::decompress(&body, 256 << 20).unwrap();
            let req = ExportProfilesServiceRequest::decode(plain.as_ref()).unwrap();
            let records = from_otlp(&req).unwrap();
            {
                let mut got = received.lock().unwrap();
                for r in &records {
                    for m in markers_of(&r.profile()) {
                        *got.entry(m).or_default() += 1;
                    }
                }
            }
            respond(&mut s, "200 OK", b"");
        });
        self.running = Some((stop, thread));
    }

    /// Closes the port; requests being handled are answered first.
    fn down(&mut self) {
        if let Some((stop, thread)) = self.running.take() {
            stop.store(true, Ordering::SeqCst);
            thread.join().unwrap();
        }
    }

    fn received(&self) -> BTreeMap<String, usize> {
        self.received.lock().unwrap().clone()
    }

    /// Waits until every marker of `want` arrived (or `limit` passes).
    fn wait_for(&self, want: &BTreeSet<String>, limit: Duration) -> BTreeMap<String, usize> {
        let deadline = Instant::now() + limit;
        loop {
            let got = self.received();
            if want.iter().all(|m| got.contains_key(m)) || Instant::now() > deadline {
                return got;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn write_config(dir: &Path, targets: &[&Arc<Target>], backend: u16, admin: u16) -> String {
    let targets: Vec<String> = targets
        .iter()
        .map(|t| {
            format!(
                "{{__address__: '127.0.0.1:{}', service_name: {}}}",
                t.port, t.name
            )
        })
        .collect();
    let cfg = format!(
        "receivers:
  pyroscope_scrape/o:
    targets: [{targets}]
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
    endpoint: http://127.0.0.1:{backend}
    compression: none
    retry_on_failure: {{initial_interval: 200ms, max_interval: 1s, max_elapsed_time: 0s}}
    sending_queue:
      num_consumers: 2
      storage: {{directory: '{queue}'}}
service:
  pipelines:
    profiles: {{receivers: [pyroscope_scrape/o], exporters: [{EXPORTER}]}}
  telemetry:
    metrics: {{address: '127.0.0.1:{admin}'}}
",
        targets = targets.join(", "),
        queue = dir.join("queue").display(),
    );
    let path = dir.join("profcol.yaml");
    std::fs::write(&path, cfg).unwrap();
    path.display().to_string()
}

/// Runs profcol with its output in a file (a pipe nobody reads would
/// block it during a long outage).
fn start_profcol(cfg: &str, dir: &Path, admin: u16) -> Running {
    let log = tempfile::NamedTempFile::new_in(dir)
        .unwrap()
        .keep()
        .unwrap()
        .0;
    let child = std::process::Command::new(profcol_bin())
        .args(["--config", cfg])
        .current_dir(dir)
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let mut p = Running { child };
    p.expect_ready(admin, "/-/ready", Duration::from_secs(30));
    p
}

/// A value of the exporter's metric `name` on the admin page.
fn metric(admin: u16, name: &str) -> Option<f64> {
    let (_, body) = http_get(admin, "/metrics").ok()?;
    let page = String::from_utf8_lossy(&body).to_string();
    page.lines()
        .find(|l| l.starts_with(name) && l.contains(&format!("exporter=\"{EXPORTER}\"")))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

/// Waits until the backend got at least `n` markers.
fn wait_flowing(backend: &Backend, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while backend.received().len() < n {
        assert!(Instant::now() < deadline, "no profiles reached the backend");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Every marker in `got` once, and nothing outside `allowed`.
fn assert_exactly_once(got: &BTreeMap<String, usize>, want: &BTreeSet<String>) {
    let missing: Vec<_> = want.iter().filter(|m| !got.contains_key(*m)).collect();
    let dup: Vec<_> = got.iter().filter(|(_, n)| **n != 1).collect();
    assert!(
        missing.is_empty(),
        "{} of {} never arrived: {missing:?}",
        missing.len(),
        want.len()
    );
    assert!(dup.is_empty(), "delivered more than once: {dup:?}");
}

#[test]
fn backend_outage_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (t0, t1) = (Target::start("a0"), Target::start("a1"));
    let mut backend = Backend::new();
    let admin = free_port();
    let cfg = write_config(dir.path(), &[&t0, &t1], backend.port, admin);
    let p = start_profcol(&cfg, dir.path(), admin);
    wait_flowing(&backend, 2);

    backend.down();
    let before = t0.served().len() + t1.served().len();
    let outage = outage();
    std::thread::sleep(outage);
    let during = t0.served().len() + t1.served().len() - before;
    let on_disk = metric(admin, "profcol_exporter_storage_bytes").unwrap_or(0.0);
    assert!(
        during as u64 >= outage.as_secs(),
        "only {during} scrapes in the outage"
    );
    assert!(on_disk > 0.0, "the outage's profiles wait on disk");

    backend.up();
    std::thread::sleep(Duration::from_secs(2));
    t0.frozen.store(true, Ordering::SeqCst);
    t1.frozen.store(true, Ordering::SeqCst);
    // A scrape answered just before the freeze may still be on its way in.
    std::thread::sleep(Duration::from_millis(1500));
    let want: BTreeSet<String> = t0.served().into_iter().chain(t1.served()).collect();
    let got = backend.wait_for(&want, Duration::from_secs(60));
    // Anything sent twice would show up within the retry interval.
    std::thread::sleep(Duration::from_secs(2));
    let got_now = backend.received();
    assert_eq!(got, got_now, "nothing more arrived after the catch-up");
    assert_exactly_once(&got_now, &want);
    assert_eq!(
        got_now.keys().cloned().collect::<BTreeSet<_>>(),
        want,
        "only what was served"
    );
    eprintln!(
        "outage {:?}: {during} profiles scraped while the backend was down, {} delivered in all, each once",
        outage,
        want.len()
    );
    let (exit, _) = p.interrupt(Duration::from_secs(15));
    assert!(exit.is_some_and(|s| s.success()), "{exit:?}");
}

#[test]
fn sigkill_mid_outage_then_restart_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (t0, t1) = (Target::start("k0"), Target::start("k1"));
    let mut backend = Backend::new();
    let admin = free_port();
    let cfg = write_config(dir.path(), &[&t0, &t1], backend.port, admin);
    let mut first = start_profcol(&cfg, dir.path(), admin);
    wait_flowing(&backend, 2);

    backend.down();
    std::thread::sleep(BEFORE_KILL);
    first.child.kill().unwrap(); // SIGKILL
    first.child.wait().unwrap();
    drop(first);
    let served_before: BTreeSet<String> = t0.served().into_iter().chain(t1.served()).collect();
    let delivered_before: BTreeSet<String> = backend.received().into_keys().collect();
    let (pending, corrupt) =
        profcol_exporter::storage::read_pending(&dir.path().join("queue").join(EXPORTER_DIR))
            .unwrap();
    let accepted: BTreeSet<String> = markers_of_batches(&pending).into_iter().collect();
    assert!(
        accepted.len() as u64 >= BEFORE_KILL.as_secs(),
        "only {} profiles on disk at the kill",
        accepted.len()
    );
    assert_eq!(corrupt, 0, "a kill between records leaves no damage");
    assert!(
        accepted.is_disjoint(&delivered_before),
        "acked records are not pending"
    );
    let lost: BTreeSet<String> = served_before
        .difference(&delivered_before)
        .filter(|m| !accepted.contains(*m))
        .cloned()
        .collect();
    assert!(
        lost.len() <= 2,
        "only a scrape in flight (one per target) may be lost: {lost:?}"
    );

    let second = start_profcol(&cfg, dir.path(), admin);
    std::thread::sleep(AFTER_RESTART);
    backend.up();
    std::thread::sleep(Duration::from_secs(2));
    t0.frozen.store(true, Ordering::SeqCst);
    t1.frozen.store(true, Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(1500));
    let served: BTreeSet<String> = t0.served().into_iter().chain(t1.served()).collect();
    let want: BTreeSet<String> = served.difference(&lost).cloned().collect();
    let got = backend.wait_for(&want, Duration::from_secs(60));
    std::thread::sleep(Duration::from_secs(2));
    let got_now = backend.received();
    assert_eq!(got, got_now, "nothing more arrived after the catch-up");
    assert_exactly_once(&got_now, &want);
    assert!(
        got_now.keys().all(|m| !lost.contains(m)),
        "what was lost cannot arrive"
    );
    eprintln!(
        "kill after {:?} of outage: {} profiles were on disk, {} in flight lost, {} delivered in all, each once",
        BEFORE_KILL,
        accepted.len(),
        lost.len(),
        got_now.len()
    );
    let (exit, _) = second.interrupt(Duration::from_secs(15));
    assert!(exit.is_some_and(|s| s.success()), "{exit:?}");
}
