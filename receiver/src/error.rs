//! The crate's one error type: invalid configs, client construction, and
//! every way a scrape or a discovery refresh can fail. Messages never carry
//! a secret (URLs in them are already redacted).

use profcol_config::Problem;

/// Everything the receivers can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The component's configuration has problems.
    #[error("{}", format_problems(.0))]
    InvalidConfig(Vec<Problem>),

    /// The HTTP client could not be built from the client settings.
    #[error("cannot build the HTTP client: {0}")]
    Client(#[from] profcol_http::Error),

    /// A receiver must be started from inside a tokio runtime.
    #[error("the receiver must be started inside a tokio runtime")]
    NoRuntime,

    /// A discovered target cannot be scraped (no address, bad scheme, …).
    #[error("invalid target: {0}")]
    InvalidTarget(String),

    /// The request could not be sent or the response head not received.
    #[error("request failed: {0}")]
    Request(String),

    /// The request and the body took longer than `scrape_timeout`.
    #[error("scrape timed out after {0}")]
    Timeout(profcol_config::Duration),

    /// Decompressing and decoding the body took longer than its own bound.
    #[error("decoding the profile took longer than {0} (the machine is too loaded to keep up)")]
    DecodeTimeout(profcol_config::Duration),

    /// The target answered with any status but 200 OK.
    #[error("server returned HTTP status {status}{}", describe_body(.content_type, .body_start))]
    Status {
        status: u16,
        content_type: String,
        body_start: String,
    },

    /// Reading the body failed part way.
    #[error("reading the response body failed: {0}")]
    Body(String),

    /// The body is larger than `max_body_size`.
    #[error("response body is larger than max_body_size ({limit} bytes)")]
    BodyTooLarge { limit: usize },

    /// The target answered 200 OK with nothing in the body.
    #[error("empty response body (HTTP status {status}, content type {content_type:?})")]
    EmptyBody { status: u16, content_type: String },

    /// The body is text (HTML, JSON, …) rather than a pprof profile.
    #[error("the target did not return a pprof profile (HTTP status {status}, content type {content_type:?}){}", starts_with(.body_start))]
    NotPprof {
        status: u16,
        content_type: String,
        body_start: String,
    },

    /// The body looked binary but does not decode as pprof.
    #[error("cannot decode the body as pprof (HTTP status {status}, content type {content_type:?}, first bytes {first_bytes}): {source}")]
    Decode {
        status: u16,
        content_type: String,
        /// Hex of the first bytes as served.
        first_bytes: String,
        #[source]
        source: profcol_pdata::Error,
    },

    /// The decompressed body is larger than `max_body_size`.
    #[error("decompressed profile is larger than max_body_size ({limit} bytes)")]
    DecompressedTooLarge { limit: usize },

    /// An input is over one of the configured limits; `key` names it.
    #[error("{what}, more than {key} ({limit})")]
    Limit {
        /// The config key of the limit, e.g. `label_limit`.
        key: &'static str,
        limit: usize,
        what: String,
    },

    /// The collector is over its memory bound; the scrape was not started.
    #[error("scrape refused: {0}")]
    MemoryLimit(profcol_runtime::MemoryOver),

    /// No scrape slot became free within the scrape timeout (this
    /// receiver's share of the process's bound on scrapes in flight, from
    /// its open-file limit).
    #[error("scrape not started: {limit} scrapes of this receiver in flight (its share of the bound derived from the open-file limit) for {waited}")]
    ConcurrencyLimit {
        limit: usize,
        waited: profcol_config::Duration,
    },

    /// A service discovery refresh failed; the last good targets stay.
    #[error("{source_name}: {message}")]
    Discovery {
        source_name: String,
        message: String,
    },
}

impl Error {
    /// A short, stable reason for the `reason` label of the error counter.
    pub fn reason(&self) -> &'static str {
        match self {
            Error::InvalidConfig(_) | Error::Client(_) | Error::NoRuntime => "config",
            Error::InvalidTarget(_) => "invalid_target",
            Error::Request(_) => "request",
            Error::Timeout(_) => "timeout",
            Error::DecodeTimeout(_) => "decode_timeout",
            Error::Status { .. } => "http_status",
            Error::Body(_) => "body",
            Error::BodyTooLarge { .. } | Error::DecompressedTooLarge { .. } => "too_large",
            Error::EmptyBody { .. } => "empty_body",
            Error::NotPprof { .. } => "not_pprof",
            Error::Decode { .. } => "decode",
            Error::Discovery { .. } => "discovery",
            Error::Limit { key, .. } => key,
            Error::MemoryLimit(_) => "memory_limit",
            Error::ConcurrencyLimit { .. } => "concurrency_limit",
        }
    }
}

fn starts_with(body_start: &str) -> String {
    if body_start.is_empty() {
        String::new()
    } else {
        format!(", body starts with {body_start:?}")
    }
}

fn describe_body(content_type: &str, body_start: &str) -> String {
    let mut out = String::new();
    if !content_type.is_empty() {
        out.push_str(&format!(" (content type {content_type:?})"));
    }
    if !body_start.is_empty() {
        out.push_str(&format!(", body starts with {body_start:?}"));
    }
    out
}

fn format_problems(problems: &[Problem]) -> String {
    let mut out = format!(
        "invalid configuration ({} problem{})",
        problems.len(),
        if problems.len() == 1 { "" } else { "s" }
    );
    for p in problems {
        out.push_str("\n  - ");
        out.push_str(&p.to_string());
    }
    out
}
