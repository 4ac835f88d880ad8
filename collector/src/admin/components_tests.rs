//! `/components`, `/api/v1/components` and `/-/healthy` over a real
//! pipeline on loopback (real time): a target serving a mutex profile, a
//! `file` exporter that works, an `otlp_http` exporter whose backend port
//! is closed, and an exporter used by no pipeline. Checks each health, the
//! down exporter's last error and retries, redaction of planted secrets,
//! a refused reload making its component (and `/-/healthy`) unhealthy, and
//! a reload that removes a component.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::pipeline::Running;
use profcol_pdata::pprof::{Function, Line, Location, Profile, Sample, ValueType};
use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const BEARER: &str = "planted-bearer-s3cret";
const HEADER: &str = "planted-header-s3cret";

/// Totals grow by scrape so that every delta after the first is exported.
fn mutex_profile(n: i64) -> Vec<u8> {
    let strings = [
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

/// A target serving [`mutex_profile`] on every path; returns its port.
fn target() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let n = Arc::new(AtomicI64::new(0));
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let n = n.clone();
            std::thread::spawn(move || serve(stream, &n));
        }
    });
    port
}

fn serve(mut stream: TcpStream, n: &AtomicI64) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) <= 2 {
            break;
        }
    }
    let body = mutex_profile(n.fetch_add(1, Ordering::Relaxed) + 1);
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(&body);
}

/// A port nothing listens on.
fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

fn config(dir: &Path, target: u16, backend: u16, file_dir: &str, with_unused: bool) -> String {
    let unused = if with_unused {
        "  debug/<script>unused</script>: {}\n"
    } else {
        ""
    };
    format!(
        "receivers:
  pyroscope_scrape/app:
    targets: [{{__address__: '127.0.0.1:{target}', service_name: app}}]
    bearer_token: {BEARER}
    scrape_interval: 1s
    profiling_config:
      profile:
        memory: {{enabled: false}}
        block: {{enabled: false}}
        goroutine: {{enabled: false}}
        process_cpu: {{enabled: false}}
        mutex: {{path: /mutex}}
exporters:
  file: {{directory: '{file_dir}'}}
  otlp_http/down:
    endpoint: http://127.0.0.1:{backend}
    headers: {{Authorization: 'Bearer {HEADER}'}}
    retry_on_failure: {{enabled: true, initial_interval: 100ms, max_interval: 200ms, max_elapsed_time: 60s}}
{unused}service:
  shutdown_timeout: 2s
  pipelines:
    profiles: {{receivers: [pyroscope_scrape/app], exporters: [file, otlp_http/down]}}
  telemetry:
    metrics: {{address: '127.0.0.1:0'}}
",
        file_dir = dir.join(file_dir).display(),
    )
}

fn settings(dir: &Path, text: &str) -> crate::settings::Settings {
    let path = dir.join("profcol.yaml");
    std::fs::write(&path, text).unwrap();
    crate::settings::load(&[path.to_string_lossy().to_string()], &[]).unwrap()
}

/// `(status, body)` of one GET.
async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8_lossy(&raw).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, body.to_string())
}

async fn components(addr: SocketAddr) -> Vec<Value> {
    let (status, body) = get(addr, "/api/v1/components").await;
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    v["data"]["components"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn find<'a>(list: &'a [Value], id: &str) -> &'a Value {
    list.iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("{id} missing from {list:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_reports_each_component_with_its_health_and_debug_information() {
    let dir = tempfile::tempdir().unwrap();
    let (t, backend) = (target(), closed_port());
    let mut r = Running::start(&settings(
        dir.path(),
        &config(dir.path(), t, backend, "out", true),
    ))
    .await
    .unwrap();
    let addr = r.admin_address.unwrap();

    // Wait (real time) until the down exporter has retried a few times and
    // the receiver's target is up.
    let started = Instant::now();
    let list = loop {
        let list = components(addr).await;
        let down = &find(&list, "otlp_http/down")["debug"][0];
        let up = find(&list, "pyroscope_scrape/app")["debug"]["targets_up"].as_u64();
        if down["retries"].as_u64().unwrap_or(0) >= 2 && up == Some(1) {
            break list;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the exporter never retried: {list:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(
        find(&list, "pyroscope_scrape/app")["health"]["state"],
        "healthy"
    );
    assert_eq!(find(&list, "file")["health"]["state"], "healthy");
    let down = find(&list, "otlp_http/down");
    assert_eq!(down["health"]["state"], "degraded", "{down}");
    let error = down["debug"][0]["last_error"].as_str().unwrap();
    assert!(!error.is_empty());
    assert!(down["debug"][0]["last_error_at"].is_string());
    assert_eq!(down["health"]["reason"], error);
    let unused = find(&list, "debug/<script>unused</script>");
    assert_eq!(unused["health"]["state"], "stopped");
    assert_eq!(unused["kind"], "exporter");

    // Degraded and stopped do not fail the health check.
    assert_eq!(get(addr, "/-/healthy").await, (200, "OK\n".to_string()));

    let (status, html) = get(addr, "/components").await;
    assert_eq!(status, 200);
    for id in ["pyroscope_scrape/app", "file", "otlp_http/down"] {
        assert!(html.contains(&format!("data-id=\"{id}\"")), "{id}");
    }
    assert!(html.contains("<span class=\"badge degraded\">degraded</span>"));
    assert!(html.contains("<td data-field=\"retries\">"));
    assert!(html.contains(&crate::admin::layout::escape(error)));
    assert!(!html.contains("<script>unused"), "an id was not escaped");
    assert!(html.contains("debug/&lt;script&gt;unused&lt;/script&gt;"));
    assert_eq!(
        html.matches("none configured").count(),
        2,
        "processors and extensions"
    );
    let svg = &html[html.find("<svg").unwrap()..html.find("</svg>").unwrap() + 6];
    crate::admin::pipeline_svg::tests::check_xml(svg).unwrap();
    assert_eq!(svg.matches("<rect").count(), 5, "4 components + 1 pipeline");

    // Secrets never appear, on the page or in the JSON; the keys do.
    let (_, json) = get(addr, "/api/v1/components").await;
    for text in [&html, &json] {
        assert!(!text.contains(BEARER) && !text.contains(HEADER), "{text}");
    }
    assert!(
        html.contains("bearer_token: &lt;secret&gt;")
            || html.contains("bearer_token: &#39;&lt;secret&gt;&#39;"),
        "{html}"
    );

    // A refused reload (the file exporter cannot start) leaves the previous
    // instance running and marks it unhealthy, as reload_once does.
    let bad = settings(
        dir.path(),
        &config(dir.path(), t, backend, "/dev/null/x", true),
    );
    let err = r.apply(&bad).await.unwrap_err();
    r.admin.components.refused(&format!("{err:#}"));
    let (status, body) = get(addr, "/-/healthy").await;
    assert_eq!(status, 500, "{body}");
    assert!(body.contains("exporter file: "), "{body}");
    assert!(!body.contains("otlp_http/down"), "{body}");
    let list = components(addr).await;
    assert_eq!(find(&list, "file")["health"]["state"], "unhealthy");
    assert_eq!(
        find(&list, "pyroscope_scrape/app")["health"]["state"],
        "healthy"
    );

    // A good reload clears it; removing a component makes it disappear.
    let good = settings(dir.path(), &config(dir.path(), t, backend, "out", false));
    r.apply(&good).await.unwrap();
    assert_eq!(get(addr, "/-/healthy").await.0, 200);
    let list = components(addr).await;
    assert!(list
        .iter()
        .all(|c| c["id"] != "debug/<script>unused</script>"));
    assert_eq!(find(&list, "file")["health"]["state"], "healthy");
    // The index Go users type lists what profcol serves of itself.
    let (status, body) = get(addr, "/debug/pprof/").await;
    assert_eq!(status, 200, "{body}");
    for link in [
        "/debug/pprof/profile?seconds=30",
        "/debug/pprof/heap",
        "/debug/pprof/allocs",
    ] {
        assert!(body.contains(link), "{link} missing: {body}");
    }
    r.stop(Duration::from_secs(2)).await;
}
