//! TLS for the admin server (`service.telemetry.metrics.tls`): a listener
//! that axum serves from, handshaking each connection in its own task (a
//! slow client cannot hold up the others; a handshake has 10 s). The
//! certificate, key and client CA files are checked on every new connection
//! and reloaded when their contents change, so rotated certificates need no
//! restart; a reload that fails keeps the previous certificate and is logged.

use profcol_config::collector::AdminTlsConfig;
use profcol_config::http_client::TlsVersion;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;
use tokio_util::sync::CancellationToken;

const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
const PREFIX: &str = "service::telemetry::metrics::tls";

/// The server config, rebuilt when the files change.
struct Certificates {
    cfg: AdminTlsConfig,
    state: Mutex<(u64, Arc<ServerConfig>)>,
}

impl Certificates {
    fn load(cfg: AdminTlsConfig) -> anyhow::Result<Self> {
        profcol_http::warn_if_world_readable(&format!("{PREFIX}::key_file"), &cfg.key_file);
        let fingerprint = fingerprint(&cfg);
        let server = Arc::new(server_config(&cfg)?);
        Ok(Self {
            cfg,
            state: Mutex::new((fingerprint, server)),
        })
    }

    fn current(&self) -> Arc<ServerConfig> {
        let now = fingerprint(&self.cfg);
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if now != state.0 {
            state.0 = now;
            match server_config(&self.cfg) {
                Ok(c) => {
                    tracing::info!("Admin server TLS files changed; reloaded the certificate.");
                    state.1 = Arc::new(c);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "Admin server TLS files changed but cannot be loaded; keeping the previous certificate.")
                }
            }
        }
        state.1.clone()
    }
}

/// Hash of the files' contents (a missing file hashes as missing).
fn fingerprint(cfg: &AdminTlsConfig) -> u64 {
    let mut h = DefaultHasher::new();
    for f in [
        Some(&cfg.cert_file),
        Some(&cfg.key_file),
        cfg.client_ca_file.as_ref(),
    ]
    .into_iter()
    .flatten()
    {
        std::fs::read(f).ok().hash(&mut h);
    }
    h.finish()
}

fn read(field: &str, path: &str) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| anyhow::anyhow!("{PREFIX}::{field}: cannot read {path}: {e}"))
}

fn certs(field: &str, path: &str) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let pem = read(field, path)?;
    let certs: Vec<_> = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<_, _>>()
        .map_err(|e| anyhow::anyhow!("{PREFIX}::{field}: invalid PEM in {path}: {e}"))?;
    if certs.is_empty() {
        anyhow::bail!("{PREFIX}::{field}: no PEM certificate in {path}");
    }
    Ok(certs)
}

/// The rustls server config for the block; errors name the key and file.
fn server_config(cfg: &AdminTlsConfig) -> anyhow::Result<ServerConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let chain = certs("cert_file", &cfg.cert_file)?;
    let key = PrivateKeyDer::from_pem_slice(&read("key_file", &cfg.key_file)?).map_err(|_| {
        anyhow::anyhow!(
            "{PREFIX}::key_file: no PEM private key (PKCS#8, PKCS#1 or SEC1) in {}",
            cfg.key_file
        )
    })?;
    let versions: &[&rustls::SupportedProtocolVersion] = match cfg.min_version {
        Some(TlsVersion::Tls13) => &[&rustls::version::TLS13],
        _ => &[&rustls::version::TLS13, &rustls::version::TLS12],
    };
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions)
        .map_err(|e| anyhow::anyhow!("{PREFIX}::min_version: {e}"))?;
    let builder = match &cfg.client_ca_file {
        Some(path) => {
            let mut roots = RootCertStore::empty();
            let (added, _) = roots.add_parsable_certificates(certs("client_ca_file", path)?);
            if added == 0 {
                anyhow::bail!("{PREFIX}::client_ca_file: no usable CA certificate in {path}");
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| anyhow::anyhow!("{PREFIX}::client_ca_file: {e}"))?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut config = builder.with_single_cert(chain, key).map_err(|e| {
        anyhow::anyhow!("{PREFIX}::key_file: the certificate and key do not match: {e}")
    })?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// Accepted, handshaken TLS connections for `axum::serve`.
pub struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
    acceptor: tokio::task::JoinHandle<()>,
}

impl TlsListener {
    /// Loads the certificates (failing start-up when they are unusable) and
    /// starts accepting on `listener` until `stop`.
    pub fn new(
        listener: TcpListener,
        cfg: &AdminTlsConfig,
        stop: CancellationToken,
    ) -> anyhow::Result<Self> {
        let certs = Arc::new(Certificates::load(cfg.clone())?);
        let local = listener.local_addr()?;
        let (tx, ready) = mpsc::channel(64);
        let acceptor = tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    _ = stop.cancelled() => return,
                    a = listener.accept() => a,
                };
                let (tcp, peer) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::debug!(error = %e, "Admin server accept failed.");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let acceptor = tokio_rustls::TlsAcceptor::from(certs.current());
                let tx = tx.clone();
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                        Ok(Ok(tls)) => {
                            let _ = tx.send((tls, peer)).await;
                        }
                        Ok(Err(e)) => {
                            tracing::debug!(peer = %peer, error = %e, "Admin TLS handshake failed.")
                        }
                        Err(_) => tracing::debug!(peer = %peer, "Admin TLS handshake timed out."),
                    }
                });
            }
        });
        Ok(Self {
            ready,
            local,
            acceptor,
        })
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.acceptor.abort();
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(c) => c,
            // The acceptor stopped: nothing more will come.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}
