//! Optional authentication of a server: HTTP basic auth or a bearer token
//! (`basic_auth` / `bearer_token(_file)` of the admin server's
//! `service.telemetry.metrics`, or of a push receiver).
//!
//! As with Prometheus' web config, once auth is configured it applies to
//! every route, the admin server's `/-/healthy` and `/-/ready` included;
//! probes must send the credentials too. Wrong or missing credentials get `401` with a
//! `WWW-Authenticate` challenge. Credential files are re-read on every
//! request (so a rotated file takes effect at once) and compared in constant
//! time. An unreadable file refuses every request (fail closed) and is logged.

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use profcol_config::http_client::BasicAuth;
use profcol_config::Secret;
use std::sync::Arc;

/// A secret given inline or read from a file on every use.
#[derive(Debug, Clone)]
enum Credential {
    Inline(Secret),
    File { field: String, path: String },
}

impl Credential {
    fn new(inline: Option<&Secret>, file: Option<&str>, field: String) -> Option<Self> {
        match (inline, file) {
            (Some(s), _) => Some(Credential::Inline(s.clone())),
            (None, Some(path)) => {
                crate::warn_if_world_readable(&field, path);
                Some(Credential::File {
                    field,
                    path: path.to_string(),
                })
            }
            (None, None) => None,
        }
    }

    async fn load(&self) -> Option<Secret> {
        match self {
            Credential::Inline(s) => Some(s.clone()),
            Credential::File { field, path } => match tokio::fs::read_to_string(path).await {
                Ok(text) => Some(Secret::new(text.trim())),
                Err(e) => {
                    tracing::warn!(field = %field, path, error = %e, "Cannot read the server's credentials file; refusing the request.");
                    None
                }
            },
        }
    }
}

/// What a request to the server must carry.
#[derive(Debug, Clone)]
pub struct ServerAuth(Scheme);

#[derive(Debug, Clone)]
enum Scheme {
    Basic {
        username: String,
        password: Credential,
    },
    Bearer(Credential),
}

impl ServerAuth {
    /// The configured auth, or `None` when the routes are open. `path` is
    /// the key path of the block the keys sit in (named in logs).
    pub fn new(
        basic_auth: Option<&BasicAuth>,
        bearer_token: Option<&Secret>,
        bearer_token_file: Option<&str>,
        path: &str,
    ) -> Option<Arc<Self>> {
        if let Some(b) = basic_auth {
            let password = Credential::new(
                b.password.as_ref(),
                b.password_file.as_deref(),
                format!("{path}::basic_auth::password_file"),
            )?;
            return Some(Arc::new(ServerAuth(Scheme::Basic {
                username: b.username.clone(),
                password,
            })));
        }
        Credential::new(
            bearer_token,
            bearer_token_file,
            format!("{path}::bearer_token_file"),
        )
        .map(|c| Arc::new(ServerAuth(Scheme::Bearer(c))))
    }

    fn challenge(&self) -> HeaderValue {
        HeaderValue::from_static(match self.0 {
            Scheme::Basic { .. } => "Basic realm=\"profcol\", charset=\"UTF-8\"",
            Scheme::Bearer(_) => "Bearer realm=\"profcol\"",
        })
    }

    /// True when the request's `Authorization` header matches.
    async fn allows(&self, headers: &HeaderMap) -> bool {
        let Some(given) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
        else {
            return false;
        };
        let Some((scheme, rest)) = given.trim().split_once(' ') else {
            return false;
        };
        let rest = rest.trim();
        match &self.0 {
            Scheme::Basic { username, password } => {
                if !scheme.eq_ignore_ascii_case("basic") {
                    return false;
                }
                let Some(expected) = password.load().await else {
                    return false;
                };
                let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(rest) else {
                    return false;
                };
                let Some(colon) = decoded.iter().position(|b| *b == b':') else {
                    return false;
                };
                let user_ok = constant_time_eq(&decoded[..colon], username.as_bytes());
                let pass_ok = constant_time_eq(&decoded[colon + 1..], expected.expose().as_bytes());
                user_ok & pass_ok
            }
            Scheme::Bearer(token) => {
                if !scheme.eq_ignore_ascii_case("bearer") {
                    return false;
                }
                let Some(expected) = token.load().await else {
                    return false;
                };
                !expected.is_empty()
                    && constant_time_eq(rest.as_bytes(), expected.expose().as_bytes())
            }
        }
    }
}

/// The middleware: passes authorised requests on, answers the rest with 401.
pub async fn require_auth(
    State(auth): State<Arc<ServerAuth>>,
    req: Request,
    next: Next,
) -> Response {
    if auth.allows(req.headers()).await {
        return next.run(req).await;
    }
    tracing::debug!(
        path = req.uri().path(),
        "Request without valid credentials."
    );
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, auth.challenge())],
        "Unauthorized\n",
    )
        .into_response()
}

/// Compares without stopping at the first difference, so the time taken
/// does not tell how much of a guess was right (only the length may show).
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = u8::from(a.len() != b.len());
    for i in 0..a.len().max(b.len()) {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        diff |= std::hint::black_box(x ^ y);
    }
    diff == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_eq_compares_whole_values() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret2"));
        assert!(!constant_time_eq(b"", b"x"));
        assert!(constant_time_eq(b"", b""));
    }
}
