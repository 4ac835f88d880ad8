//! Stopping for real: a second SIGINT while the exporters are still trying
//! to flush makes profcol exit at once (instead of waiting out
//! `service.shutdown_timeout`), naming what it leaves unsent.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod e2e;

use e2e::{free_port, wait_ready, Running};
use std::io::Read;
use std::net::TcpListener;
use std::process::Command;
use std::time::{Duration, Instant};

#[test]
fn a_second_signal_during_shutdown_exits_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    // A backend that accepts connections and never answers: every export
    // hangs until its timeout, so the shutdown has work it cannot finish.
    let blackhole = TcpListener::bind("127.0.0.1:0").unwrap();
    let backend = blackhole.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in blackhole.incoming().flatten() {
            held.push(s);
        }
    });
    let cfg = dir.path().join("c.yaml");
    std::fs::write(
        &cfg,
        format!(
            "receivers:\n  pyroscope_scrape/self:\n    targets: [{{__address__: '127.0.0.1:{port}'}}]\n    scrape_interval: 1s\n    profiling_config:\n      profile:\n        memory: {{path: /debug/pprof/heap}}\n        process_cpu: {{enabled: false}}\n        goroutine: {{enabled: false}}\n        block: {{enabled: false}}\n        mutex: {{enabled: false}}\nexporters:\n  otlp_http:\n    endpoint: http://{backend}\n    timeout: 120s\n    sending_queue: {{num_consumers: 1}}\nservice:\n  shutdown_timeout: 120s\n  pipelines:\n    profiles: {{receivers: [pyroscope_scrape/self], exporters: [otlp_http]}}\n  telemetry:\n    metrics: {{address: '127.0.0.1:{port}'}}\n"
        ),
    )
    .unwrap();
    let mut p = Running::start(&["--config", cfg.to_str().unwrap()], dir.path());
    assert!(wait_ready(port, "/-/ready", Duration::from_secs(20)));
    // A few scrapes: one request hangs in flight, the rest wait in the queue.
    std::thread::sleep(Duration::from_secs(4));
    let pid = p.child.id().to_string();
    Command::new("kill").args(["-INT", &pid]).status().unwrap();
    std::thread::sleep(Duration::from_secs(1));
    assert!(
        p.child.try_wait().unwrap().is_none(),
        "profcol must still be flushing after the first SIGINT"
    );
    let second = Instant::now();
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    let status = loop {
        if let Some(s) = p.child.try_wait().unwrap() {
            break s;
        }
        assert!(
            second.elapsed() < Duration::from_secs(5),
            "a second signal must end profcol at once"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        !status.success(),
        "a forced exit is not a clean one: {status:?}"
    );
    let mut log = String::new();
    p.child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
    assert!(
        log.contains("a second SIGINT or SIGTERM exits at once"),
        "{log}"
    );
    assert!(
        log.contains("Second signal during shutdown: exiting now."),
        "{log}"
    );
    assert!(log.contains("signal=SIGTERM"), "{log}");
    assert!(
        log.contains("Exiting before this exporter finished."),
        "{log}"
    );
    assert!(log.contains("exporter=otlp_http"), "{log}");
    assert!(log.contains("requests_in_flight=1"), "{log}");
}
