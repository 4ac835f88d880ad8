//! otlp_grpc against a local tonic ProfilesService and otlp_http against a
//! local axum server: what arrives decodes to the profiles sent, and the
//! retry rules of each protocol hold.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::http::StatusCode;
use axum::response::IntoResponse;
use common::*;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use profcol_config::ComponentId;
use profcol_exporter::{start_exporter, EXPORTERS};
use profcol_pdata::otlp::collector::profiles_service_server::{
    ProfilesService, ProfilesServiceServer,
};
use profcol_pdata::otlp::collector::{
    ExportProfilesPartialSuccess, ExportProfilesServiceRequest, ExportProfilesServiceResponse,
};
use prost::Message;
use std::io::Read;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tonic::codec::CompressionEncoding;

fn id(s: &str) -> ComponentId {
    s.parse().unwrap()
}

/// `service.name` of every resource, and the sample types, in a request.
fn summary(req: &ExportProfilesServiceRequest) -> (Vec<String>, Vec<(String, String)>) {
    let dict = req.dictionary.as_ref().unwrap();
    let s = |i: i32| dict.string_table[i as usize].clone();
    let mut services = Vec::new();
    let mut types = Vec::new();
    for rp in &req.resource_profiles {
        for kv in &rp.resource.as_ref().unwrap().attributes {
            if kv.key == "service.name" {
                if let Some(AnyValue::StringValue(v)) =
                    kv.value.as_ref().and_then(|v| v.value.clone())
                {
                    services.push(v);
                }
            }
        }
        for sp in &rp.scope_profiles {
            for p in &sp.profiles {
                let t = p.sample_type.unwrap();
                types.push((s(t.type_strindex), s(t.unit_strindex)));
            }
        }
    }
    (services, types)
}

type GrpcBehaviour =
    Arc<dyn Fn(usize) -> Result<ExportProfilesServiceResponse, tonic::Status> + Send + Sync>;

#[derive(Clone)]
struct Grpc {
    seen: Arc<
        Mutex<
            Vec<(
                Instant,
                ExportProfilesServiceRequest,
                tonic::metadata::MetadataMap,
            )>,
        >,
    >,
    accepted: Arc<Mutex<Vec<ExportProfilesServiceRequest>>>,
    behaviour: GrpcBehaviour,
}

#[tonic::async_trait]
impl ProfilesService for Grpc {
    async fn export(
        &self,
        request: tonic::Request<ExportProfilesServiceRequest>,
    ) -> Result<tonic::Response<ExportProfilesServiceResponse>, tonic::Status> {
        let meta = request.metadata().clone();
        let req = request.into_inner();
        let n = {
            let mut s = self.seen.lock().unwrap();
            s.push((Instant::now(), req.clone(), meta));
            s.len() - 1
        };
        let r = (self.behaviour)(n)?;
        self.accepted.lock().unwrap().push(req);
        Ok(tonic::Response::new(r))
    }
}

impl Grpc {
    async fn start(behaviour: GrpcBehaviour) -> (Self, std::net::SocketAddr) {
        let svc = Grpc {
            seen: Arc::default(),
            accepted: Arc::default(),
            behaviour,
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = ProfilesServiceServer::new(svc.clone())
            .accept_compressed(CompressionEncoding::Gzip)
            .accept_compressed(CompressionEncoding::Zstd);
        tokio::spawn(async move {
            tonic::transport::Server::builder()
                .add_service(server)
                .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener))
                .await
                .unwrap()
        });
        (svc, addr)
    }

    fn attempts(&self) -> usize {
        self.seen.lock().unwrap().len()
    }

    fn accepted_services(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .accepted
            .lock()
            .unwrap()
            .iter()
            .flat_map(|r| summary(r).0)
            .collect();
        v.sort();
        v
    }
}

fn ok_response(_: usize) -> Result<ExportProfilesServiceResponse, tonic::Status> {
    Ok(ExportProfilesServiceResponse::default())
}

const FAST_RETRY: &str =
    "retry_on_failure: {initial_interval: 20ms, max_interval: 50ms, max_elapsed_time: 10s}";

#[tokio::test]
async fn grpc_server_receives_decodable_profiles() {
    for compression in ["gzip", "zstd", "none"] {
        let (srv, addr) = Grpc::start(Arc::new(ok_response)).await;
        let (ctx, telemetry) = ctx("otlp");
        let cfg = yaml(&format!(
            "endpoint: {addr}\ntls: {{insecure: true}}\ncompression: {compression}\nheaders: {{X-Team: a}}\nkeepalive: {{time: 10s}}"
        ));
        let h = start_exporter(&id("otlp"), &cfg, ctx).unwrap();
        h.consumer()
            .consume(batch(vec![
                record("svc-a", 1, &[]),
                record("svc-b", 2, &[("env", "dev")]),
            ]))
            .await
            .unwrap();
        h.shutdown(Duration::from_secs(5)).await;
        assert_eq!(srv.accepted_services(), ["svc-a", "svc-b"], "{compression}");
        let seen = srv.seen.lock().unwrap();
        assert_eq!(seen[0].2.get("x-team").unwrap(), "a");
        let (_, types) = summary(&seen[0].1);
        assert!(
            types.contains(&("samples".into(), "count".into())),
            "{types:?}"
        );
        assert!(
            types.contains(&("cpu".into(), "nanoseconds".into())),
            "{types:?}"
        );
        let env = seen[0].1.resource_profiles.iter().flat_map(|rp| &rp.resource.as_ref().unwrap().attributes).any(|kv| {
            kv.key == "env" && matches!(kv.value.as_ref().and_then(|v| v.value.clone()), Some(AnyValue::StringValue(s)) if s == "dev")
        });
        assert!(env, "labels become resource attributes");
        assert_eq!(
            metric(
                &telemetry.encode(),
                r#"profcol_exporter_sent_profiles_total{exporter="otlp"}"#
            ),
            Some(2.0)
        );
    }
}

#[tokio::test]
async fn grpc_unavailable_then_accepting_delivers_each_profile_once() {
    let (srv, addr) = Grpc::start(Arc::new(|n| {
        if n < 3 {
            Err(tonic::Status::unavailable("starting"))
        } else {
            ok_response(n)
        }
    }))
    .await;
    let (ctx, _t) = ctx("otlp_grpc");
    let cfg = yaml(&format!(
        "endpoint: http://{addr}\n{FAST_RETRY}\nsending_queue: {{num_consumers: 1, max_batch_size: 1, flush_timeout: 0s}}"
    ));
    let h = start_exporter(&id("otlp_grpc"), &cfg, ctx).unwrap();
    for i in 0..4 {
        h.consumer()
            .consume(batch(vec![record(&format!("s{i}"), i, &[])]))
            .await
            .unwrap();
    }
    h.shutdown(Duration::from_secs(10)).await;
    assert_eq!(srv.accepted_services(), ["s0", "s1", "s2", "s3"]);
    assert_eq!(srv.attempts(), 7);
}

#[tokio::test]
async fn grpc_resource_exhausted_retries_only_with_retry_info() {
    let (srv, addr) = Grpc::start(Arc::new(|n| match n {
        0 => {
            let details = profcol_exporter::grpc_status::details_with_retry_delay(
                tonic::Code::ResourceExhausted,
                "slow down",
                Duration::from_secs(1),
            );
            Err(tonic::Status::with_details(
                tonic::Code::ResourceExhausted,
                "slow down",
                details.into(),
            ))
        }
        1 => ok_response(n),
        _ => Err(tonic::Status::resource_exhausted("no hint")),
    }))
    .await;
    let (ctx, telemetry) = ctx("otlp_grpc");
    let cfg = yaml(&format!(
        "endpoint: {addr}\ntls: {{insecure: true}}\n{FAST_RETRY}\nsending_queue: {{num_consumers: 1, flush_timeout: 0s}}"
    ));
    let h = start_exporter(&id("otlp_grpc"), &cfg, ctx).unwrap();
    h.consumer()
        .consume(batch(vec![record("a", 1, &[])]))
        .await
        .unwrap();
    assert!(
        eventually(Duration::from_secs(5), || srv.accepted_services().len()
            == 1)
        .await
    );
    {
        let seen = srv.seen.lock().unwrap();
        let waited = seen[1].0 - seen[0].0;
        assert!(
            waited >= Duration::from_millis(950),
            "RetryInfo delay honoured, waited {waited:?}"
        );
    }
    h.consumer()
        .consume(batch(vec![record("b", 2, &[])]))
        .await
        .unwrap();
    let failed =
        r#"profcol_exporter_failed_profiles_total{exporter="otlp_grpc",reason="permanent_error"}"#;
    assert!(
        eventually(Duration::from_secs(5), || metric(
            &telemetry.encode(),
            failed
        ) == Some(1.0))
        .await
    );
    h.shutdown(Duration::from_secs(1)).await;
    assert_eq!(srv.attempts(), 3, "no retry without RetryInfo");
}

#[tokio::test]
async fn grpc_invalid_argument_is_permanent_and_partial_success_is_counted() {
    let (srv, addr) = Grpc::start(Arc::new(|n| {
        if n == 0 {
            Err(tonic::Status::invalid_argument("bad"))
        } else {
            Ok(ExportProfilesServiceResponse {
                partial_success: Some(ExportProfilesPartialSuccess {
                    rejected_profiles: 2,
                    error_message: "too old".into(),
                }),
            })
        }
    }))
    .await;
    let (ctx, telemetry) = ctx("otlp_grpc/p");
    let cfg = yaml(&format!(
        "endpoint: {addr}\ntls: {{insecure: true}}\n{FAST_RETRY}\nsending_queue: {{num_consumers: 1, flush_timeout: 0s}}"
    ));
    let h = start_exporter(&id("otlp_grpc/p"), &cfg, ctx).unwrap();
    h.consumer()
        .consume(batch(vec![record("a", 1, &[])]))
        .await
        .unwrap();
    assert!(eventually(Duration::from_secs(5), || srv.attempts() == 1).await);
    tokio::time::sleep(Duration::from_millis(100)).await;
    h.consumer()
        .consume(batch(vec![record("b", 2, &[])]))
        .await
        .unwrap();
    h.shutdown(Duration::from_secs(5)).await;
    assert_eq!(srv.attempts(), 2);
    let page = telemetry.encode();
    assert_eq!(
        metric(
            &page,
            r#"profcol_exporter_failed_profiles_total{exporter="otlp_grpc/p",reason="permanent_error"}"#
        ),
        Some(1.0)
    );
    assert_eq!(
        metric(
            &page,
            r#"profcol_exporter_rejected_profiles_total{exporter="otlp_grpc/p"}"#
        ),
        Some(2.0)
    );
}

/// What an OpenTelemetry Collector answers when it refuses: INVALID_ARGUMENT
/// (a permanent error of its pipeline), UNIMPLEMENTED (no profiles
/// pipeline), PERMISSION_DENIED / UNAUTHENTICATED (auth extensions); and
/// partial successes. None of them is retried, even with an unlimited
/// retry budget, and each is counted.
#[tokio::test]
async fn grpc_refusals_are_never_retried_even_when_retrying_forever() {
    let (srv, addr) = Grpc::start(Arc::new(|n| match n {
        0 => Err(tonic::Status::invalid_argument("bad profile")),
        1 => Err(tonic::Status::unimplemented("unknown service")),
        2 => Err(tonic::Status::permission_denied("no")),
        3 => Err(tonic::Status::unauthenticated("who")),
        4 => Ok(ExportProfilesServiceResponse {
            partial_success: Some(ExportProfilesPartialSuccess {
                rejected_profiles: 2,
                error_message: "too old".into(),
            }),
        }),
        _ => Ok(ExportProfilesServiceResponse {
            partial_success: Some(ExportProfilesPartialSuccess {
                rejected_profiles: 0,
                error_message: "a warning".into(),
            }),
        }),
    }))
    .await;
    let (ctx, telemetry) = ctx("otlp_grpc/r");
    let cfg = yaml(&format!(
        "endpoint: {addr}\ntls: {{insecure: true}}\nretry_on_failure: {{initial_interval: 20ms, max_interval: 50ms, max_elapsed_time: 0s}}\nsending_queue: {{num_consumers: 1, max_batch_size: 1, flush_timeout: 0s}}"
    ));
    let h = start_exporter(&id("otlp_grpc/r"), &cfg, ctx).unwrap();
    for i in 0..6 {
        h.consumer()
            .consume(batch(vec![record(&format!("s{i}"), i, &[])]))
            .await
            .unwrap();
    }
    assert!(eventually(Duration::from_secs(5), || srv.attempts() == 6).await);
    tokio::time::sleep(Duration::from_millis(300)).await;
    h.shutdown(Duration::from_secs(2)).await;
    assert_eq!(srv.attempts(), 6, "nothing was retried");
    let page = telemetry.encode();
    let m = |l: &str| metric(&page, l);
    assert_eq!(
        m(
            r#"profcol_exporter_failed_profiles_total{exporter="otlp_grpc/r",reason="permanent_error"}"#
        ),
        Some(4.0)
    );
    assert_eq!(
        m(r#"profcol_exporter_sent_profiles_total{exporter="otlp_grpc/r"}"#),
        Some(2.0)
    );
    assert_eq!(
        m(r#"profcol_exporter_rejected_profiles_total{exporter="otlp_grpc/r"}"#),
        Some(2.0),
        "a warning (nothing rejected) adds nothing"
    );
    assert_eq!(
        m(r#"profcol_exporter_retries_total{exporter="otlp_grpc/r"}"#),
        None
    );
    for code in [
        "INVALID_ARGUMENT",
        "UNIMPLEMENTED",
        "PERMISSION_DENIED",
        "UNAUTHENTICATED",
    ] {
        assert_eq!(
            m(&format!(
                r#"profcol_exporter_send_errors_total{{exporter="otlp_grpc/r",code="{code}"}}"#
            )),
            Some(1.0),
            "{code}\n{page}"
        );
    }
}

fn decode_http_body(seen: &Seen) -> ExportProfilesServiceRequest {
    let raw = match seen
        .headers
        .get("content-encoding")
        .map(|v| v.to_str().unwrap())
    {
        Some("gzip") => {
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(seen.body.as_ref())
                .read_to_end(&mut out)
                .unwrap();
            out
        }
        Some("zstd") => zstd::decode_all(seen.body.as_ref()).unwrap(),
        None => seen.body.to_vec(),
        Some(other) => panic!("unexpected encoding {other}"),
    };
    ExportProfilesServiceRequest::decode(raw.as_slice()).unwrap()
}

#[tokio::test]
async fn http_server_receives_decodable_profiles() {
    for compression in ["gzip", "zstd", "none"] {
        let server = Recorder::start(ok()).await;
        let (ctx, _t) = ctx("otlphttp");
        let cfg = yaml(&format!(
            "endpoint: {}/base/\ncompression: {compression}\nheaders: {{Authorization: Bearer t}}",
            server.url()
        ));
        let h = start_exporter(&id("otlphttp"), &cfg, ctx).unwrap();
        h.consumer()
            .consume(batch(vec![
                record("svc-a", 1, &[]),
                record("svc-b", 2, &[]),
            ]))
            .await
            .unwrap();
        h.shutdown(Duration::from_secs(5)).await;
        let reqs = server.requests();
        assert_eq!(reqs.len(), 1);
        assert_eq!(reqs[0].path, "/base/v1development/profiles");
        assert_eq!(reqs[0].headers["content-type"], "application/x-protobuf");
        assert_eq!(reqs[0].headers["authorization"], "Bearer t");
        let (mut services, types) = summary(&decode_http_body(&reqs[0]));
        services.sort();
        assert_eq!(services, ["svc-a", "svc-b"], "{compression}");
        assert!(types.contains(&("cpu".into(), "nanoseconds".into())));
    }
}

/// `compression_params.level` applies to otlp_http as to otlp_grpc: gzip
/// writes its level class into the header's XFL byte (4 = fastest, 2 =
/// best), and a zstd request at a high level still decodes.
#[tokio::test]
async fn http_compression_levels_apply() {
    let err = EXPORTERS
        .decode(
            &id("otlp_http"),
            &yaml("endpoint: http://a\ncompression_params: {level: 10}"),
            "exporters::otlp_http",
        )
        .unwrap_err();
    assert_eq!(
        err[0].to_string(),
        "exporters::otlp_http::compression_params::level: level 10 is out of range for compression gzip (1..=9)"
    );
    for (params, compression, xfl) in [
        ("", "gzip", Some(4u8)),
        ("compression_params: {level: 9}", "gzip", Some(2)),
        ("compression_params: {level: 19}", "zstd", None),
    ] {
        let server = Recorder::start(ok()).await;
        let (ctx, _t) = ctx("otlp_http");
        let cfg = yaml(&format!(
            "endpoint: {}\ncompression: {compression}\n{params}",
            server.url()
        ));
        let h = start_exporter(&id("otlp_http"), &cfg, ctx).unwrap();
        h.consumer()
            .consume(batch(vec![record("svc-a", 1, &[])]))
            .await
            .unwrap();
        h.shutdown(Duration::from_secs(5)).await;
        let reqs = server.requests();
        assert_eq!(reqs[0].headers["content-encoding"], compression);
        if let Some(xfl) = xfl {
            assert_eq!(reqs[0].body[8], xfl, "{params}");
        }
        let (services, _) = summary(&decode_http_body(&reqs[0]));
        assert_eq!(services, ["svc-a"], "{params}");
    }
}

/// `numeric_sample_attributes: drop` leaves numeric pprof labels out of
/// that exporter's requests; `keep` (the default) sends them.
#[tokio::test]
async fn numeric_sample_attributes_keep_or_drop_over_grpc_and_http() {
    for (choice, want_bytes) in [
        ("", true),
        ("numeric_sample_attributes: keep", true),
        ("numeric_sample_attributes: drop", false),
    ] {
        let (srv, addr) = Grpc::start(Arc::new(ok_response)).await;
        let (c, _t) = ctx("otlp_grpc");
        let cfg = yaml(&format!(
            "endpoint: {addr}\ntls: {{insecure: true}}\n{choice}"
        ));
        let h = start_exporter(&id("otlp_grpc"), &cfg, c).unwrap();
        h.consumer()
            .consume(batch(vec![numeric_record("svc")]))
            .await
            .unwrap();
        h.shutdown(Duration::from_secs(5)).await;
        let keys = sample_attribute_keys(&srv.accepted.lock().unwrap()[0]);
        assert!(
            keys.contains(&"thread".to_string()),
            "grpc {choice}: {keys:?}"
        );
        assert_eq!(
            keys.contains(&"bytes".to_string()),
            want_bytes,
            "grpc {choice}: {keys:?}"
        );

        let server = Recorder::start(ok()).await;
        let (c, _t) = ctx("otlp_http");
        let cfg = yaml(&format!("endpoint: {}\n{choice}", server.url()));
        let h = start_exporter(&id("otlp_http"), &cfg, c).unwrap();
        h.consumer()
            .consume(batch(vec![numeric_record("svc")]))
            .await
            .unwrap();
        h.shutdown(Duration::from_secs(5)).await;
        let keys = sample_attribute_keys(&decode_http_body(&server.requests()[0]));
        assert!(
            keys.contains(&"thread".to_string()),
            "http {choice}: {keys:?}"
        );
        assert_eq!(
            keys.contains(&"bytes".to_string()),
            want_bytes,
            "http {choice}: {keys:?}"
        );
    }
    let err = EXPORTERS
        .decode(
            &id("otlp_http"),
            &yaml("endpoint: http://a\nnumeric_sample_attributes: true"),
            "exporters::otlp_http",
        )
        .unwrap_err();
    assert!(
        err[0]
            .to_string()
            .starts_with("exporters::otlp_http::numeric_sample_attributes"),
        "{err:?}"
    );
}

#[tokio::test]
async fn http_retries_503_and_honours_retry_after_then_drops_400() {
    let server = Recorder::start(Arc::new(|n| match n {
        0 | 1 => StatusCode::SERVICE_UNAVAILABLE.into_response(),
        2 => (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "1")]).into_response(),
        3 => StatusCode::OK.into_response(),
        _ => (StatusCode::BAD_REQUEST, "nope").into_response(),
    }))
    .await;
    let (ctx, telemetry) = ctx("otlp_http");
    let cfg = yaml(&format!(
        "profiles_endpoint: {}/custom\n{FAST_RETRY}\nsending_queue: {{num_consumers: 1, flush_timeout: 0s}}",
        server.url()
    ));
    let h = start_exporter(&id("otlp_http"), &cfg, ctx).unwrap();
    h.consumer()
        .consume(batch(vec![record("a", 1, &[])]))
        .await
        .unwrap();
    assert!(eventually(Duration::from_secs(5), || server.count() == 4).await);
    let reqs = server.requests();
    assert!(reqs.iter().all(|r| r.path == "/custom"));
    assert!(
        reqs[3].at - reqs[2].at >= Duration::from_millis(950),
        "Retry-After honoured"
    );
    assert!(
        reqs[1].at - reqs[0].at < Duration::from_millis(500),
        "503 uses the short backoff"
    );
    h.consumer()
        .consume(batch(vec![record("b", 2, &[])]))
        .await
        .unwrap();
    let failed =
        r#"profcol_exporter_failed_profiles_total{exporter="otlp_http",reason="permanent_error"}"#;
    assert!(
        eventually(Duration::from_secs(5), || metric(
            &telemetry.encode(),
            failed
        ) == Some(1.0))
        .await
    );
    h.shutdown(Duration::from_secs(1)).await;
    assert_eq!(server.count(), 5, "400 is not retried");
    let page = telemetry.encode();
    assert_eq!(
        metric(
            &page,
            r#"profcol_exporter_retries_total{exporter="otlp_http"}"#
        ),
        Some(3.0)
    );
    assert_eq!(
        metric(
            &page,
            r#"profcol_exporter_sent_profiles_total{exporter="otlp_http"}"#
        ),
        Some(1.0)
    );
}

#[tokio::test]
async fn http_gives_up_after_max_elapsed_time() {
    let server = Recorder::start(Arc::new(|_| StatusCode::BAD_GATEWAY.into_response())).await;
    let (ctx, telemetry) = ctx("otlp_http");
    let cfg = yaml(&format!(
        "endpoint: {}\nretry_on_failure: {{initial_interval: 20ms, max_interval: 20ms, randomization_factor: 0, max_elapsed_time: 300ms}}",
        server.url()
    ));
    let h = start_exporter(&id("otlp_http"), &cfg, ctx).unwrap();
    h.consumer()
        .consume(batch(vec![record("a", 1, &[])]))
        .await
        .unwrap();
    let failed = r#"profcol_exporter_failed_profiles_total{exporter="otlp_http",reason="retries_exhausted"}"#;
    assert!(
        eventually(Duration::from_secs(5), || metric(
            &telemetry.encode(),
            failed
        ) == Some(1.0))
        .await
    );
    let n = server.count();
    assert!(
        (5..=16).contains(&n),
        "about 300ms / 20ms attempts, got {n}"
    );
    h.shutdown(Duration::from_secs(1)).await;
}

#[test]
fn validation_collects_every_problem_with_its_path() {
    let err = EXPORTERS.decode(
        &id("otlp_grpc/x"),
        &yaml("tls: {insecure: true, bogus: 1}\nretry_on_failure: {multiplier: 0.5, typo: 2}\nsending_queue: {queue_size: 0}\nprofiles_endpoint: http://x"),
        "exporters::otlp_grpc/x",
    )
    .unwrap_err();
    let got: Vec<String> = err.iter().map(|p| p.to_string()).collect();
    assert_eq!(
        got,
        [
            "exporters::otlp_grpc/x::endpoint: endpoint is required (host:port)",
            "exporters::otlp_grpc/x::tls::bogus: unknown key `bogus` (valid keys: insecure, ca_file, ca_pem, cert_file, cert_pem, key_file, key_pem, server_name, insecure_skip_verify)",
            "exporters::otlp_grpc/x::retry_on_failure::multiplier: must be at least 1",
            "exporters::otlp_grpc/x::retry_on_failure::typo: unknown key `typo` (valid keys: enabled, initial_interval, max_interval, max_elapsed_time, multiplier, randomization_factor)",
            "exporters::otlp_grpc/x::sending_queue::queue_size: must be greater than 0",
            "exporters::otlp_grpc/x::profiles_endpoint: unknown key `profiles_endpoint` (valid keys: endpoint, tls, headers, compression, compression_params, timeout, retry_on_failure, sending_queue, numeric_sample_attributes, max_request_bytes, keepalive)",
        ]
    );
    assert!(EXPORTERS
        .decode(&id("otlphttp"), &yaml("endpoint: http://h:4318"), "e")
        .is_ok());
    assert!(EXPORTERS
        .decode(&id("otlp"), &yaml("endpoint: h:4317"), "e")
        .is_ok());
    let err = EXPORTERS
        .decode(
            &id("otlp_http"),
            &yaml("endpoint: 'ftp://h'\ncompression: brotli"),
            "e",
        )
        .unwrap_err();
    assert_eq!(
        err.len(),
        2,
        "a decode error does not hide the next problem: {err:?}"
    );
    assert_eq!(
        err[0].path, "e::compression",
        "decode errors keep their path"
    );
    assert_eq!(err[1].path, "e::endpoint");
    let err = EXPORTERS
        .decode(
            &id("otlp"),
            &yaml("endpoint: h:1\nretry_on_failure: {max_interval: zz}"),
            "e",
        )
        .unwrap_err();
    assert_eq!(err[0].path, "e::retry_on_failure::max_interval");
    let err = EXPORTERS
        .decode(&id("otlphttp"), &yaml("endpoint: 'ftp://h'"), "e")
        .unwrap_err();
    assert_eq!(
        err[0].to_string(),
        "e::endpoint: unsupported scheme \"ftp\" (use http or https)"
    );
    let err = EXPORTERS
        .decode(&id("nope"), &yaml("{}"), "exporters::nope")
        .unwrap_err();
    assert_eq!(
        err[0].to_string(),
        "exporters::nope: unknown exporter type \"nope\" (known: otlp_grpc, otlp, otlp_http, otlphttp, pyroscope, file, debug)"
    );
}

#[tokio::test]
async fn without_a_queue_consume_sends_before_returning() {
    let server = Recorder::start(ok()).await;
    let (ctx, telemetry) = ctx("otlp_http");
    let cfg = yaml(&format!(
        "endpoint: {}\nsending_queue: {{enabled: false}}",
        server.url()
    ));
    let h = start_exporter(&id("otlp_http"), &cfg, ctx).unwrap();
    h.consumer()
        .consume(batch(vec![record("a", 1, &[])]))
        .await
        .unwrap();
    assert_eq!(server.count(), 1, "sent before consume returned");
    h.shutdown(Duration::from_secs(1)).await;
    assert!(!telemetry
        .encode()
        .contains("profcol_exporter_queue_length{"));
}

#[test]
fn header_values_and_keys_never_print() {
    let v = yaml("endpoint: http://h\nheaders: {Authorization: Bearer hunter2}\ntls: {key_pem: topsecretkey, cert_pem: c}");
    let cfg: profcol_exporter::otlp_http::OtlpHttpConfig = profcol_config::decode(&v, "e").unwrap();
    let shown = format!("{cfg:?}");
    assert!(
        !shown.contains("hunter2") && !shown.contains("topsecretkey"),
        "{shown}"
    );
}
