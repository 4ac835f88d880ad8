//! OAuth2 client-credentials tokens (RFC 6749 §4.4) for the `oauth2` block:
//! a form POST to `token_url`, the token cached until shortly before it
//! expires, fetched through the block's own TLS and proxy settings.
//!
//! Like Go's `golang.org/x/oauth2`, the client id and secret are sent first
//! as HTTP basic auth (each URL-encoded); when the endpoint answers that with
//! an error status, the request is repeated with them in the form body and
//! the style that worked is remembered.
//!
//! Caching: a token is reused until a tenth of its `expires_in` before it
//! ends (at most 10 s early, Go's margin); without `expires_in` it is kept
//! for good. A changed client secret (rotated `client_secret_file`) drops it.

use crate::auth::sensitive;
use crate::credential::Credential;
use crate::error::Error;
use profcol_config::http_client::OAuth2;
use profcol_config::Secret;
use reqwest::header::{HeaderValue, ACCEPT, CONTENT_TYPE};
use reqwest::Url;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// Longest safety margin taken off a token's lifetime (Go's `expiryDelta`).
const MAX_MARGIN: Duration = Duration::from_secs(10);
/// Bound on one token request, since it runs inside the caller's `send`.
const TOKEN_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Copy, PartialEq)]
enum Style {
    Unknown,
    Header,
    Params,
}

struct Cached {
    header: HeaderValue,
    /// `None`: the server gave no lifetime; the token is kept until the
    /// client secret changes.
    refresh_at: Option<Instant>,
    /// The secret the token was obtained with; a rotated secret drops it.
    secret: Secret,
}

struct State {
    token: Option<Cached>,
    style: Style,
}

pub(crate) struct TokenSource {
    client: reqwest::Client,
    token_url: Url,
    client_id: String,
    secret: Credential,
    form: Vec<(String, String)>,
    state: Mutex<State>,
}

impl std::fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSource")
            .field(
                "token_url",
                &profcol_config::redact::redact_url(&self.token_url),
            )
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

impl TokenSource {
    pub(crate) fn new(cfg: &OAuth2, enable_http2: bool, user_agent: &str) -> Result<Self, Error> {
        let token_url = Url::parse(&cfg.token_url)
            .map_err(|e| Error::invalid("oauth2::token_url", format!("invalid URL: {e}")))?;
        let tls =
            crate::tls::client_config(cfg.tls_config.as_ref(), "oauth2::tls_config", enable_http2)?;
        let mut builder = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .user_agent(user_agent)
            .timeout(TOKEN_TIMEOUT)
            .no_proxy();
        if !enable_http2 {
            builder = builder.http1_only();
        }
        for proxy in crate::proxy::build(&cfg.proxy(), "oauth2")? {
            builder = builder.proxy(proxy);
        }
        let client = builder.build().map_err(Error::Build)?;

        let mut form = vec![("grant_type".to_string(), "client_credentials".to_string())];
        if !cfg.scopes.is_empty() {
            form.push(("scope".into(), cfg.scopes.join(" ")));
        }
        for (k, v) in &cfg.endpoint_params {
            // grant_type may be replaced for non-compliant servers, as Go allows.
            if k == "grant_type" {
                form[0].1 = v.clone();
            } else if form.iter().any(|(have, _)| have == k)
                || k == "client_id"
                || k == "client_secret"
            {
                return Err(Error::invalid(
                    format!("oauth2::endpoint_params::{k}"),
                    "cannot overwrite a parameter the client sets itself",
                ));
            } else {
                form.push((k.clone(), v.clone()));
            }
        }
        Ok(Self {
            client,
            token_url,
            client_id: cfg.client_id.clone(),
            secret: Credential::new(
                cfg.client_secret.as_ref(),
                cfg.client_secret_file.as_deref(),
                "oauth2::client_secret_file",
            ),
            form,
            state: Mutex::new(State {
                token: None,
                style: Style::Unknown,
            }),
        })
    }

    /// The `Authorization` header value, from the cache or a new token.
    /// Concurrent callers wait for one token request instead of each sending one.
    pub(crate) async fn header(&self) -> Result<HeaderValue, Error> {
        let secret = self.secret.load().await?;
        let mut state = self.state.lock().await;
        if let Some(c) = &state.token {
            let fresh = c.refresh_at.is_none_or(|at| Instant::now() < at);
            if fresh && c.secret == secret {
                return Ok(c.header.clone());
            }
        }
        state.token = None;
        let (mut cached, style) = self.fetch(&secret, state.style).await?;
        cached.secret = secret;
        let header = cached.header.clone();
        state.token = Some(cached);
        state.style = style;
        Ok(header)
    }

    async fn fetch(&self, secret: &Secret, style: Style) -> Result<(Cached, Style), Error> {
        let first = if style == Style::Params {
            Style::Params
        } else {
            Style::Header
        };
        match self.request(secret, first).await {
            Ok(t) => Ok((t, first)),
            Err(Failure::Status(_)) if style == Style::Unknown => {
                match self.request(secret, Style::Params).await {
                    Ok(t) => Ok((t, Style::Params)),
                    Err(f) => Err(self.error(f)),
                }
            }
            Err(f) => Err(self.error(f)),
        }
    }

    fn error(&self, f: Failure) -> Error {
        let message = match f {
            Failure::Status(m) | Failure::Other(m) => m,
        };
        Error::OAuth2 {
            token_url: profcol_config::redact::redact_url(&self.token_url),
            message: profcol_config::redact::redact_url_in(&message, &self.token_url),
        }
    }

    async fn request(&self, secret: &Secret, style: Style) -> Result<Cached, Failure> {
        let mut form = self.form.clone();
        let mut req = self
            .client
            .post(self.token_url.clone())
            .header(ACCEPT, "application/json");
        if style == Style::Header {
            req = req.basic_auth(urlencode(&self.client_id), Some(urlencode(secret.expose())));
        } else {
            form.push(("client_id".into(), self.client_id.clone()));
            if !secret.is_empty() {
                form.push(("client_secret".into(), secret.expose().to_string()));
            }
        }
        let started = Instant::now();
        let resp = req
            .form(&form)
            .send()
            .await
            .map_err(|e| Failure::Other(crate::error::Error::Request(e).to_string()))?;
        let status = resp.status();
        let form_encoded = resp
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| {
                ct.starts_with("application/x-www-form-urlencoded") || ct.starts_with("text/plain")
            });
        let body = resp.bytes().await.map_err(|e| {
            Failure::Other(format!(
                "cannot read the response: {}",
                crate::error::Error::Request(e)
            ))
        })?;
        let fields = if form_encoded {
            parse_form(&body)
        } else {
            parse_json(&body)
        };
        if !status.is_success() {
            return Err(Failure::Status(describe_error(status, fields.as_ref())));
        }
        let fields =
            fields.ok_or_else(|| Failure::Other("the response is not a JSON token".into()))?;
        token(fields, started)
    }
}

#[derive(Debug)]
enum Failure {
    /// The endpoint answered with an error status.
    Status(String),
    Other(String),
}

#[derive(Default)]
struct Fields {
    access_token: String,
    token_type: String,
    expires_in: Option<f64>,
    error: Option<String>,
    error_description: Option<String>,
}

fn token(f: Fields, started: Instant) -> Result<Cached, Failure> {
    if f.access_token.is_empty() {
        return Err(Failure::Other("the response has no access_token".into()));
    }
    let kind = match f.token_type.to_ascii_lowercase().as_str() {
        "" | "bearer" => "Bearer".to_string(),
        "mac" => "MAC".to_string(),
        "basic" => "Basic".to_string(),
        _ => f.token_type.clone(),
    };
    let header = sensitive(
        format!("{kind} {}", f.access_token).into_bytes(),
        "oauth2 access_token",
    )
    .map_err(|e| Failure::Other(e.to_string()))?;
    let refresh_at = f
        .expires_in
        .filter(|s| s.is_finite() && *s > 0.0)
        .map(|secs| {
            let life = Duration::from_secs_f64(secs.min(1e9));
            started + life - margin(life)
        });
    Ok(Cached {
        header,
        refresh_at,
        secret: Secret::default(),
    })
}

/// Refresh a tenth of the lifetime early, at most [`MAX_MARGIN`], so short
/// test tokens still get cached.
fn margin(life: Duration) -> Duration {
    (life / 10).min(MAX_MARGIN)
}

fn describe_error(status: reqwest::StatusCode, f: Option<&Fields>) -> String {
    let mut m = format!("status {status}");
    if let Some(code) = f.and_then(|f| f.error.as_deref()) {
        m.push_str(&format!(", error {code:?}"));
    }
    if let Some(d) = f.and_then(|f| f.error_description.as_deref()) {
        m.push_str(&format!(" ({d})"));
    }
    m
}

fn parse_json(body: &[u8]) -> Option<Fields> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let obj = v.as_object()?;
    let text = |k: &str| obj.get(k).and_then(|v| v.as_str()).map(str::to_string);
    let expires_in = obj.get("expires_in").and_then(|v| match v {
        serde_json::Value::Number(n) => n.as_f64(),
        serde_json::Value::String(s) => s.parse().ok(),
        _ => None,
    });
    Some(Fields {
        access_token: text("access_token").unwrap_or_default(),
        token_type: text("token_type").unwrap_or_default(),
        expires_in,
        error: text("error"),
        error_description: text("error_description"),
    })
}

fn parse_form(body: &[u8]) -> Option<Fields> {
    let mut f = Fields::default();
    for (k, v) in url::form_urlencoded::parse(body) {
        match k.as_ref() {
            "access_token" => f.access_token = v.into_owned(),
            "token_type" => f.token_type = v.into_owned(),
            "expires_in" => f.expires_in = v.parse().ok(),
            "error" => f.error = Some(v.into_owned()),
            "error_description" => f.error_description = Some(v.into_owned()),
            _ => {}
        }
    }
    Some(f)
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_and_form_tokens_parse() {
        let j = parse_json(br#"{"access_token":"abc","token_type":"bearer","expires_in":"60"}"#)
            .unwrap();
        assert_eq!((j.access_token.as_str(), j.expires_in), ("abc", Some(60.0)));
        let f = parse_form(b"access_token=x%20y&token_type=mac&expires_in=5").unwrap();
        let c = token(f, Instant::now()).unwrap();
        assert_eq!(c.header.to_str().unwrap(), "MAC x y");
        assert!(c.header.is_sensitive());
        assert!(c.refresh_at.unwrap() > Instant::now() + Duration::from_secs(4));
    }

    #[test]
    fn margin_is_a_tenth_capped_at_ten_seconds() {
        assert_eq!(margin(Duration::from_secs(2)), Duration::from_millis(200));
        assert_eq!(margin(Duration::from_secs(3600)), MAX_MARGIN);
    }

    #[test]
    fn missing_token_and_error_bodies_are_described() {
        assert!(token(Fields::default(), Instant::now()).is_err());
        let f = parse_json(br#"{"error":"invalid_client","error_description":"bad id"}"#);
        let m = describe_error(reqwest::StatusCode::UNAUTHORIZED, f.as_ref());
        assert_eq!(
            m,
            "status 401 Unauthorized, error \"invalid_client\" (bad id)"
        );
    }
}
