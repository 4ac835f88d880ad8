//! OTLP through two profcol processes: a request POSTed to the first one's
//! `otlp` receiver (HTTP) goes out through its `otlp_grpc` and `otlp_http`
//! exporters to the second one's `otlp` receiver (gRPC and HTTP), whose
//! `file` exporter writes what it received. Both files must be the bytes
//! that were first sent: a received OTLP request crosses receivers,
//! queues, compression and exporters without being decoded and encoded
//! again.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod e2e;

use e2e::{free_port, Running};
use profcol_pdata::pprof::{Function, Line, Location, Profile, Sample, ValueType};
use profcol_pdata::{Labels, ProfileRecord};
use std::io::{Read, Write};
use std::path::Path;
use std::time::{Duration, Instant};

/// A one-sample CPU profile of `service`, as an OTLP request.
fn request(service: &str) -> Vec<u8> {
    let strings = [
        "",
        "samples",
        "count",
        "cpu",
        "nanoseconds",
        "main.work",
        "main.go",
    ];
    let p = Profile {
        sample_type: vec![
            ValueType { r#type: 1, unit: 2 },
            ValueType { r#type: 3, unit: 4 },
        ],
        sample: vec![Sample {
            location_id: vec![1],
            value: vec![3, 30_000_000],
            label: vec![],
        }],
        location: vec![Location {
            id: 1,
            line: vec![Line {
                function_id: 1,
                line: 12,
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
        string_table: strings.iter().map(|s| s.to_string()).collect(),
        time_nanos: 1_795_000_000_000_000_000,
        duration_nanos: 10_000_000_000,
        ..Default::default()
    };
    let record =
        ProfileRecord::from_profile(Labels::from_pairs([("service_name", service)]), &p).unwrap();
    profcol_pdata::otlp::to_otlp_bytes(&[record])
}

/// POSTs `body` over HTTP/1.0; returns the status code.
fn post(port: u16, path: &str, content_type: &str, body: &[u8]) -> std::io::Result<u16> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(
        s,
        "POST {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )?;
    s.write_all(body)?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let head = String::from_utf8_lossy(&raw);
    head.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other("no status"))
}

fn files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out: Vec<_> = std::fs::read_dir(dir)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    out.retain(|p| p.to_string_lossy().ends_with(".otlp.pb"));
    out.sort();
    out
}

#[test]
fn otlp_requests_cross_two_collectors_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let (b_grpc, b_http, b_admin) = (free_port(), free_port(), free_port());
    let (a_http, a_admin) = (free_port(), free_port());

    let sink = dir.path().join("sink.yaml");
    std::fs::write(
        &sink,
        format!(
            r#"receivers:
  otlp:
    protocols:
      grpc: {{endpoint: "127.0.0.1:{b_grpc}"}}
      http: {{endpoint: "127.0.0.1:{b_http}"}}
exporters:
  file: {{directory: "{out}", format: otlp}}
service:
  pipelines:
    profiles: {{receivers: [otlp], exporters: [file]}}
  telemetry:
    metrics: {{address: "127.0.0.1:{b_admin}"}}
"#,
            out = out.display()
        ),
    )
    .unwrap();
    let relay = dir.path().join("relay.yaml");
    std::fs::write(
        &relay,
        format!(
            r#"receivers:
  otlp/in:
    protocols:
      http: {{endpoint: "127.0.0.1:{a_http}"}}
exporters:
  otlp_grpc: {{endpoint: "127.0.0.1:{b_grpc}", tls: {{insecure: true}}}}
  otlp_http: {{endpoint: "http://127.0.0.1:{b_http}", compression: zstd}}
service:
  pipelines:
    profiles: {{receivers: [otlp/in], exporters: [otlp_grpc, otlp_http]}}
  telemetry:
    metrics: {{address: "127.0.0.1:{a_admin}"}}
"#
        ),
    )
    .unwrap();

    let mut b = Running::start(&["--config", sink.to_str().unwrap()], dir.path());
    b.expect_ready(b_admin, "/-/ready", Duration::from_secs(20));
    let mut a = Running::start(&["--config", relay.to_str().unwrap()], dir.path());
    a.expect_ready(a_admin, "/-/ready", Duration::from_secs(20));

    let sent = request("checkout");
    assert_eq!(
        post(
            a_http,
            "/v1development/profiles",
            "application/x-protobuf",
            &sent
        )
        .unwrap(),
        200
    );
    // Bad data is refused where it arrives, and never forwarded.
    assert_eq!(
        post(
            a_http,
            "/v1development/profiles",
            "application/x-protobuf",
            &sent[..sent.len() - 2]
        )
        .unwrap(),
        400
    );

    let deadline = Instant::now() + Duration::from_secs(30);
    let written = loop {
        let f = files(&out);
        if f.len() >= 2 || Instant::now() > deadline {
            break f;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(
        written.len(),
        2,
        "one file per exporter of the relay: {written:?}"
    );
    for f in &written {
        let got = std::fs::read(f).unwrap();
        assert_eq!(got, sent, "{} holds the bytes first sent", f.display());
    }
    // Nothing more arrives (the refused request was not forwarded).
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(files(&out).len(), 2);

    let (status, body) = e2e::http_get(b_admin, "/metrics").unwrap();
    assert_eq!(status, 200);
    let metrics = String::from_utf8_lossy(&body);
    for protocol in ["grpc", "http"] {
        assert!(
            metrics.contains(&format!(
                r#"profcol_receiver_accepted_requests_total{{component="otlp",protocol="{protocol}"}} 1"#
            )),
            "{metrics}"
        );
    }

    for p in [a, b] {
        let (exit, log) = p.interrupt(Duration::from_secs(15));
        let exit = exit.unwrap_or_else(|| panic!("did not stop:\n{log}"));
        assert!(exit.success(), "exit {exit:?}\n{log}");
    }
}
