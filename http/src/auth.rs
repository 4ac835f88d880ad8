//! The `Authorization` header for each request, from `bearer_token(_file)`,
//! `basic_auth`, `authorization` or `oauth2`. Credential files are re-read on
//! every request.

use crate::credential::Credential;
use crate::error::Error;
use crate::oauth2::TokenSource;
use base64::Engine;
use profcol_config::HttpClientConfig;
use reqwest::header::HeaderValue;
use std::sync::Arc;

#[derive(Debug)]
pub(crate) enum Auth {
    None,
    /// `<scheme> <credentials>`; nothing is sent when the credentials are empty.
    Scheme {
        scheme: String,
        credentials: Credential,
        inline_field: &'static str,
    },
    Basic {
        username: String,
        password: Credential,
    },
    OAuth2(Arc<TokenSource>),
}

impl Auth {
    pub(crate) fn from_config(cfg: &HttpClientConfig, user_agent: &str) -> Result<Self, Error> {
        if cfg.bearer_token.is_some() || cfg.bearer_token_file.is_some() {
            return Ok(Auth::Scheme {
                scheme: "Bearer".into(),
                credentials: Credential::new(
                    cfg.bearer_token.as_ref(),
                    cfg.bearer_token_file.as_deref(),
                    "bearer_token_file",
                ),
                inline_field: "bearer_token",
            });
        }
        if let Some(a) = &cfg.authorization {
            let scheme = a
                .kind
                .clone()
                .filter(|k| !k.is_empty())
                .unwrap_or_else(|| "Bearer".into());
            if scheme.eq_ignore_ascii_case("basic") {
                return Err(Error::invalid(
                    "authorization::type",
                    "authorization type cannot be set to \"basic\", use \"basic_auth\" instead",
                ));
            }
            return Ok(Auth::Scheme {
                scheme,
                credentials: Credential::new(
                    a.credentials.as_ref(),
                    a.credentials_file.as_deref(),
                    "authorization::credentials_file",
                ),
                inline_field: "authorization::credentials",
            });
        }
        if let Some(b) = &cfg.basic_auth {
            return Ok(Auth::Basic {
                username: b.username.clone(),
                password: Credential::new(
                    b.password.as_ref(),
                    b.password_file.as_deref(),
                    "basic_auth::password_file",
                ),
            });
        }
        if let Some(o) = &cfg.oauth2 {
            return Ok(Auth::OAuth2(Arc::new(TokenSource::new(
                o,
                cfg.enable_http2,
                user_agent,
            )?)));
        }
        Ok(Auth::None)
    }

    /// The header to add, or `None` when this client sends no credentials.
    pub(crate) async fn header(&self) -> Result<Option<HeaderValue>, Error> {
        match self {
            Auth::None => Ok(None),
            Auth::Scheme {
                scheme,
                credentials,
                inline_field,
            } => {
                let value = credentials.load().await?;
                if value.is_empty() {
                    return Ok(None);
                }
                let field = credentials.describe(inline_field);
                sensitive(format!("{scheme} {}", value.expose()).into_bytes(), &field).map(Some)
            }
            Auth::Basic { username, password } => {
                let pw = password.load().await?;
                let raw = format!("{username}:{}", pw.expose());
                let encoded = base64::engine::general_purpose::STANDARD.encode(raw);
                sensitive(format!("Basic {encoded}").into_bytes(), "basic_auth").map(Some)
            }
            Auth::OAuth2(source) => source.header().await.map(Some),
        }
    }
}

/// A header value flagged sensitive (hidden from Debug and HPACK indexing).
pub(crate) fn sensitive(bytes: Vec<u8>, field: &str) -> Result<HeaderValue, Error> {
    let mut v = HeaderValue::from_bytes(&bytes).map_err(|_| {
        Error::invalid(
            field,
            "contains characters that are not allowed in an HTTP header",
        )
    })?;
    v.set_sensitive(true);
    Ok(v)
}
