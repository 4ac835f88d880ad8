//! The extensions with the real binary on loopback:
//!
//! - `health_check` answers `200` with the Collector's JSON body on its own
//!   port; a reload that changes only its endpoint moves it there (the old
//!   port closes) and restarts no receiver.
//! - `pprof` serves a CPU profile that decodes on its own port; with
//!   `save_to_file`, `/debug/pprof/profile` answers `409` and the whole
//!   run's CPU profile is written at exit.
//! - An exporter whose `sending_queue.storage` names a `file_storage`
//!   extension keeps its queue in `<directory>/<exporter id>` across a
//!   restart: batches queued while the backend was down arrive after the
//!   restart.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod e2e;

use e2e::{free_port, http_get, wait_ready, Running};
use profcol_pdata::otlp::collector::ExportProfilesServiceRequest;
use profcol_pdata::pprof::{decode_pprof, DecodeLimits};
use prost::Message;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A receiver scraping profcol's own heap every second, `file` exporting.
fn config(admin: u16, exporters: &str, exporter: &str, extensions: &str, listed: &str) -> String {
    format!(
        "receivers:
  pyroscope_scrape/self:
    targets: [{{__address__: '127.0.0.1:{admin}', service_name: profcol}}]
    scrape_interval: 1s
    profiling_config:
      profile:
        process_cpu: {{enabled: false}}
        memory: {{enabled: true, path: /debug/pprof/heap}}
        goroutine: {{enabled: false}}
        block: {{enabled: false}}
        mutex: {{enabled: false}}
exporters:
{exporters}
extensions:
{extensions}
service:
  extensions: [{listed}]
  pipelines:
    profiles: {{receivers: [pyroscope_scrape/self], exporters: [{exporter}]}}
  telemetry:
    metrics: {{address: '127.0.0.1:{admin}'}}
"
    )
}

fn file_exporter(dir: &Path) -> String {
    format!("  file: {{directory: '{}'}}", dir.join("out").display())
}

fn start(dir: &Path, cfg: &str, admin: u16) -> (Running, String) {
    let path = dir.join("profcol.yaml");
    std::fs::write(&path, cfg).unwrap();
    let path = path.display().to_string();
    let mut p = Running::start(&["--config", &path], dir);
    p.expect_ready(admin, "/-/ready", Duration::from_secs(30));
    (p, path)
}

fn http_post(port: u16, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "POST {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let status = raw
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap();
    let body = raw.split("\r\n\r\n").nth(1).unwrap_or_default().to_string();
    (status, body)
}

#[test]
fn health_check_answers_on_its_port_and_a_reload_moves_it_alone() {
    let dir = tempfile::tempdir().unwrap();
    let (admin, first, second) = (free_port(), free_port(), free_port());
    let cfg = |port: u16| {
        config(
            admin,
            &file_exporter(dir.path()),
            "file",
            &format!("  health_check: {{endpoint: '127.0.0.1:{port}', path: /health/status}}\n  pprof: {{endpoint: '127.0.0.1:0'}}"),
            "health_check",
        )
    };
    let (p, path) = start(dir.path(), &cfg(first), admin);

    let (status, body) = http_get(first, "/health/status").unwrap();
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(json["status"], "Server available");
    let up_since = json["upSince"].as_str().unwrap();
    assert!(
        up_since.len() >= 20 && up_since.ends_with('Z') && up_since.contains('T'),
        "{up_since}"
    );
    let uptime = json["uptime"].as_str().unwrap();
    assert!(
        uptime.ends_with('s') && uptime.chars().next().unwrap().is_ascii_digit(),
        "{uptime}"
    );
    assert_eq!(http_get(first, "/other").unwrap().0, 404);

    // On /components: the listed extension runs, the other is not started.
    let (_, page) = http_get(admin, "/api/v1/components").unwrap();
    let page: serde_json::Value = serde_json::from_slice(&page).unwrap();
    let component = |id: &str| {
        page["data"]["components"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id && c["kind"] == "extension")
            .cloned()
            .unwrap()
    };
    assert_eq!(component("health_check")["health"]["state"], "healthy");
    assert_eq!(
        component("health_check")["debug"]["listening"],
        format!("http://127.0.0.1:{first}/health/status")
    );
    assert_eq!(component("pprof")["health"]["state"], "stopped");
    assert_eq!(
        component("pprof")["health"]["reason"],
        "not listed in service.extensions, so not started"
    );

    std::fs::write(&path, cfg(second)).unwrap();
    let (status, summary) = http_post(admin, "/-/reload");
    assert_eq!(status, 200, "{summary}");
    assert_eq!(
        summary.trim(),
        "Reloaded: extensions restarted health_check"
    );
    let (status, body) = http_get(second, "/health/status").unwrap();
    assert_eq!(status, 200);
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(json["status"], "Server available");
    // Up since readiness, which the reload did not interrupt.
    assert_eq!(json["upSince"].as_str().unwrap(), up_since);
    assert!(
        TcpStream::connect(("127.0.0.1", first)).is_err(),
        "the old endpoint is closed"
    );
    let (exit, _) = p.interrupt(Duration::from_secs(15));
    assert!(exit.is_some_and(|s| s.success()), "{exit:?}");
}

#[test]
fn pprof_extension_serves_a_cpu_profile_that_decodes() {
    let dir = tempfile::tempdir().unwrap();
    let (admin, port) = (free_port(), free_port());
    let cfg = config(
        admin,
        &file_exporter(dir.path()),
        "file",
        &format!("  pprof: {{endpoint: '127.0.0.1:{port}', block_profile_fraction: 5}}"),
        "pprof",
    );
    let (p, _) = start(dir.path(), &cfg, admin);
    let (status, body) = http_get(port, "/debug/pprof/profile?seconds=1").unwrap();
    if status == 501 {
        eprintln!(
            "no CPU sampler on this platform: {}",
            String::from_utf8_lossy(&body)
        );
        return;
    }
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let profile = decode_pprof(&body, &DecodeLimits::default()).expect("the CPU profile decodes");
    let types: Vec<(&str, &str)> = profile
        .sample_type
        .iter()
        .map(|t| (profile.str(t.r#type), profile.str(t.unit)))
        .collect();
    assert_eq!(types, [("samples", "count"), ("cpu", "nanoseconds")]);
    assert!(
        profile.duration_nanos >= 900_000_000,
        "{}",
        profile.duration_nanos
    );
    let (status, heap) = http_get(port, "/debug/pprof/heap").unwrap();
    assert_eq!(status, 200);
    decode_pprof(&heap, &DecodeLimits::default()).expect("the heap profile decodes");
    let (status, _) = http_get(port, "/debug/pprof/").unwrap();
    assert_eq!(status, 200);
    let (exit, _) = p.interrupt(Duration::from_secs(15));
    assert!(exit.is_some_and(|s| s.success()), "{exit:?}");
}

#[test]
fn pprof_save_to_file_writes_the_whole_run_at_exit() {
    let dir = tempfile::tempdir().unwrap();
    let (admin, port) = (free_port(), free_port());
    let file = dir.path().join("run.pprof");
    let cfg = config(
        admin,
        &file_exporter(dir.path()),
        "file",
        &format!(
            "  pprof: {{endpoint: '127.0.0.1:{port}', save_to_file: '{}'}}",
            file.display()
        ),
        "pprof",
    );
    let path = dir.path().join("profcol.yaml");
    std::fs::write(&path, &cfg).unwrap();
    let p = Running::start(&["--config", &path.display().to_string()], dir.path());
    if !wait_ready(admin, "/-/ready", Duration::from_secs(30)) {
        let (_, err) = p.interrupt(Duration::from_secs(5));
        assert!(
            err.contains("cannot profile the whole run"),
            "profcol never became ready: {err}"
        );
        eprintln!("no CPU sampler on this platform");
        return;
    }
    let (status, body) = http_get(port, "/debug/pprof/profile?seconds=1").unwrap();
    assert_eq!(status, 409, "{}", String::from_utf8_lossy(&body));
    std::thread::sleep(Duration::from_secs(2));
    let (exit, err) = p.interrupt(Duration::from_secs(15));
    assert!(exit.is_some_and(|s| s.success()), "{exit:?} {err}");
    let bytes = std::fs::read(&file).expect("the profile was written at exit");
    let profile = decode_pprof(&bytes, &DecodeLimits::default()).unwrap();
    assert_eq!(profile.str(profile.sample_type[1].r#type), "cpu");
    assert!(
        profile.duration_nanos >= 2_000_000_000,
        "it covers the run: {} ns",
        profile.duration_nanos
    );
}

/// Reads one HTTP/1.1 request's body (by `Content-Length`).
fn read_body(s: &mut TcpStream) -> Option<(String, Vec<u8>)> {
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16 << 10];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_string();
            let len: usize = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse().ok())?
                })
                .unwrap_or(0);
            while buf.len() < end + 4 + len {
                let n = s.read(&mut chunk).ok()?;
                if n == 0 {
                    return None;
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            return Some((head, buf[end + 4..end + 4 + len].to_vec()));
        }
        let n = s.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// An OTLP/HTTP backend counting the profiles it accepts.
fn backend(port: u16, profiles: Arc<AtomicUsize>) {
    let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
    std::thread::spawn(move || {
        for mut s in listener.incoming().map_while(Result::ok) {
            let profiles = profiles.clone();
            std::thread::spawn(move || {
                let Some((_, body)) = read_body(&mut s) else {
                    return;
                };
                let plain = profcol_pdata::pprof::decompress(&body, 256 << 20).unwrap();
                let req = ExportProfilesServiceRequest::decode(plain.as_ref()).unwrap();
                let n: usize = req
                    .resource_profiles
                    .iter()
                    .flat_map(|r| &r.scope_profiles)
                    .map(|sp| sp.profiles.len())
                    .sum();
                profiles.fetch_add(n, Ordering::SeqCst);
                let _ = s.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nContent-Type: application/x-protobuf\r\nConnection: close\r\n\r\n",
                );
            });
        }
    });
}

#[test]
fn a_file_storage_queue_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let storage = dir.path().join("storage");
    let (admin, backend_port) = (free_port(), free_port());
    let cfg = |target_admin: u16| {
        config(
            admin,
            &format!("  otlp_http/o:\n    endpoint: http://127.0.0.1:{backend_port}\n    retry_on_failure: {{initial_interval: 200ms, max_interval: 1s, max_elapsed_time: 0s}}\n    sending_queue: {{num_consumers: 1, storage: file_storage/q}}"),
            "otlp_http/o",
            &format!("  file_storage/q: {{directory: '{}', create_directory: true}}", storage.display()),
            "file_storage/q",
        )
        .replace(&format!("__address__: '127.0.0.1:{admin}'"), &format!("__address__: '127.0.0.1:{target_admin}'"))
        .replace("service:\n", "service:\n  shutdown_timeout: 2s\n")
    };
    // Run 1: the backend is down; scraped profiles wait on disk.
    let (p, _) = start(dir.path(), &cfg(admin), admin);
    let queue_dir = storage.join("otlp_http_o");
    let deadline = Instant::now() + Duration::from_secs(30);
    let queued = loop {
        let n = profcol_exporter::storage::read_pending(&queue_dir)
            .map(|(b, _)| b.iter().map(|b| b.len()).sum::<usize>())
            .unwrap_or(0);
        if n >= 3 || Instant::now() > deadline {
            break n;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(
        queued >= 3,
        "only {queued} profiles queued in {}",
        queue_dir.display()
    );
    assert!(
        storage.join("profcol.lock").exists(),
        "the extension holds its lock file"
    );
    let (exit, err) = p.interrupt(Duration::from_secs(20));
    assert!(exit.is_some_and(|s| s.success()), "{exit:?} {err}");
    let (pending, corrupt) = profcol_exporter::storage::read_pending(&queue_dir).unwrap();
    let kept: usize = pending.iter().map(|b| b.len()).sum();
    assert!(
        kept >= queued,
        "{kept} profiles on disk after the stop, {queued} before"
    );
    assert_eq!(corrupt, 0);

    // Run 2: the backend is up and nothing new is scraped (the target is a
    // closed port), so what arrives is what run 1 left on disk.
    let received = Arc::new(AtomicUsize::new(0));
    backend(backend_port, received.clone());
    let (p, _) = start(dir.path(), &cfg(free_port()), admin);
    let deadline = Instant::now() + Duration::from_secs(30);
    while received.load(Ordering::SeqCst) < kept && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(
        received.load(Ordering::SeqCst),
        kept,
        "every queued profile arrived once"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    let left = loop {
        let left = profcol_exporter::storage::read_pending(&queue_dir)
            .map(|(b, _)| b.len())
            .unwrap_or(0);
        if left == 0 || Instant::now() > deadline {
            break left;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(left, 0, "delivered batches are acked");
    let (exit, _) = p.interrupt(Duration::from_secs(15));
    assert!(exit.is_some_and(|s| s.success()), "{exit:?}");
}
