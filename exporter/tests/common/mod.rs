//! Shared test helpers: profiles to export, a recording HTTP server on
//! loopback, and polling with a bound.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use profcol_pdata::{pprof, Labels, ProfileBatch, ProfileRecord};
use profcol_runtime::{ComponentContext, Telemetry};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A small CPU profile: two stacks, `samples`/`count` and `cpu`/`nanoseconds`.
pub fn profile(seed: i64) -> pprof::Profile {
    let strings: Vec<String> = [
        "",
        "samples",
        "count",
        "cpu",
        "nanoseconds",
        "main",
        "work",
        "main.go",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    pprof::Profile {
        sample_type: vec![
            pprof::ValueType { r#type: 1, unit: 2 },
            pprof::ValueType { r#type: 3, unit: 4 },
        ],
        sample: vec![
            pprof::Sample {
                location_id: vec![2, 1],
                value: vec![3 + seed, 30_000_000],
                label: vec![],
            },
            pprof::Sample {
                location_id: vec![1],
                value: vec![1, 10_000_000],
                label: vec![],
            },
        ],
        location: vec![
            pprof::Location {
                id: 1,
                line: vec![pprof::Line {
                    function_id: 1,
                    line: 10,
                    column: 0,
                }],
                ..Default::default()
            },
            pprof::Location {
                id: 2,
                line: vec![pprof::Line {
                    function_id: 2,
                    line: 20,
                    column: 0,
                }],
                ..Default::default()
            },
        ],
        function: vec![
            pprof::Function {
                id: 1,
                name: 5,
                system_name: 5,
                filename: 7,
                start_line: 1,
            },
            pprof::Function {
                id: 2,
                name: 6,
                system_name: 6,
                filename: 7,
                start_line: 2,
            },
        ],
        string_table: strings,
        time_nanos: 1_700_000_000_000_000_000,
        duration_nanos: 10_000_000_000,
        period_type: Some(pprof::ValueType { r#type: 3, unit: 4 }),
        period: 10_000_000,
        ..Default::default()
    }
}

pub fn labels(service: &str, extra: &[(&str, &str)]) -> Labels {
    let mut l = Labels::from_pairs([
        ("__name__", "process_cpu"),
        ("service_name", service),
        ("job", "test"),
    ]);
    for (k, v) in extra {
        l.set(*k, *v);
    }
    l
}

/// A record as a scrape makes it: served as the gzipped encoding of its
/// profile.
pub fn record(service: &str, seed: i64, extra: &[(&str, &str)]) -> ProfileRecord {
    let served = profcol_pdata::pprof::encode_pprof_gzip(&profile(seed));
    let data = profcol_pdata::PprofData::from_served(served.into(), &Default::default())
        .expect("a valid profile");
    ProfileRecord::new(labels(service, extra), data)
}

pub fn batch(records: Vec<ProfileRecord>) -> ProfileBatch {
    ProfileBatch::new(records)
}

pub fn ctx(id: &str) -> (ComponentContext, Telemetry) {
    let telemetry = Telemetry::default();
    (
        ComponentContext {
            id: id.to_string(),
            shutdown: tokio_util::sync::CancellationToken::new(),
            telemetry: telemetry.clone(),
            memory: Default::default(),
            cluster: None,
            scrape_budget: Default::default(),
            read_back_limits: Default::default(),
        },
        telemetry,
    )
}

pub fn yaml(s: &str) -> profcol_config::Body {
    profcol_config::Body::parse(s).unwrap()
}

/// One request the server saw.
#[derive(Clone, Debug)]
pub struct Seen {
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub at: Instant,
}

/// What the server answers to the n-th request (0-based).
pub type Behaviour = Arc<dyn Fn(usize) -> Response + Send + Sync>;

pub fn ok() -> Behaviour {
    Arc::new(|_| StatusCode::OK.into_response())
}

/// A server that records every request and answers with `behaviour`.
pub struct Recorder {
    pub addr: SocketAddr,
    pub seen: Arc<Mutex<Vec<Seen>>>,
}

impl Recorder {
    pub async fn start(behaviour: Behaviour) -> Self {
        Self::start_at("127.0.0.1:0", behaviour).await
    }

    pub async fn start_at(addr: &str, behaviour: Behaviour) -> Self {
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let s2 = seen.clone();
        let app = axum::Router::new().fallback(
            move |uri: axum::http::Uri, headers: HeaderMap, body: Bytes| {
                let seen = s2.clone();
                let behaviour = behaviour.clone();
                async move {
                    let n = {
                        let mut v = seen.lock().unwrap();
                        v.push(Seen {
                            path: uri.path().to_string(),
                            headers,
                            body,
                            at: Instant::now(),
                        });
                        v.len() - 1
                    };
                    behaviour(n)
                }
            },
        );
        let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { addr, seen }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn requests(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    pub fn count(&self) -> usize {
        self.seen.lock().unwrap().len()
    }
}

/// Polls `cond` every 10ms until it holds or `within` passes.
pub async fn eventually(within: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + within;
    while Instant::now() < end {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    cond()
}

/// The value of one metric line (`name{labels} value`) on the page.
pub fn metric(page: &str, prefix: &str) -> Option<f64> {
    page.lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

/// A record whose first sample carries a string label `thread=main` and a
/// numeric label `bytes=1024` (unit `bytes`), as Go heap profiles do.
pub fn numeric_record(service: &str) -> ProfileRecord {
    let mut p = profile(1);
    let base = p.string_table.len() as i64;
    p.string_table
        .extend(["thread", "main", "bytes"].map(str::to_string));
    p.sample[0].label = vec![
        pprof::Label {
            key: base,
            str: base + 1,
            num: 0,
            num_unit: 0,
        },
        pprof::Label {
            key: base + 2,
            str: 0,
            num: 1024,
            num_unit: base + 2,
        },
    ];
    ProfileRecord::from_profile(labels(service, &[]), &p).expect("a valid profile")
}

/// The keys of every sample attribute in the request's dictionary.
pub fn sample_attribute_keys(
    req: &profcol_pdata::otlp::collector::ExportProfilesServiceRequest,
) -> Vec<String> {
    let dict = req.dictionary.as_ref().expect("a dictionary");
    let mut keys: Vec<String> = dict
        .attribute_table
        .iter()
        .map(|kv| dict.string_table[kv.key_strindex as usize].clone())
        .filter(|k| !k.is_empty())
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

/// A log sink for `tracing_subscriber`'s writer: what the exporters log,
/// kept for the test to read.
#[derive(Clone, Default)]
pub struct Buf(pub Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Buf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
