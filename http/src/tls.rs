//! The rustls `ClientConfig` for a `tls_config` block, on the ring provider:
//! trusted roots (the system store, or only the configured CA as in Go),
//! the client certificate, `min_version`, `insecure_skip_verify`,
//! `server_name` and the ALPN list that decides HTTP/2.

use crate::ca_leaf::ConfiguredCaLeaf;
use crate::error::Error;
use crate::verifier::{Insecure, NoRoots, OverrideName};
use profcol_config::http_client::{TlsConfig, TlsVersion};
use rustls::client::danger::ServerCertVerifier;
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use std::sync::{Arc, OnceLock};

/// The rustls config for a `tls_config` block, for clients built elsewhere
/// (the OTLP exporters). `prefix` names the block in errors; `http2` decides
/// the ALPN list.
pub fn rustls_client_config(
    tls: &TlsConfig,
    prefix: &str,
    http2: bool,
) -> Result<ClientConfig, Error> {
    client_config(Some(tls), prefix, http2)
}

/// `prefix` is the config path of the block (`tls_config` or
/// `oauth2::tls_config`), used in error messages.
pub(crate) fn client_config(
    tls: Option<&TlsConfig>,
    prefix: &str,
    http2: bool,
) -> Result<ClientConfig, Error> {
    let default = TlsConfig::default();
    let tls = tls.unwrap_or(&default);
    let field = |name: &str| profcol_config::join_path(prefix, name);
    let provider = Arc::new(rustls::crypto::ring::default_provider());

    let versions: &[&rustls::SupportedProtocolVersion] = match &tls.min_version {
        Some(TlsVersion::Tls13) => &[&rustls::version::TLS13],
        Some(TlsVersion::Tls12) | None => &[&rustls::version::TLS13, &rustls::version::TLS12],
        Some(other) => {
            return Err(Error::Unsupported {
                field: field("min_version"),
                message: other.problem().unwrap_or_default(),
            })
        }
    };

    let verifier: Arc<dyn ServerCertVerifier> = if tls.insecure_skip_verify {
        Arc::new(Insecure::new(provider.clone()))
    } else {
        let (roots, configured) = roots(tls, &field)?;
        let base: Arc<dyn ServerCertVerifier> = if roots.is_empty() {
            Arc::new(NoRoots::new(provider.clone()))
        } else {
            let webpki =
                WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                    .build()
                    .map_err(|e| Error::invalid(field("ca_file"), e.to_string()))?;
            Arc::new(ConfiguredCaLeaf::new(webpki, configured))
        };
        match &tls.server_name {
            Some(name) if !name.is_empty() => {
                let name = ServerName::try_from(name.clone()).map_err(|_| {
                    Error::invalid(field("server_name"), "not a valid DNS name or IP address")
                })?;
                Arc::new(OverrideName::new(base, name))
            }
            _ => base,
        }
    };

    let builder = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .map_err(|e| Error::invalid(field("min_version"), e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let mut config = match client_identity(tls, &field)? {
        Some((certs, key)) => builder.with_client_auth_cert(certs, key).map_err(|e| {
            Error::invalid(
                field("key_file"),
                format!("client certificate and key do not match: {e}"),
            )
        })?,
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = if http2 {
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    } else {
        vec![b"http/1.1".to_vec()]
    };
    Ok(config)
}

/// The trusted roots, and the configured CA certificates (none when the
/// system store is used).
fn roots(
    tls: &TlsConfig,
    field: &dyn Fn(&str) -> String,
) -> Result<(RootCertStore, Vec<CertificateDer<'static>>), Error> {
    let mut store = RootCertStore::empty();
    let Some((pem, which)) = pem_source(
        tls.ca_pem.as_deref(),
        tls.ca_file.as_deref(),
        "ca_pem",
        "ca_file",
        field,
    )?
    else {
        store.extend(system_roots().iter().cloned());
        return Ok((store, Vec::new()));
    };
    let certs = parse_certs(&pem, &which)?;
    let (added, _) = store.add_parsable_certificates(certs.iter().cloned());
    if added == 0 {
        return Err(Error::invalid(which, "no usable CA certificate found"));
    }
    Ok((store, certs))
}

type Identity = (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>);

fn client_identity(
    tls: &TlsConfig,
    field: &dyn Fn(&str) -> String,
) -> Result<Option<Identity>, Error> {
    let cert = pem_source(
        tls.cert_pem.as_deref(),
        tls.cert_file.as_deref(),
        "cert_pem",
        "cert_file",
        field,
    )?;
    let key_inline = tls.key_pem.as_ref().map(|s| s.expose());
    let key = pem_source(
        key_inline,
        tls.key_file.as_deref(),
        "key_pem",
        "key_file",
        field,
    )?;
    match (cert, key) {
        (Some((cert, cert_field)), Some((key, key_field))) => {
            let certs = parse_certs(&cert, &cert_field)?;
            let key = PrivateKeyDer::from_pem_slice(&key).map_err(|_| {
                Error::invalid(
                    key_field,
                    "no PEM private key (PKCS#8, PKCS#1 or SEC1) found",
                )
            })?;
            Ok(Some((certs, key)))
        }
        (None, None) => Ok(None),
        (Some(_), None) => Err(Error::invalid(
            field("key_file"),
            "a client certificate needs a client key",
        )),
        (None, Some(_)) => Err(Error::invalid(
            field("cert_file"),
            "a client key needs a client certificate",
        )),
    }
}

/// The PEM bytes of an inline/file pair and the field to blame for them.
fn pem_source(
    inline: Option<&str>,
    file: Option<&str>,
    inline_name: &str,
    file_name: &str,
    field: &dyn Fn(&str) -> String,
) -> Result<Option<(Vec<u8>, String)>, Error> {
    if let Some(text) = inline.filter(|t| !t.is_empty()) {
        return Ok(Some((text.as_bytes().to_vec(), field(inline_name))));
    }
    let Some(path) = file.filter(|p| !p.is_empty()) else {
        return Ok(None);
    };
    let f = field(file_name);
    if file_name == "key_file" {
        crate::file_mode::warn_if_world_readable(&f, path);
    }
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some((bytes, format!("{f} {path}")))),
        Err(source) => Err(Error::ReadFile {
            field: f,
            path: path.to_string(),
            source,
        }),
    }
}

fn parse_certs(pem: &[u8], field: &str) -> Result<Vec<CertificateDer<'static>>, Error> {
    let certs: Vec<_> = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<_, _>>()
        .map_err(|e| Error::invalid(field, format!("invalid PEM: {e}")))?;
    if certs.is_empty() {
        return Err(Error::invalid(field, "no PEM certificate found"));
    }
    Ok(certs)
}

/// The platform's trusted roots, loaded once per process.
fn system_roots() -> &'static [rustls::pki_types::TrustAnchor<'static>] {
    static ROOTS: OnceLock<Vec<rustls::pki_types::TrustAnchor<'static>>> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let found = rustls_native_certs::load_native_certs();
        for e in &found.errors {
            tracing::warn!(error = %e, "Cannot load some system CA certificates.");
        }
        let mut store = RootCertStore::empty();
        let (_, bad) = store.add_parsable_certificates(found.certs);
        if bad > 0 {
            tracing::debug!(count = bad, "Ignored unparsable system CA certificates.");
        }
        if store.is_empty() {
            tracing::warn!(
                "No system CA certificates found; https needs tls_config::ca_file or ca_pem."
            );
        }
        store.roots
    })
}
