//! The `resource`, `attributes` and `filter` processors in a running
//! profcol: a local Go-like target serves a CPU profile whose samples carry
//! pprof labels and a goroutine profile; the pipeline sets
//! `deployment.environment` and moves a label to `k8s.pod.name`
//! (resource), hashes and renames sample labels (attributes) and drops the
//! goroutine profiles (filter) before a `file` sink writing OTLP. And an
//! OTLP request through the `otlp` receiver whose resource the `resource`
//! processor changes on the way to the sink.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod e2e;

use e2e::{free_port, metric, Running};
use opentelemetry_proto::tonic::common::v1::any_value;
use profcol_pdata::otlp::collector::ExportProfilesServiceRequest;
use profcol_pdata::otlp::proto::ProfilesDictionary;
use profcol_pdata::pprof::{
    encode_pprof_gzip, Function, Label, Line, Location, Profile, Sample, ValueType,
};
use profcol_pdata::{Labels, ProfileRecord};
use prost::Message;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One sample: its frame, pprof labels and values.
type SampleSpec<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a [i64]);

/// A profile of `types` with one sample per spec.
fn profile(types: &[(&str, &str)], samples: &[SampleSpec<'_>]) -> Profile {
    let mut strings: Vec<String> = vec![String::new()];
    let mut s = |x: &str| -> i64 {
        if let Some(i) = strings.iter().position(|y| y == x) {
            return i as i64;
        }
        strings.push(x.to_string());
        strings.len() as i64 - 1
    };
    let sample_type = types
        .iter()
        .map(|(t, u)| ValueType {
            r#type: s(t),
            unit: s(u),
        })
        .collect();
    let mut p = Profile {
        sample_type,
        time_nanos: 1_700_000_000_000_000_000,
        duration_nanos: 1_000_000_000,
        ..Default::default()
    };
    for (i, (frame, labels, values)) in samples.iter().enumerate() {
        let id = i as u64 + 1;
        let name = s(frame);
        p.function.push(Function {
            id,
            name,
            system_name: name,
            filename: 0,
            start_line: 0,
        });
        p.location.push(Location {
            id,
            line: vec![Line {
                function_id: id,
                line: 1,
                column: 0,
            }],
            ..Default::default()
        });
        p.sample.push(Sample {
            location_id: vec![id],
            value: values.to_vec(),
            label: labels
                .iter()
                .map(|(k, v)| Label {
                    key: s(k),
                    str: s(v),
                    num: 0,
                    num_unit: 0,
                })
                .collect(),
        });
    }
    p.string_table = strings;
    p
}

/// Serves the CPU profile on `/debug/pprof/profile` and the goroutine
/// profile on `/debug/pprof/goroutine`; counts the goroutine scrapes.
fn serve_go_target() -> (u16, Arc<AtomicUsize>) {
    let cpu = encode_pprof_gzip(&profile(
        &[("samples", "count"), ("cpu", "nanoseconds")],
        &[
            (
                "main.handle",
                &[("handler", "/api/cart"), ("user", "alice")],
                &[3, 30_000_000],
            ),
            ("main.idle", &[], &[1, 10_000_000]),
        ],
    ));
    let goroutine = encode_pprof_gzip(&profile(
        &[("goroutine", "count")],
        &[("runtime.gopark", &[], &[12])],
    ));
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let (cpu, goroutine, hits) = (cpu.clone(), goroutine.clone(), counter.clone());
            std::thread::spawn(move || answer(conn, &cpu, &goroutine, &hits));
        }
    });
    (port, hits)
}

fn answer(conn: TcpStream, cpu: &[u8], goroutine: &[u8], goroutine_hits: &AtomicUsize) {
    let mut out = conn.try_clone().unwrap();
    let mut reader = BufReader::new(conn);
    loop {
        let mut request = String::new();
        if reader.read_line(&mut request).unwrap_or(0) == 0 {
            return;
        }
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            if h == "\r\n" || h == "\n" {
                break;
            }
        }
        let path = request.split_whitespace().nth(1).unwrap_or("");
        let body: &[u8] = if path.starts_with("/debug/pprof/goroutine") {
            goroutine_hits.fetch_add(1, Ordering::SeqCst);
            goroutine
        } else if path.starts_with("/debug/pprof/profile") {
            cpu
        } else {
            let _ = out.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
            continue;
        };
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        if out.write_all(head.as_bytes()).is_err() || out.write_all(body).is_err() {
            return;
        }
    }
}

fn otlp_files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<_> = std::fs::read_dir(dir)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    out.retain(|p| p.to_string_lossy().ends_with(".otlp.pb"));
    out.sort();
    out
}

fn wait_files(dir: &Path, n: usize, limit: Duration) -> Vec<PathBuf> {
    let deadline = Instant::now() + limit;
    loop {
        let files = otlp_files(dir);
        if files.len() >= n || Instant::now() > deadline {
            return files;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn read_request(path: &Path) -> ExportProfilesServiceRequest {
    let req =
        ExportProfilesServiceRequest::decode(std::fs::read(path).unwrap().as_slice()).unwrap();
    profcol_pdata::otlp::resolve_string_refs(&req).into_owned()
}

fn resource_attrs(req: &ExportProfilesServiceRequest) -> BTreeMap<String, String> {
    req.resource_profiles[0]
        .resource
        .as_ref()
        .unwrap()
        .attributes
        .iter()
        .map(|kv| {
            let v = kv.value.as_ref().and_then(|v| v.value.as_ref());
            (
                kv.key.clone(),
                v.map_or("none".into(), |v| format!("{v:?}")),
            )
        })
        .collect()
}

/// Every sample's attributes as `key=value` text.
fn sample_attrs(req: &ExportProfilesServiceRequest) -> Vec<Vec<String>> {
    let dict: &ProfilesDictionary = req.dictionary.as_ref().unwrap();
    let mut out = Vec::new();
    for p in req
        .resource_profiles
        .iter()
        .flat_map(|r| &r.scope_profiles)
        .flat_map(|s| &s.profiles)
    {
        for s in &p.samples {
            let mut attrs: Vec<String> = s
                .attribute_indices
                .iter()
                .map(|&i| {
                    let a = &dict.attribute_table[i as usize];
                    let v = match a.value.as_ref().and_then(|v| v.value.as_ref()) {
                        Some(any_value::Value::StringValue(s)) => s.clone(),
                        other => format!("{other:?}"),
                    };
                    format!("{}={v}", dict.string_table[a.key_strindex as usize])
                })
                .collect();
            attrs.sort();
            out.push(attrs);
        }
    }
    out
}

#[test]
fn scrape_resource_attributes_filter_sink() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let (target, goroutine_hits) = serve_go_target();
    let admin = free_port();
    let cfg = dir.path().join("c.yaml");
    std::fs::write(
        &cfg,
        format!(
            r#"receivers:
  pyroscope_scrape/go:
    targets: [{{__address__: "127.0.0.1:{target}", service_name: "checkout", pod: "checkout-7d9f"}}]
    scrape_interval: 3s
    delta_profiling_duration: 2s
    profiling_config:
      profile:
        memory: {{enabled: false}}
        block: {{enabled: false}}
        mutex: {{enabled: false}}
processors:
  resource:
    attributes:
      - {{key: deployment.environment, value: test, action: upsert}}
      - {{key: k8s.pod.name, from_attribute: pod, action: insert}}
      - {{key: pod, action: delete}}
  attributes/labels:
    include: {{match_type: strict, services: [checkout]}}
    actions:
      - {{key: user, action: hash}}
      - {{key: http.route, from_attribute: handler, action: insert}}
      - {{key: handler, action: delete}}
  filter:
    profiles:
      profile: ['sample_type.type == "goroutine"']
exporters:
  file: {{directory: "{out}", format: otlp}}
service:
  pipelines:
    profiles:
      receivers: [pyroscope_scrape/go]
      processors: [resource, attributes/labels, filter]
      exporters: [file]
  telemetry:
    metrics: {{address: "127.0.0.1:{admin}"}}
"#,
            out = out.display()
        ),
    )
    .unwrap();
    let mut p = Running::start(&["--config", cfg.to_str().unwrap()], dir.path());
    p.expect_ready(admin, "/-/ready", Duration::from_secs(20));
    // Three CPU profiles, and the goroutine profile scraped twice, a
    // second before looking: had it passed, its file would be there.
    let files = wait_files(&out, 3, Duration::from_secs(40));
    let deadline = Instant::now() + Duration::from_secs(20);
    while goroutine_hits.load(Ordering::SeqCst) < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(1));
    assert!(
        goroutine_hits.load(Ordering::SeqCst) >= 2,
        "the goroutine profile was never scraped"
    );
    // Each goroutine profile is one OTLP profile the filter dropped.
    let filtered = metric(
        admin,
        "profcol_processor_filter_profiles_filtered_total",
        &[r#"component="filter""#],
    );
    assert!(filtered >= 2.0, "filtered {filtered}");
    let (status, log) = p.interrupt(Duration::from_secs(10));
    assert!(files.len() >= 3, "{files:?}\n{log}");
    assert!(status.is_some_and(|s| s.success()), "{log}");
    let names: Vec<String> = otlp_files(&out)
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().to_string())
        .collect();
    assert!(
        names.iter().all(|n| n.contains("process_cpu")),
        "goroutine dropped: {names:?}"
    );

    let req = read_request(&files[0]);
    let res = resource_attrs(&req);
    assert_eq!(
        res.get("deployment.environment").map(String::as_str),
        Some(r#"StringValue("test")"#),
        "{res:?}"
    );
    assert_eq!(
        res.get("k8s.pod.name").map(String::as_str),
        Some(r#"StringValue("checkout-7d9f")"#),
        "{res:?}"
    );
    assert!(!res.contains_key("pod"), "{res:?}");
    assert_eq!(
        res.get("service.name").map(String::as_str),
        Some(r#"StringValue("checkout")"#)
    );
    // Both sample types of the CPU profile arrive, each with the edited
    // labels: alice hashed (SHA-256), handler renamed to http.route.
    let samples = sample_attrs(&req);
    let alice = "user=2bd806c97f0e00af1a1fc3328fa763a9269723c8db8fac4f93af71db186d6e90";
    let labelled: Vec<&Vec<String>> = samples.iter().filter(|s| !s.is_empty()).collect();
    assert!(!labelled.is_empty(), "{samples:?}");
    for s in labelled {
        assert_eq!(
            s,
            &vec!["http.route=/api/cart".to_string(), alice.to_string()],
            "{samples:?}"
        );
    }
}

/// A one-sample CPU profile of `service` with a `team` resource attribute,
/// as an OTLP request.
fn otlp_request(service: &str) -> Vec<u8> {
    let p = profile(
        &[("samples", "count"), ("cpu", "nanoseconds")],
        &[("main.work", &[], &[3, 30_000_000])],
    );
    let record = ProfileRecord::from_profile(
        Labels::from_pairs([
            ("service_name", service),
            ("team", "payments"),
            ("replicas", "3"),
        ]),
        &p,
    )
    .unwrap();
    profcol_pdata::otlp::to_otlp_bytes(&[record])
}

fn post(port: u16, path: &str, body: &[u8]) -> u16 {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "POST {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/x-protobuf\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    s.write_all(body).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    String::from_utf8_lossy(&raw)
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

#[test]
fn otlp_requests_get_their_resource_changed() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let (http, admin) = (free_port(), free_port());
    let cfg = dir.path().join("c.yaml");
    std::fs::write(
        &cfg,
        format!(
            r#"receivers:
  otlp:
    protocols:
      http: {{endpoint: "127.0.0.1:{http}"}}
processors:
  resource:
    attributes:
      - {{key: deployment.environment, value: production, action: upsert}}
      - {{key: team, action: delete}}
      - {{key: replicas, action: convert, converted_type: int}}
exporters:
  file: {{directory: "{out}", format: otlp}}
service:
  pipelines:
    profiles: {{receivers: [otlp], processors: [resource], exporters: [file]}}
  telemetry:
    metrics: {{address: "127.0.0.1:{admin}"}}
"#,
            out = out.display()
        ),
    )
    .unwrap();
    let mut p = Running::start(&["--config", cfg.to_str().unwrap()], dir.path());
    p.expect_ready(admin, "/-/ready", Duration::from_secs(20));
    let sent = otlp_request("orders");
    assert_eq!(post(http, "/v1development/profiles", &sent), 200);
    let files = wait_files(&out, 1, Duration::from_secs(20));
    let (_, log) = p.interrupt(Duration::from_secs(10));
    assert_eq!(files.len(), 1, "{log}");
    let req = read_request(&files[0]);
    let res = resource_attrs(&req);
    assert_eq!(
        res.get("deployment.environment").map(String::as_str),
        Some(r#"StringValue("production")"#),
        "{res:?}"
    );
    assert_eq!(
        res.get("service.name").map(String::as_str),
        Some(r#"StringValue("orders")"#)
    );
    assert_eq!(
        res.get("replicas").map(String::as_str),
        Some("IntValue(3)"),
        "typed: {res:?}"
    );
    assert!(!res.contains_key("team"), "{res:?}");
    // The profiles themselves are what was sent.
    let original = ExportProfilesServiceRequest::decode(sent.as_slice()).unwrap();
    assert_eq!(
        req.resource_profiles[0].scope_profiles,
        original.resource_profiles[0].scope_profiles
    );
    assert_eq!(req.dictionary, original.dictionary);
}
