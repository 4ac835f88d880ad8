//! OTLP/gRPC: the unary call
//! `opentelemetry.proto.collector.profiles.v1development.ProfilesService/Export`,
//! served over HTTP/2 (h2c or TLS) without a gRPC framework, so that the
//! request message stays the bytes that arrived: it is checked
//! ([`OtlpPayload::from_bytes`]) and handed on, never decoded into structs
//! and encoded again.
//!
//! The protocol as far as a unary call needs it (grpc/doc/PROTOCOL-HTTP2.md):
//! `POST` with `Content-Type: application/grpc[+proto]`; the body is one
//! length-prefixed message — a flag byte (1 = compressed with the
//! `grpc-encoding` of the call), a 4-byte big-endian length, the message.
//! The answer is HTTP 200 with the response message in the same framing
//! and `grpc-status` in the trailers; a failure is a Trailers-Only
//! response (`grpc-status`, `grpc-message`, `grpc-status-details-bin` in
//! the headers). `max_recv_msg_size_mib` bounds the message as framed and
//! after decompression; over it the call fails with `RESOURCE_EXHAUSTED`,
//! as grpc-go's servers answer.

use super::answer::{self, Refusal};
use super::decompress::{decompress, Encoding};
use super::intake::{self, Intake};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, Method, Response, StatusCode};
use bytes::Bytes;
use http_body_util::BodyExt;
use profcol_pdata::otlp::{OtlpLimits, OtlpPayload};
use std::sync::Arc;
use std::time::Instant;

/// The service's full name.
pub const SERVICE: &str = "opentelemetry.proto.collector.profiles.v1development.ProfilesService";
/// The path of its one method.
pub const EXPORT_PATH: &str =
    "/opentelemetry.proto.collector.profiles.v1development.ProfilesService/Export";
/// `grpc-accept-encoding`: the message encodings decoded.
pub const ACCEPTED_ENCODINGS: &str = "identity, gzip, zstd, deflate";

/// Flag byte, then the length as a big-endian u32.
const FRAME_HEADER: usize = 5;
const FLAG_UNCOMPRESSED: u8 = 0;
const FLAG_COMPRESSED: u8 = 1;
/// The setting named when a message is too large.
const LIMIT_KEY: &str = "max_recv_msg_size_mib";
/// The protocol label of events and metrics.
pub const PROTOCOL: &str = "grpc";

/// What the gRPC endpoint's handler needs.
pub struct GrpcState {
    pub intake: Arc<Intake>,
    /// `max_recv_msg_size_mib` in bytes.
    pub max_message: usize,
}

/// The routes of the gRPC endpoint: `Export`, and `UNIMPLEMENTED` for
/// every other path.
pub fn router(state: Arc<GrpcState>) -> axum::Router {
    axum::Router::new().fallback(handle).with_state(state)
}

/// The one message of a unary request body, and whether it is compressed.
/// The declared length is checked against `max` before anything else.
pub fn unary_message(body: &Bytes, max: usize) -> Result<(bool, Bytes), Refusal> {
    let Some(header) = body.get(..FRAME_HEADER) else {
        return Err(Refusal::BadRequest(if body.is_empty() {
            "the call carries no request message".into()
        } else {
            format!(
                "truncated gRPC frame: {} bytes, less than the 5-byte message header",
                body.len()
            )
        }));
    };
    let compressed = match header[0] {
        FLAG_UNCOMPRESSED => false,
        FLAG_COMPRESSED => true,
        other => {
            return Err(Refusal::BadRequest(format!(
                "invalid gRPC frame: compressed flag {other} (must be 0 or 1)"
            )))
        }
    };
    let len = u32::from_be_bytes([header[1], header[2], header[3], header[4]]) as usize;
    if len > max {
        return Err(Refusal::TooLarge(format!(
            "gRPC message of {len} bytes is larger than the limit of {max} bytes ({LIMIT_KEY})"
        )));
    }
    let rest = body.len() - FRAME_HEADER;
    if rest < len {
        return Err(Refusal::BadRequest(format!(
            "truncated gRPC frame: the header announces {len} bytes, {rest} arrived"
        )));
    }
    if rest > len {
        return Err(Refusal::BadRequest(
            "more than one message in a unary call".into(),
        ));
    }
    Ok((compressed, body.slice(FRAME_HEADER..)))
}

/// A request body (one framed message, compressed per `encoding` when its
/// flag says so) as a checked payload: what the handler does off the
/// async threads, and what the fuzz target drives.
pub fn decode_request(
    body: &Bytes,
    encoding: Encoding,
    max: usize,
    limits: &OtlpLimits,
) -> Result<OtlpPayload, Refusal> {
    let (compressed, message) = unary_message(body, max)?;
    if !compressed {
        return intake::from_protobuf(message, limits);
    }
    if encoding == Encoding::Identity {
        return Err(Refusal::BadRequest(
            "the message is flagged compressed but the call has no grpc-encoding".into(),
        ));
    }
    let payload = intake::from_protobuf(
        decompress(message.clone(), encoding, max, LIMIT_KEY)?,
        limits,
    )?;
    Ok(intake::keep_received_compressed(payload, encoding, message))
}

async fn handle(State(state): State<Arc<GrpcState>>, req: Request) -> Response<Body> {
    let started = Instant::now();
    let (outcome, bytes) = export(&state, req).await;
    match outcome {
        Err(Answer::Plain(status, text)) => plain(status, text),
        Ok(profiles) => {
            let result = Ok(profiles);
            state.intake.record(PROTOCOL, bytes, started, &result);
            answer::grpc_ok()
        }
        Err(Answer::Refused(r)) => {
            let response = answer::grpc_error(&r);
            state.intake.record(PROTOCOL, bytes, started, &Err(r));
            response
        }
    }
}

/// A failed call: a gRPC status, or (not a gRPC request at all) plain HTTP.
enum Answer {
    Refused(Refusal),
    Plain(StatusCode, &'static str),
}

impl From<Refusal> for Answer {
    fn from(r: Refusal) -> Self {
        Answer::Refused(r)
    }
}

/// Serves one call; returns the outcome and the bytes read.
async fn export(state: &GrpcState, req: Request) -> (Result<usize, Answer>, usize) {
    let path = req.uri().path();
    if path != EXPORT_PATH {
        let what = match path.strip_prefix('/').and_then(|p| p.split_once('/')) {
            Some((service, method)) if service == SERVICE => {
                format!("unknown method {method} of {SERVICE}")
            }
            Some((service, _)) => format!("unknown service {service}"),
            None => format!("unknown path {path}"),
        };
        return (Err(Refusal::NotFound(what).into()), 0);
    }
    if req.method() != Method::POST {
        return (
            Err(Refusal::MethodNotAllowed(format!(
                "gRPC calls are POST requests, not {}",
                req.method()
            ))
            .into()),
            0,
        );
    }
    let is_grpc = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        })
        .is_some_and(|v| v == "application/grpc" || v == "application/grpc+proto");
    if !is_grpc {
        return (
            Err(Answer::Plain(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "gRPC requests need Content-Type: application/grpc\n",
            )),
            0,
        );
    }
    if let Err(r) = state.intake.admit() {
        return (Err(r.into()), 0);
    }
    let declared = req
        .headers()
        .get("grpc-encoding")
        .map(|v| v.to_str().unwrap_or("?"))
        .unwrap_or("");
    let Some(encoding) = Encoding::parse(declared) else {
        return (
            Err(Refusal::UnsupportedEncoding {
                encoding: declared.to_string(),
                accepted: ACCEPTED_ENCODINGS.to_string(),
            }
            .into()),
            0,
        );
    };
    let max = state.max_message;
    let limited = http_body_util::Limited::new(req.into_body(), max.saturating_add(FRAME_HEADER));
    let body = match limited.collect().await {
        Ok(c) => c.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            let r = Refusal::TooLarge(format!(
                "gRPC message larger than the limit of {max} bytes ({LIMIT_KEY})"
            ));
            return (Err(r.into()), max);
        }
        Err(e) => {
            let r = Refusal::BadRequest(format!("reading the request failed: {e}"));
            return (Err(r.into()), 0);
        }
    };
    let bytes = body.len();
    let limits = state.intake.limits();
    let decoded = intake::blocking(move || decode_request(&body, encoding, max, &limits)).await;
    let outcome = match decoded {
        Ok(payload) => state.intake.forward(payload).await.map_err(Answer::from),
        Err(r) => Err(r.into()),
    };
    (outcome, bytes)
}

fn plain(status: StatusCode, text: &'static str) -> Response<Body> {
    let mut r = Response::new(Body::from(text));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::io::Write;

    fn frame(flag: u8, msg: &[u8]) -> Bytes {
        let mut out = vec![flag];
        out.extend_from_slice(&(msg.len() as u32).to_be_bytes());
        out.extend_from_slice(msg);
        Bytes::from(out)
    }

    fn bad(r: Result<(bool, Bytes), Refusal>) -> String {
        match r {
            Err(Refusal::BadRequest(m)) => m,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn one_message_per_call() {
        let (c, m) = unary_message(&frame(0, b"abc"), 10).unwrap();
        assert!(!c);
        assert_eq!(m, &b"abc"[..]);
        let (c, _) = unary_message(&frame(1, b"abc"), 10).unwrap();
        assert!(c);
        assert_eq!(unary_message(&frame(0, b""), 0).unwrap().1.len(), 0);
        assert_eq!(
            bad(unary_message(&Bytes::new(), 10)),
            "the call carries no request message"
        );
        assert!(bad(unary_message(&Bytes::from_static(&[0, 0, 0]), 10))
            .starts_with("truncated gRPC frame: 3 bytes"));
        assert!(bad(unary_message(&frame(2, b"abc"), 10)).contains("compressed flag 2"));
        let mut cut = frame(0, b"abcdef").to_vec();
        cut.truncate(8);
        assert_eq!(
            bad(unary_message(&Bytes::from(cut), 10)),
            "truncated gRPC frame: the header announces 6 bytes, 3 arrived"
        );
        let mut two = frame(0, b"ab").to_vec();
        two.extend_from_slice(&frame(0, b"cd"));
        assert_eq!(
            bad(unary_message(&Bytes::from(two), 10)),
            "more than one message in a unary call"
        );
        assert!(matches!(
            unary_message(&frame(0, &[0; 11]), 10),
            Err(Refusal::TooLarge(m)) if m.contains("11 bytes is larger than the limit of 10 bytes (max_recv_msg_size_mib)")
        ));
    }

    #[test]
    fn compressed_messages_need_an_encoding_and_stay_under_the_cap() {
        let limits = OtlpLimits::default();
        let empty = frame(0, b"");
        assert_eq!(
            decode_request(&empty, Encoding::Identity, 10, &limits)
                .unwrap()
                .profile_count(),
            0
        );
        let mut w = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        w.write_all(&[0u8; 4096]).unwrap();
        let bomb = frame(1, &w.finish().unwrap());
        let err = decode_request(&bomb, Encoding::Gzip, 1024, &limits).unwrap_err();
        assert!(
            matches!(&err, Refusal::TooLarge(m) if m.contains("after decompression (max_recv_msg_size_mib)")),
            "{err:?}"
        );
        let err = decode_request(&bomb, Encoding::Identity, 1024, &limits).unwrap_err();
        assert!(
            matches!(&err, Refusal::BadRequest(m) if m.contains("no grpc-encoding")),
            "{err:?}"
        );
        let err =
            decode_request(&frame(0, b"\xff\xff"), Encoding::Identity, 1024, &limits).unwrap_err();
        assert!(
            matches!(&err, Refusal::BadRequest(m) if m.starts_with("body is not an OTLP ExportProfilesServiceRequest")),
            "{err:?}"
        );
    }
}
