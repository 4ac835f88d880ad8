//! The `pyroscope` push receiver against real HTTP requests shaped like the
//! SDKs' (pyroscope-go's multipart `/ingest`, raw pprof, folded and lines
//! text, pyroscope-rs's gzipped protobuf push, Connect JSON): what reaches
//! the pipeline, and every refusal's status and message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use bytes::Bytes;
use common::{gz, profile, start, start_with_memory, Running};
use profcol_config::HttpClientConfig;
use profcol_http::reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use profcol_http::reqwest::{Method, Url};
use profcol_http::{ClientOptions, HttpClient};
use profcol_pdata::Labels;
use prost::Message;
use std::sync::atomic::Ordering;

/// The push API's messages, written from their field numbers for the test.
mod push {
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct PushRequest {
        #[prost(message, repeated, tag = "1")]
        pub series: Vec<RawProfileSeries>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct RawProfileSeries {
        #[prost(message, repeated, tag = "1")]
        pub labels: Vec<LabelPair>,
        #[prost(message, repeated, tag = "2")]
        pub samples: Vec<RawSample>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct LabelPair {
        #[prost(string, tag = "1")]
        pub name: String,
        #[prost(string, tag = "2")]
        pub value: String,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct RawSample {
        #[prost(bytes = "vec", tag = "1")]
        pub raw_profile: Vec<u8>,
        #[prost(string, tag = "2")]
        pub id: String,
    }
}

const CPU: &[(&str, &str)] = &[("samples", "count"), ("cpu", "nanoseconds")];
const HEAP: &[(&str, &str)] = &[
    ("alloc_objects", "count"),
    ("alloc_space", "bytes"),
    ("inuse_objects", "count"),
    ("inuse_space", "bytes"),
];

struct Server {
    running: Running,
    base: Url,
    client: HttpClient,
}

struct Answer {
    status: u16,
    headers: HeaderMap,
    text: String,
}

fn server(extra: &str) -> Server {
    server_with(extra, profcol_runtime::MemoryGuard::default())
}

fn server_with(extra: &str, memory: profcol_runtime::MemoryGuard) -> Server {
    let yaml = format!("endpoint: 127.0.0.1:0\n{extra}");
    let running = start_with_memory("pyroscope/sdk", &yaml, memory);
    let addr = running.handle.push_address("http").expect("listening");
    let client = HttpClient::new(
        &HttpClientConfig::default(),
        &ClientOptions {
            user_agent: "test".into(),
        },
    )
    .unwrap();
    Server {
        running,
        base: Url::parse(&format!("http://{addr}")).unwrap(),
        client,
    }
}

impl Server {
    async fn post(
        &self,
        path_and_query: &str,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
    ) -> Answer {
        let url = self.base.join(path_and_query).unwrap();
        let mut rb = self.client.request(Method::POST, url).body(body.into());
        for (k, v) in headers {
            rb = rb.header(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        let resp = self.client.send(rb).await.unwrap();
        Answer {
            status: resp.status().as_u16(),
            headers: resp.headers().clone(),
            text: resp.text().await.unwrap(),
        }
    }

    async fn ingest(
        &self,
        query: &str,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
    ) -> Answer {
        self.post(&format!("/ingest?{query}"), headers, body).await
    }

    async fn push(
        &self,
        content_type: &str,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
    ) -> Answer {
        let mut h = vec![("Content-Type", content_type)];
        h.extend_from_slice(headers);
        self.post("/push.v1.PusherService/Push", &h, body).await
    }

    fn records(&self) -> Vec<profcol_pdata::ProfileRecord> {
        self.running.out.all()
    }

    async fn stop(self) {
        self.running.stop().await;
    }
}

/// A body the way Go's mime/multipart writes pyroscope-go's upload.
fn go_form(boundary: &str, parts: &[(&str, &str, &[u8])]) -> Vec<u8> {
    let mut b = Vec::new();
    for (name, filename, body) in parts {
        b.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        b.extend_from_slice(body);
        b.extend_from_slice(b"\r\n");
    }
    b.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    b
}

const FORM: &str = "multipart/form-data; boundary=0f2a9c";

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn labels(r: &profcol_pdata::ProfileRecord) -> String {
    r.labels.to_string()
}

#[tokio::test]
async fn ingest_multipart_like_pyroscope_go() {
    let s = server("");
    let heap = gz(&profile(HEAP, 7));
    let config = br#"{"alloc_objects":{"units":"objects"},"alloc_space":{"units":"bytes"},"inuse_objects":{"units":"objects","aggregation":"average"},"inuse_space":{"units":"bytes","aggregation":"average"}}"#;
    let body = go_form(
        "0f2a9c",
        &[
            ("profile", "profile.pprof", &heap),
            ("sample_type_config", "sample_type_config.json", config),
        ],
    );
    let name = enc("checkout{__session_id__=9f1c,env=prod,process.runtime.name=go}");
    let q = format!("name={name}&from=1700000000000000000&until=1700000015000000000&spyName=gospy&sampleRate=0&units=&aggregationType=");
    let a = s.ingest(&q, &[("Content-Type", FORM)], body).await;
    assert_eq!((a.status, a.text.as_str()), (200, ""));
    let got = s.records();
    assert_eq!(got.len(), 1);
    assert_eq!(
        labels(&got[0]),
        r#"{__delta__="false", __name__="memory", __session_id__="9f1c", env="prod", process.runtime.name="go", pyroscope_spy="gospy", service_name="checkout"}"#
    );
    // Forwarded byte for byte.
    assert_eq!(got[0].pprof.served().map(|b| b.to_vec()), Some(heap));
    // The profile's own time (1ns, no time) is replaced by `from`.
    assert_eq!(got[0].pprof.header().time_nanos, 1_700_000_000_000_000_000);
    let st = s.running.handle.push_status().unwrap();
    assert_eq!((st.requests_accepted, st.profiles_accepted), (1, 1));
    let metrics = s.running.telemetry.encode();
    assert!(
        metrics.contains(r#"profcol_receiver_accepted_profiles_total{component="pyroscope/sdk",protocol="ingest"} 1"#),
        "{metrics}"
    );
    s.stop().await;
}

/// The Pyroscope Java agent's upload as captured
/// (`integration/corpus/ingest/java_jfr.*`): its query, content type and
/// body.
fn java_agent_upload() -> (String, String, Vec<u8>) {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../integration/corpus/ingest/");
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(format!("{dir}java_jfr.json")).unwrap()).unwrap();
    let body = std::fs::read(format!("{dir}java_jfr.multipart")).unwrap();
    (
        meta["raw_query"].as_str().unwrap().to_string(),
        meta["content_type"].as_str().unwrap().to_string(),
        body,
    )
}

#[tokio::test]
async fn ingest_jfr_like_the_java_agent() {
    let s = server("");
    let (query, content_type, body) = java_agent_upload();
    let a = s
        .ingest(
            &query,
            &[("Content-Type", &content_type), ("X-Scope-OrgID", "t1")],
            body,
        )
        .await;
    assert_eq!((a.status, a.text.as_str()), (200, ""));
    let got = s.records();
    let names: Vec<String> = got
        .iter()
        .map(|r| r.labels.get("__name__").unwrap_or("").to_string())
        .collect();
    // The recording holds CPU samples, allocations in new TLABs and
    // monitor enters: one series each.
    assert_eq!(names, ["process_cpu", "memory", "mutex"]);
    for r in &got {
        let l = &r.labels;
        assert_eq!(l.get("service_name"), Some("javapush"), "{l}");
        assert_eq!(l.get("pyroscope_spy"), Some("javaspy"), "{l}");
        assert_eq!(l.get("jfr_event"), Some("itimer"), "{l}");
        assert_eq!(l.get("env"), Some("corpus"), "{l}");
        assert_eq!(l.get(Labels::TENANT_ID), Some("t1"), "{l}");
        // `from`/`until` are whole seconds: the window is one second.
        let h = r.pprof.header();
        assert_eq!(h.time_nanos % 1_000_000_000, 0);
        assert_eq!(h.duration_nanos, 1_000_000_000);
    }
    let cpu = got[0].pprof.to_profile();
    let total: i64 = cpu.sample.iter().map(|s| s.value[0]).sum();
    assert_eq!(total, 80 * 10_000_000, "80 samples at sampleRate=100");
    let labelled = cpu
        .sample
        .iter()
        .flat_map(|s| &s.label)
        .filter(|l| {
            cpu.string_table[l.key as usize] == "handler"
                && cpu.string_table[l.str as usize] == "/cart"
        })
        .count();
    assert!(labelled > 0, "the labels part's contexts reach the samples");
    let st = s.running.handle.push_status().unwrap();
    assert_eq!((st.requests_accepted, st.profiles_accepted), (1, 3));
    s.stop().await;
}

#[tokio::test]
async fn a_jfr_recording_needing_more_memory_than_the_budget_is_413() {
    // The recording inflates to 55,360 bytes, leaving ~4 KB of a 60,000
    // byte budget: not enough for its constants' index.
    let s = server("max_decompressed_size: 60000\n");
    let (query, content_type, body) = java_agent_upload();
    let a = s
        .ingest(&query, &[("Content-Type", &content_type)], body)
        .await;
    assert_eq!(a.status, 413, "{}", a.text);
    assert!(
        a.text.starts_with(
            "the JFR recording needs more memory than max_decompressed_size (60000 bytes) leaves"
        ),
        "{}",
        a.text
    );
    assert!(s.records().is_empty());
    s.stop().await;
}

#[tokio::test]
async fn ingest_raw_pprof_folded_and_lines() {
    let s = server("");
    let cpu = gz(&profile(CPU, 3));
    let a = s
        .ingest(
            "name=api.cpu&format=pprof&from=1700000000&until=1700000010&spyName=pyspy",
            &[("Content-Type", "binary/octet-stream")],
            cpu.clone(),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.text);
    // Folded, no format: Pyroscope's default. 100 Hz: each sample 10ms.
    let a = s
        .ingest(
            "name=api.cpu%7Bregion%3Deu%7D&from=1700000000&until=1700000010&sampleRate=100",
            &[],
            "main;work;parse 3\nmain;idle 1\n",
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.text);
    let a = s
        .ingest(
            "name=api.inuse_space&format=lines&from=1700000000&until=1700000010",
            &[],
            "main;alloc\nmain;alloc\nmain;other\n",
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.text);
    let got = s.records();
    assert_eq!(got.len(), 3);

    assert_eq!(got[0].name(), "process_cpu");
    assert_eq!(got[0].labels.get("service_name"), Some("api.cpu"));
    assert_eq!(got[0].labels.get("pyroscope_spy"), Some("pyspy"));
    assert_eq!(got[0].pprof.served().map(|b| b.to_vec()), Some(cpu));
    // A pprof that does not say its window gets it from from/until.
    let p0 = got[0].profile();
    assert_eq!(
        (p0.time_nanos, p0.duration_nanos),
        (1_700_000_000_000_000_000, 10_000_000_000)
    );

    assert_eq!(
        labels(&got[1]),
        r#"{__delta__="false", __name__="process_cpu", pyroscope_spy="unknown", region="eu", service_name="api"}"#
    );
    let p = got[1].profile();
    assert_eq!(
        (p.str(p.sample_type[0].r#type), p.str(p.sample_type[0].unit)),
        ("cpu", "nanoseconds")
    );
    assert_eq!(
        (p.period, p.time_nanos, p.duration_nanos),
        (10_000_000, 1_700_000_000_000_000_000, 10_000_000_000)
    );
    let mut folded = profcol_pdata::pprof::folded_pprof(&p);
    folded.sort();
    assert_eq!(
        folded,
        vec![
            "cpu/nanoseconds;main;idle 10000000",
            "cpu/nanoseconds;main;work;parse 30000000"
        ]
    );

    assert_eq!(got[2].name(), "memory");
    let p = got[2].profile();
    assert_eq!(
        profcol_pdata::pprof::folded_pprof(&p),
        vec![
            "inuse_space/bytes;main;alloc 2",
            "inuse_space/bytes;main;other 1"
        ]
    );
    s.stop().await;
}

fn push_request(labels: &[(&str, &str)], raws: &[Vec<u8>]) -> push::PushRequest {
    push::PushRequest {
        series: vec![push::RawProfileSeries {
            labels: labels
                .iter()
                .map(|(n, v)| push::LabelPair {
                    name: n.to_string(),
                    value: v.to_string(),
                })
                .collect(),
            samples: raws
                .iter()
                .map(|r| push::RawSample {
                    raw_profile: r.clone(),
                    id: "5d1e4b4e-0000-4000-8000-000000000000".into(),
                })
                .collect(),
        }],
    }
}

#[tokio::test]
async fn push_api_protobuf_gzip_and_json() {
    let s = server("");
    // pyroscope-rs: the whole request gzipped, raw (uncompressed) pprof.
    let raw = profcol_pdata::pprof::encode_pprof(&profile(CPU, 5));
    let req = push_request(
        &[
            ("__name__", "process_cpu"),
            ("service_name", "rust-app"),
            ("process.runtime.name", "rust"),
        ],
        &[raw.clone(), raw.clone()],
    );
    let body = profcol_pdata::pprof::gzip(&req.encode_to_vec());
    let a = s
        .push(
            "application/proto",
            &[
                ("Content-Encoding", "gzip"),
                ("Connect-Protocol-Version", "1"),
                ("X-Scope-OrgID", "team-a"),
            ],
            body,
        )
        .await;
    assert_eq!((a.status, a.text.as_str()), (200, ""));
    assert_eq!(a.headers["content-type"], "application/proto");
    // Connect JSON: bytes in base64.
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(gz(&profile(HEAP, 1)));
    let json = format!(
        r#"{{"series":[{{"labels":[{{"name":"__name__","value":"memory"}},{{"name":"service_name","value":"js-app"}}],"samples":[{{"rawProfile":"{b64}","ID":"x"}}]}}]}}"#
    );
    let a = s.push("application/json", &[], json).await;
    assert_eq!((a.status, a.text.as_str()), (200, "{}"));
    let got = s.records();
    assert_eq!(got.len(), 3);
    assert_eq!(
        labels(&got[0]),
        r#"{__name__="process_cpu", __tenant_id__="team-a", process.runtime.name="rust", service_name="rust-app"}"#
    );
    assert_eq!(got[0].pprof.served().map(|b| b.to_vec()), Some(raw));
    assert_eq!(got[0].labels, got[1].labels);
    assert_eq!(
        labels(&got[2]),
        r#"{__name__="memory", service_name="js-app"}"#
    );
    let st = s.running.handle.push_status().unwrap();
    assert_eq!((st.requests_accepted, st.profiles_accepted), (2, 3));
    s.stop().await;
}

#[tokio::test]
async fn tenant_header_on_ingest() {
    let s = server("");
    let a = s
        .ingest("name=app.cpu", &[("X-Scope-OrgID", "tenant-1")], "a;b 1")
        .await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(
        s.records()[0].labels.get(Labels::TENANT_ID),
        Some("tenant-1")
    );
    let a = s
        .ingest("name=app.cpu", &[("X-Scope-OrgID", "a/b")], "a;b 1")
        .await;
    assert_eq!(a.status, 400);
    assert!(
        a.text.contains("X-Scope-OrgID header may not contain '/'"),
        "{}",
        a.text
    );
    s.stop().await;
}

#[tokio::test]
async fn auth_is_required_when_configured() {
    let s = server("basic_auth: {username: sdk, password: s3cret}\n");
    let a = s.ingest("name=app.cpu", &[], "a;b 1").await;
    assert_eq!(a.status, 401);
    let a = s.push("application/json", &[], "{}").await;
    assert_eq!(a.status, 401);
    assert!(s.records().is_empty());
    use base64::Engine;
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("sdk:s3cret")
    );
    let a = s
        .ingest("name=app.cpu", &[("Authorization", &basic)], "a;b 1")
        .await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(s.records().len(), 1);
    s.stop().await;
}

#[tokio::test]
async fn a_refusing_pipeline_is_429_with_retry_after() {
    let s = server("");
    s.running.out.refuse.store(true, Ordering::SeqCst);
    let a = s.ingest("name=app.cpu", &[], "a;b 1").await;
    assert_eq!(a.status, 429);
    assert_eq!(a.headers["retry-after"], "5");
    assert!(
        a.text.contains(
            "the pipeline did not take the profiles: downstream refused the batch: queue full"
        ),
        "{}",
        a.text
    );
    let body = push_request(&[("service_name", "x")], &[gz(&profile(CPU, 1))]).encode_to_vec();
    let a = s.push("application/proto", &[], body).await;
    assert_eq!(a.status, 429);
    assert_eq!(a.headers["retry-after"], "5");
    let err: serde_json::Value = serde_json::from_str(&a.text).unwrap();
    assert_eq!(err["code"], "resource_exhausted");
    let st = s.running.handle.push_status().unwrap();
    assert_eq!((st.requests_accepted, st.requests_refused), (0, 2));
    let metrics = s.running.telemetry.encode();
    assert!(
        metrics.contains(r#"profcol_receiver_refused_requests_total{component="pyroscope/sdk",protocol="push",reason="downstream_refused"} 1"#),
        "{metrics}"
    );
    s.stop().await;
}

#[tokio::test]
async fn over_the_memory_limit_is_429() {
    let memory = profcol_runtime::MemoryGuard::new(100);
    memory.record(200);
    let s = server_with("", memory);
    let a = s.ingest("name=app.cpu", &[], "a;b 1").await;
    assert_eq!(a.status, 429);
    assert!(a.text.contains("memory limit"), "{}", a.text);
    assert!(a.headers.contains_key("retry-after"));
    assert!(s.records().is_empty());
    s.stop().await;
}

/// A gzip of `n` zero bytes (it inflates ~1000:1).
fn bomb(n: usize) -> Vec<u8> {
    profcol_pdata::pprof::gzip(&vec![0u8; n])
}

/// Query, headers, body, the status and a part of the message.
type IngestCase<'a> = (String, Vec<(&'a str, &'a str)>, Vec<u8>, u16, &'a str);
/// Content type, headers, body, the status, the Connect code, a part of the message.
type PushCase<'a> = (
    &'a str,
    Vec<(&'a str, &'a str)>,
    Vec<u8>,
    u16,
    &'a str,
    &'a str,
);

#[tokio::test]
async fn bad_input_on_ingest_is_a_clear_4xx() {
    let s = server("max_request_body_size: 64KiB\nmax_decompressed_size: 1MiB\nmax_label_names_per_series: 8\nmax_label_name_length: 20\nmax_label_value_length: 30\n");
    let form = go_form("0f2a9c", &[("profile", "p", b"x")]);
    let truncated_form = form[..form.len() - 13].to_vec();
    let cases: Vec<IngestCase> = vec![
        ("from=1".into(), vec![], b"a 1".to_vec(), 400, "the name query parameter is required"),
        (format!("name={}", enc("my app{a=b}")), vec![], b"a 1".to_vec(), 400, "invalid name \"my app{a=b}\": the application name may not contain ' '"),
        (format!("name={}", enc("app{a=b")), vec![], b"a 1".to_vec(), 400, "invalid name \"app{a=b\": the labels' '{' is not closed by '}'"),
        (format!("name={}", enc("app{a-b=1}")), vec![], b"a 1".to_vec(), 400, "invalid label name \"a-b\""),
        ("name=app.cpu&format=xyz".into(), vec![], b"a 1".to_vec(), 400, "unknown format \"xyz\" (known: pprof, folded, lines, jfr)"),
        ("name=app.cpu&format=jfr".into(), vec![("Content-Type", FORM)], b"--0f2a9c--".to_vec(), 400, "the multipart body has no part named \"jfr\""),
        ("name=app&format=jfr".into(), vec![], b"FLR\0\0\x02\0\0".to_vec(), 400, "the JFR recording does not read: at byte 8: truncated"),
        ("name=app&format=jfr".into(), vec![], b"not a recording".to_vec(), 400, "the JFR recording does not read: at byte 0: not a JFR chunk (no FLR magic)"),
        ("name=app.cpu&format=trie".into(), vec![], vec![1, 2], 415, "format \"trie\""),
        ("name=app.cpu".into(), vec![("Content-Type", "binary/octet-stream+tree")], vec![1, 2], 415, "format \"tree\""),
        ("name=app.cpu".into(), vec![("Content-Encoding", "br")], b"a 1".to_vec(), 415, "Content-Encoding \"br\" is not supported"),
        ("name=app.frobs".into(), vec![], b"a 1".to_vec(), 400, "unknown profile type \"frobs\""),
        ("name=app.cpu".into(), vec![], b"main;x 1\nmain;y\n".to_vec(), 400, "invalid folded body: line 2: \"main;y\" has no count"),
        ("name=app.cpu".into(), vec![], gz(&profile(CPU, 1)), 400, "line 1: is not UTF-8 text (a binary body such as pprof needs format=pprof)"),
        ("name=app.cpu&format=pprof".into(), vec![], b"not a profile at all".to_vec(), 400, "the body: body is not a pprof protobuf"),
        ("name=app&format=pprof".into(), vec![], bomb(4 << 20), 413, "the body: the request inflates past max_decompressed_size (1048576 bytes)"),
        ("name=app.cpu".into(), vec![("Content-Encoding", "gzip")], bomb(4 << 20), 413, "the request body inflates past max_decompressed_size (1048576 bytes)"),
        ("name=app.cpu".into(), vec![], vec![b'a'; 70_000], 413, "the request body is larger than max_request_body_size (65536 bytes)"),
        ("name=app.cpu".into(), vec![("Content-Type", "multipart/form-data")], b"x".to_vec(), 400, "invalid multipart body: the multipart content type has no boundary parameter"),
        ("name=app.cpu".into(), vec![("Content-Type", FORM)], truncated_form.clone(), 400, "invalid multipart body: the body ends before the closing boundary"),
        ("name=app.cpu".into(), vec![("Content-Type", FORM)], go_form("0f2a9c", &[("other", "p", b"x")]), 400, "the multipart body has no part named \"profile\""),
        ("name=app.cpu".into(), vec![("Content-Type", FORM)], go_form("0f2a9c", &[("profile", "p", b"x"), ("prev_profile", "p", b"y")]), 400, "part \"prev_profile\""),
        (format!("name={}", enc("app.cpu{a=1,b=2,c=3,d=4,e=5,f=6}")), vec![], b"a 1".to_vec(), 400, "the series has 10 labels, more than max_label_names_per_series (8)"),
        (format!("name={}", enc("app.cpu{a_very_long_label_name_indeed=1}")), vec![], b"a 1".to_vec(), 400, "label name \"a_very_long_label_name_indeed\" is 29 bytes long, more than max_label_name_length (20)"),
        (format!("name={}", enc(&format!("app.cpu{{a={}}}", "v".repeat(31)))), vec![], b"a 1".to_vec(), 400, "the value of label \"a\" is 31 bytes long, more than max_label_value_length (30)"),
    ];
    let mut n = 0;
    for (query, headers, body, status, message) in cases {
        let a = s.ingest(&query, &headers, body).await;
        assert_eq!(a.status, status, "{query}: {}", a.text);
        assert!(
            a.text.contains(message),
            "{query}: {:?} does not contain {message:?}",
            a.text
        );
        n += 1;
    }
    assert!(s.records().is_empty());
    let st = s.running.handle.push_status().unwrap();
    assert_eq!(st.requests_refused, n);
    // A gzipped pprof inside the form that inflates past the cap.
    let form = go_form("0f2a9c", &[("profile", "profile.pprof", &bomb(4 << 20))]);
    let a = s.ingest("name=app", &[("Content-Type", FORM)], form).await;
    assert_eq!(a.status, 413);
    assert!(
        a.text.contains(
            "part \"profile\": the request inflates past max_decompressed_size (1048576 bytes)"
        ),
        "{}",
        a.text
    );
    s.stop().await;
}

#[tokio::test]
async fn bad_input_on_push_is_a_connect_error() {
    let s = server("max_request_body_size: 64KiB\nmax_decompressed_size: 1MiB\nmax_label_names_per_series: 3\n");
    let good = push_request(&[("service_name", "x")], &[gz(&profile(CPU, 1))]).encode_to_vec();
    let many = push_request(
        &[("a", "1"), ("b", "1"), ("c", "1"), ("d", "1")],
        &[gz(&profile(CPU, 1))],
    )
    .encode_to_vec();
    let bad_name = push_request(&[("my-label", "1")], &[gz(&profile(CPU, 1))]).encode_to_vec();
    let bomb_sample = push_request(&[("service_name", "x")], &[bomb(4 << 20)]).encode_to_vec();
    let cases: Vec<PushCase> = vec![
        ("text/plain", vec![], good.clone(), 415, "invalid_argument", "content type \"text/plain\" is not supported: send application/proto or application/json"),
        ("application/proto", vec![], good[..good.len() - 3].to_vec(), 400, "invalid_argument", "truncated protobuf"),
        ("application/json", vec![], b"{\"series\": [".to_vec(), 400, "invalid_argument", "invalid JSON PushRequest"),
        ("application/proto", vec![("Content-Encoding", "br")], good.clone(), 415, "unimplemented", "Content-Encoding \"br\" is not supported"),
        ("application/proto", vec![("Content-Encoding", "gzip")], good.clone(), 400, "invalid_argument", "the body is not gzip though Content-Encoding says so"),
        ("application/proto", vec![("Content-Encoding", "gzip")], bomb(4 << 20), 413, "invalid_argument", "the request body inflates past max_decompressed_size (1048576 bytes)"),
        ("application/proto", vec![], bomb_sample, 413, "invalid_argument", "series 0 sample 0: the request inflates past max_decompressed_size (1048576 bytes)"),
        ("application/proto", vec![], many, 400, "invalid_argument", "series 0 has more than max_label_names_per_series (3) labels"),
        ("application/proto", vec![], bad_name, 400, "invalid_argument", "series 0: invalid label name \"my-label\""),
        ("application/proto", vec![], vec![0u8; 70_000], 413, "invalid_argument", "the request body is larger than max_request_body_size (65536 bytes)"),
    ];
    for (ct, headers, body, status, code, message) in cases {
        let a = s.push(ct, &headers, body).await;
        assert_eq!(a.status, status, "{message}: {}", a.text);
        assert_eq!(a.headers["content-type"], "application/json");
        let err: serde_json::Value = serde_json::from_str(&a.text).unwrap();
        assert_eq!(err["code"], code, "{}", a.text);
        assert!(
            err["message"].as_str().unwrap().contains(message),
            "{} does not contain {message:?}",
            a.text
        );
    }
    assert!(s.records().is_empty());
    // The route takes POST only.
    let url = s.base.join("/push.v1.PusherService/Push").unwrap();
    let resp = s
        .client
        .send(s.client.request(Method::GET, url))
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 405);
    s.stop().await;
}

#[tokio::test]
async fn a_port_in_use_fails_the_start() {
    let s = server("");
    let addr = s.running.handle.push_address("http").unwrap();
    let id: profcol_config::ComponentId = "pyroscope/second".parse().unwrap();
    let body = profcol_config::Body::parse(&format!("endpoint: {addr}")).unwrap();
    let ctx = profcol_runtime::ComponentContext {
        id: id.to_string(),
        shutdown: tokio_util::sync::CancellationToken::new(),
        telemetry: Default::default(),
        memory: Default::default(),
        cluster: None,
        scrape_budget: Default::default(),
        read_back_limits: Default::default(),
    };
    let e = profcol_receiver::start_receiver(&id, &body, ctx, s.running.out.clone())
        .err()
        .unwrap();
    assert!(
        e.to_string()
            .contains("receivers::pyroscope/second::endpoint: cannot listen on"),
        "{e}"
    );
    s.stop().await;
}

#[test]
fn the_receiver_needs_a_runtime() {
    let id: profcol_config::ComponentId = "pyroscope".parse().unwrap();
    let body = profcol_config::Body::parse("endpoint: 127.0.0.1:0").unwrap();
    let ctx = profcol_runtime::ComponentContext {
        id: id.to_string(),
        shutdown: tokio_util::sync::CancellationToken::new(),
        telemetry: Default::default(),
        memory: Default::default(),
        cluster: None,
        scrape_budget: Default::default(),
        read_back_limits: Default::default(),
    };
    let out = std::sync::Arc::new(common::Collect::default());
    assert!(matches!(
        profcol_receiver::start_receiver(&id, &body, ctx, out),
        Err(profcol_receiver::Error::NoRuntime)
    ));
    let _ = start; // the shared helper without a memory guard
}
