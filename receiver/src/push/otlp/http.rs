//! OTLP/HTTP: `POST {profiles_url_path}` (default `/v1development/profiles`)
//! with an `ExportProfilesServiceRequest` in protobuf
//! (`Content-Type: application/x-protobuf`, kept as the bytes that arrived)
//! or OTLP/JSON (`application/json`, read into the protobuf encoding once),
//! optionally compressed (`Content-Encoding: gzip`, `zstd`, `deflate`/`zlib`).
//!
//! `max_request_body_size` bounds the body as sent and after decompression
//! (413 over it); the answer is in the request's content type: 200 with an
//! empty `ExportProfilesServiceResponse`, or an error status with a
//! `google.rpc.Status` body (see [`super::answer`]).

use super::answer::{self, Format, Refusal};
use super::decompress::{decompress, Encoding};
use super::intake::{self, Intake};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method, Response, StatusCode};
use bytes::Bytes;
use http_body_util::BodyExt;
use profcol_pdata::otlp::{OtlpLimits, OtlpPayload};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The setting named when a body is too large.
const LIMIT_KEY: &str = "max_request_body_size";
/// The protocol label of events and metrics.
pub const PROTOCOL: &str = "http";

/// What the HTTP endpoint's handler needs.
pub struct HttpState {
    pub intake: Arc<Intake>,
    /// `profiles_url_path`, with its leading `/`.
    pub path: String,
    /// `max_request_body_size` in bytes.
    pub max_body: usize,
    /// `compression_algorithms`, lower case (`""` for none).
    pub encodings: Vec<String>,
    /// `read_timeout`: the body must arrive within it.
    pub read_timeout: Option<Duration>,
}

/// The routes of the HTTP endpoint: profiles on `state.path`, 404
/// elsewhere.
pub fn router(state: Arc<HttpState>) -> axum::Router {
    axum::Router::new().fallback(handle).with_state(state)
}

/// The answer format of a request: its content type's, protobuf when it
/// has none of the two (OTLP error bodies are protobuf `Status`es).
pub fn format_of(headers: &HeaderMap) -> Format {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(Format::from_content_type)
        .unwrap_or(Format::Protobuf)
}

/// A request body, as received, into a checked payload: decompressed under
/// `max`, then kept (protobuf) or read from OTLP/JSON. What the handler
/// does off the async threads, and what the fuzz target drives.
pub fn decode_body(
    body: Bytes,
    format: Format,
    encoding: Encoding,
    max: usize,
    limits: &OtlpLimits,
) -> Result<OtlpPayload, Refusal> {
    let received = body.clone();
    let body = decompress(body, encoding, max, LIMIT_KEY)?;
    match format {
        Format::Protobuf => intake::from_protobuf(body, limits)
            .map(|p| intake::keep_received_compressed(p, encoding, received)),
        Format::Json => {
            let req = profcol_pdata::otlp::json::from_otlp_json(&body)
                .map_err(|e| Refusal::BadRequest(format!("invalid OTLP/JSON: {e}")))?;
            OtlpPayload::from_request(&req, limits).map_err(intake::payload_refusal)
        }
    }
}

async fn handle(State(state): State<Arc<HttpState>>, req: Request) -> Response<Body> {
    if req.uri().path() != state.path {
        let mut r = Response::new(Body::from("404 page not found\n"));
        *r.status_mut() = StatusCode::NOT_FOUND;
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            axum::http::HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        return r;
    }
    let started = Instant::now();
    let format = format_of(req.headers());
    let (outcome, bytes) = export(&state, req).await;
    let response = match &outcome {
        Ok(_) => answer::http_ok(format),
        Err(r) => answer::http_error(r, format),
    };
    state.intake.record(PROTOCOL, bytes, started, &outcome);
    response
}

/// Serves one request; returns the outcome and the bytes read.
async fn export(state: &HttpState, req: Request) -> (Result<usize, Refusal>, usize) {
    if req.method() != Method::POST {
        return (
            Err(Refusal::MethodNotAllowed(format!(
                "{} method not allowed, supported: [POST]",
                req.method()
            ))),
            0,
        );
    }
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let Some(format) = content_type.as_deref().and_then(Format::from_content_type) else {
        return (
            Err(Refusal::UnsupportedMediaType(format!(
                "unsupported media type {:?}, supported: [{}, {}]",
                content_type.unwrap_or_default(),
                answer::JSON,
                answer::PROTOBUF
            ))),
            0,
        );
    };
    let encoding = match content_encoding(req.headers(), &state.encodings) {
        Ok(e) => e,
        Err(r) => return (Err(r), 0),
    };
    if let Err(r) = state.intake.admit() {
        return (Err(r), 0);
    }
    let max = state.max_body;
    let too_large = || {
        Refusal::TooLarge(format!(
            "the request body is larger than {max} bytes ({LIMIT_KEY})"
        ))
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return (Err(too_large()), 0);
    }
    let read = http_body_util::Limited::new(req.into_body(), max).collect();
    let collected = match state.read_timeout {
        Some(limit) => match tokio::time::timeout(limit, read).await {
            Ok(r) => r,
            Err(_) => {
                return (
                    Err(Refusal::Timeout(format!(
                        "the request body did not arrive within {limit:?} (read_timeout)"
                    ))),
                    0,
                )
            }
        },
        None => read.await,
    };
    let body = match collected {
        Ok(c) => c.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => return (Err(too_large()), max),
        Err(e) => {
            return (
                Err(Refusal::BadRequest(format!(
                    "reading the request body failed: {e}"
                ))),
                0,
            )
        }
    };
    let bytes = body.len();
    let limits = state.intake.limits();
    let decoded = intake::blocking(move || decode_body(body, format, encoding, max, &limits)).await;
    let outcome = match decoded {
        Ok(payload) => state.intake.forward(payload).await,
        Err(r) => Err(r),
    };
    (outcome, bytes)
}

/// The request's `Content-Encoding`, if it is one of `accepted`.
fn content_encoding(headers: &HeaderMap, accepted: &[String]) -> Result<Encoding, Refusal> {
    let declared = match headers.get(header::CONTENT_ENCODING) {
        None => String::new(),
        Some(v) => String::from_utf8_lossy(v.as_bytes())
            .trim()
            .to_ascii_lowercase(),
    };
    // "identity" is no encoding, allowed wherever none is.
    let name = if declared == "identity" {
        ""
    } else {
        declared.as_str()
    };
    let unsupported = || {
        let list: Vec<&str> = accepted
            .iter()
            .filter(|e| !e.is_empty())
            .map(String::as_str)
            .collect();
        Refusal::UnsupportedEncoding {
            encoding: declared.clone(),
            accepted: list.join(", "),
        }
    };
    if !accepted.iter().any(|a| a == name) {
        return Err(unsupported());
    }
    Encoding::parse(name).ok_or_else(unsupported)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn encodings_follow_compression_algorithms() {
        let all: Vec<String> = ["", "gzip", "zstd", "zlib", "deflate"]
            .map(String::from)
            .to_vec();
        assert_eq!(
            content_encoding(&headers(&[]), &all).unwrap(),
            Encoding::Identity
        );
        assert_eq!(
            content_encoding(&headers(&[("content-encoding", "GZip")]), &all).unwrap(),
            Encoding::Gzip
        );
        assert_eq!(
            content_encoding(&headers(&[("content-encoding", "deflate")]), &all).unwrap(),
            Encoding::Zlib
        );
        let err = content_encoding(&headers(&[("content-encoding", "br")]), &all).unwrap_err();
        assert_eq!(
            err.describe(),
            "unsupported encoding \"br\" (accepted: gzip, zstd, zlib, deflate)"
        );
        let gzip_only = vec!["gzip".to_string()];
        assert!(
            content_encoding(&headers(&[]), &gzip_only).is_err(),
            "uncompressed not allowed"
        );
        assert!(content_encoding(&headers(&[("content-encoding", "zstd")]), &gzip_only).is_err());
    }

    #[test]
    fn json_and_protobuf_bodies() {
        let limits = OtlpLimits::default();
        let p = decode_body(
            Bytes::from_static(b"{}"),
            Format::Json,
            Encoding::Identity,
            10,
            &limits,
        )
        .unwrap();
        assert_eq!(p.profile_count(), 0);
        let err = decode_body(
            Bytes::from_static(b"{"),
            Format::Json,
            Encoding::Identity,
            10,
            &limits,
        )
        .unwrap_err();
        assert!(
            matches!(&err, Refusal::BadRequest(m) if m.starts_with("invalid OTLP/JSON: ")),
            "{err:?}"
        );
        let err = decode_body(
            Bytes::from_static(b"{}"),
            Format::Json,
            Encoding::Identity,
            1,
            &limits,
        )
        .unwrap_err();
        assert!(matches!(err, Refusal::TooLarge(_)));
        assert_eq!(
            format_of(&headers(&[("content-type", "application/json")])),
            Format::Json
        );
        assert_eq!(
            format_of(&headers(&[("content-type", "text/plain")])),
            Format::Protobuf
        );
    }
}
