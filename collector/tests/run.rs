//! The binary running for real: a YAML pipeline that scrapes profcol's own
//! admin server; the admin pages; the embedded default pipeline writing
//! profiles to disk; a clean stop on SIGINT within the shutdown timeout.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod e2e;

use e2e::{free_port, http_get, own_heap_profile, Running};
use profcol_pdata::pprof::{decode_pprof, DecodeLimits};
use std::path::Path;
use std::time::{Duration, Instant};

fn files_in(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// Waits until the directory holds a file whose name contains each of `parts`.
fn wait_for_files(dir: &Path, parts: &[&str], limit: Duration) -> Vec<String> {
    let deadline = Instant::now() + limit;
    loop {
        let files = files_in(dir);
        if parts.iter().all(|p| files.iter().any(|f| f.contains(p))) || Instant::now() > deadline {
            return files;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn admin_pages_and_own_cpu_profile() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let cfg = dir.path().join("c.yaml");
    std::fs::write(
        &cfg,
        format!(
            "receivers:\n  pyroscope_scrape/self:\n    targets: [{{__address__: '127.0.0.1:{port}', service_name: e2e}}]\n    scrape_interval: 3s\n    profiling_config:\n      profile:\n        memory: {{path: /debug/pprof/heap}}\n        goroutine: {{enabled: false}}\n        block: {{enabled: false}}\n        mutex: {{enabled: false}}\nexporters:\n  file: {{directory: '{out}'}}\nservice:\n  pipelines:\n    profiles: {{receivers: [pyroscope_scrape/self], exporters: [file]}}\n  telemetry:\n    metrics: {{address: '127.0.0.1:{port}'}}\n",
            out = dir.path().join("out").display()
        ),
    )
    .unwrap();
    let mut p = Running::start(&["--config", cfg.to_str().unwrap()], dir.path());
    p.expect_ready(port, "/-/ready", Duration::from_secs(20));

    let (status, body) = http_get(port, "/-/healthy").unwrap();
    assert_eq!(status, 200);
    assert_eq!(String::from_utf8_lossy(&body).trim(), "OK");

    let (status, body) = http_get(port, "/debug/pprof/profile?seconds=1").unwrap();
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let profile = decode_pprof(&body, &DecodeLimits::default()).expect("own CPU profile decodes");
    let types: Vec<&str> = profile
        .sample_type
        .iter()
        .map(|t| profile.str(t.r#type))
        .collect();
    assert_eq!(types, ["samples", "cpu"]);
    assert!(
        profile.duration_nanos >= 900_000_000,
        "duration {}",
        profile.duration_nanos
    );

    let heap = own_heap_profile(port, Duration::from_secs(20));
    assert!(!heap.sample.is_empty(), "the heap profile has samples");

    let files = wait_for_files(
        &dir.path().join("out"),
        &["process_cpu", "memory"],
        Duration::from_secs(25),
    );
    assert!(files.iter().any(|f| f.contains("process_cpu")), "{files:?}");
    assert!(files.iter().any(|f| f.contains("memory")), "{files:?}");

    let (status, body) = http_get(port, "/metrics").unwrap();
    let metrics = String::from_utf8_lossy(&body);
    assert_eq!(status, 200);
    assert!(metrics.contains("pyroscope_fanout_latency"), "{metrics}");

    let (status, body) = http_get(port, "/api/v1/targets").unwrap();
    assert_eq!(status, 200);
    let targets: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let jobs = targets["data"]["receivers"]["pyroscope_scrape/self"]
        .as_array()
        .unwrap();
    assert_eq!(jobs.len(), 2, "process_cpu and memory: {targets}");

    let (status, body) = http_get(port, "/targets").unwrap();
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&body).contains("pyroscope_scrape/self"));

    let started = Instant::now();
    let (exit, log) = p.interrupt(Duration::from_secs(12));
    let exit = exit.unwrap_or_else(|| panic!("did not stop within the shutdown timeout:\n{log}"));
    assert!(exit.success(), "exit {exit:?}\n{log}");
    assert!(started.elapsed() < Duration::from_secs(11));
}

#[test]
fn embedded_default_pipeline_writes_own_profiles() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let address = format!("127.0.0.1:{port}");
    let p = Running::start(
        &[
            "--set",
            &format!("service.telemetry.metrics.address={address}"),
            "--set",
            &format!("receivers::pyroscope_scrape/self::targets=[{{__address__: '{address}', service_name: profcol}}]"),
            "--set",
            &format!("receivers::pyroscope_scrape/self_heap::targets=[{{__address__: '{address}', service_name: profcol}}]"),
        ],
        dir.path(),
    );
    let files = wait_for_files(
        &dir.path().join("profcol-data"),
        &["process_cpu", "memory"],
        // The first CPU profile lands at its phase (< 15 s) + 14 s; a debug
        // build on a loaded machine may miss that one and take the next.
        Duration::from_secs(75),
    );
    let (exit, log) = p.interrupt(Duration::from_secs(12));
    assert!(
        files.iter().any(|f| f.contains("process_cpu")),
        "{files:?}\n{log}"
    );
    assert!(
        files.iter().any(|f| f.contains("memory")),
        "{files:?}\n{log}"
    );
    assert!(
        exit.is_some_and(|s| s.success()),
        "no clean stop: {exit:?}\n{log}"
    );
    assert!(
        log.contains("process_cpu"),
        "the debug exporter logs each profile:\n{log}"
    );
}
