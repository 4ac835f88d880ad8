//! Input faults against the real binary: hostile targets on loopback (a
//! 10 GiB gzip bomb, an endless chunked body, a slowloris trickle, 10k pprof
//! labels, invalid UTF-8, a target with 10k labels) are refused with their
//! cause on `/api/v1/targets`, a healthy target keeps being exported, and
//! profcol's peak resident memory (VmHWM of the child) stays bounded. Then
//! `service.memory_limit_mib`: over the bound no scrape starts. Last, three
//! bodies that inflate to tens of MB (`hostile`), each beside a healthy
//! target in a fresh profcol under 300 MiB: a 60M-frame stack is cut to
//! `max_stack_depth` (root-most frames kept), 30M strings are refused, and
//! 3.9M samples are exported.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod e2e;
mod hostile;

use e2e::{free_port, http_get, Running};
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

/// How long `/good` (scraped every second) may take to be exported twice
/// beside a hostile target.
const GOOD_WINDOW: Duration = Duration::from_secs(12);

const CHUNKED: &str =
    "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n";

fn answer(mut s: TcpStream, member: &[u8], served: &Served) -> std::io::Result<()> {
    let mut line = String::new();
    BufReader::new(s.try_clone()?).read_line(&mut line)?;
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
    let path = path.split('?').next().unwrap_or("/");
    let own = served
        .iter()
        .find(|(q, _)| *q == path)
        .map(|(_, b)| b.clone());
    let body = match path {
        _ if own.is_some() => own.unwrap_or_default(),
        "/good" => profcol_pdata::pprof::encode_pprof_gzip(&profile(0)),
        "/labels" => profcol_pdata::pprof::encode_pprof_gzip(&profile(10_000)),
        "/utf8" => {
            let mut raw = profcol_pdata::pprof::encode_pprof(&profile(0));
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

/// Bodies served as they are at the given paths.
type Served = Vec<(&'static str, Vec<u8>)>;

/// Serves the hostile paths on a loopback port, one thread per connection.
fn hostile_server() -> u16 {
    hostile_server_with(Vec::new())
}

/// [`hostile_server`], also serving `served`.
fn hostile_server_with(served: Served) -> u16 {
    let served = std::sync::Arc::new(served);
    // One gzip member holding 1 MiB of zeros (about 1 KiB).
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(&vec![0u8; 1 << 20]).unwrap();
    let member = std::sync::Arc::new(enc.finish().unwrap());
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let m = member.clone();
            let served = served.clone();
            std::thread::spawn(move || {
                let _ = answer(conn, &m, &served);
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

const ONLY_GOROUTINE: &str = "    scrape_interval: 1s\n    profiling_config:\n      profile: {memory: {enabled: false}, block: {enabled: false}, mutex: {enabled: false}, process_cpu: {enabled: false}}\n";

fn config(dir: &Path, admin: u16, targets: &str, service_extra: &str) -> std::path::PathBuf {
    config_with(dir, admin, targets, "16MiB", "4s", service_extra)
}

fn config_with(
    dir: &Path,
    admin: u16,
    targets: &str,
    max_body_size: &str,
    scrape_timeout: &str,
    service_extra: &str,
) -> std::path::PathBuf {
    let cfg = dir.join("c.yaml");
    std::fs::write(
        &cfg,
        format!(
            "receivers:\n  pyroscope_scrape/faults:\n    targets: [{targets}]\n    max_body_size: {max_body_size}\n    scrape_timeout: {scrape_timeout}\n{ONLY_GOROUTINE}exporters:\n  file: {{directory: '{out}'}}\nservice:\n{service_extra}  pipelines:\n    profiles: {{receivers: [pyroscope_scrape/faults], exporters: [file]}}\n  telemetry:\n    metrics: {{address: '127.0.0.1:{admin}'}}\n",
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
    let mut p = Running::start(&["--config", cfg.to_str().unwrap()], dir.path());
    p.expect_ready(admin, "/-/ready", Duration::from_secs(30));

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
    let mut p = Running::start(&["--config", cfg.to_str().unwrap()], dir.path());
    p.expect_ready(admin, "/-/ready", Duration::from_secs(30));
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

/// What a fresh profcol did with one hostile body served beside `/good`.
struct Beside {
    /// The hostile target's entry on `/api/v1/targets`.
    status: serde_json::Value,
    /// VmHWM of profcol, in bytes.
    peak: u64,
    /// Files exported for `/good` when the hostile target had been scraped
    /// once, and 4 s later.
    good: (usize, usize),
    /// The file exporter's directory.
    out: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

/// The `/api/v1/targets` entry whose URL contains `path`, or null.
fn status_of(port: u16, path: &str) -> serde_json::Value {
    fn find(v: &serde_json::Value, path: &str) -> Option<serde_json::Value> {
        match v {
            serde_json::Value::Object(m) => {
                if m.get("health").is_some()
                    && m.get("url")
                        .and_then(|u| u.as_str())
                        .is_some_and(|u| u.contains(path))
                {
                    return Some(v.clone());
                }
                m.values().find_map(|x| find(x, path))
            }
            serde_json::Value::Array(a) => a.iter().find_map(|x| find(x, path)),
            _ => None,
        }
    }
    let Ok((200, body)) = http_get(port, "/api/v1/targets") else {
        return serde_json::Value::Null;
    };
    find(&serde_json::from_slice(&body).unwrap(), path).unwrap_or_default()
}

/// The exported files of `service`, oldest first.
fn exported(out: &Path, service: &str) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(out)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    v.retain(|p| {
        let name = p.file_name().unwrap().to_string_lossy();
        !name.starts_with('.') && name.contains(&format!("_{service}_"))
    });
    v.sort();
    v
}

/// Panics with profcol's stderr if it has exited.
fn still_running(p: &mut Running) {
    if let Some(status) = p.child.try_wait().unwrap() {
        let mut err = String::new();
        if let Some(mut e) = p.child.stderr.take() {
            std::io::Read::read_to_string(&mut e, &mut err).unwrap();
        }
        panic!("profcol exited ({status}): {err}");
    }
}

/// Runs a fresh profcol (`max_body_size: 64MiB`) on `/good` and `path`
/// serving `body`, until `path` has been scraped once and then until
/// `/good` was exported twice more (at most [`GOOD_WINDOW`]), and, if `path`
/// is up, until it is exported.
fn beside_good(path: &'static str, body: Vec<u8>) -> Beside {
    let dir = tempfile::tempdir().unwrap();
    let port = hostile_server_with(vec![(path, body)]);
    let admin = free_port();
    let list = format!("{}, {}", target(port, "/good"), target(port, path));
    // An unoptimised profcol takes 3-6 s to decode 60 MB: past the suite's
    // 4 s timeout, which would hide what the scrape itself does.
    let cfg = config_with(dir.path(), admin, &list, "64MiB", "25s", "");
    let mut p = Running::start(&["--config", cfg.to_str().unwrap()], dir.path());
    p.expect_ready(admin, "/-/ready", Duration::from_secs(30));
    let out = dir.path().join("out");
    let deadline = Instant::now() + Duration::from_secs(30);
    while status_of(admin, path)["scrapes_total"]
        .as_u64()
        .unwrap_or(0)
        == 0
    {
        still_running(&mut p);
        assert!(Instant::now() < deadline, "{path} never scraped");
        std::thread::sleep(Duration::from_millis(100));
    }
    // The good target (scraped every second) keeps being exported while the
    // hostile one is handled: two more files within the window. The window
    // is wide so that a loaded machine does not fail it; a starved target
    // still does.
    let before = exported(&out, "sgood").len();
    let window = Instant::now() + GOOD_WINDOW;
    let mut after = before;
    while after < before + 2 && Instant::now() < window {
        std::thread::sleep(Duration::from_millis(200));
        after = exported(&out, "sgood").len();
    }
    // A scrape that succeeded is exported: wait for its file, which a
    // slow (debug, loaded) build may take seconds to write.
    let service = format!("s{}", path.trim_start_matches('/'));
    let deadline = Instant::now() + Duration::from_secs(15);
    while status_of(admin, path)["health"] == "up"
        && exported(&out, &service).is_empty()
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(100));
    }
    still_running(&mut p);
    let (peak, rss) = memory_of(p.child.id());
    let status = status_of(admin, path);
    eprintln!(
        "{path}: profcol VmHWM {} MiB, VmRSS {} MiB; /good files {before} -> {after}; status {status:#}",
        peak >> 20,
        rss >> 20
    );
    Beside {
        status,
        peak,
        good: (before, after),
        out,
        _dir: dir,
    }
}

impl Beside {
    /// The checks every hostile body shares, as failures.
    fn common(&self) -> Vec<String> {
        let mut failed = Vec::new();
        if self.peak >= 300 << 20 {
            failed.push(format!("peak RSS {} MiB, not under 300", self.peak >> 20));
        }
        let (before, after) = self.good;
        if after < before + 2 {
            failed.push(format!(
                "/good exported files {before} -> {after} in {GOOD_WINDOW:?}"
            ));
        }
        failed
    }

    fn health(&self) -> &str {
        self.status["health"].as_str().unwrap_or("")
    }

    fn last_error(&self) -> &str {
        self.status["last_error"].as_str().unwrap_or("")
    }
}

/// Panics listing every failed check, so one run shows them all.
fn report(path: &str, failed: Vec<String>) {
    assert!(failed.is_empty(), "{path}:\n  {}", failed.join("\n  "));
}

#[test]
fn deep_stack_is_truncated_to_max_stack_depth() {
    let (body, inflated) = hostile::deep_stack();
    eprintln!("/deep: {} bytes gzip, {inflated} inflated", body.len());
    assert!(inflated < 64 << 20);
    let run = beside_good("/deep", body);
    let mut failed = run.common();
    if run.health() != "up" {
        failed.push(format!(
            "health {:?}, want up (last_error {:?})",
            run.health(),
            run.last_error()
        ));
    }
    let truncated = &run.status["last_scrape_truncated_stacks"];
    if truncated.as_u64().unwrap_or(0) == 0 {
        failed.push(format!(
            "last_scrape_truncated_stacks {truncated}, want > 0"
        ));
    }
    match exported(&run.out, "sdeep").last() {
        None => failed.push("no exported file for /deep".into()),
        Some(file) => {
            // Truncated, the profile is a few KiB: refuse to inflate more
            // than 1 MiB of it.
            let limits = profcol_pdata::pprof::DecodeLimits {
                max_decompressed_bytes: 1 << 20,
                ..Default::default()
            };
            let bytes = std::fs::read(file).unwrap();
            match profcol_pdata::pprof::decode_pprof(&bytes, &limits) {
                Err(e) => failed.push(format!(
                    "exported {} ({} bytes) does not decode under 1 MiB: {e}",
                    file.display(),
                    bytes.len()
                )),
                Ok(p) => {
                    let depths: Vec<usize> = p.sample.iter().map(|s| s.location_id.len()).collect();
                    if depths != [1000] {
                        failed.push(format!("exported stack depths {depths:?}, want [1000]"));
                    }
                    let function = |loc: Option<&u64>| -> String {
                        let loc = p.location.iter().find(|l| Some(&l.id) == loc);
                        let f = loc.and_then(|l| l.line.first()).map(|l| l.function_id);
                        let f = p.function.iter().find(|x| Some(x.id) == f);
                        f.map(|f| p.string_table[f.name as usize].clone())
                            .unwrap_or_default()
                    };
                    if let Some(s) = p.sample.first() {
                        let (leaf, root) = (
                            function(s.location_id.first()),
                            function(s.location_id.last()),
                        );
                        if (leaf.as_str(), root.as_str())
                            != (hostile::LEAF_FUNCTION, hostile::ROOT_FUNCTION)
                        {
                            failed.push(format!(
                                "exported stack runs {leaf} .. {root}: the root-most frames are not the ones kept"
                            ));
                        }
                    }
                }
            }
        }
    }
    report("/deep", failed);
}

#[test]
fn thirty_million_strings_are_refused() {
    let (body, inflated) = hostile::empty_strings();
    eprintln!("/strings: {} bytes gzip, {inflated} inflated", body.len());
    assert!(inflated < 64 << 20);
    let run = beside_good("/strings", body);
    let mut failed = run.common();
    if run.health() != "down" {
        failed.push(format!("health {:?}, want down", run.health()));
    }
    // The decode limit, and what it limits: a decoder that stops at the
    // limit need not know the table's full size.
    let e = run.last_error();
    if !(e.contains("strings") && e.contains("4000000")) {
        failed.push(format!(
            "last_error {e:?} names neither the strings nor the limit (4000000)"
        ));
    }
    report("/strings", failed);
}

#[test]
fn samples_under_the_cap_are_exported() {
    let (body, inflated) = hostile::many_samples();
    eprintln!("/samples: {} bytes gzip, {inflated} inflated", body.len());
    let run = beside_good("/samples", body);
    let mut failed = run.common();
    if run.health() != "up" {
        failed.push(format!(
            "health {:?}, want up (last_error {:?})",
            run.health(),
            run.last_error()
        ));
    }
    if exported(&run.out, "ssamples").is_empty() {
        failed.push("no exported file for /samples".into());
    }
    report("/samples", failed);
}
