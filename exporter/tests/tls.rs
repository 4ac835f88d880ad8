//! TLS for the OTLP exporters against local TLS servers: a private CA, the
//! `server_name` override, `insecure_skip_verify`, and refusal of an unknown
//! CA.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use http_body_util::Full;
use profcol_config::ComponentId;
use profcol_exporter::start_exporter;
use profcol_pdata::otlp::collector::profiles_service_server::{
    ProfilesService, ProfilesServiceServer,
};
use profcol_pdata::otlp::collector::{ExportProfilesServiceRequest, ExportProfilesServiceResponse};
use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

struct Pki {
    ca_pem: String,
    cert_pem: String,
    key_pem: String,
}

fn pki(names: &[&str]) -> Pki {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let params =
        CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
    let cert = params.signed_by(&key, &ca, &ca_key).unwrap();
    Pki {
        ca_pem: ca.pem(),
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    }
}

fn id(s: &str) -> ComponentId {
    s.parse().unwrap()
}

#[derive(Clone, Default)]
struct Count(Arc<AtomicUsize>);

#[tonic::async_trait]
impl ProfilesService for Count {
    async fn export(
        &self,
        _r: tonic::Request<ExportProfilesServiceRequest>,
    ) -> Result<tonic::Response<ExportProfilesServiceResponse>, tonic::Status> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(tonic::Response::new(
            ExportProfilesServiceResponse::default(),
        ))
    }
}

async fn grpc_tls_server(pki: &Pki) -> (Count, std::net::SocketAddr) {
    let count = Count::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let tls = tonic::transport::ServerTlsConfig::new().identity(
        tonic::transport::Identity::from_pem(&pki.cert_pem, &pki.key_pem),
    );
    let svc = ProfilesServiceServer::new(count.clone())
        .accept_compressed(tonic::codec::CompressionEncoding::Gzip);
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .tls_config(tls)
            .unwrap()
            .add_service(svc)
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener))
            .await
            .unwrap()
    });
    (count, addr)
}

async fn https_server(pki: &Pki) -> (Count, std::net::SocketAddr) {
    let count = Count::default();
    let certs = rustls_pemfile::certs(&mut pki.cert_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = rustls_pemfile::private_key(&mut pki.key_pem.as_bytes())
        .unwrap()
        .unwrap();
    let mut cfg = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .unwrap();
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(cfg));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let c = count.clone();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            let c = c.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let svc = hyper::service::service_fn(move |_req| {
                    c.0.fetch_add(1, Ordering::SeqCst);
                    async {
                        Ok::<_, std::convert::Infallible>(hyper::Response::new(Full::new(
                            bytes::Bytes::new(),
                        )))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(tls), svc)
                    .await;
            });
        }
    });
    (count, addr)
}

const QUICK: &str =
    "retry_on_failure: {initial_interval: 20ms, max_interval: 20ms, max_elapsed_time: 200ms}";

async fn export_one(kind: &str, cfg: String) -> profcol_runtime::Telemetry {
    let (ctx, telemetry) = ctx(kind);
    let h = start_exporter(&id(kind), &yaml(&cfg), ctx).unwrap();
    h.consumer()
        .consume(batch(vec![record("svc", 1, &[])]))
        .await
        .unwrap();
    h.shutdown(Duration::from_secs(5)).await;
    telemetry
}

fn indent(pem: &str) -> String {
    pem.lines().map(|l| format!("    {l}\n")).collect()
}

#[tokio::test]
async fn grpc_over_tls_with_a_private_ca_and_server_name() {
    let pki = pki(&["127.0.0.1"]);
    let (count, addr) = grpc_tls_server(&pki).await;
    export_one(
        "otlp_grpc",
        format!(
            "endpoint: {addr}\ntls:\n  ca_pem: |\n{}",
            indent(&pki.ca_pem)
        ),
    )
    .await;
    assert_eq!(count.0.load(Ordering::SeqCst), 1);

    let named = self::pki(&["collector.profcol.test"]);
    let (count, addr) = grpc_tls_server(&named).await;
    export_one(
        "otlp_grpc",
        format!(
            "endpoint: https://{addr}\ntls:\n  server_name: collector.profcol.test\n  ca_pem: |\n{}",
            indent(&named.ca_pem)
        ),
    )
    .await;
    assert_eq!(count.0.load(Ordering::SeqCst), 1, "server_name override");
}

#[tokio::test]
async fn grpc_refuses_an_unknown_ca_unless_told_to_skip_verification() {
    let pki = pki(&["127.0.0.1"]);
    let other = self::pki(&["127.0.0.1"]);
    let (count, addr) = grpc_tls_server(&pki).await;
    let t = export_one(
        "otlp_grpc",
        format!(
            "endpoint: {addr}\n{QUICK}\ntls:\n  ca_pem: |\n{}",
            indent(&other.ca_pem)
        ),
    )
    .await;
    assert_eq!(count.0.load(Ordering::SeqCst), 0);
    let page = t.encode();
    assert!(
        page.contains(r#"profcol_exporter_failed_profiles_total{exporter="otlp_grpc""#),
        "{page}"
    );
    export_one(
        "otlp_grpc",
        format!("endpoint: {addr}\ntls: {{insecure_skip_verify: true}}"),
    )
    .await;
    assert_eq!(count.0.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn http_over_tls_with_ca_server_name_and_skip_verify() {
    let pki = pki(&["127.0.0.1"]);
    let (count, addr) = https_server(&pki).await;
    export_one(
        "otlp_http",
        format!(
            "endpoint: https://{addr}\ntls:\n  ca_pem: |\n{}",
            indent(&pki.ca_pem)
        ),
    )
    .await;
    assert_eq!(count.0.load(Ordering::SeqCst), 1);

    let named = self::pki(&["collector.profcol.test"]);
    let (count, addr) = https_server(&named).await;
    let t = export_one(
        "otlp_http",
        format!(
            "endpoint: https://{addr}\n{QUICK}\ntls:\n  ca_pem: |\n{}",
            indent(&named.ca_pem)
        ),
    )
    .await;
    assert_eq!(count.0.load(Ordering::SeqCst), 0, "the name does not match");
    assert!(t
        .encode()
        .contains("profcol_exporter_failed_profiles_total"));
    export_one(
        "otlp_http",
        format!(
            "endpoint: https://{addr}\ntls:\n  server_name: collector.profcol.test\n  ca_pem: |\n{}",
            indent(&named.ca_pem)
        ),
    )
    .await;
    assert_eq!(count.0.load(Ordering::SeqCst), 1, "server_name override");
    export_one(
        "otlp_http",
        format!("endpoint: https://{addr}\ntls: {{insecure_skip_verify: true}}"),
    )
    .await;
    assert_eq!(count.0.load(Ordering::SeqCst), 2);
}
