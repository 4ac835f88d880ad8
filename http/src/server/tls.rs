//! TLS for a server (the admin server's `service.telemetry.metrics.tls`, a
//! push receiver's `tls`): a listener that axum serves from, handshaking each connection in its own task (a
//! slow client cannot hold up the others; a handshake has 10 s). The
//! certificate, key and client CA files are checked on every new connection
//! and reloaded when their contents change, so rotated certificates need no
//! restart; a reload that fails keeps the previous certificate and is logged.

use crate::Error;
use profcol_config::http_client::TlsVersion;
use profcol_config::server::ServerTlsConfig;
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

/// The server config, rebuilt when the files change.
struct Certificates {
    cfg: ServerTlsConfig,
    prefix: String,
    state: Mutex<(u64, Arc<ServerConfig>)>,
}

impl Certificates {
    fn load(cfg: ServerTlsConfig, prefix: &str) -> Result<Self, Error> {
        crate::warn_if_world_readable(&format!("{prefix}::key_file"), &cfg.key_file);
        let fingerprint = fingerprint(&cfg);
        let server = Arc::new(server_config(&cfg, prefix)?);
        Ok(Self {
            cfg,
            prefix: prefix.to_string(),
            state: Mutex::new((fingerprint, server)),
        })
    }

    fn current(&self) -> Arc<ServerConfig> {
        let now = fingerprint(&self.cfg);
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if now != state.0 {
            state.0 = now;
            match server_config(&self.cfg, &self.prefix) {
                Ok(c) => {
                    tracing::info!(tls = %self.prefix, "TLS files changed; reloaded the certificate.");
                    state.1 = Arc::new(c);
                }
                Err(e) => {
                    tracing::warn!(tls = %self.prefix, error = %e, "TLS files changed but cannot be loaded; keeping the previous certificate.")
                }
            }
        }
        state.1.clone()
    }
}

/// Hash of the files' contents (a missing file hashes as missing).
fn fingerprint(cfg: &ServerTlsConfig) -> u64 {
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

fn read(prefix: &str, field: &str, path: &str) -> Result<Vec<u8>, Error> {
    std::fs::read(path).map_err(|e| {
        Error::invalid(
            format!("{prefix}::{field}"),
            format!("cannot read {path}: {e}"),
        )
    })
}

fn certs(prefix: &str, field: &str, path: &str) -> Result<Vec<CertificateDer<'static>>, Error> {
    let pem = read(prefix, field, path)?;
    let key = || format!("{prefix}::{field}");
    let certs: Vec<_> = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<_, _>>()
        .map_err(|e| Error::invalid(key(), format!("invalid PEM in {path}: {e}")))?;
    if certs.is_empty() {
        return Err(Error::invalid(
            key(),
            format!("no PEM certificate in {path}"),
        ));
    }
    Ok(certs)
}

/// The rustls server config for the block; errors name the key and file.
fn server_config(cfg: &ServerTlsConfig, prefix: &str) -> Result<ServerConfig, Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let field = |name: &str| format!("{prefix}::{name}");
    let chain = certs(prefix, "cert_file", &cfg.cert_file)?;
    let key =
        PrivateKeyDer::from_pem_slice(&read(prefix, "key_file", &cfg.key_file)?).map_err(|_| {
            Error::invalid(
                field("key_file"),
                format!(
                    "no PEM private key (PKCS#8, PKCS#1 or SEC1) in {}",
                    cfg.key_file
                ),
            )
        })?;
    let versions: &[&rustls::SupportedProtocolVersion] = match &cfg.min_version {
        Some(TlsVersion::Tls13) => &[&rustls::version::TLS13],
        Some(TlsVersion::Tls12) | None => &[&rustls::version::TLS13, &rustls::version::TLS12],
        Some(other) => {
            return Err(Error::invalid(
                field("min_version"),
                other.problem().unwrap_or_default(),
            ))
        }
    };
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions)
        .map_err(|e| Error::invalid(field("min_version"), e.to_string()))?;
    let builder = match &cfg.client_ca_file {
        Some(path) => {
            let mut roots = RootCertStore::empty();
            let (added, _) =
                roots.add_parsable_certificates(certs(prefix, "client_ca_file", path)?);
            if added == 0 {
                return Err(Error::invalid(
                    field("client_ca_file"),
                    format!("no usable CA certificate in {path}"),
                ));
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| Error::invalid(field("client_ca_file"), e.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut config = builder.with_single_cert(chain, key).map_err(|e| {
        Error::invalid(
            field("key_file"),
            format!("the certificate and key do not match: {e}"),
        )
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
    /// starts accepting on `listener` until `stop`. `prefix` is the key path
    /// of the `tls` block, named by errors and logs.
    pub fn new(
        listener: TcpListener,
        cfg: &ServerTlsConfig,
        prefix: &str,
        stop: CancellationToken,
    ) -> Result<Self, Error> {
        let certs = Arc::new(Certificates::load(cfg.clone(), prefix)?);
        let local = listener
            .local_addr()
            .map_err(|e| Error::invalid(prefix, format!("listener has no address: {e}")))?;
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
                        tracing::debug!(error = %e, "Accept failed.");
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
                            tracing::debug!(peer = %peer, error = %e, "TLS handshake failed.")
                        }
                        Err(_) => tracing::debug!(peer = %peer, "TLS handshake timed out."),
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
