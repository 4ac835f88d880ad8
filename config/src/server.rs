//! The blocks every HTTP server of profcol shares — the admin server
//! (`service.telemetry.metrics`) and the push receivers (`otlp`,
//! `pyroscope`): TLS with reloadable certificate files, and one kind of
//! auth (`basic_auth`, or `bearer_token` / `bearer_token_file`).
//!
//! The structs only hold and check the keys; `profcol-http`'s `server`
//! module builds the listener and the auth middleware from them.

use crate::decode::Validate;
use crate::error::{join_path, Problem};
use crate::http_client::{BasicAuth, TlsVersion};
use crate::secret::Secret;
use serde::{Deserialize, Serialize};

/// A server's certificate and key (PEM files, re-read when they change)
/// and, optionally, the CA that client certificates must chain to (then a
/// client certificate is required).
#[derive(Debug, Clone, Default, Serialize, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerTlsConfig {
    #[serde(default)]
    pub cert_file: String,
    #[serde(default)]
    pub key_file: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_ca_file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_version: Option<TlsVersion>,
}

impl Validate for ServerTlsConfig {
    fn validate(&self, path: &str, problems: &mut Vec<Problem>) {
        for (name, value) in [("cert_file", &self.cert_file), ("key_file", &self.key_file)] {
            if value.is_empty() {
                problems.push(Problem::new(
                    join_path(path, name),
                    "is required when tls is set",
                ));
            }
        }
        if self.client_ca_file.as_deref() == Some("") {
            problems.push(Problem::new(
                join_path(path, "client_ca_file"),
                "must not be empty (leave it out to accept clients without certificates)",
            ));
        }
        if let Some(problem) = self.min_version.as_ref().and_then(TlsVersion::problem) {
            problems.push(Problem::new(join_path(path, "min_version"), problem));
        }
    }
}

/// Checks a server's auth keys found under `path`: at most one kind, no
/// empty credential, a username and exactly one password source.
pub fn validate_auth(
    basic_auth: Option<&BasicAuth>,
    bearer_token: Option<&Secret>,
    bearer_token_file: Option<&str>,
    path: &str,
    problems: &mut Vec<Problem>,
) {
    let field = |name: &str| join_path(path, name);
    let bearer = bearer_token.is_some() || bearer_token_file.is_some();
    if bearer_token.is_some() && bearer_token_file.is_some() {
        problems.push(Problem::new(
            field("bearer_token"),
            "at most one of bearer_token and bearer_token_file may be set",
        ));
    }
    if bearer_token.is_some_and(Secret::is_empty) || bearer_token_file == Some("") {
        let which = if bearer_token.is_some() {
            "bearer_token"
        } else {
            "bearer_token_file"
        };
        problems.push(Problem::new(field(which), "must not be empty"));
    }
    let Some(b) = basic_auth else {
        return;
    };
    let bp = field("basic_auth");
    if bearer {
        problems.push(Problem::new(
            bp.clone(),
            "at most one of basic_auth and bearer_token/bearer_token_file may be set",
        ));
    }
    if b.username.is_empty() {
        problems.push(Problem::new(join_path(&bp, "username"), "is required"));
    }
    match (&b.password, &b.password_file) {
        (Some(_), Some(_)) => problems.push(Problem::new(
            join_path(&bp, "password"),
            "at most one of password and password_file may be set",
        )),
        (None, None) => problems.push(Problem::new(
            join_path(&bp, "password"),
            "one of password and password_file is required",
        )),
        (Some(p), None) if p.is_empty() => problems.push(Problem::new(
            join_path(&bp, "password"),
            "must not be empty",
        )),
        (None, Some(f)) if f.is_empty() => problems.push(Problem::new(
            join_path(&bp, "password_file"),
            "must not be empty",
        )),
        _ => {}
    }
}
