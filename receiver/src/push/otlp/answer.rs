//! What the receiver answers, over both protocols: the OTLP responses and
//! how each refusal maps to a gRPC status code and an HTTP status.
//!
//! | refusal | gRPC | HTTP | retried by an OTLP client |
//! |---|---|---|---|
//! | body does not decode, bad index, bad frame | `INVALID_ARGUMENT` | 400 | no |
//! | over a size limit | `RESOURCE_EXHAUSTED` (no `RetryInfo`) | 413 | no |
//! | pipeline refused, memory limit | `RESOURCE_EXHAUSTED` + `RetryInfo` | 429 + `Retry-After` | yes |
//! | other downstream failure | `UNAVAILABLE` | 503 | yes |
//! | unsupported `Content-Type` | — | 415 | no |
//! | unsupported content / message encoding | `UNIMPLEMENTED` | 415 | no |
//! | unknown method or path | `UNIMPLEMENTED` | 404 | no |
//! | not `POST` | `UNIMPLEMENTED` | 405 | no |
//! | missing or wrong credentials | `UNAUTHENTICATED` | 401 | no |
//! | body not read within `read_timeout` | — | 408 | no |
//!
//! Error bodies are a `google.rpc.Status` (OTLP/HTTP: protobuf, or its JSON
//! form when the request was JSON; OTLP/gRPC: in `grpc-status-details-bin`),
//! with a `google.rpc.RetryInfo` detail when the sender should retry and a
//! `google.rpc.BadRequest` one describing bad data. A request is taken
//! whole or refused whole: success is always the empty
//! `ExportProfilesServiceResponse` (no `partial_success`).

use axum::body::Body;
use axum::http::{header, HeaderValue, Response, StatusCode};
use base64::Engine;
use bytes::{BufMut, Bytes, BytesMut};
use prost::encoding::{encode_key, encode_varint, WireType};
use std::time::Duration;

/// gRPC status codes (grpc/doc/statuscodes.md).
pub mod code {
    pub const OK: i32 = 0;
    pub const INVALID_ARGUMENT: i32 = 3;
    pub const RESOURCE_EXHAUSTED: i32 = 8;
    pub const UNIMPLEMENTED: i32 = 12;
    pub const INTERNAL: i32 = 13;
    pub const UNAVAILABLE: i32 = 14;
    pub const UNAUTHENTICATED: i32 = 16;
}

// google/rpc/status.proto: Status.
const STATUS_CODE: u32 = 1;
const STATUS_MESSAGE: u32 = 2;
const STATUS_DETAILS: u32 = 3;
// google/protobuf/any.proto: Any.
const ANY_TYPE_URL: u32 = 1;
const ANY_VALUE: u32 = 2;
// google/rpc/error_details.proto: RetryInfo, BadRequest, FieldViolation.
const RETRY_INFO_RETRY_DELAY: u32 = 1;
const BAD_REQUEST_FIELD_VIOLATIONS: u32 = 1;
const FIELD_VIOLATION_DESCRIPTION: u32 = 2;
// google/protobuf/duration.proto: Duration.
const DURATION_SECONDS: u32 = 1;
const DURATION_NANOS: u32 = 2;

pub const RETRY_INFO_TYPE: &str = "type.googleapis.com/google.rpc.RetryInfo";
pub const BAD_REQUEST_TYPE: &str = "type.googleapis.com/google.rpc.BadRequest";

/// How long a refused sender is asked to wait (`RetryInfo.retry_delay`,
/// `Retry-After`).
pub const RETRY_DELAY: Duration = Duration::from_secs(5);

/// `Content-Type` of OTLP/HTTP protobuf and JSON bodies.
pub const PROTOBUF: &str = "application/x-protobuf";
pub const JSON: &str = "application/json";
/// `Content-Type` of gRPC.
pub const GRPC: &str = "application/grpc";

/// The encoding of an OTLP/HTTP request, and so of its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Protobuf,
    Json,
}

impl Format {
    /// The format a `Content-Type` names (parameters ignored, any case).
    pub fn from_content_type(value: &str) -> Option<Self> {
        let media = value.split(';').next().unwrap_or_default().trim();
        if media.eq_ignore_ascii_case(PROTOBUF) {
            Some(Format::Protobuf)
        } else if media.eq_ignore_ascii_case(JSON) {
            Some(Format::Json)
        } else {
            None
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Protobuf => PROTOBUF,
            Format::Json => JSON,
        }
    }
}

/// Why a request was not taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The body does not decode or is not a valid request: permanent.
    BadRequest(String),
    /// Over a size limit: permanent.
    TooLarge(String),
    /// The pipeline refused or memory is over its limit: retry later.
    /// `reason` is the metric label.
    Overloaded {
        message: String,
        reason: &'static str,
    },
    /// Another downstream failure: retryable.
    Unavailable(String),
    /// A `Content-Type` that is neither OTLP protobuf nor JSON.
    UnsupportedMediaType(String),
    /// A content or message encoding profcol does not decode; `accepted`
    /// lists what it does.
    UnsupportedEncoding { encoding: String, accepted: String },
    /// No such method or path.
    NotFound(String),
    /// Not `POST`.
    MethodNotAllowed(String),
    /// Missing or wrong credentials.
    Unauthenticated,
    /// The body did not arrive within `read_timeout`.
    Timeout(String),
    /// profcol failed (a task died).
    Internal(String),
}

impl Refusal {
    /// The developer-facing message (`Status.message`).
    pub fn message(&self) -> &str {
        match self {
            Refusal::BadRequest(m)
            | Refusal::TooLarge(m)
            | Refusal::Overloaded { message: m, .. }
            | Refusal::Unavailable(m)
            | Refusal::UnsupportedMediaType(m)
            | Refusal::NotFound(m)
            | Refusal::MethodNotAllowed(m)
            | Refusal::Timeout(m)
            | Refusal::Internal(m) => m,
            Refusal::UnsupportedEncoding { encoding, .. } => encoding,
            Refusal::Unauthenticated => "missing or wrong credentials",
        }
    }

    /// The full message, with what an encoding refusal accepts.
    pub fn describe(&self) -> String {
        match self {
            Refusal::UnsupportedEncoding { encoding, accepted } => {
                format!("unsupported encoding {encoding:?} (accepted: {accepted})")
            }
            other => other.message().to_string(),
        }
    }

    /// The short, stable label of `profcol_receiver_refused_requests`.
    pub fn reason(&self) -> &'static str {
        match self {
            Refusal::BadRequest(_) => "decode",
            Refusal::TooLarge(_) => "too_large",
            Refusal::Overloaded { reason, .. } => reason,
            Refusal::Unavailable(_) => "unavailable",
            Refusal::UnsupportedMediaType(_) => "unsupported_media_type",
            Refusal::UnsupportedEncoding { .. } => "unsupported_encoding",
            Refusal::NotFound(_) => "not_found",
            Refusal::MethodNotAllowed(_) => "method_not_allowed",
            Refusal::Unauthenticated => "unauthenticated",
            Refusal::Timeout(_) => "timeout",
            Refusal::Internal(_) => "internal",
        }
    }

    pub fn grpc_code(&self) -> i32 {
        match self {
            Refusal::BadRequest(_) | Refusal::Timeout(_) => code::INVALID_ARGUMENT,
            Refusal::TooLarge(_) | Refusal::Overloaded { .. } => code::RESOURCE_EXHAUSTED,
            Refusal::Unavailable(_) => code::UNAVAILABLE,
            Refusal::UnsupportedMediaType(_) | Refusal::Internal(_) => code::INTERNAL,
            Refusal::UnsupportedEncoding { .. }
            | Refusal::NotFound(_)
            | Refusal::MethodNotAllowed(_) => code::UNIMPLEMENTED,
            Refusal::Unauthenticated => code::UNAUTHENTICATED,
        }
    }

    pub fn http_status(&self) -> StatusCode {
        match self {
            Refusal::BadRequest(_) => StatusCode::BAD_REQUEST,
            Refusal::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Refusal::Overloaded { .. } => StatusCode::TOO_MANY_REQUESTS,
            Refusal::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Refusal::UnsupportedMediaType(_) | Refusal::UnsupportedEncoding { .. } => {
                StatusCode::UNSUPPORTED_MEDIA_TYPE
            }
            Refusal::NotFound(_) => StatusCode::NOT_FOUND,
            Refusal::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Refusal::Unauthenticated => StatusCode::UNAUTHORIZED,
            Refusal::Timeout(_) => StatusCode::REQUEST_TIMEOUT,
            Refusal::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The delay a sender is asked to wait before retrying, when it should.
    pub fn retry_delay(&self) -> Option<Duration> {
        matches!(self, Refusal::Overloaded { .. }).then_some(RETRY_DELAY)
    }

    /// The `google.rpc.Status` in protobuf.
    pub fn status_protobuf(&self) -> Bytes {
        let mut out = BytesMut::new();
        let code = self.grpc_code();
        if code != 0 {
            encode_key(STATUS_CODE, WireType::Varint, &mut out);
            // int32: negative values would take ten bytes; codes are small.
            encode_varint(code as u64, &mut out);
        }
        let message = self.describe();
        if !message.is_empty() {
            len_field(STATUS_MESSAGE, message.as_bytes(), &mut out);
        }
        if let Some(delay) = self.retry_delay() {
            let mut duration = BytesMut::new();
            varint_field(DURATION_SECONDS, delay.as_secs(), &mut duration);
            varint_field(
                DURATION_NANOS,
                u64::from(delay.subsec_nanos()),
                &mut duration,
            );
            let mut info = BytesMut::new();
            len_field(RETRY_INFO_RETRY_DELAY, &duration, &mut info);
            any(RETRY_INFO_TYPE, &info, &mut out);
        }
        if matches!(self, Refusal::BadRequest(_)) {
            let mut violation = BytesMut::new();
            len_field(
                FIELD_VIOLATION_DESCRIPTION,
                message.as_bytes(),
                &mut violation,
            );
            let mut bad = BytesMut::new();
            len_field(BAD_REQUEST_FIELD_VIOLATIONS, &violation, &mut bad);
            any(BAD_REQUEST_TYPE, &bad, &mut out);
        }
        out.freeze()
    }

    /// The `google.rpc.Status` in its JSON form (proto3 JSON mapping).
    pub fn status_json(&self) -> Bytes {
        let mut details = Vec::new();
        if let Some(delay) = self.retry_delay() {
            details.push(serde_json::json!({
                "@type": RETRY_INFO_TYPE,
                "retryDelay": json_duration(delay),
            }));
        }
        if matches!(self, Refusal::BadRequest(_)) {
            details.push(serde_json::json!({
                "@type": BAD_REQUEST_TYPE,
                "fieldViolations": [{"description": self.describe()}],
            }));
        }
        let mut status = serde_json::json!({
            "code": self.grpc_code(),
            "message": self.describe(),
        });
        if !details.is_empty() {
            status["details"] = serde_json::Value::Array(details);
        }
        Bytes::from(status.to_string())
    }
}

fn varint_field(field: u32, value: u64, out: &mut BytesMut) {
    if value != 0 {
        encode_key(field, WireType::Varint, out);
        encode_varint(value, out);
    }
}

fn len_field(field: u32, value: &[u8], out: &mut BytesMut) {
    encode_key(field, WireType::LengthDelimited, out);
    encode_varint(value.len() as u64, out);
    out.put_slice(value);
}

/// A `google.protobuf.Any` in `Status.details`.
fn any(type_url: &str, value: &[u8], out: &mut BytesMut) {
    let mut a = BytesMut::new();
    len_field(ANY_TYPE_URL, type_url.as_bytes(), &mut a);
    len_field(ANY_VALUE, value, &mut a);
    len_field(STATUS_DETAILS, &a, out);
}

/// A `google.protobuf.Duration` in JSON: seconds with up to 9 decimals.
fn json_duration(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        format!("{}s", d.as_secs())
    } else {
        let s = format!("{}.{:09}", d.as_secs(), d.subsec_nanos());
        format!("{}s", s.trim_end_matches('0'))
    }
}

fn response(status: StatusCode, content_type: &'static str, body: Bytes) -> Response<Body> {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

/// OTLP/HTTP success: an empty `ExportProfilesServiceResponse`.
pub fn http_ok(format: Format) -> Response<Body> {
    let body = match format {
        Format::Protobuf => Bytes::new(),
        Format::Json => Bytes::from_static(b"{}"),
    };
    response(StatusCode::OK, format.content_type(), body)
}

/// OTLP/HTTP failure: the status code, a `google.rpc.Status` body in
/// `format`, and `Retry-After`, `Accept-Encoding` or `Allow` where they
/// belong.
pub fn http_error(refusal: &Refusal, format: Format) -> Response<Body> {
    let body = match format {
        Format::Protobuf => refusal.status_protobuf(),
        Format::Json => refusal.status_json(),
    };
    let mut r = response(refusal.http_status(), format.content_type(), body);
    let h = r.headers_mut();
    if let Some(delay) = refusal.retry_delay() {
        h.insert(
            header::RETRY_AFTER,
            HeaderValue::from(delay.as_secs().max(1)),
        );
    }
    match refusal {
        Refusal::UnsupportedEncoding { accepted, .. } => {
            if let Ok(v) = HeaderValue::from_str(accepted) {
                h.insert(header::ACCEPT_ENCODING, v);
            }
        }
        Refusal::MethodNotAllowed(_) => {
            h.insert(header::ALLOW, HeaderValue::from_static("POST"));
        }
        _ => {}
    }
    r
}

/// `grpc-message`: percent-encoded UTF-8 (bytes outside printable ASCII
/// and `%` itself), per the gRPC HTTP/2 protocol.
pub fn grpc_message(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if (0x20..=0x7e).contains(&b) && b != b'%' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A gRPC failure as a Trailers-Only response: HTTP 200 whose headers end
/// the stream with `grpc-status`, `grpc-message` and the
/// `google.rpc.Status` in `grpc-status-details-bin`.
pub fn grpc_error(refusal: &Refusal) -> Response<Body> {
    let mut r = response(StatusCode::OK, GRPC, Bytes::new());
    let h = r.headers_mut();
    h.insert("grpc-status", HeaderValue::from(refusal.grpc_code()));
    if let Ok(v) = HeaderValue::from_str(&grpc_message(&refusal.describe())) {
        h.insert("grpc-message", v);
    }
    let details =
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(refusal.status_protobuf());
    if let Ok(v) = HeaderValue::from_str(&details) {
        h.insert("grpc-status-details-bin", v);
    }
    if let Refusal::UnsupportedEncoding { accepted, .. } = refusal {
        if let Ok(v) = HeaderValue::from_str(accepted) {
            h.insert("grpc-accept-encoding", v);
        }
    }
    r
}

/// gRPC success: one frame holding the empty `ExportProfilesServiceResponse`
/// (uncompressed, length 0), then the trailers `grpc-status: 0`.
pub fn grpc_ok() -> Response<Body> {
    let mut trailers = axum::http::HeaderMap::new();
    trailers.insert("grpc-status", HeaderValue::from(code::OK));
    let frames = [
        Ok::<_, std::convert::Infallible>(hyper::body::Frame::data(Bytes::from_static(&[
            0, 0, 0, 0, 0,
        ]))),
        Ok(hyper::body::Frame::trailers(trailers)),
    ];
    let body = http_body_util::StreamBody::new(futures::stream::iter(frames));
    let mut r = Response::new(Body::new(body));
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(GRPC));
    r
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use prost::Message;

    // The messages as prost would declare them, to read what was written.
    #[derive(Clone, PartialEq, prost::Message)]
    struct Status {
        #[prost(int32, tag = "1")]
        code: i32,
        #[prost(string, tag = "2")]
        message: String,
        #[prost(message, repeated, tag = "3")]
        details: Vec<Any>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    struct Any {
        #[prost(string, tag = "1")]
        type_url: String,
        #[prost(bytes = "vec", tag = "2")]
        value: Vec<u8>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    struct RetryInfo {
        #[prost(message, optional, tag = "1")]
        retry_delay: Option<PDuration>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    struct PDuration {
        #[prost(int64, tag = "1")]
        seconds: i64,
        #[prost(int32, tag = "2")]
        nanos: i32,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    struct BadRequest {
        #[prost(message, repeated, tag = "1")]
        field_violations: Vec<FieldViolation>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    struct FieldViolation {
        #[prost(string, tag = "1")]
        field: String,
        #[prost(string, tag = "2")]
        description: String,
    }

    #[test]
    fn overloaded_carries_retry_info() {
        let r = Refusal::Overloaded {
            message: "queue full".into(),
            reason: "downstream_refused",
        };
        let s = Status::decode(r.status_protobuf()).unwrap();
        assert_eq!(s.code, code::RESOURCE_EXHAUSTED);
        assert_eq!(s.message, "queue full");
        assert_eq!(s.details[0].type_url, RETRY_INFO_TYPE);
        let info = RetryInfo::decode(s.details[0].value.as_slice()).unwrap();
        assert_eq!(info.retry_delay.unwrap().seconds, 5);
        let j: serde_json::Value = serde_json::from_slice(&r.status_json()).unwrap();
        assert_eq!(j["code"], 8);
        assert_eq!(j["details"][0]["retryDelay"], "5s");
        let resp = http_error(&r, Format::Json);
        assert_eq!(resp.status(), 429);
        assert_eq!(resp.headers()["retry-after"], "5");
        assert_eq!(resp.headers()["content-type"], "application/json");
    }

    #[test]
    fn bad_requests_describe_the_bad_data() {
        let r = Refusal::BadRequest("stack_table index 9 is outside the table of 3".into());
        let s = Status::decode(r.status_protobuf()).unwrap();
        assert_eq!(s.code, code::INVALID_ARGUMENT);
        assert_eq!(s.details[0].type_url, BAD_REQUEST_TYPE);
        let b = BadRequest::decode(s.details[0].value.as_slice()).unwrap();
        assert_eq!(b.field_violations[0].description, s.message);
        assert_eq!(r.retry_delay(), None);
        let resp = http_error(&r, Format::Protobuf);
        assert_eq!(resp.status(), 400);
        assert!(!resp.headers().contains_key("retry-after"));
    }

    #[test]
    fn every_refusal_maps_to_a_code_and_a_status() {
        let too_large = Refusal::TooLarge("x".into());
        assert_eq!(too_large.grpc_code(), code::RESOURCE_EXHAUSTED);
        assert_eq!(too_large.retry_delay(), None, "non-retryable per OTLP");
        assert_eq!(too_large.http_status(), 413);
        let enc = Refusal::UnsupportedEncoding {
            encoding: "br".into(),
            accepted: "gzip, zstd".into(),
        };
        assert_eq!(enc.grpc_code(), code::UNIMPLEMENTED);
        let g = grpc_error(&enc);
        assert_eq!(g.headers()["grpc-status"], "12");
        assert_eq!(g.headers()["grpc-accept-encoding"], "gzip, zstd");
        assert_eq!(
            g.headers()["grpc-message"],
            "unsupported encoding \"br\" (accepted: gzip, zstd)"
        );
        assert_eq!(
            http_error(&enc, Format::Protobuf).headers()["accept-encoding"],
            "gzip, zstd"
        );
        assert_eq!(
            http_error(&Refusal::MethodNotAllowed("GET".into()), Format::Protobuf).headers()
                ["allow"],
            "POST"
        );
        assert_eq!(Refusal::Unauthenticated.grpc_code(), code::UNAUTHENTICATED);
        assert_eq!(Refusal::Unauthenticated.http_status(), 401);
        assert_eq!(Refusal::NotFound("x".into()).http_status(), 404);
    }

    #[test]
    fn grpc_messages_are_percent_encoded() {
        assert_eq!(grpc_message("a 100% ü\n"), "a 100%25 %C3%BC%0A");
    }

    #[test]
    fn json_durations() {
        assert_eq!(json_duration(Duration::from_secs(5)), "5s");
        assert_eq!(json_duration(Duration::from_millis(1500)), "1.5s");
    }

    #[test]
    fn content_types() {
        assert_eq!(
            Format::from_content_type("Application/JSON; charset=utf-8"),
            Some(Format::Json)
        );
        assert_eq!(
            Format::from_content_type("application/x-protobuf"),
            Some(Format::Protobuf)
        );
        assert_eq!(Format::from_content_type("text/plain"), None);
    }
}
