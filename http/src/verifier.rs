//! Server certificate verifiers beyond rustls' default: `insecure_skip_verify`
//! (any certificate, handshake signatures still checked), `server_name`
//! (the certificate is checked against the configured name instead of the
//! URL's host), and a verifier for a machine without any trusted roots.
//!
//! About `server_name`: Go sends it as SNI and verifies against it. rustls
//! takes the SNI from the name reqwest connects to (the URL host), so here
//! the configured name changes what the certificate must be valid for, while
//! the SNI stays the URL host (none when the host is an IP address).

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use std::sync::Arc;

macro_rules! signatures_from_provider {
    () => {
        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            verify_tls12_signature(
                message,
                cert,
                dss,
                &self.provider.signature_verification_algorithms,
            )
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            verify_tls13_signature(
                message,
                cert,
                dss,
                &self.provider.signature_verification_algorithms,
            )
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.provider
                .signature_verification_algorithms
                .supported_schemes()
        }
    };
}

/// The handshake-signature methods of a verifier that wraps another
/// (`self.inner`) and changes only how the certificate is checked.
macro_rules! signatures_from_inner {
    () => {
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
    };
}
pub(crate) use signatures_from_inner;

/// The `insecure_skip_verify: true` verifier on the ring provider, for
/// clients built elsewhere (tonic).
pub fn insecure_verifier() -> Arc<dyn rustls::client::danger::ServerCertVerifier> {
    Arc::new(Insecure::new(Arc::new(
        rustls::crypto::ring::default_provider(),
    )))
}

/// `insecure_skip_verify: true`.
#[derive(Debug)]
pub(crate) struct Insecure {
    provider: Arc<CryptoProvider>,
}

impl Insecure {
    pub(crate) fn new(provider: Arc<CryptoProvider>) -> Self {
        Self { provider }
    }
}

impl ServerCertVerifier for Insecure {
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

    signatures_from_provider!();
}

/// No trusted roots at all: every certificate fails with a message that says why.
#[derive(Debug)]
pub(crate) struct NoRoots {
    provider: Arc<CryptoProvider>,
}

impl NoRoots {
    pub(crate) fn new(provider: Arc<CryptoProvider>) -> Self {
        Self { provider }
    }
}

impl ServerCertVerifier for NoRoots {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Err(rustls::Error::General(
            "no trusted CA certificates: the system store is empty; set tls_config::ca_file or ca_pem".into(),
        ))
    }

    signatures_from_provider!();
}

/// `server_name`: full verification, against the configured name.
#[derive(Debug)]
pub(crate) struct OverrideName {
    inner: Arc<dyn ServerCertVerifier>,
    name: ServerName<'static>,
}

impl OverrideName {
    pub(crate) fn new(inner: Arc<dyn ServerCertVerifier>, name: ServerName<'static>) -> Self {
        Self { inner, name }
    }
}

impl ServerCertVerifier for OverrideName {
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

    signatures_from_inner!();
}
