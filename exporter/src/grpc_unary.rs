//! A gRPC unary call whose request message arrives already encoded and
//! compressed, sent over a tonic [`Channel`].
//!
//! tonic's client encodes the message and compresses it at a fixed level
//! (gzip 6) inside the async call, on every attempt. The OTLP exporter
//! instead encodes and compresses once, on a blocking thread, at the
//! configured level ([`frame`]), and retries resend the same bytes
//! ([`unary`]). Only what an OTLP export needs is supported: one request
//! frame, one small response frame, status from headers or trailers.

use bytes::{BufMut, Bytes, BytesMut};
use tonic::codegen::http;
use tonic::codegen::Body as _;
use tonic::codegen::Service;
use tonic::metadata::MetadataMap;
use tonic::transport::Channel;
use tonic::{Code, Status};

/// Message compression of a request frame (`grpc-encoding`).
pub use crate::compression::Codec as FrameCompression;

/// One length-prefixed gRPC message (flag byte, big-endian length, payload),
/// compressed as asked. Fails only when the message is ≥ 4 GiB or the
/// compressor fails (allocation).
#[derive(Debug, Clone)]
pub struct Frame {
    bytes: Bytes,
    encoding: Option<&'static str>,
}

impl Frame {
    /// Size on the wire, header included.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
}

/// Builds the frame of an encoded message.
pub fn frame(message: &[u8], compression: FrameCompression) -> std::io::Result<Frame> {
    let mut out = BytesMut::with_capacity(5 + message.len() / 3);
    out.put_bytes(0, 5);
    let out = compression
        .compress_into(message, out.writer())?
        .into_inner();
    finish_frame(out, compression)
}

/// The frame of a message that is compressed already, with `compression`.
pub fn frame_compressed(
    compressed: &[u8],
    compression: FrameCompression,
) -> std::io::Result<Frame> {
    let mut out = BytesMut::with_capacity(5 + compressed.len());
    out.put_bytes(0, 5);
    out.extend_from_slice(compressed);
    finish_frame(out, compression)
}

/// Fills in the header of a frame whose message follows its 5 bytes.
fn finish_frame(mut out: BytesMut, compression: FrameCompression) -> std::io::Result<Frame> {
    let len = u32::try_from(out.len() - 5)
        .map_err(|_| std::io::Error::other("gRPC message larger than 4 GiB"))?;
    out[0] = u8::from(compression != FrameCompression::None);
    out[1..5].copy_from_slice(&len.to_be_bytes());
    Ok(Frame {
        bytes: out.freeze(),
        encoding: compression.encoding(),
    })
}

/// Calls `path` with `frame`, bounded by `timeout`; returns the response
/// message's bytes (empty when the server sent none, or sent it compressed,
/// which it should not: no `grpc-accept-encoding` is offered).
pub async fn unary(
    channel: &Channel,
    path: &'static str,
    frame: &Frame,
    metadata: &MetadataMap,
    timeout: std::time::Duration,
) -> Result<Bytes, Status> {
    let mut req = http::Request::new(tonic::body::Body::new(http_body_util::Full::new(
        frame.bytes.clone(),
    )));
    *req.method_mut() = http::Method::POST;
    *req.uri_mut() = http::Uri::from_static(path);
    *req.headers_mut() = metadata.clone().into_headers();
    let h = req.headers_mut();
    h.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/grpc"),
    );
    h.insert(http::header::TE, http::HeaderValue::from_static("trailers"));
    if let Some(e) = frame.encoding {
        h.insert("grpc-encoding", http::HeaderValue::from_static(e));
    }
    if let Ok(v) = http::HeaderValue::from_str(&format!("{}m", timeout.as_millis().max(1))) {
        h.insert("grpc-timeout", v);
    }
    let call = async {
        let mut ch = channel.clone();
        std::future::poll_fn(|cx| ch.poll_ready(cx))
            .await
            .map_err(transport_status)?;
        let resp = ch.call(req).await.map_err(transport_status)?;
        read_response(resp).await
    };
    match tokio::time::timeout(timeout, call).await {
        Ok(r) => r,
        Err(_) => Err(Status::deadline_exceeded(format!(
            "no response within {timeout:?}"
        ))),
    }
}

fn transport_status(e: tonic::transport::Error) -> Status {
    // Connection refused, reset, TLS and the like: the backend may come back.
    let mut msg = e.to_string();
    let mut src = std::error::Error::source(&e);
    while let Some(s) = src {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
    }
    Status::unavailable(msg)
}

async fn read_response(resp: http::Response<tonic::body::Body>) -> Result<Bytes, Status> {
    let (parts, mut body) = resp.into_parts();
    if let Some(s) = Status::from_header_map(&parts.headers) {
        // Trailers-only response.
        return if s.code() == Code::Ok {
            Ok(Bytes::new())
        } else {
            Err(s)
        };
    }
    if parts.status != http::StatusCode::OK {
        return Err(http_status(parts.status));
    }
    let mut data = BytesMut::new();
    let mut trailers = None;
    loop {
        let next = std::future::poll_fn(|cx| std::pin::Pin::new(&mut body).poll_frame(cx)).await;
        let Some(f) = next else { break };
        let f = f.map_err(|e| Status::unavailable(format!("reading the response: {e}")))?;
        match f.into_data() {
            Ok(d) => {
                if data.len() + d.len() > MAX_RESPONSE {
                    return Err(Status::resource_exhausted(
                        "gRPC response larger than 4 MiB",
                    ));
                }
                data.extend_from_slice(&d);
            }
            Err(f) => {
                if let Ok(t) = f.into_trailers() {
                    trailers = Some(t);
                }
            }
        }
    }
    match trailers.as_ref().and_then(Status::from_header_map) {
        Some(s) if s.code() == Code::Ok => {}
        Some(s) => return Err(s),
        None => {
            return Err(Status::internal(
                "gRPC response without grpc-status trailer",
            ))
        }
    }
    if data.len() < 5 || data[0] != 0 {
        return Ok(Bytes::new());
    }
    let len = u32::from_be_bytes([data[1], data[2], data[3], data[4]]) as usize;
    let end = (5 + len).min(data.len());
    Ok(data.freeze().slice(5..end))
}

/// Largest response read (an OTLP export response is a few bytes).
const MAX_RESPONSE: usize = 4 << 20;

/// The gRPC spec's mapping of HTTP status codes without a `grpc-status`.
fn http_status(s: http::StatusCode) -> Status {
    let code = match s.as_u16() {
        400 => Code::Internal,
        401 => Code::Unauthenticated,
        403 => Code::PermissionDenied,
        404 => Code::Unimplemented,
        429 | 502 | 503 | 504 => Code::Unavailable,
        _ => Code::Unknown,
    };
    Status::new(code, format!("HTTP status {s}"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::io::Read;

    fn payload(f: &Frame) -> (u8, Vec<u8>) {
        let len = u32::from_be_bytes([f.bytes[1], f.bytes[2], f.bytes[3], f.bytes[4]]) as usize;
        assert_eq!(len, f.len() - 5);
        (f.bytes[0], f.bytes[5..].to_vec())
    }

    #[test]
    fn frames_carry_flag_length_and_the_compressed_message() {
        let msg: Vec<u8> = (0..20_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        let (flag, p) = payload(&frame(&msg, FrameCompression::None).unwrap());
        assert_eq!((flag, p.as_slice()), (0, msg.as_slice()));

        let f = frame(&msg, FrameCompression::Gzip { level: 1 }).unwrap();
        assert_eq!(f.encoding, Some("gzip"));
        let (flag, p) = payload(&f);
        assert_eq!(flag, 1);
        assert!(p.len() < msg.len() / 2);
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(p.as_slice())
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, msg);

        let f = frame(&msg, FrameCompression::Zstd { level: 1 }).unwrap();
        let (flag, p) = payload(&f);
        assert_eq!((flag, f.encoding), (1, Some("zstd")));
        assert_eq!(zstd::decode_all(p.as_slice()).unwrap(), msg);
    }

    #[test]
    fn http_errors_map_to_grpc_codes() {
        assert_eq!(
            http_status(http::StatusCode::SERVICE_UNAVAILABLE).code(),
            Code::Unavailable
        );
        assert_eq!(
            http_status(http::StatusCode::NOT_FOUND).code(),
            Code::Unimplemented
        );
        assert_eq!(
            http_status(http::StatusCode::IM_A_TEAPOT).code(),
            Code::Unknown
        );
    }
}
