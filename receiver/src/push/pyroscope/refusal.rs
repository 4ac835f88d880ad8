//! A refused request: its kind (which decides the HTTP status, the Connect
//! code, the metric's reason and whether to send `Retry-After`) and the
//! message the sender is told. `/ingest` answers in plain text, the push
//! API with a Connect error (`{"code": …, "message": …}`).

use crate::push::DOWNSTREAM_REFUSED;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use profcol_pdata::Error as PdataError;

/// Seconds a sender is asked to wait after a 429.
pub const RETRY_AFTER_SECS: u64 = 5;

/// What went wrong, coarsely.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The query, headers or body are wrong (400).
    BadRequest,
    /// A label breaks a rule or a cap (400).
    Labels,
    /// A profile does not decode (400).
    Decode,
    /// Over `max_request_body_size` or `max_decompressed_size` (413).
    TooLarge,
    /// A profile format profcol does not take (415).
    UnsupportedFormat,
    /// A content type profcol does not take (415).
    UnsupportedMediaType,
    /// A `Content-Encoding` profcol does not take (415; Connect code
    /// `unimplemented`, as the Connect protocol asks).
    UnsupportedEncoding,
    /// The body did not arrive within `read_timeout` (408).
    Timeout,
    /// The pipeline did not take it, or memory is over its limit (429).
    Refused,
    /// A task failed (500).
    Internal,
}

impl Kind {
    /// The `reason` label of the refusal counter.
    pub fn reason(self) -> &'static str {
        match self {
            Kind::BadRequest => "bad_request",
            Kind::Labels => "labels",
            Kind::Decode => "decode",
            Kind::TooLarge => "too_large",
            Kind::UnsupportedFormat => "unsupported_format",
            Kind::UnsupportedMediaType => "unsupported_media_type",
            Kind::UnsupportedEncoding => "unsupported_encoding",
            Kind::Timeout => "timeout",
            Kind::Refused => DOWNSTREAM_REFUSED,
            Kind::Internal => "internal",
        }
    }

    pub fn status(self) -> StatusCode {
        match self {
            Kind::BadRequest | Kind::Labels | Kind::Decode => StatusCode::BAD_REQUEST,
            Kind::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Kind::UnsupportedFormat | Kind::UnsupportedMediaType | Kind::UnsupportedEncoding => {
                StatusCode::UNSUPPORTED_MEDIA_TYPE
            }
            Kind::Timeout => StatusCode::REQUEST_TIMEOUT,
            Kind::Refused => StatusCode::TOO_MANY_REQUESTS,
            Kind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The Connect error code.
    pub fn connect_code(self) -> &'static str {
        match self {
            Kind::BadRequest
            | Kind::Labels
            | Kind::Decode
            | Kind::TooLarge
            | Kind::UnsupportedFormat
            | Kind::UnsupportedMediaType => "invalid_argument",
            Kind::UnsupportedEncoding => "unimplemented",
            Kind::Timeout => "deadline_exceeded",
            Kind::Refused => "resource_exhausted",
            Kind::Internal => "internal",
        }
    }
}

/// A refusal and what the sender is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub kind: Kind,
    pub message: String,
}

impl Refusal {
    pub fn new(kind: Kind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(Kind::BadRequest, message)
    }

    /// A profile that did not decode, `what` naming it (`part "profile"`,
    /// `series 0 sample 1`): over a cap (named by its key) or malformed.
    pub fn from_decode(what: &str, e: &PdataError, max_decompressed: usize) -> Self {
        match e {
            PdataError::TooLarge { .. } => Self::new(
                Kind::TooLarge,
                format!(
                    "{what}: the request inflates past max_decompressed_size ({max_decompressed} bytes)"
                ),
            ),
            PdataError::TooMany { what: table, count, limit } => {
                let key = match *table {
                    "samples" => "max_samples_per_profile",
                    "labels on one sample" => "max_labels_per_sample",
                    _ => "pprof table size",
                };
                Self::new(
                    Kind::Decode,
                    format!("{what}: the profile has {count} {table}, more than {key} ({limit})"),
                )
            }
            other => Self::new(Kind::Decode, format!("{what}: {other}")),
        }
    }

    fn retry_after(&self, response: &mut Response) {
        if self.kind == Kind::Refused {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
        }
    }

    /// The `/ingest` answer: the status and the message as plain text.
    pub fn ingest_response(&self) -> Response {
        let mut r = (
            self.kind.status(),
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!("{}\n", self.message),
        )
            .into_response();
        self.retry_after(&mut r);
        r
    }

    /// The push API's answer: a Connect error.
    pub fn connect_response(&self) -> Response {
        let body = serde_json::json!({
            "code": self.kind.connect_code(),
            "message": self.message,
        });
        let mut r = (
            self.kind.status(),
            [(header::CONTENT_TYPE, "application/json")],
            body.to_string(),
        )
            .into_response();
        self.retry_after(&mut r);
        if self.kind == Kind::UnsupportedMediaType {
            r.headers_mut().insert(
                header::HeaderName::from_static("accept-post"),
                HeaderValue::from_static("application/proto, application/json"),
            );
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_and_decode_errors_are_named() {
        let r = Refusal::from_decode("part \"profile\"", &PdataError::TooLarge { limit: 9 }, 64);
        assert_eq!(r.kind, Kind::TooLarge);
        assert_eq!(
            r.message,
            "part \"profile\": the request inflates past max_decompressed_size (64 bytes)"
        );
        let r = Refusal::from_decode(
            "series 0 sample 0",
            &PdataError::TooMany {
                what: "samples",
                count: 5,
                limit: 4,
            },
            64,
        );
        assert_eq!(
            r.message,
            "series 0 sample 0: the profile has 5 samples, more than max_samples_per_profile (4)"
        );
        let r = Refusal::from_decode("x", &PdataError::NoSampleTypes, 64);
        assert_eq!(
            (r.kind, r.message.as_str()),
            (Kind::Decode, "x: invalid pprof: no sample types")
        );
    }

    #[test]
    fn answers() {
        let r = Refusal::new(Kind::Refused, "queue full").connect_response();
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(r.headers()[header::RETRY_AFTER], "5");
        let r = Refusal::new(Kind::UnsupportedMediaType, "no").connect_response();
        assert_eq!(
            r.headers()["accept-post"],
            "application/proto, application/json"
        );
        let r = Refusal::bad_request("x").ingest_response();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        assert!(r.headers().get(header::RETRY_AFTER).is_none());
        for k in [
            Kind::BadRequest,
            Kind::TooLarge,
            Kind::UnsupportedEncoding,
            Kind::Timeout,
            Kind::Internal,
        ] {
            assert!(!k.reason().is_empty() && !k.connect_code().is_empty());
        }
        assert_eq!(Kind::Refused.reason(), DOWNSTREAM_REFUSED);
    }
}
