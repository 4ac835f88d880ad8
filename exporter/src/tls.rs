//! The OTLP exporters' `tls` block (OTel's names): plaintext with
//! `insecure`, a CA, a client certificate, a server name override and
//! `insecure_skip_verify`; turned into a rustls config (HTTP) or a tonic
//! endpoint TLS setup (gRPC).

use crate::config::{unknown_keys, Unknown};
use crate::Error;
use profcol_config::{join_path, Problem, Secret, Validate};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use serde::Deserialize;
use std::sync::Arc;

/// The `tls` block.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct TlsSettings {
    /// gRPC only: no TLS at all (OTel's meaning).
    pub insecure: bool,
    pub ca_file: Option<String>,
    pub ca_pem: Option<String>,
    pub cert_file: Option<String>,
    pub cert_pem: Option<String>,
    pub key_file: Option<String>,
    pub key_pem: Option<Secret>,
    #[serde(alias = "server_name_override")]
    pub server_name: Option<String>,
    pub insecure_skip_verify: bool,
    #[serde(flatten)]
    pub unknown: Unknown,
}

impl Validate for TlsSettings {
    fn validate(&self, path: &str, problems: &mut Vec<Problem>) {
        let mut p =
            |field: &str, msg: &str| problems.push(Problem::new(join_path(path, field), msg));
        if self.ca_file.is_some() && self.ca_pem.is_some() {
            p("ca_pem", "ca_pem and ca_file are mutually exclusive");
        }
        if self.cert_file.is_some() && self.cert_pem.is_some() {
            p("cert_pem", "cert_pem and cert_file are mutually exclusive");
        }
        if self.key_file.is_some() && self.key_pem.is_some() {
            p("key_pem", "key_pem and key_file are mutually exclusive");
        }
        let has_cert = self.cert_file.is_some() || self.cert_pem.is_some();
        let has_key = self.key_file.is_some() || self.key_pem.is_some();
        if has_cert != has_key {
            p(
                if has_cert { "key_file" } else { "cert_file" },
                "a client certificate and its key must be given together",
            );
        }
        unknown_keys(&self.unknown, path, problems);
    }
}

/// (certificate chain PEM, key PEM)
pub type PemPair = (Vec<u8>, Vec<u8>);

fn read(file: &Option<String>, pem: Option<&str>, what: &str) -> Result<Option<Vec<u8>>, Error> {
    if let Some(pem) = pem {
        return Ok(Some(pem.as_bytes().to_vec()));
    }
    match file {
        Some(path) => std::fs::read(path)
            .map(Some)
            .map_err(|e| Error::Tls(format!("cannot read {what} {path}: {e}"))),
        None => Ok(None),
    }
}

impl TlsSettings {
    pub fn ca(&self) -> Result<Option<Vec<u8>>, Error> {
        read(&self.ca_file, self.ca_pem.as_deref(), "ca_file")
    }

    /// The client certificate chain and key, as PEM.
    pub fn identity(&self) -> Result<Option<PemPair>, Error> {
        let cert = read(&self.cert_file, self.cert_pem.as_deref(), "cert_file")?;
        let key = read(
            &self.key_file,
            self.key_pem.as_ref().map(Secret::expose),
            "key_file",
        )?;
        Ok(cert.zip(key))
    }

    /// A rustls client config for HTTPS.
    pub fn rustls_config(&self) -> Result<rustls::ClientConfig, Error> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::Tls(e.to_string()))?;
        let mut roots = rustls::RootCertStore::empty();
        match self.ca()? {
            Some(pem) => {
                for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
                    let cert = cert.map_err(|e| Error::Tls(format!("bad CA PEM: {e}")))?;
                    roots
                        .add(cert)
                        .map_err(|e| Error::Tls(format!("bad CA certificate: {e}")))?;
                }
                if roots.is_empty() {
                    return Err(Error::Tls("the CA PEM holds no certificate".to_string()));
                }
            }
            None => {
                for cert in rustls_native_certs::load_native_certs().certs {
                    // A system certificate rustls cannot parse is skipped.
                    let _ = roots.add(cert);
                }
            }
        }
        let verifier: Arc<dyn ServerCertVerifier> = if self.insecure_skip_verify {
            Arc::new(NoVerify(provider))
        } else {
            let webpki = rustls::client::WebPkiServerVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            )
            .build()
            .map_err(|e| Error::Tls(e.to_string()))?;
            match &self.server_name {
                Some(name) => Arc::new(NameOverride {
                    inner: webpki,
                    name: ServerName::try_from(name.clone())
                        .map_err(|e| Error::Tls(format!("server_name {name:?}: {e}")))?,
                }),
                None => webpki,
            }
        };
        let builder = builder
            .dangerous()
            .with_custom_certificate_verifier(verifier);
        let mut config = match self.identity()? {
            Some((cert, key)) => {
                let chain: Vec<CertificateDer<'static>> =
                    rustls_pemfile::certs(&mut cert.as_slice())
                        .collect::<Result<_, _>>()
                        .map_err(|e| Error::Tls(format!("bad client certificate PEM: {e}")))?;
                let key: PrivateKeyDer<'static> = rustls_pemfile::private_key(&mut key.as_slice())
                    .map_err(|e| Error::Tls(format!("bad client key PEM: {e}")))?
                    .ok_or_else(|| Error::Tls("the client key PEM holds no key".to_string()))?;
                builder
                    .with_client_auth_cert(chain, key)
                    .map_err(|e| Error::Tls(e.to_string()))?
            }
            None => builder.with_no_client_auth(),
        };
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(config)
    }

    /// Applies this block to a tonic endpoint whose URI is `https`.
    pub fn apply_to_tonic(
        &self,
        endpoint: tonic::transport::Endpoint,
    ) -> Result<tonic::transport::Endpoint, Error> {
        use tonic::transport::{Certificate, ClientTlsConfig, Identity};
        let mut cfg = ClientTlsConfig::new();
        // tonic refuses roots next to a custom verifier.
        if !self.insecure_skip_verify {
            match self.ca()? {
                Some(pem) => cfg = cfg.ca_certificate(Certificate::from_pem(pem)),
                None => cfg = cfg.with_native_roots(),
            }
        }
        if let Some((cert, key)) = self.identity()? {
            cfg = cfg.identity(Identity::from_pem(cert, key));
        }
        if let Some(name) = &self.server_name {
            cfg = cfg.domain_name(name.clone());
        }
        let result = if self.insecure_skip_verify {
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            endpoint.tls_config_with_verifier(cfg, Arc::new(NoVerify(provider)))
        } else {
            endpoint.tls_config(cfg)
        };
        result.map_err(|e| Error::Tls(crate::otlp_http::error_chain(&e)))
    }
}

/// `insecure_skip_verify`: accepts any server certificate (signatures are
/// still checked so the handshake itself is sound).
#[derive(Debug)]
struct NoVerify(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `server_name`: verifies the certificate against this name instead of the
/// URL's host.
#[derive(Debug)]
struct NameOverride {
    inner: Arc<rustls::client::WebPkiServerVerifier>,
    name: ServerName<'static>,
}

impl ServerCertVerifier for NameOverride {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.inner
            .verify_server_cert(end_entity, intermediates, &self.name, ocsp, now)
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}
