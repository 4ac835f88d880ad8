//! The OTLP exporters' `tls` block (OTel's names): plaintext with
//! `insecure`, a CA, a client certificate, a server name override and
//! `insecure_skip_verify`; turned into a rustls config (HTTP) or a tonic
//! endpoint TLS setup (gRPC).

use crate::config::{unknown_keys, Unknown};
use crate::Error;
use profcol_config::{join_path, Problem, Secret, Validate};
use serde::{Deserialize, Serialize};

/// The keys of [`TlsSettings`] (`server_name_override` is accepted too, as
/// another name of `server_name`).
pub const TLS_KEYS: &[&str] = &[
    "insecure",
    "ca_file",
    "ca_pem",
    "cert_file",
    "cert_pem",
    "key_file",
    "key_pem",
    "server_name",
    "insecure_skip_verify",
];

/// The `tls` block. Serialized with `key_pem` as `<secret>`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TlsSettings {
    /// gRPC only: no TLS at all (OTel's meaning).
    pub insecure: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_pem: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cert_file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cert_pem: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_pem: Option<Secret>,
    #[serde(
        alias = "server_name_override",
        skip_serializing_if = "Option::is_none"
    )]
    pub server_name: Option<String>,
    pub insecure_skip_verify: bool,
    #[serde(flatten, skip_serializing)]
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
        unknown_keys(&self.unknown, path, TLS_KEYS, problems);
    }
}

/// (certificate chain PEM, key PEM)
pub type PemPair = (Vec<u8>, Vec<u8>);

fn read(file: &Option<String>, pem: Option<&str>, what: &str) -> Result<Option<Vec<u8>>, Error> {
    if let Some(pem) = pem {
        return Ok(Some(pem.as_bytes().to_vec()));
    }
    let Some(path) = file else {
        return Ok(None);
    };
    if what == "key_file" {
        profcol_http::warn_if_world_readable(what, path);
    }
    std::fs::read(path)
        .map(Some)
        .map_err(|e| Error::Tls(format!("cannot read {what} {path}: {e}")))
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

    /// A rustls client config for HTTPS, built by the shared HTTP client
    /// crate from the same settings.
    pub fn rustls_config(&self) -> Result<rustls::ClientConfig, Error> {
        let shared = profcol_config::http_client::TlsConfig {
            ca_pem: self.ca_pem.clone(),
            ca_file: self.ca_file.clone(),
            cert_pem: self.cert_pem.clone(),
            cert_file: self.cert_file.clone(),
            key_pem: self.key_pem.clone(),
            key_file: self.key_file.clone(),
            insecure_skip_verify: self.insecure_skip_verify,
            min_version: None,
            server_name: self.server_name.clone(),
        };
        profcol_http::rustls_client_config(&shared, "tls", true)
            .map_err(|e| Error::Tls(e.to_string()))
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
            endpoint.tls_config_with_verifier(cfg, profcol_http::insecure_verifier())
        } else {
            endpoint.tls_config(cfg)
        };
        result.map_err(|e| Error::Tls(crate::otlp_http::error_chain(&e)))
    }
}
