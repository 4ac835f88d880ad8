//! The crate's one error type. Messages name the config field and file that
//! caused the problem and never contain a secret value.

use std::fmt;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A credential, CA, certificate or key file could not be read.
    #[error("cannot read {field} {path}: {source}")]
    ReadFile {
        field: String,
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// A configured value cannot be used (bad PEM, header characters, …).
    #[error("{field}: {message}")]
    InvalidConfig { field: String, message: String },
    /// A configured feature that this client cannot honour.
    #[error("{field}: {message}")]
    Unsupported { field: String, message: String },
    /// reqwest refused to build the client.
    #[error("cannot build the HTTP client: {}", Chain(.0))]
    Build(#[source] reqwest::Error),
    /// Sending the request or receiving the response head failed; the
    /// reqwest error is kept as the source (`is_timeout()`, `is_connect()`).
    #[error("{}", Chain(.0))]
    Request(#[source] reqwest::Error),
    /// The oauth2 token endpoint did not hand out a token.
    #[error("oauth2 token request to {token_url} failed: {message}")]
    OAuth2 { token_url: String, message: String },
}

impl Error {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::InvalidConfig {
            field: field.into(),
            message: message.into(),
        }
    }

    /// The underlying reqwest error, when there is one.
    pub fn reqwest(&self) -> Option<&reqwest::Error> {
        match self {
            Error::Build(e) | Error::Request(e) => Some(e),
            _ => None,
        }
    }

    /// True when the request timed out.
    pub fn is_timeout(&self) -> bool {
        self.reqwest().is_some_and(reqwest::Error::is_timeout)
    }

    /// True when no connection could be made.
    pub fn is_connect(&self) -> bool {
        self.reqwest().is_some_and(reqwest::Error::is_connect)
    }
}

/// reqwest's own message plus the causes below it ("error sending request
/// for url (…): client error (Connect): tcp connect error: Connection
/// refused"), since a log line with `%e` would otherwise lose the reason.
/// URLs in it are redacted (secret-looking query values hidden).
struct Chain<'a>(&'a reqwest::Error);

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut text = self.0.to_string();
        let mut cur = std::error::Error::source(self.0);
        while let Some(e) = cur {
            text.push_str(": ");
            text.push_str(&e.to_string());
            cur = e.source();
        }
        f.write_str(&profcol_config::redact::redact_urls_in_text(&text))
    }
}
