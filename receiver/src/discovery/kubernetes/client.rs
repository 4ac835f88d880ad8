//! Builds the Kubernetes API client of one `kubernetes_sd_configs` entry:
//! from `kubeconfig_file`, from `api_server` with the shared HTTP client
//! blocks mapped onto kube's config, or from the in-cluster service account
//! when both are absent (which is also where `namespaces.own_namespace` is
//! read from).

use super::config::KubernetesSdConfig;
use base64::Engine;
use kube::config::{KubeConfigOptions, Kubeconfig};
use profcol_config::HttpClientConfig;

/// Where a pod's service account namespace is mounted.
pub(crate) const OWN_NAMESPACE_FILE: &str =
    "/var/run/secrets/kubernetes.io/serviceaccount/namespace";

/// The client and, with `namespaces.own_namespace`, profcol's own namespace.
pub(crate) async fn build(
    cfg: &KubernetesSdConfig,
) -> Result<(kube::Client, Option<String>), String> {
    let mut own = None;
    let config = if let Some(path) = &cfg.kubeconfig_file {
        let kc = Kubeconfig::read_from(path)
            .map_err(|e| format!("cannot read kubeconfig_file {path:?}: {}", chain(&e)))?;
        kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
            .await
            .map_err(|e| format!("invalid kubeconfig_file {path:?}: {}", chain(&e)))?
    } else if let Some(server) = &cfg.api_server {
        from_api_server(server, &cfg.http)?
    } else {
        let c = kube::Config::incluster().map_err(|e| {
            format!(
                "no api_server or kubeconfig_file and not running in a cluster: {}",
                chain(&e)
            )
        })?;
        if cfg.namespaces.own_namespace {
            own = Some(read_own_namespace(OWN_NAMESPACE_FILE)?);
        }
        tracing::info!("Using pod service account via in-cluster config.");
        c
    };
    let client = kube::Client::try_from(config)
        .map_err(|e| format!("cannot build the Kubernetes client: {}", chain(&e)))?;
    Ok((client, own))
}

/// Reads the namespace file of the service account.
pub(crate) fn read_own_namespace(path: &str) -> Result<String, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("could not determine the pod's namespace from {path}: {e}"))?;
    let ns = text.trim();
    if ns.is_empty() {
        return Err(format!(
            "could not read own namespace name ({path} is empty)"
        ));
    }
    Ok(ns.to_string())
}

fn read_secret_file(path: &str, what: &str) -> Result<String, String> {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .map_err(|e| format!("cannot read {what} {path:?}: {e}"))
}

/// kube's config for `api_server` with the client blocks: bearer token
/// (inline or a file kube re-reads), basic auth, `authorization`,
/// `tls_config` (CA, client certificate, `insecure_skip_verify`,
/// `server_name`) and `proxy_url`.
pub(crate) fn from_api_server(
    server: &str,
    http: &HttpClientConfig,
) -> Result<kube::Config, String> {
    let uri: http::Uri = server
        .parse()
        .map_err(|e| format!("invalid api_server {server:?}: {e}"))?;
    let mut c = kube::Config::new(uri);
    if let Some(t) = &http.bearer_token {
        c.auth_info.token = Some(t.expose().to_string().into());
    }
    if let Some(f) = &http.bearer_token_file {
        c.auth_info.token_file = Some(f.clone());
    }
    if let Some(b) = &http.basic_auth {
        c.auth_info.username = Some(b.username.clone());
        let password = match (&b.password, &b.password_file) {
            (Some(p), _) => Some(p.expose().to_string()),
            (None, Some(f)) => Some(read_secret_file(f, "basic_auth.password_file")?),
            (None, None) => None,
        };
        c.auth_info.password = password.map(Into::into);
    }
    if let Some(a) = &http.authorization {
        let kind = a.kind.as_deref().unwrap_or("Bearer");
        let bearer = kind.eq_ignore_ascii_case("bearer");
        match (&a.credentials, &a.credentials_file) {
            (None, Some(f)) if bearer => c.auth_info.token_file = Some(f.clone()),
            (creds, file) => {
                let value = match (creds, file) {
                    (Some(v), _) => v.expose().to_string(),
                    (None, Some(f)) => read_secret_file(f, "authorization.credentials_file")?,
                    (None, None) => String::new(),
                };
                if bearer {
                    c.auth_info.token = Some(value.into());
                } else {
                    let mut header = http::HeaderValue::from_str(&format!("{kind} {value}"))
                        .map_err(|_| "authorization: invalid header value".to_string())?;
                    header.set_sensitive(true);
                    c.headers.push((http::header::AUTHORIZATION, header));
                }
            }
        }
    }
    if let Some(tls) = &http.tls_config {
        if let Some(f) = &tls.ca_file {
            c.root_cert_file = Some(f.into());
        }
        if let Some(pem) = &tls.ca_pem {
            c.root_cert = Some(pem_certificates(pem)?);
        }
        c.auth_info.client_certificate = tls.cert_file.clone();
        c.auth_info.client_key = tls.key_file.clone();
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s.as_bytes());
        if let Some(pem) = &tls.cert_pem {
            c.auth_info.client_certificate_data = Some(b64(pem));
        }
        if let Some(pem) = &tls.key_pem {
            c.auth_info.client_key_data = Some(b64(pem.expose()).into());
        }
        c.accept_invalid_certs = tls.insecure_skip_verify;
        c.tls_server_name = tls.server_name.clone();
    }
    if let Some(p) = &http.proxy_url {
        c.proxy_url = Some(p.parse().map_err(|e| format!("invalid proxy_url: {e}"))?);
    }
    Ok(c)
}

/// The DER bytes of every `CERTIFICATE` block of a PEM text.
fn pem_certificates(pem: &str) -> Result<Vec<Vec<u8>>, String> {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let mut out = Vec::new();
    let mut rest = pem;
    while let Some(start) = rest.find(BEGIN) {
        let after = &rest[start + BEGIN.len()..];
        let Some(end) = after.find(END) else {
            return Err("tls_config.ca_pem: unterminated certificate".to_string());
        };
        let body: String = after[..end].split_whitespace().collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(body)
            .map_err(|e| format!("tls_config.ca_pem: invalid base64: {e}"))?;
        out.push(der);
        rest = &after[end + END.len()..];
    }
    if out.is_empty() {
        return Err("tls_config.ca_pem holds no certificate".to_string());
    }
    Ok(out)
}

/// An error and its sources, joined with `: `.
pub(crate) fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(x) = src {
        let next = x.to_string();
        if !s.contains(&next) {
            s.push_str(": ");
            s.push_str(&next);
        }
        src = x.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_the_client_blocks() {
        let http: HttpClientConfig = profcol_config::yaml::from_str(
            "bearer_token: tok\ntls_config: {insecure_skip_verify: true, server_name: k8s}\nproxy_url: 'http://p:3128'",
        )
        .unwrap();
        let c = from_api_server("https://10.0.0.1:6443", &http).unwrap();
        assert_eq!(c.cluster_url.to_string(), "https://10.0.0.1:6443/");
        assert!(c.auth_info.token.is_some());
        assert!(c.accept_invalid_certs);
        assert_eq!(c.tls_server_name.as_deref(), Some("k8s"));
        assert!(c.proxy_url.is_some());

        let http: HttpClientConfig =
            profcol_config::yaml::from_str("authorization: {type: Token, credentials: abc}")
                .unwrap();
        let c = from_api_server("http://k", &http).unwrap();
        assert_eq!(c.headers[0].1.to_str().unwrap(), "Token abc");
    }

    #[test]
    fn own_namespace_must_not_be_empty() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("namespace");
        std::fs::write(&f, "").unwrap();
        assert!(read_own_namespace(f.to_str().unwrap()).is_err());
        std::fs::write(&f, "monitoring\n").unwrap();
        assert_eq!(
            read_own_namespace(f.to_str().unwrap()).unwrap(),
            "monitoring"
        );
        assert!(read_own_namespace("/nonexistent/ns").is_err());
    }
}
