//! Live reload with the real binary: a local target serves mutex profiles
//! whose totals grow and records when each path is scraped.
//!
//! - An invalid config sent by SIGHUP (and by `POST /-/reload`) leaves
//!   scraping uninterrupted and is reported in the log, on `/-/ready` and by
//!   `profcol_config_last_reload_successful`.
//! - Valid reloads (a file change, then `POST /-/reload`) that change one
//!   receiver and the exporter leave the other receiver's scrape loop alone:
//!   its delta baseline survives (every scrape after the first is exported
//!   as a delta, none is lost to a new baseline), and its profiles reach the
//!   restarted exporter.
//! - A reload that only respells settings (`1s` → `1000ms`, defaults
//!   written out) changes no component; one that adds a target and respells
//!   the interval restarts the receiver, and the unchanged job keeps its
//!   delta baseline.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod e2e;

use e2e::{free_port, http_get, wait_ready, Running};
use profcol_pdata::pprof::{Function, Line, Location, Profile, Sample, ValueType};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const INTERVAL: Duration = Duration::from_secs(1);

/// When each path was requested, in order.
#[derive(Clone, Default)]
struct Scrapes(Arc<Mutex<BTreeMap<String, Vec<Instant>>>>);

impl Scrapes {
    fn of(&self, path: &str) -> Vec<Instant> {
        self.0
            .lock()
            .unwrap()
            .get(path)
            .cloned()
            .unwrap_or_default()
    }

    fn count(&self, path: &str) -> usize {
        self.of(path).len()
    }

    fn wait_for(&self, path: &str, n: usize, limit: Duration) {
        let deadline = Instant::now() + limit;
        while self.count(path) < n {
            assert!(
                Instant::now() < deadline,
                "{path}: {} scrapes, waited for {n}",
                self.count(path)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The longest pause between two scrapes of `path`.
    fn longest_gap(&self, path: &str) -> Duration {
        self.of(path)
            .windows(2)
            .map(|w| w[1] - w[0])
            .max()
            .unwrap_or_default()
    }
}

/// A mutex profile whose totals after the n-th scrape are 10·n(n+1)/2
/// contentions, so the delta exported for scrape n is 10·n: each exported
/// profile names the scrape it came from.
fn mutex_profile(n: i64) -> Vec<u8> {
    let strings: Vec<String> = [
        "",
        "contentions",
        "count",
        "delay",
        "nanoseconds",
        "main.lock",
        "main.go",
    ]
    .map(String::from)
    .to_vec();
    let total = n * (n + 1) / 2;
    let p = Profile {
        sample_type: vec![
            ValueType { r#type: 1, unit: 2 },
            ValueType { r#type: 3, unit: 4 },
        ],
        sample: vec![Sample {
            location_id: vec![1],
            value: vec![10 * total, 1000 * total],
            label: vec![],
        }],
        location: vec![Location {
            id: 1,
            line: vec![Line {
                function_id: 1,
                line: 3,
                column: 0,
            }],
            ..Default::default()
        }],
        function: vec![Function {
            id: 1,
            name: 5,
            system_name: 5,
            filename: 6,
            start_line: 1,
        }],
        string_table: strings,
        time_nanos: 1,
        ..Default::default()
    };
    profcol_pdata::pprof::encode_pprof_gzip(&p)
}

/// Serves `mutex_profile(n)` on every path, n counting that path's scrapes.
fn target() -> (u16, Scrapes) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let scrapes = Scrapes::default();
    let seen = scrapes.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let seen = seen.clone();
            std::thread::spawn(move || serve(stream, &seen));
        }
    });
    (port, scrapes)
}

fn serve(mut stream: TcpStream, seen: &Scrapes) {
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let path = line
            .split_whitespace()
            .nth(1)
            .unwrap_or("/")
            .split('?')
            .next()
            .unwrap_or("/")
            .to_string();
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            if h == "\r\n" || h == "\n" {
                break;
            }
        }
        let n = {
            let mut all = seen.0.lock().unwrap();
            let list = all.entry(path).or_default();
            list.push(Instant::now());
            list.len() as i64
        };
        let body = mutex_profile(n);
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        if stream.write_all(head.as_bytes()).is_err() || stream.write_all(&body).is_err() {
            return;
        }
    }
}

/// Collects profcol's stderr as it comes (a full pipe would block it).
fn capture_log(p: &mut Running) -> Arc<Mutex<String>> {
    let log = Arc::new(Mutex::new(String::new()));
    let mut err = p.child.stderr.take().unwrap();
    let sink = log.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        while let Ok(n) = err.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    log
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
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, body.to_string())
}

fn page(port: u16, path: &str) -> String {
    let (status, body) = http_get(port, path).unwrap();
    assert_eq!(status, 200, "{path}");
    String::from_utf8_lossy(&body).to_string()
}

fn metric(port: u16, name: &str) -> Option<String> {
    page(port, "/metrics")
        .lines()
        .find(|l| l.starts_with(&format!("{name} ")))
        .map(|l| l[name.len() + 1..].to_string())
}

/// A receiver block scraping only the mutex profile at `path`.
fn receiver(name: &str, target: u16, path: &str, labels: &str) -> String {
    format!(
        "  pyroscope_scrape/{name}:\n    targets: [{{__address__: '127.0.0.1:{target}', service_name: {name}{labels}}}]\n    scrape_interval: 1s\n    profiling_config:\n      profile:\n        memory: {{enabled: false}}\n        block: {{enabled: false}}\n        goroutine: {{enabled: false}}\n        process_cpu: {{enabled: false}}\n        mutex: {{path: {path}}}\n"
    )
}

fn config(receivers: &[String], names: &[&str], out: &Path, admin: u16) -> String {
    let list: Vec<String> = names
        .iter()
        .map(|n| format!("pyroscope_scrape/{n}"))
        .collect();
    format!(
        "receivers:\n{}exporters:\n  file: {{directory: '{}'}}\nservice:\n  shutdown_timeout: 5s\n  pipelines:\n    profiles: {{receivers: [{}], exporters: [file]}}\n  telemetry:\n    metrics: {{address: '127.0.0.1:{admin}'}}\n",
        receivers.concat(),
        out.display(),
        list.join(", ")
    )
}

/// Replaces `path` at once (write aside, rename), as editors and
/// ConfigMap updates do.
fn replace_file(path: &Path, text: &str) {
    let aside = path.with_extension("tmp");
    std::fs::write(&aside, text).unwrap();
    std::fs::rename(&aside, path).unwrap();
}

fn sighup(p: &Running) {
    let pid = p.child.id().to_string();
    assert!(std::process::Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .unwrap()
        .success());
}

fn wait_until(limit: Duration, what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The delta each exported profile of `service` carries, in `dirs`.
fn exported_deltas(dirs: &[&Path], service: &str) -> Vec<i64> {
    let mut out = Vec::new();
    for dir in dirs {
        let Ok(rd) = std::fs::read_dir(dir) else {
            continue;
        };
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if !name.contains(&format!("_{service}_")) || !name.ends_with(".pb.gz") {
                continue;
            }
            let bytes = std::fs::read(e.path()).unwrap();
            let p = profcol_pdata::pprof::decode_pprof(&bytes, &Default::default()).unwrap();
            let contentions: i64 = p.sample.iter().map(|s| s.value[0]).sum();
            out.push(contentions);
        }
    }
    out.sort_unstable();
    out
}

#[test]
fn an_invalid_config_by_sighup_leaves_scraping_uninterrupted_and_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let (target_port, scrapes) = target();
    let admin = free_port();
    let cfg = dir.path().join("c.yaml");
    let out = dir.path().join("out");
    let good = config(
        &[receiver("only", target_port, "/only/mutex", "")],
        &["only"],
        &out,
        admin,
    );
    std::fs::write(&cfg, &good).unwrap();
    let mut p = Running::start(&["--config", cfg.to_str().unwrap()], dir.path());
    let log = capture_log(&mut p);
    assert!(wait_ready(admin, "/-/ready", Duration::from_secs(20)));
    scrapes.wait_for("/only/mutex", 3, Duration::from_secs(10));
    assert_eq!(
        metric(admin, "profcol_config_last_reload_successful").as_deref(),
        Some("1")
    );

    // An unknown scheme and a pipeline naming a missing exporter.
    let bad = good
        .replace(
            "scrape_interval: 1s",
            "scrape_interval: 1s\n    scheme: ftp",
        )
        .replace("exporters: [file]", "exporters: [file, otlp/missing]");
    replace_file(&cfg, &bad);
    sighup(&p);
    wait_until(Duration::from_secs(10), "the failure on /-/ready", || {
        page(admin, "/-/ready").contains("last reload failed")
    });
    let ready = page(admin, "/-/ready");
    assert!(ready.starts_with("Ready\n"), "{ready}");
    assert!(ready.contains("scheme"), "{ready}");
    assert!(ready.contains("otlp/missing"), "{ready}");
    assert_eq!(
        metric(admin, "profcol_config_last_reload_successful").as_deref(),
        Some("0")
    );
    // Asked over HTTP, the same refusal comes back as a 500.
    let (status, body) = http_post(admin, "/-/reload");
    assert_eq!(status, 500, "{body}");
    assert!(body.starts_with("Reload failed: "), "{body}");
    assert!(body.contains("scheme"), "{body}");

    let after = scrapes.count("/only/mutex");
    scrapes.wait_for("/only/mutex", after + 3, Duration::from_secs(10));
    let (exit, _) = p.interrupt(Duration::from_secs(10));
    assert!(exit.is_some_and(|s| s.success()));
    let log = log.lock().unwrap().clone();

    let gap = scrapes.longest_gap("/only/mutex");
    assert!(
        gap < INTERVAL * 3 / 2,
        "a scrape gap of {gap:?} across the failed reload\n{log}"
    );
    assert!(
        log.contains("Configuration reload failed") && log.contains("SIGHUP"),
        "{log}"
    );
    assert_eq!(
        log.matches("Receiver started.").count(),
        1,
        "the receiver was not restarted\n{log}"
    );
    // Every scrape after the first baseline was exported as a delta.
    let deltas = exported_deltas(&[&out], "only");
    let served = scrapes.count("/only/mutex") as i64;
    assert!(deltas.len() as i64 >= served - 2, "{deltas:?} of {served}");
    assert_eq!(
        deltas,
        (2..=deltas.len() as i64 + 1)
            .map(|n| 10 * n)
            .collect::<Vec<_>>()
    );
}

#[test]
fn a_valid_reload_rebuilds_only_what_changed() {
    let dir = tempfile::tempdir().unwrap();
    let (target_port, scrapes) = target();
    let admin = free_port();
    let cfg = dir.path().join("c.yaml");
    let out = dir.path().join("out");
    let out2 = dir.path().join("out2");
    let steady = receiver("steady", target_port, "/steady/mutex", "");
    let names = ["steady", "changing"];
    replace_file(
        &cfg,
        &config(
            &[
                steady.clone(),
                receiver(
                    "changing",
                    target_port,
                    "/changing/v1/mutex",
                    ", version: '1'",
                ),
            ],
            &names,
            &out,
            admin,
        ),
    );
    let mut p = Running::start(&["--config", cfg.to_str().unwrap()], dir.path());
    let log = capture_log(&mut p);
    assert!(wait_ready(admin, "/-/ready", Duration::from_secs(20)));
    scrapes.wait_for("/steady/mutex", 3, Duration::from_secs(10));
    scrapes.wait_for("/changing/v1/mutex", 2, Duration::from_secs(10));

    // 1. A file change: the changing receiver scrapes another path, and the
    // log level goes to debug.
    replace_file(
        &cfg,
        &(config(
            &[
                steady.clone(),
                receiver(
                    "changing",
                    target_port,
                    "/changing/v2/mutex",
                    ", version: '2'",
                ),
            ],
            &names,
            &out,
            admin,
        ) + "    logs: {level: debug}\n"),
    );
    scrapes.wait_for("/changing/v2/mutex", 1, Duration::from_secs(10));
    let v1_done = scrapes.count("/changing/v1/mutex");
    let before = scrapes.count("/steady/mutex");
    scrapes.wait_for("/steady/mutex", before + 2, Duration::from_secs(10));
    assert_eq!(
        scrapes.count("/changing/v1/mutex"),
        v1_done,
        "the replaced receiver stopped"
    );
    assert_eq!(
        metric(admin, "profcol_config_last_reload_successful").as_deref(),
        Some("1")
    );

    // 2. POST /-/reload: a new label on the changing receiver and a restarted
    // exporter writing elsewhere. The answer comes once it is applied.
    replace_file(
        &cfg,
        &config(
            &[
                steady.clone(),
                receiver(
                    "changing",
                    target_port,
                    "/changing/v2/mutex",
                    ", version: '3'",
                ),
            ],
            &names,
            &out2,
            admin,
        ),
    );
    let (status, body) = http_post(admin, "/-/reload");
    assert_eq!(status, 200, "{body}");
    assert!(body.starts_with("Reloaded: "), "{body}");
    let targets = page(admin, "/api/v1/targets");
    assert!(targets.contains("\"version\":\"3\""), "{targets}");
    assert!(!targets.contains("\"version\":\"2\""), "{targets}");
    let before = scrapes.count("/steady/mutex");
    scrapes.wait_for("/steady/mutex", before + 3, Duration::from_secs(10));
    assert!(page(admin, "/-/ready").starts_with("Ready\n"));

    // 3. The steady receiver's relabeling changes but none of its jobs does
    // (a rule that keeps every one of its targets): it gets a new instance,
    // and its job keeps its delta state and its cadence.
    replace_file(
        &cfg,
        &config(
            &[
                steady.clone()
                    + "    relabel_configs: [{action: keep, source_labels: [service_name], regex: steady}]\n",
                receiver(
                    "changing",
                    target_port,
                    "/changing/v2/mutex",
                    ", version: '3'",
                ),
            ],
            &names,
            &out2,
            admin,
        ),
    );
    let (status, body) = http_post(admin, "/-/reload");
    assert_eq!(status, 200, "{body}");
    let before = scrapes.count("/steady/mutex");
    scrapes.wait_for("/steady/mutex", before + 3, Duration::from_secs(10));

    let (exit, _) = p.interrupt(Duration::from_secs(10));
    assert!(exit.is_some_and(|s| s.success()));
    let log = log.lock().unwrap().clone();

    // Its delta state survived both reloads: scrape n exported 10·n for
    // every n from 2 on, none lost to a new baseline, across both exporters.
    let deltas = exported_deltas(&[&out, &out2], "steady");
    let served = scrapes.count("/steady/mutex") as i64;
    assert!(deltas.len() as i64 >= served - 2, "{deltas:?} of {served}");
    assert_eq!(
        deltas,
        (2..=deltas.len() as i64 + 1)
            .map(|n| 10 * n)
            .collect::<Vec<_>>(),
        "{log}"
    );
    // The steady receiver started once, again for step 3, and never paused.
    let started = |id: &str| {
        log.lines()
            .filter(|l| l.contains("Receiver started.") && l.contains(id))
            .count()
    };
    assert_eq!(started("pyroscope_scrape/steady"), 2, "{log}");
    assert_eq!(started("pyroscope_scrape/changing"), 3, "{log}");
    assert!(log.contains("config file change"), "{log}");
    // The level went to debug and back to info without a restart.
    assert_eq!(log.matches("Log level changed.").count(), 2, "{log}");
    let debug_part = log
        .split("Log level changed.")
        .nth(1)
        .unwrap_or_default()
        .to_string();
    assert!(debug_part.contains(" level=debug "), "{log}");
    assert!(log.contains("POST /-/reload"), "{log}");
    let gap = scrapes.longest_gap("/steady/mutex");
    assert!(gap < INTERVAL * 3 / 2, "steady paused for {gap:?}\n{log}");

    assert!(
        !exported_deltas(&[&out2], "steady").is_empty(),
        "the steady receiver feeds the restarted exporter"
    );
    // The changing receiver's new instance started a new baseline at v2.
    let changing = exported_deltas(&[&out, &out2], "changing");
    assert!(changing.contains(&20), "{changing:?}");
}

/// A `pyroscope_scrape/steady` receiver scraping the mutex profile of
/// `targets`, its interval spelled `interval`, with `extra` keys.
fn steady_receiver(targets: &[String], interval: &str, extra: &str) -> String {
    format!(
        "  pyroscope_scrape/steady:\n    targets: [{}]\n    scrape_interval: {interval}\n{extra}    profiling_config:\n      profile:\n        memory: {{enabled: false}}\n        block: {{enabled: false}}\n        goroutine: {{enabled: false}}\n        process_cpu: {{enabled: false}}\n        mutex: {{path: /steady/mutex}}\n",
        targets.join(", ")
    )
}

#[test]
fn a_reload_that_only_respells_keeps_everything_and_a_replaced_receiver_keeps_delta_state() {
    let dir = tempfile::tempdir().unwrap();
    let (first_port, first) = target();
    let (second_port, second) = target();
    let admin = free_port();
    let cfg = dir.path().join("c.yaml");
    let out = dir.path().join("out");
    let one = [format!(
        "{{__address__: '127.0.0.1:{first_port}', service_name: steady}}"
    )];
    replace_file(
        &cfg,
        &config(&[steady_receiver(&one, "1s", "")], &["steady"], &out, admin),
    );
    let mut p = Running::start(&["--config", cfg.to_str().unwrap()], dir.path());
    p.expect_ready(admin, "/-/ready", Duration::from_secs(20));
    let log = capture_log(&mut p);
    first.wait_for("/steady/mutex", 3, Duration::from_secs(10));

    // 1. Only spellings change: the interval in milliseconds, the timeout
    // and body size written out at their defaults, the file exporter's
    // default max_files written out, keys in another order.
    let respelled = config(
        &[steady_receiver(
            &one,
            "1000ms",
            "    scrape_timeout: 4s\n    max_body_size: 64MiB\n",
        )],
        &["steady"],
        &out,
        admin,
    )
    .replace(
        &format!("file: {{directory: '{}'}}", out.display()),
        &format!("file: {{max_files: 1000, directory: '{}'}}", out.display()),
    );
    replace_file(&cfg, &respelled);
    let (status, body) = http_post(admin, "/-/reload");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, "Reloaded: no component changed\n");
    let before = first.count("/steady/mutex");
    first.wait_for("/steady/mutex", before + 3, Duration::from_secs(10));

    // 2. A target is added and the interval respelled again: the receiver
    // is replaced, its unchanged job keeps its baseline and its cadence.
    let two = [
        one[0].clone(),
        format!("{{__address__: '127.0.0.1:{second_port}', service_name: added}}"),
    ];
    replace_file(
        &cfg,
        &config(&[steady_receiver(&two, "1s", "")], &["steady"], &out, admin),
    );
    sighup(&p);
    second.wait_for("/steady/mutex", 3, Duration::from_secs(10));
    let before = first.count("/steady/mutex");
    first.wait_for("/steady/mutex", before + 2, Duration::from_secs(10));

    let (exit, _) = p.interrupt(Duration::from_secs(10));
    assert!(exit.is_some_and(|s| s.success()));
    let log = log.lock().unwrap().clone();
    let reloads: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("Configuration reloaded."))
        .collect();
    // The file watcher may also see each change: whichever trigger comes
    // second finds nothing to do.
    let restarts = reloads
        .iter()
        .filter(|l| l.contains("changes=\"receivers restarted pyroscope_scrape/steady\""))
        .count();
    let unchanged = reloads
        .iter()
        .filter(|l| l.contains("changes=\"no component changed\""))
        .count();
    assert_eq!(restarts, 1, "{log}");
    assert_eq!(restarts + unchanged, reloads.len(), "{log}");
    // Started at start-up and for step 2 only.
    assert_eq!(log.matches("Receiver started.").count(), 2, "{log}");

    // Scrape n of the first target was exported as 10·n for every n from 2
    // on: no new baseline at either reload, nothing skipped.
    let deltas = exported_deltas(&[&out], "steady");
    let served = first.count("/steady/mutex") as i64;
    assert!(deltas.len() as i64 >= served - 2, "{deltas:?} of {served}");
    assert_eq!(
        deltas,
        (2..=deltas.len() as i64 + 1)
            .map(|n| 10 * n)
            .collect::<Vec<_>>(),
        "{log}"
    );
    let gap = first.longest_gap("/steady/mutex");
    assert!(gap < INTERVAL * 3 / 2, "steady paused for {gap:?}\n{log}");
    // The added target's job started its own baseline.
    let added = exported_deltas(&[&out], "added");
    assert_eq!(added.first(), Some(&20), "{added:?}");
}
