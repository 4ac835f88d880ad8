//! Accepts a server certificate that is exactly one of the configured CA
//! certificates (`tls_config::ca_file` / `ca_pem`), as Go's TLS client does:
//! small setups often serve one self-signed certificate with `CA:TRUE` and
//! give the same file as the CA. WebPKI refuses such a certificate as an end
//! entity; this verifier then accepts it when it is byte-for-byte one of the
//! configured CAs, is valid for the server name and is within its validity
//! period. Any other CA certificate served as a server certificate is still
//! refused, with a message that says what happened.

use crate::der_validity::validity;
use crate::verifier::signatures_from_inner;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, OtherError, SignatureScheme};
use std::sync::Arc;

/// Wraps the WebPKI verifier of a `tls_config` with configured CAs.
#[derive(Debug)]
pub(crate) struct ConfiguredCaLeaf {
    inner: Arc<dyn ServerCertVerifier>,
    cas: Vec<CertificateDer<'static>>,
}

impl ConfiguredCaLeaf {
    pub(crate) fn new(
        inner: Arc<dyn ServerCertVerifier>,
        cas: Vec<CertificateDer<'static>>,
    ) -> Self {
        Self { inner, cas }
    }

    fn accept_configured_ca(
        &self,
        cert: &CertificateDer<'_>,
        server_name: &ServerName<'_>,
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if !self.cas.iter().any(|ca| ca.as_ref() == cert.as_ref()) {
            return Err(refused(
                "the server's certificate is a CA certificate (CA:TRUE), not a server \
                 certificate; a CA certificate is accepted as the server's only when it is \
                 exactly one of the certificates of tls_config::ca_file or ca_pem",
            ));
        }
        let parsed = rustls::server::ParsedCertificate::try_from(cert)?;
        rustls::client::verify_server_name(&parsed, server_name)?;
        let Some(period) = validity(cert.as_ref()) else {
            return Err(rustls::Error::InvalidCertificate(
                CertificateError::BadEncoding,
            ));
        };
        let now = i64::try_from(now.as_secs()).unwrap_or(i64::MAX);
        if now < period.not_before {
            return Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidYet,
            ));
        }
        if now > period.not_after {
            return Err(rustls::Error::InvalidCertificate(CertificateError::Expired));
        }
        Ok(ServerCertVerified::assertion())
    }
}

fn refused(message: &'static str) -> rustls::Error {
    #[derive(Debug)]
    struct Message(&'static str);
    impl std::fmt::Display for Message {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }
    impl std::error::Error for Message {}
    rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(Message(
        message,
    )))))
}

fn is_ca_used_as_end_entity(e: &rustls::Error) -> bool {
    matches!(
        e,
        rustls::Error::InvalidCertificate(CertificateError::Other(other))
            if matches!(other.0.downcast_ref::<webpki::Error>(), Some(webpki::Error::CaUsedAsEndEntity))
    )
}

impl ServerCertVerifier for ConfiguredCaLeaf {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Err(e) if is_ca_used_as_end_entity(&e) => {
                self.accept_configured_ca(end_entity, server_name, now)
            }
            other => other,
        }
    }

    signatures_from_inner!();
}
