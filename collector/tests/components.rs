//! `/-/healthy`, `/components` and `/api/v1/components` of the built
//! binary across reloads: healthy at start; a reload (`POST /-/reload`)
//! whose configuration gives a receiver an invalid setting is refused, the
//! previous receiver keeps running and is reported unhealthy with the key
//! path, and `/-/healthy` answers 500 naming it (the seed: a component is
//! unhealthy only when given an invalid configuration); a valid reload
//! makes it healthy again, and a component the reload removed disappears.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod e2e;

use e2e::{free_port, http_get, Running};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

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

fn get(port: u16, path: &str) -> (u16, String) {
    let (status, body) = http_get(port, path).unwrap();
    (status, String::from_utf8_lossy(&body).to_string())
}

/// Receiver `a` (with `interval`) and, when `with_b`, receiver `b`; both
/// scrape a closed port (targets down do not make a receiver unhealthy).
fn config(out: &Path, admin: u16, interval: &str, with_b: bool) -> String {
    let b = if with_b {
        "  pyroscope_scrape/b: {targets: [{__address__: '127.0.0.1:1'}]}\n"
    } else {
        ""
    };
    let list = if with_b {
        "pyroscope_scrape/a, pyroscope_scrape/b"
    } else {
        "pyroscope_scrape/a"
    };
    format!(
        "receivers:\n  pyroscope_scrape/a: {{targets: [{{__address__: '127.0.0.1:1'}}], scrape_interval: {interval}, bearer_token: planted-e2e-token}}\n{b}exporters:\n  file: {{directory: '{}'}}\nservice:\n  pipelines:\n    profiles: {{receivers: [{list}], exporters: [file]}}\n  telemetry:\n    metrics: {{address: '127.0.0.1:{admin}'}}\n",
        out.display()
    )
}

#[test]
fn a_refused_configuration_makes_its_component_unhealthy_until_a_good_reload() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let admin = free_port();
    let path = dir.path().join("profcol.yaml");
    std::fs::write(&path, config(&out, admin, "15s", true)).unwrap();
    let mut p = Running::start(&["--config", path.to_str().unwrap()], dir.path());
    p.expect_ready(admin, "/-/ready", Duration::from_secs(20));
    assert_eq!(get(admin, "/-/healthy"), (200, "OK\n".to_string()));
    let (status, page) = get(admin, "/components");
    assert_eq!(status, 200);
    for id in ["pyroscope_scrape/a", "pyroscope_scrape/b", "file"] {
        assert!(page.contains(&format!("data-id=\"{id}\"")), "{id}:\n{page}");
    }
    assert!(!page.contains("planted-e2e-token"));

    // An invalid interval: refused, receiver a keeps running, unhealthy.
    std::fs::write(&path, config(&out, admin, "-1s", true)).unwrap();
    let (status, body) = http_post(admin, "/-/reload");
    assert_eq!(status, 500, "{body}");
    let (status, body) = get(admin, "/-/healthy");
    assert_eq!(status, 500, "{body}");
    assert!(body.contains("receiver pyroscope_scrape/a: "), "{body}");
    assert!(body.contains("scrape_interval"), "{body}");
    assert!(!body.contains("pyroscope_scrape/b"), "{body}");
    let (_, json) = get(admin, "/api/v1/components");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let state = |id: &str| {
        v["data"]["components"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .map(|c| {
                c["health"]["state"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string()
            })
    };
    assert_eq!(state("pyroscope_scrape/a").as_deref(), Some("unhealthy"));
    assert_eq!(state("pyroscope_scrape/b").as_deref(), Some("healthy"));
    let (_, page) = get(admin, "/components");
    assert!(page.contains("<span class=\"badge unhealthy\">unhealthy</span>"));

    // A valid reload that also removes b.
    std::fs::write(&path, config(&out, admin, "10s", false)).unwrap();
    let (status, body) = http_post(admin, "/-/reload");
    assert_eq!(status, 200, "{body}");
    assert_eq!(get(admin, "/-/healthy"), (200, "OK\n".to_string()));
    let (_, json) = get(admin, "/api/v1/components");
    assert!(!json.contains("pyroscope_scrape/b"), "{json}");
    assert!(json.contains("scrape_interval: 10s"), "{json}");
}
