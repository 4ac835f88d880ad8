//! Input faults against the real binary: hostile targets on loopback (a
//! 10 GiB gzip bomb, an endless chunked body, a slowloris trickle, 10k pprof
//! labels, invalid UTF-8, a target with 10k labels) are refused with their
//! cause on `/api/v1/targets`, a healthy target keeps being exported, and
//! profcol's peak resident memory (VmHWM of the child) stays bounded. Then
//! `service.memory_limit_mib`: over the bound no scrape starts.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use profcol_e2e::{free_port, http_get, wait_ready, Running};
use profcol_pdata::pprof::{Function, Label, Line, Location, Profile, Sample, ValueType};
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

fn profile(labels: usize) -> Profile {
    let strings = ["", "goroutine", "count", "main.work", "main.go", "k"];
    Profile {
        sample_type: vec![ValueType { r#type: 1, unit: 2 }],
        sample: vec![Sample {
            location_id: vec![1],
            value: vec![3],
            label: (0..labels)
                .map(|i| Label {
                    key: 5,
                    num: i as i64,
                    ..Default::default()
                })
                .collect(),
        }],
        location: vec![Location {
            id: 1,
            line: vec![Line {
                function_id: 1,
                line: 10,
                column: 0,
            }],
            ..Default::default()
        }],
        function: vec![Function {
            id: 1,
            name: 3,
            system_name: 3,
            filename: 4,
            start_line: 1,
        }],
        string_table: strings.iter().map(|s| s.to_string()).collect(),
        time_nanos: 1,
        ..Default::default()
    }
}

fn chunk(s: &mut TcpStream, data: &[u8]) -> std::io::Result<()> {
    write!(s, "{:x}\r\n", data.len())?;
    s.write_all(data)?;
    s.write_all(b"\r\n")
}

const CHUNKED: &str =
    "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n";

fn answer(mut s: TcpStream, member: &[u8]) -> std::io::Result<()> {
    let mut line = String::new();
    BufReader::new(s.try_clone()?).read_line(&mut line)?;
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
    let path = path.split('?').next().unwrap_or("/");
    let body = match path {
        "/good" => profcol_pdata::encode_pprof_gzip(&profile(0)),
        "/labels" => profcol_pdata::encode_pprof_gzip(&profile(10_000)),
        "/utf8" => {
            let mut raw = profcol_pdata::encode_pprof(&profile(0));
            let at = raw.windows(9).position(|w| w == b"main.work").unwrap();
            raw[at] = 0xff;
            raw
        }
        "/bomb" => {
            // 10240 gzip members of 1 MiB of zeros each: 10 GiB inflated.
            s.write_all(CHUNKED.as_bytes())?;
            for _ in 0..10 * 1024 {
                chunk(&mut s, member)?;
            }
            return chunk(&mut s, b"");
        }
        "/endless" => {
            s.write_all(CHUNKED.as_bytes())?;
            let data = vec![0x0a; 64 << 10];
            loop {
                chunk(&mut s, &data)?;
            }
        }
        "/slowloris" => {
            s.write_all(CHUNKED.as_bytes())?;
            loop {
                chunk(&mut s, b"\x0a")?;
                std::thread::sleep(Duration::from_secs(1));
            }
        }
        _ => {
            return s.write_all(
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            )
        }
    };
    write!(
        s,
        "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    s.write_all(&body)
}

/// Serves the hostile paths on a loopback port, one thread per connection.
fn hostile_server() -> u16 {
    // One gzip member holding 1 MiB of zeros (about 1 KiB).
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(&vec![0u8; 1 << 20]).unwrap();
    let member = std::sync::Arc::new(enc.finish().unwrap());
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let m = member.clone();
            std::thread::spawn(move || {
                let _ = answer(conn, &m);
            });
        }
    });
    port
}

/// (VmHWM, VmRSS) of a process, in bytes.
fn memory_of(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| -> u64 {
        let line = status.lines().find(|l| l.starts_with(name)).unwrap();
        line.split_whitespace()
            .nth(1)
            .unwrap()
            .parse::<u64>()
            .unwrap()
            * 1024
    };
    (field("VmHWM:"), field("VmRSS:"))
}

/// (url, health, last_error) of every job on `/api/v1/targets`.
fn targets(port: u16) -> Vec<(String, String, String)> {
    let Ok((200, body)) = http_get(port, "/api/v1/targets") else {
        return vec![];
    };
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let mut out = Vec::new();
    collect(&v, &mut out);
    out
}

fn collect(v: &serde_json::Value, out: &mut Vec<(String, String, String)>) {
    match v {
        serde_json::Value::Object(m) => {
            if let (Some(url), Some(health)) = (m.get("url"), m.get("health")) {
                let s = |x: Option<&serde_json::Value>| {
                    x.and_then(|x| x.as_str()).unwrap_or("").to_string()
                };
                out.push((s(Some(url)), s(Some(health)), s(m.get("last_error"))));
            }
            m.values().for_each(|x| collect(x, out));
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| collect(x, out)),
        _ => {}
    }
}

fn files(dir: &Path) -> usize {
    std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
}

const ONLY_GOROUTINE: &str = "    scrape_interval: 1s\n    scrape_timeout: 4s\n    profiling_config:\n      profile: {memory: {enabled: false}, block: {enabled: false}, mutex: {enabled: false}, process_cpu: {enabled: false}}\n";

fn config(dir: &Path, admin: u16, targets: &str, service_extra: &str) -> std::path::PathBuf {
    let cfg = dir.join("c.yaml");
    std::fs::write(
        &cfg,
        format!(
            "receivers:\n  pyroscope_scrape/faults:\n    targets: [{targets}]\n    max_body_size: 16MiB\n{ONLY_GOROUTINE}exporters:\n  file: {{directory: '{out}'}}\nservice:\n{service_extra}  pipelines:\n    profiles: {{receivers: [pyroscope_scrape/faults], exporters: [file]}}\n  telemetry:\n    metrics: {{address: '127.0.0.1:{admin}'}}\n",
            out = dir.join("out").display()
        ),
    )
    .unwrap();
    cfg
}

fn target(port: u16, path: &str) -> String {
    format!(
        "{{__address__: '127.0.0.1:{port}', __profile_path__: '{path}', service_name: 's{}'}}",
        path.trim_start_matches('/')
    )
}

#[test]
fn hostile_targets_are_refused_and_memory_stays_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let hostile = hostile_server();
    let admin = free_port();
    let mut list: Vec<String> = [
        "/good",
        "/bomb",
        "/endless",
        "/slowloris",
        "/labels",
        "/utf8",
    ]
    .iter()
    .map(|p| target(hostile, p))
    .collect();
    let wide: Vec<String> = (0..10_000).map(|i| format!("l{i}: v")).collect();
    list.push(format!(
        "{{__address__: 'localhost:{hostile}', __profile_path__: '/good', service_name: 'wide', {}}}",
        wide.join(", ")
    ));
    let cfg = config(dir.path(), admin, &list.join(", "), "");
    let p = Running::start(&["--config", cfg.to_str().unwrap()], dir.path());
    assert!(
        wait_ready(admin, "/-/ready", Duration::from_secs(30)),
        "never ready"
    );

    let want = [
        (
            "/bomb",
            "decompressed profile is larger than max_body_size (16777216 bytes)",
        ),
        (
            "/endless",
            "response body is larger than max_body_size (16777216 bytes)",
        ),
        ("/slowloris", "scrape timed out after"),
        (
            "/labels",
            "profile has 10000 labels on one sample, more than max_labels_per_sample (1000)",
        ),
        ("/utf8", "UTF-8"),
        (
            "localhost",
            "target has 10003 labels, more than label_limit (100)",
        ),
    ];
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen = targets(admin);
    while Instant::now() < deadline
        && !want
            .iter()
            .all(|(k, w)| seen.iter().any(|(u, _, e)| u.contains(k) && e.contains(w)))
    {
        std::thread::sleep(Duration::from_millis(250));
        seen = targets(admin);
    }
    for (k, w) in want {
        assert!(
            seen.iter()
                .any(|(u, h, e)| u.contains(k) && h == "down" && e.contains(w)),
            "{k}: want {w:?} in {seen:#?}"
        );
    }

    // Several more rounds of every fault: the healthy target keeps being
    // exported, and the process stays small.
    let out = dir.path().join("out");
    let before = files(&out);
    std::thread::sleep(Duration::from_secs(6));
    let after = files(&out);
    assert!(after >= before + 3, "exported files {before} -> {after}");
    let (peak, rss) = memory_of(p.child.id());
    eprintln!("profcol VmHWM {} MiB, VmRSS {} MiB", peak >> 20, rss >> 20);
    assert!(peak < 200 << 20, "peak RSS {} MiB", peak >> 20);

    let (_, metrics) = http_get(admin, "/metrics").unwrap();
    let metrics = String::from_utf8_lossy(&metrics);
    for reason in [
        "too_large",
        "timeout",
        "max_labels_per_sample",
        "decode",
        "label_limit",
    ] {
        assert!(
            metrics.contains(&format!("reason=\"{reason}\"")),
            "{reason} not counted"
        );
    }
    let (status, _) = p.interrupt(Duration::from_secs(15));
    assert!(status.is_some_and(|s| s.success()));
}

#[test]
fn over_the_memory_limit_no_scrape_starts() {
    let dir = tempfile::tempdir().unwrap();
    let hostile = hostile_server();
    let admin = free_port();
    // A soft limit of 1 MiB: always exceeded.
    let cfg = config(
        dir.path(),
        admin,
        &target(hostile, "/good"),
        "  memory_limit_mib: 2\n  memory_spike_limit_mib: 1\n",
    );
    let p = Running::start(&["--config", cfg.to_str().unwrap()], dir.path());
    assert!(
        wait_ready(admin, "/-/ready", Duration::from_secs(30)),
        "never ready"
    );
    let deadline = Instant::now() + Duration::from_secs(15);
    let refused = loop {
        let t = targets(admin);
        if let Some((_, _, e)) = t.iter().find(|(_, _, e)| e.contains("memory limit")) {
            break e.clone();
        }
        assert!(Instant::now() < deadline, "no memory-limit refusal: {t:?}");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(refused.contains("service.memory_limit_mib"), "{refused}");
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(files(&dir.path().join("out")), 0);
    let (_, metrics) = http_get(admin, "/metrics").unwrap();
    let metrics = String::from_utf8_lossy(&metrics);
    assert!(
        metrics.contains("profcol_memory_limit_bytes 2097152"),
        "{metrics}"
    );
    assert!(metrics.contains("profcol_memory_limit_exceeded 1"));
    assert!(metrics
        .lines()
        .any(|l| l.starts_with("pyroscope_scrape_refused_total{") && l.contains("memory_limit")));
    let (_, stderr) = p.interrupt(Duration::from_secs(15));
    // The crossing is logged once, not once per refused scrape.
    assert_eq!(
        stderr.matches("Memory use reached the soft limit").count(),
        1,
        "{stderr}"
    );
}
