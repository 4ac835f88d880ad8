//! The `otlp` receiver against real clients: tonic's generated
//! `ProfilesService` client (plain, gzip, zstd, TLS, auth), HTTP/1.1 and
//! HTTP/2 requests in protobuf and JSON (plain, gzip, zstd), and every
//! refusal an OTLP sender can meet: what the pipeline got must be the
//! bytes that were sent (no decode/encode round trip), and each bad input
//! gets the status the OTLP specification gives it, naming the problem.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use async_trait::async_trait;
use profcol_config::ComponentId;
use profcol_pdata::otlp::collector::profiles_service_client::ProfilesServiceClient;
use profcol_pdata::otlp::collector::ExportProfilesServiceRequest;
use profcol_pdata::otlp::OtlpPayload;
use profcol_pdata::{Consumer, Labels, ProfileBatch, ProfileRecord};
use profcol_receiver::{start_receiver, ReceiverHandle};
use profcol_runtime::{ComponentContext, MemoryGuard, Telemetry};
use prost::Message;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tonic::codec::CompressionEncoding;

/// Keeps every OTLP request handed to it, or refuses them all.
#[derive(Default)]
struct Sink {
    got: Mutex<Vec<Arc<OtlpPayload>>>,
    refuse: AtomicBool,
}

#[async_trait]
impl Consumer for Sink {
    async fn consume(&self, batch: ProfileBatch) -> Result<(), profcol_pdata::Error> {
        if self.refuse.load(Ordering::SeqCst) {
            return Err(profcol_pdata::Error::Refused(
                "sending queue is full".into(),
            ));
        }
        assert!(batch.records.is_empty());
        self.got.lock().unwrap().extend(batch.otlp);
        Ok(())
    }
}

impl Sink {
    fn payloads(&self) -> Vec<Arc<OtlpPayload>> {
        self.got.lock().unwrap().clone()
    }
}

struct Receiver {
    handle: ReceiverHandle,
    sink: Arc<Sink>,
    stop: CancellationToken,
    telemetry: Telemetry,
}

impl Receiver {
    fn start(yaml: &str) -> Self {
        Self::start_with(yaml, MemoryGuard::default())
    }

    fn start_with(yaml: &str, memory: MemoryGuard) -> Self {
        let id: ComponentId = "otlp/test".parse().unwrap();
        let body = profcol_config::Body::parse(yaml).unwrap();
        let sink = Arc::new(Sink::default());
        let stop = CancellationToken::new();
        let telemetry = Telemetry::default();
        let ctx = ComponentContext {
            id: id.to_string(),
            shutdown: stop.clone(),
            telemetry: telemetry.clone(),
            memory,
            cluster: None,
            scrape_budget: Default::default(),
            read_back_limits: Default::default(),
        };
        let handle = start_receiver(&id, &body, ctx, sink.clone()).unwrap();
        Self {
            handle,
            sink,
            stop,
            telemetry,
        }
    }

    fn grpc(&self) -> SocketAddr {
        self.handle.push_address("grpc").unwrap()
    }

    fn http(&self) -> String {
        format!(
            "http://{}/v1development/profiles",
            self.handle.push_address("http").unwrap()
        )
    }

    async fn client(&self) -> ProfilesServiceClient<tonic::transport::Channel> {
        ProfilesServiceClient::connect(format!("http://{}", self.grpc()))
            .await
            .unwrap()
    }

    async fn stop(self) {
        self.stop.cancel();
        tokio::time::timeout(Duration::from_secs(10), self.handle.wait())
            .await
            .expect("the receiver stops");
    }
}

const BOTH: &str = "protocols: {grpc: {endpoint: '127.0.0.1:0'}, http: {endpoint: '127.0.0.1:0'}}";

/// A request of two profiles (two sample types) of one service.
fn request() -> ExportProfilesServiceRequest {
    let p = common::profile(&[("samples", "count"), ("cpu", "nanoseconds")], 7);
    let record =
        ProfileRecord::from_profile(Labels::from_pairs([("service_name", "checkout")]), &p)
            .unwrap();
    let bytes = profcol_pdata::otlp::to_otlp_bytes(&[record]);
    ExportProfilesServiceRequest::decode(bytes.as_slice()).unwrap()
}

/// The request with a sample pointing past the stack table.
fn out_of_range() -> ExportProfilesServiceRequest {
    let mut req = request();
    req.resource_profiles[0].scope_profiles[0].profiles[0].samples[0].stack_index = 999;
    req
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut w = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    w.write_all(data).unwrap();
    w.finish().unwrap()
}

/// A gzip body that inflates to `mib` MiB of zeros.
fn bomb(mib: usize) -> Vec<u8> {
    gzip(&vec![0u8; mib << 20])
}

fn frame(flag: u8, message: &[u8]) -> Vec<u8> {
    let mut out = vec![flag];
    out.extend_from_slice(&(message.len() as u32).to_be_bytes());
    out.extend_from_slice(message);
    out
}

// google.rpc.Status, to read error bodies and details.
#[derive(Clone, PartialEq, prost::Message)]
struct Status {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
    #[prost(message, repeated, tag = "3")]
    details: Vec<Any>,
}
#[derive(Clone, PartialEq, prost::Message)]
struct Any {
    #[prost(string, tag = "1")]
    type_url: String,
    #[prost(bytes = "vec", tag = "2")]
    value: Vec<u8>,
}
#[derive(Clone, PartialEq, prost::Message)]
struct RetryInfo {
    #[prost(message, optional, tag = "1")]
    retry_delay: Option<PbDuration>,
}
#[derive(Clone, PartialEq, prost::Message)]
struct PbDuration {
    #[prost(int64, tag = "1")]
    seconds: i64,
    #[prost(int32, tag = "2")]
    nanos: i32,
}

const RETRY_INFO: &str = "type.googleapis.com/google.rpc.RetryInfo";

fn retry_seconds(details: &[u8]) -> Option<i64> {
    let s = Status::decode(details).ok()?;
    let a = s.details.iter().find(|a| a.type_url == RETRY_INFO)?;
    Some(
        RetryInfo::decode(a.value.as_slice())
            .ok()?
            .retry_delay?
            .seconds,
    )
}

/// reqwest is built without a default TLS provider: profcol's is ring.
fn provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn http_client() -> reqwest::Client {
    provider();
    reqwest::Client::builder().build().unwrap()
}

/// A client that speaks HTTP/2 without TLS (for raw gRPC requests).
fn h2c_client() -> reqwest::Client {
    provider();
    reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap()
}

/// A raw gRPC call to `path`; returns the HTTP status and the headers
/// (a refusal is a Trailers-Only response: the status is in them).
async fn raw_grpc(
    addr: SocketAddr,
    path: &str,
    body: Vec<u8>,
    extra: &[(&str, &str)],
) -> (u16, reqwest::header::HeaderMap) {
    let mut req = h2c_client()
        .post(format!("http://{addr}{path}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(body);
    for (k, v) in extra {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.unwrap();
    (resp.status().as_u16(), resp.headers().clone())
}

const EXPORT: &str = "/opentelemetry.proto.collector.profiles.v1development.ProfilesService/Export";

async fn post(
    url: &str,
    content_type: &str,
    encoding: Option<&str>,
    body: Vec<u8>,
) -> reqwest::Response {
    let mut req = http_client()
        .post(url)
        .header("content-type", content_type)
        .body(body);
    if let Some(e) = encoding {
        req = req.header("content-encoding", e);
    }
    req.send().await.unwrap()
}

/// The `google.rpc.Status` of a protobuf error answer.
async fn status_of(resp: reqwest::Response) -> Status {
    assert_eq!(resp.headers()["content-type"], "application/x-protobuf");
    Status::decode(resp.bytes().await.unwrap()).unwrap()
}

#[tokio::test]
async fn grpc_requests_arrive_as_the_bytes_sent() {
    let r = Receiver::start(BOTH);
    let req = request();
    let sent = req.encode_to_vec();
    let plain = r.client().await;
    let resp = plain
        .clone()
        .export(req.clone())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        resp.partial_success, None,
        "full success leaves partial_success unset"
    );
    let gz = plain.clone().send_compressed(CompressionEncoding::Gzip);
    gz.clone().export(req.clone()).await.unwrap();
    let zs = plain.send_compressed(CompressionEncoding::Zstd);
    zs.clone().export(req.clone()).await.unwrap();
    let got = r.sink.payloads();
    assert_eq!(got.len(), 3);
    for p in &got {
        assert_eq!(
            p.bytes().as_ref(),
            sent.as_slice(),
            "no decode/encode round trip"
        );
        assert_eq!(p.profile_count(), 2);
    }
    // The compressed messages are kept as they came, for an exporter
    // compressing the same way; the plain one has none.
    use profcol_pdata::otlp::ContentCoding::{Gzip, Zstd};
    let kept = |p: &OtlpPayload| [Gzip, Zstd].map(|c| p.received_compressed(c).is_some());
    assert_eq!(kept(&got[0]), [false, false]);
    assert_eq!(kept(&got[1]), [true, false]);
    assert_eq!(kept(&got[2]), [false, true]);
    let inflated = |b: &[u8]| {
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(b), &mut out).unwrap();
        out
    };
    assert_eq!(inflated(got[1].received_compressed(Gzip).unwrap()), sent);
    assert_eq!(
        zstd::decode_all(&got[2].received_compressed(Zstd).unwrap()[..]).unwrap(),
        sent
    );
    let s = r.handle.push_status().unwrap();
    assert_eq!((s.requests_accepted, s.profiles_accepted), (3, 6));
    let page = r.telemetry.encode();
    assert!(
        page.contains(
            r#"profcol_receiver_accepted_requests_total{component="otlp/test",protocol="grpc"} 3"#
        ),
        "{page}"
    );
    r.stop().await;
}

#[tokio::test]
async fn grpc_refusals_carry_the_specified_codes() {
    let r =
        Receiver::start("protocols: {grpc: {endpoint: '127.0.0.1:0', max_recv_msg_size_mib: 1}}");
    let mut client = r.client().await;

    // Bad data: INVALID_ARGUMENT naming the table.
    let err = client.export(out_of_range()).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert!(
        err.message()
            .contains("stack_table index 999 is outside the table"),
        "{}",
        err.message()
    );

    // The pipeline refuses: RESOURCE_EXHAUSTED with RetryInfo, so clients retry.
    r.sink.refuse.store(true, Ordering::SeqCst);
    let err = client.export(request()).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::ResourceExhausted);
    assert!(
        err.message().contains("sending queue is full"),
        "{}",
        err.message()
    );
    assert_eq!(retry_seconds(err.details()), Some(5));
    r.sink.refuse.store(false, Ordering::SeqCst);

    // A truncated message.
    let sent = request().encode_to_vec();
    let (status, h) = raw_grpc(r.grpc(), EXPORT, frame(0, &sent[..sent.len() - 3]), &[]).await;
    assert_eq!(status, 200);
    assert_eq!(h["grpc-status"], "3");
    assert!(
        h["grpc-message"]
            .to_str()
            .unwrap()
            .starts_with("body is not an OTLP ExportProfilesServiceRequest"),
        "{h:?}"
    );

    // A gzip bomb: RESOURCE_EXHAUSTED without RetryInfo (not retryable).
    let (_, h) = raw_grpc(
        r.grpc(),
        EXPORT,
        frame(1, &bomb(8)),
        &[("grpc-encoding", "gzip")],
    )
    .await;
    assert_eq!(h["grpc-status"], "8");
    assert!(
        h["grpc-message"]
            .to_str()
            .unwrap()
            .contains("after decompression (max_recv_msg_size_mib)"),
        "{h:?}"
    );
    use base64::Engine;
    let details = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(h["grpc-status-details-bin"].as_bytes())
        .unwrap();
    assert_eq!(retry_seconds(&details), None);

    // A message over the limit as framed.
    let (_, h) = raw_grpc(r.grpc(), EXPORT, frame(0, &vec![0u8; (1 << 20) + 1]), &[]).await;
    assert_eq!(h["grpc-status"], "8");

    // Unknown methods and encodings.
    let (_, h) = raw_grpc(
        r.grpc(),
        "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
        frame(0, b""),
        &[],
    )
    .await;
    assert_eq!(h["grpc-status"], "12");
    assert!(
        h["grpc-message"]
            .to_str()
            .unwrap()
            .contains("unknown service"),
        "{h:?}"
    );
    let (_, h) = raw_grpc(
        r.grpc(),
        EXPORT,
        frame(1, b"x"),
        &[("grpc-encoding", "snappy")],
    )
    .await;
    assert_eq!(h["grpc-status"], "12");
    assert_eq!(h["grpc-accept-encoding"], "identity, gzip, zstd, deflate");

    // An empty request succeeds and forwards nothing.
    client
        .export(ExportProfilesServiceRequest::default())
        .await
        .unwrap();
    assert!(r.sink.payloads().is_empty());

    let s = r.handle.push_status().unwrap();
    assert_eq!(s.requests_refused, 7);
    let page = r.telemetry.encode();
    for reason in [
        "decode",
        "downstream_refused",
        "too_large",
        "not_found",
        "unsupported_encoding",
    ] {
        assert!(
            page.contains(&format!(
                r#"profcol_receiver_refused_requests_total{{component="otlp/test",protocol="grpc",reason="{reason}"}}"#
            )),
            "{reason}: {page}"
        );
    }
    r.stop().await;
}

#[tokio::test]
async fn memory_over_its_limit_refuses_before_reading() {
    let memory = MemoryGuard::new(100);
    memory.record(200);
    let r = Receiver::start_with(BOTH, memory);
    let err = r.client().await.export(request()).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::ResourceExhausted);
    assert!(err.message().contains("memory limit"), "{}", err.message());
    assert_eq!(retry_seconds(err.details()), Some(5));
    let resp = post(
        &r.http(),
        "application/x-protobuf",
        None,
        request().encode_to_vec(),
    )
    .await;
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["retry-after"], "5");
    assert!(r.sink.payloads().is_empty());
    r.stop().await;
}

#[tokio::test]
async fn grpc_auth_and_tls() {
    let pki = pki();
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    std::fs::write(&cert, &pki.cert_pem).unwrap();
    std::fs::write(&key, &pki.key_pem).unwrap();
    let r = Receiver::start(&format!(
        "protocols: {{grpc: {{endpoint: '127.0.0.1:0', bearer_token: s3cret, tls: {{cert_file: '{}', key_file: '{}', min_version: '1.2'}}}}}}",
        cert.display(),
        key.display()
    ));
    let tls = tonic::transport::ClientTlsConfig::new()
        .ca_certificate(tonic::transport::Certificate::from_pem(&pki.ca_pem))
        .domain_name("localhost");
    let channel = tonic::transport::Channel::from_shared(format!("https://{}", r.grpc()))
        .unwrap()
        .tls_config(tls)
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut anonymous = ProfilesServiceClient::new(channel.clone());
    let err = anonymous.export(request()).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unauthenticated);

    let mut authed =
        ProfilesServiceClient::with_interceptor(channel, |mut req: tonic::Request<()>| {
            req.metadata_mut()
                .insert("authorization", "Bearer s3cret".parse().unwrap());
            Ok(req)
        });
    authed.export(request()).await.unwrap();
    assert_eq!(r.sink.payloads().len(), 1);
    r.stop().await;
}

#[tokio::test]
async fn http_protobuf_json_gzip_and_zstd() {
    let r = Receiver::start(BOTH);
    let req = request();
    let sent = req.encode_to_vec();

    let resp = post(&r.http(), "application/x-protobuf", None, sent.clone()).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/x-protobuf");
    assert!(
        resp.bytes().await.unwrap().is_empty(),
        "an empty ExportProfilesServiceResponse"
    );

    let resp = post(
        &r.http(),
        "application/x-protobuf",
        Some("gzip"),
        gzip(&sent),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let z = zstd::encode_all(sent.as_slice(), 3).unwrap();
    let resp = post(&r.http(), "application/x-protobuf", Some("zstd"), z).await;
    assert_eq!(resp.status(), 200);

    let json = profcol_pdata::otlp::json::to_otlp_json_string(&req, false).unwrap();
    let resp = post(
        &r.http(),
        "application/json",
        None,
        json.clone().into_bytes(),
    )
    .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/json");
    assert_eq!(resp.text().await.unwrap(), "{}");
    let resp = post(
        &r.http(),
        "application/json; charset=utf-8",
        Some("gzip"),
        gzip(json.as_bytes()),
    )
    .await;
    assert_eq!(resp.status(), 200);

    let got = r.sink.payloads();
    assert_eq!(got.len(), 5);
    for p in &got[..3] {
        assert_eq!(
            p.bytes().as_ref(),
            sent.as_slice(),
            "protobuf bodies are kept as sent"
        );
    }
    for p in &got[3..] {
        assert_eq!(
            p.request().unwrap(),
            req,
            "JSON reads into the same request"
        );
    }
    // A compressed protobuf body is kept as it came; a JSON one is not
    // the request's protobuf bytes, compressed or not.
    use profcol_pdata::otlp::ContentCoding::{Gzip, Zstd};
    assert_eq!(
        got[1].received_compressed(Gzip).map(|b| b.to_vec()),
        Some(gzip(&sent))
    );
    assert!(got[2].received_compressed(Zstd).is_some());
    assert!(got[0].received_compressed(Gzip).is_none());
    assert!(got[4].received_compressed(Gzip).is_none());

    // HTTP/2 without TLS works too.
    let resp = h2c_client()
        .post(r.http())
        .header("content-type", "application/x-protobuf")
        .body(sent.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.version(), reqwest::Version::HTTP_2);
    r.stop().await;
}

#[tokio::test]
async fn http_refusals_carry_the_specified_statuses() {
    let r = Receiver::start(
        "protocols: {http: {endpoint: '127.0.0.1:0', max_request_body_size: 1048576}}",
    );
    let url = r.http();
    let sent = request().encode_to_vec();

    // A truncated protobuf body: 400 with a google.rpc.Status naming it.
    let resp = post(
        &url,
        "application/x-protobuf",
        None,
        sent[..sent.len() - 3].to_vec(),
    )
    .await;
    assert_eq!(resp.status(), 400);
    let s = status_of(resp).await;
    assert_eq!(s.code, 3);
    assert!(
        s.message
            .starts_with("body is not an OTLP ExportProfilesServiceRequest"),
        "{}",
        s.message
    );
    assert_eq!(
        s.details[0].type_url,
        "type.googleapis.com/google.rpc.BadRequest"
    );

    // A dictionary index out of range: 400 naming the table.
    let resp = post(
        &url,
        "application/x-protobuf",
        None,
        out_of_range().encode_to_vec(),
    )
    .await;
    assert_eq!(resp.status(), 400);
    assert!(status_of(resp)
        .await
        .message
        .contains("stack_table index 999"));

    // Bad JSON: 400, answered in JSON.
    let resp = post(
        &url,
        "application/json",
        None,
        br#"{"resourceProfiles": {}}"#.to_vec(),
    )
    .await;
    assert_eq!(resp.status(), 400);
    assert_eq!(resp.headers()["content-type"], "application/json");
    let v: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(v["code"], 3);
    assert_eq!(
        v["message"],
        "invalid OTLP/JSON: resourceProfiles: expected an array, found an object"
    );

    // The wrong content type: 415.
    let resp = post(&url, "text/plain", None, sent.clone()).await;
    assert_eq!(resp.status(), 415);
    assert!(status_of(resp)
        .await
        .message
        .contains("unsupported media type \"text/plain\""));

    // An unsupported content encoding: 415 listing what is accepted.
    let resp = post(&url, "application/x-protobuf", Some("br"), sent.clone()).await;
    assert_eq!(resp.status(), 415);
    assert_eq!(
        resp.headers()["accept-encoding"],
        "gzip, zstd, zlib, deflate"
    );

    // A gzip bomb, and a body too large as sent: 413.
    let resp = post(&url, "application/x-protobuf", Some("gzip"), bomb(64)).await;
    assert_eq!(resp.status(), 413);
    assert!(status_of(resp)
        .await
        .message
        .contains("after decompression (max_request_body_size)"));
    let resp = post(
        &url,
        "application/x-protobuf",
        None,
        vec![0x0a; (1 << 20) + 1],
    )
    .await;
    assert_eq!(resp.status(), 413);

    // The pipeline refuses: 429 with Retry-After and RetryInfo.
    r.sink.refuse.store(true, Ordering::SeqCst);
    let resp = post(&url, "application/x-protobuf", None, sent.clone()).await;
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["retry-after"], "5");
    let s = status_of(resp).await;
    assert_eq!(s.code, 8);
    assert_eq!(retry_seconds(&s.encode_to_vec()), Some(5));
    let resp = post(
        &url,
        "application/json",
        None,
        b"{\"resourceProfiles\":[]}".to_vec(),
    )
    .await;
    assert_eq!(
        resp.status(),
        200,
        "an empty request is a success, not forwarded"
    );
    let json = profcol_pdata::otlp::json::to_otlp_json_string(&request(), false).unwrap();
    let resp = post(&url, "application/json", None, json.into_bytes()).await;
    assert_eq!(resp.status(), 429);
    let v: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(v["details"][0]["@type"], RETRY_INFO);
    assert_eq!(v["details"][0]["retryDelay"], "5s");
    r.sink.refuse.store(false, Ordering::SeqCst);

    // Other methods and paths.
    let resp = http_client().get(&url).send().await.unwrap();
    assert_eq!(resp.status(), 405);
    assert_eq!(resp.headers()["allow"], "POST");
    let base = url.trim_end_matches("/v1development/profiles");
    let resp = post(
        &format!("{base}/v1/traces"),
        "application/x-protobuf",
        None,
        sent,
    )
    .await;
    assert_eq!(resp.status(), 404, "profcol takes only profiles");

    assert!(r.sink.payloads().is_empty());
    assert_eq!(r.handle.push_status().unwrap().requests_refused, 10);
    r.stop().await;
}

#[tokio::test]
async fn http_auth_cors_and_response_headers() {
    let r = Receiver::start(
        r#"
protocols:
  http:
    endpoint: 127.0.0.1:0
    profiles_url_path: /custom/profiles
    basic_auth: {username: agent, password: pw}
    cors: {allowed_origins: ["https://*.example.com"], allowed_headers: [Authorization], max_age: 600}
    response_headers: {X-Served-By: profcol}
"#,
    );
    let url = format!(
        "http://{}/custom/profiles",
        r.handle.push_address("http").unwrap()
    );
    let sent = request().encode_to_vec();

    let resp = post(&url, "application/json", None, b"{}".to_vec()).await;
    assert_eq!(resp.status(), 401);
    assert!(resp.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("Basic"));
    assert_eq!(resp.headers()["x-served-by"], "profcol");
    let v: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(v["code"], 16);

    let resp = http_client()
        .post(&url)
        .basic_auth("agent", Some("pw"))
        .header("content-type", "application/x-protobuf")
        .header("origin", "https://app.example.com")
        .body(sent.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    assert_eq!(r.sink.payloads()[0].bytes().as_ref(), sent.as_slice());

    // A preflight carries no credentials and is answered anyway.
    let preflight = |origin: &'static str| {
        http_client()
            .request(reqwest::Method::OPTIONS, &url)
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "content-type, authorization",
            )
            .send()
    };
    let resp = preflight("https://app.example.com").await.unwrap();
    assert_eq!(resp.status(), 204);
    let h = resp.headers();
    assert_eq!(h["access-control-allow-origin"], "https://app.example.com");
    assert_eq!(h["access-control-allow-methods"], "POST");
    assert_eq!(h["access-control-max-age"], "600");
    assert_eq!(h["x-served-by"], "profcol");
    let resp = preflight("https://evil.test").await.unwrap();
    assert_eq!(resp.status(), 204);
    assert!(!resp.headers().contains_key("access-control-allow-origin"));
    r.stop().await;
}

/// Sends one HTTP/1.1 request on `s` and reads the answer's head.
fn http1_exchange(s: &mut std::net::TcpStream, extra: &str) -> String {
    let req = format!(
        "POST /v1development/profiles HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n{extra}\r\n{{}}"
    );
    s.write_all(req.as_bytes()).unwrap();
    let mut buf = [0u8; 4096];
    let n = s.read(&mut buf).unwrap();
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_connection_settings() {
    let r = Receiver::start("protocols: {http: {endpoint: '127.0.0.1:0', idle_timeout: 300ms}}");
    let addr = r.handle.push_address("http").unwrap();
    let idle = tokio::task::spawn_blocking(move || {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let head = http1_exchange(&mut s, "");
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        let started = std::time::Instant::now();
        let mut rest = [0u8; 16];
        let n = s.read(&mut rest).unwrap();
        assert_eq!(n, 0, "the idle connection is closed");
        started.elapsed()
    })
    .await
    .unwrap();
    assert!(
        idle >= Duration::from_millis(200) && idle < Duration::from_secs(3),
        "{idle:?}"
    );
    r.stop().await;

    let r =
        Receiver::start("protocols: {http: {endpoint: '127.0.0.1:0', keep_alives_enabled: false}}");
    let addr = r.handle.push_address("http").unwrap();
    tokio::task::spawn_blocking(move || {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let head = http1_exchange(&mut s, "");
        assert!(
            head.to_ascii_lowercase().contains("connection: close"),
            "{head}"
        );
    })
    .await
    .unwrap();
    r.stop().await;
}

#[tokio::test]
async fn grpc_connections_end_at_max_connection_age() {
    let r = Receiver::start(
        "protocols: {grpc: {endpoint: '127.0.0.1:0', keepalive: {server_parameters: {max_connection_age: 500ms, max_connection_age_grace: 1s}}}}",
    );
    let addr = r.grpc();
    // One HTTP/2 connection: after its age it gets a GOAWAY and closes.
    let s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut send, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(s),
    )
    .await
    .unwrap();
    let closed = tokio::spawn(async move {
        let started = std::time::Instant::now();
        let _ = conn.await;
        started.elapsed()
    });
    let req = http::Request::post(format!("http://{addr}{EXPORT}"))
        .header("content-type", "application/grpc")
        .body(http_body_util::Full::new(bytes::Bytes::from(frame(
            0,
            &request().encode_to_vec(),
        ))))
        .unwrap();
    let resp = send.send_request(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    let took = tokio::time::timeout(Duration::from_secs(5), closed)
        .await
        .expect("the connection closes")
        .unwrap();
    assert!(took < Duration::from_secs(3), "{took:?}");
    assert_eq!(r.sink.payloads().len(), 1);
    r.stop().await;
}

#[tokio::test]
async fn stops_and_frees_its_ports() {
    let r = Receiver::start(BOTH);
    let (g, h) = (r.grpc(), r.handle.push_address("http").unwrap());
    let s = r.handle.push_status().unwrap();
    assert_eq!(s.listening.len(), 2);
    r.stop().await;
    for addr in [g, h] {
        std::net::TcpListener::bind(addr).expect("the port is free again");
    }
}

#[test]
fn a_port_in_use_fails_the_start() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let _g = rt.enter();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let id: ComponentId = "otlp".parse().unwrap();
    let body = profcol_config::Body::parse(&format!(
        "protocols: {{grpc: {{endpoint: '127.0.0.1:0'}}, http: {{endpoint: '{}'}}}}",
        taken.local_addr().unwrap()
    ))
    .unwrap();
    let ctx = ComponentContext {
        id: "otlp".into(),
        shutdown: CancellationToken::new(),
        telemetry: Telemetry::default(),
        memory: MemoryGuard::default(),
        cluster: None,
        scrape_budget: Default::default(),
        read_back_limits: Default::default(),
    };
    let err = start_receiver(&id, &body, ctx, Arc::new(Sink::default()))
        .err()
        .expect("start fails");
    assert!(
        err.to_string()
            .contains("receivers::otlp::protocols::http::endpoint: cannot listen on"),
        "{err}"
    );
}

struct Pki {
    ca_pem: String,
    cert_pem: String,
    key_pem: String,
}

fn pki() -> Pki {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    let cert = params.signed_by(&key, &ca, &ca_key).unwrap();
    Pki {
        ca_pem: ca.pem(),
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    }
}
