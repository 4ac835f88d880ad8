//! The admin server's security settings, served for real on loopback: the
//! default bind address, basic and bearer auth on every page, TLS with a
//! reloaded certificate, and client certificates.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::{start, AdminState};
use base64::Engine;
use profcol_config::collector::MetricsConfig;
use profcol_config::http_client::BasicAuth;
use profcol_config::server::ServerTlsConfig;
use profcol_config::Secret;
use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair, SanType};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

struct Reply {
    status: u16,
    head: String,
}

async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    mut s: S,
    path: &str,
    auth: Option<&str>,
) -> Reply {
    let auth = auth
        .map(|a| format!("Authorization: {a}\r\n"))
        .unwrap_or_default();
    let req = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n{auth}Connection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    // A TLS peer may close without close_notify; what arrived is enough.
    let _ = s.read_to_end(&mut raw).await;
    let text = String::from_utf8_lossy(&raw).to_string();
    let head = text
        .split("\r\n\r\n")
        .next()
        .unwrap_or_default()
        .to_string();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    Reply { status, head }
}

async fn get(addr: SocketAddr, path: &str, auth: Option<&str>) -> Reply {
    let s = tokio::net::TcpStream::connect(addr).await.unwrap();
    exchange(s, path, auth).await
}

async fn serve(cfg: MetricsConfig) -> (SocketAddr, CancellationToken) {
    let state = AdminState::new(profcol_runtime::Telemetry::default());
    state.ready.store(true, Ordering::Release);
    let stop = CancellationToken::new();
    let (addr, _task) = start(&cfg, state, stop.clone()).await.unwrap();
    (addr, stop)
}

fn local(cfg: MetricsConfig) -> MetricsConfig {
    MetricsConfig {
        address: "127.0.0.1:0".into(),
        ..cfg
    }
}

fn basic(user: &str, pass: &str) -> String {
    let b = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
    format!("Basic {b}")
}

#[test]
fn binds_loopback_by_default() {
    let addr: SocketAddr = MetricsConfig::default().address.parse().unwrap();
    assert!(addr.ip().is_loopback());
}

#[tokio::test]
async fn basic_auth_guards_every_page() {
    let (addr, stop) = serve(local(MetricsConfig {
        basic_auth: Some(BasicAuth {
            username: "admin".into(),
            password: Some(Secret::new("s3cr3t-admin")),
            password_file: None,
        }),
        ..MetricsConfig::default()
    }))
    .await;
    for path in [
        "/metrics",
        "/-/healthy",
        "/-/ready",
        "/api/v1/targets",
        "/targets",
        "/api/v1/components",
        "/components",
        "/config",
        "/debug/pprof/",
        "/",
    ] {
        let r = get(addr, path, None).await;
        assert_eq!(r.status, 401, "{path} without credentials");
        assert!(
            r.head
                .to_ascii_lowercase()
                .contains("www-authenticate: basic realm=\"profcol\""),
            "{}",
            r.head
        );
        let wrong = get(addr, path, Some(&basic("admin", "s3cr3t-admiN"))).await;
        assert_eq!(wrong.status, 401, "{path} with a wrong password");
        let user = get(addr, path, Some(&basic("admiN", "s3cr3t-admin"))).await;
        assert_eq!(user.status, 401, "{path} with a wrong user");
        let bearer = get(addr, path, Some("Bearer s3cr3t-admin")).await;
        assert_eq!(bearer.status, 401, "{path} with the wrong scheme");
        let ok = get(addr, path, Some(&basic("admin", "s3cr3t-admin"))).await;
        assert_eq!(ok.status, 200, "{path} with the right credentials");
    }
    // The flame graph page: refused without credentials, answered (here
    // 400: no job named) with them.
    assert_eq!(get(addr, "/profile", None).await.status, 401);
    let r = get(addr, "/profile", Some(&basic("admin", "s3cr3t-admin"))).await;
    assert_eq!(r.status, 400, "/profile with the right credentials");
    stop.cancel();
}

#[tokio::test]
async fn bearer_token_file_is_reread() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token");
    std::fs::write(&file, "first-token\n").unwrap();
    let (addr, stop) = serve(local(MetricsConfig {
        bearer_token_file: Some(file.to_str().unwrap().into()),
        ..MetricsConfig::default()
    }))
    .await;
    let r = get(addr, "/metrics", Some("Bearer wrong")).await;
    assert_eq!(r.status, 401);
    assert!(r
        .head
        .to_ascii_lowercase()
        .contains("www-authenticate: bearer"));
    assert_eq!(
        get(addr, "/metrics", Some("Bearer first-token"))
            .await
            .status,
        200
    );
    assert_eq!(
        get(addr, "/metrics", Some("bearer first-token"))
            .await
            .status,
        200
    );
    std::fs::write(&file, "second-token").unwrap();
    assert_eq!(
        get(addr, "/metrics", Some("Bearer first-token"))
            .await
            .status,
        401
    );
    assert_eq!(
        get(addr, "/metrics", Some("Bearer second-token"))
            .await
            .status,
        200
    );
    // An unreadable file refuses everyone.
    std::fs::remove_file(&file).unwrap();
    assert_eq!(
        get(addr, "/metrics", Some("Bearer second-token"))
            .await
            .status,
        401
    );
    stop.cancel();
}

#[tokio::test]
async fn open_without_auth() {
    let (addr, stop) = serve(local(MetricsConfig::default())).await;
    assert_eq!(get(addr, "/-/healthy", None).await.status, 200);
    stop.cancel();
}

struct Pki {
    ca_pem: String,
    ca: rcgen::Certificate,
    ca_key: KeyPair,
}

impl Pki {
    fn new() -> Self {
        let ca_key = KeyPair::generate().unwrap();
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = p.self_signed(&ca_key).unwrap();
        Self {
            ca_pem: ca.pem(),
            ca,
            ca_key,
        }
    }

    /// (certificate PEM, key PEM)
    fn issue(&self, name: &str) -> (String, String) {
        let key = KeyPair::generate().unwrap();
        let mut p = CertificateParams::new(vec![name.to_string()]).unwrap();
        p.subject_alt_names
            .push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
        let cert = p.signed_by(&key, &self.ca, &self.ca_key).unwrap();
        (cert.pem(), key.serialize_pem())
    }
}

fn client_config(ca_pem: &str, identity: Option<&(String, String)>) -> rustls::ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(c.unwrap()).unwrap();
    }
    let b = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots);
    match identity {
        Some((cert, key)) => {
            let chain = CertificateDer::pem_slice_iter(cert.as_bytes())
                .collect::<Result<_, _>>()
                .unwrap();
            let key = PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap();
            b.with_client_auth_cert(chain, key).unwrap()
        }
        None => b.with_no_client_auth(),
    }
}

/// GET over TLS; `None` when the handshake fails. Also the server's leaf certificate.
async fn get_tls(
    addr: SocketAddr,
    cfg: rustls::ClientConfig,
    path: &str,
    auth: Option<&str>,
) -> Option<(Reply, Vec<u8>)> {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(cfg));
    let name = ServerName::try_from("localhost").unwrap();
    let tls = connector.connect(name, tcp).await.ok()?;
    let leaf = tls.get_ref().1.peer_certificates()?[0].to_vec();
    let reply = exchange(tls, path, auth).await;
    (reply.status != 0).then_some((reply, leaf))
}

fn der(pem: &str) -> Vec<u8> {
    CertificateDer::from_pem_slice(pem.as_bytes())
        .unwrap()
        .to_vec()
}

#[tokio::test]
async fn tls_serves_and_reloads_the_certificate() {
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let cert_file = dir.path().join("cert.pem");
    let key_file = dir.path().join("key.pem");
    let first = pki.issue("localhost");
    std::fs::write(&cert_file, &first.0).unwrap();
    std::fs::write(&key_file, &first.1).unwrap();
    let (addr, stop) = serve(local(MetricsConfig {
        tls: Some(ServerTlsConfig {
            cert_file: cert_file.to_str().unwrap().into(),
            key_file: key_file.to_str().unwrap().into(),
            ..ServerTlsConfig::default()
        }),
        bearer_token: Some(Secret::new("tok")),
        ..MetricsConfig::default()
    }))
    .await;
    let (r, leaf) = get_tls(addr, client_config(&pki.ca_pem, None), "/-/healthy", None)
        .await
        .unwrap();
    assert_eq!(r.status, 401);
    assert_eq!(leaf, der(&first.0));
    let (r, _) = get_tls(
        addr,
        client_config(&pki.ca_pem, None),
        "/-/healthy",
        Some("Bearer tok"),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200);
    for path in [
        "/",
        "/debug/pprof/",
        "/targets",
        "/components",
        "/config",
        "/api/v1/targets",
        "/api/v1/components",
        "/metrics",
        "/-/ready",
    ] {
        let (r, _) = get_tls(
            addr,
            client_config(&pki.ca_pem, None),
            path,
            Some("Bearer tok"),
        )
        .await
        .unwrap();
        assert_eq!(r.status, 200, "{path} over TLS");
    }
    // Plain HTTP on the TLS port gets no HTTP answer.
    assert_eq!(get(addr, "/-/healthy", Some("Bearer tok")).await.status, 0);

    let second = pki.issue("localhost");
    std::fs::write(&cert_file, &second.0).unwrap();
    std::fs::write(&key_file, &second.1).unwrap();
    let (r, leaf) = get_tls(
        addr,
        client_config(&pki.ca_pem, None),
        "/-/healthy",
        Some("Bearer tok"),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(leaf, der(&second.0), "the new certificate is served");

    // A broken rewrite keeps the last good certificate.
    std::fs::write(&key_file, "not a key").unwrap();
    let (_, leaf) = get_tls(addr, client_config(&pki.ca_pem, None), "/", None)
        .await
        .unwrap();
    assert_eq!(leaf, der(&second.0));
    stop.cancel();
}

#[tokio::test]
async fn client_certificates_are_required_with_a_client_ca() {
    let pki = Pki::new();
    let clients = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let server = pki.issue("localhost");
    let paths = ["cert.pem", "key.pem", "ca.pem"].map(|n| dir.path().join(n));
    std::fs::write(&paths[0], &server.0).unwrap();
    std::fs::write(&paths[1], &server.1).unwrap();
    std::fs::write(&paths[2], &clients.ca_pem).unwrap();
    let (addr, stop) = serve(local(MetricsConfig {
        tls: Some(ServerTlsConfig {
            cert_file: paths[0].to_str().unwrap().into(),
            key_file: paths[1].to_str().unwrap().into(),
            client_ca_file: Some(paths[2].to_str().unwrap().into()),
            min_version: None,
        }),
        ..MetricsConfig::default()
    }))
    .await;
    let without = get_tls(addr, client_config(&pki.ca_pem, None), "/-/healthy", None).await;
    assert!(without.is_none(), "no client certificate, no answer");
    let stranger = pki.issue("client");
    let foreign = get_tls(
        addr,
        client_config(&pki.ca_pem, Some(&stranger)),
        "/-/healthy",
        None,
    )
    .await;
    assert!(
        foreign.is_none(),
        "a certificate from another CA is refused"
    );
    let client = clients.issue("client");
    let (r, _) = get_tls(
        addr,
        client_config(&pki.ca_pem, Some(&client)),
        "/-/healthy",
        None,
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200);
    stop.cancel();
}

#[tokio::test]
async fn unusable_certificates_fail_start_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("cert.pem");
    std::fs::write(&cert, "garbage").unwrap();
    let state = AdminState::new(profcol_runtime::Telemetry::default());
    let cfg = local(MetricsConfig {
        tls: Some(ServerTlsConfig {
            cert_file: cert.to_str().unwrap().into(),
            key_file: dir.path().join("missing.pem").to_str().unwrap().into(),
            ..ServerTlsConfig::default()
        }),
        ..MetricsConfig::default()
    });
    let err = start(&cfg, state, CancellationToken::new())
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.starts_with("service::telemetry::metrics::tls::cert_file: no PEM certificate"),
        "{err}"
    );
}
