//! Reading a request body: at most `max_request_body_size` bytes (a longer
//! `Content-Length` is refused before reading), within `read_timeout`; then
//! undoing its `Content-Encoding` (gzip, zstd) under `max_decompressed_size`.

use super::refusal::{Kind, Refusal};
use axum::body::Body;
use axum::http::{header, HeaderMap};
use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use profcol_pdata::pprof::{decompress, Compression};
use std::time::Duration;

/// The body, read whole.
pub async fn read(
    body: Body,
    headers: &HeaderMap,
    limit: usize,
    timeout: Duration,
) -> Result<Bytes, Refusal> {
    let too_large = || {
        Refusal::new(
            Kind::TooLarge,
            format!("the request body is larger than max_request_body_size ({limit} bytes)"),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let read = async {
        let mut body = body;
        let mut buf = BytesMut::new();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| {
                Refusal::bad_request(format!("reading the request body failed: {e}"))
            })?;
            if let Ok(data) = frame.into_data() {
                if buf.len() + data.len() > limit {
                    return Err(too_large());
                }
                buf.extend_from_slice(&data);
            }
        }
        Ok(buf.freeze())
    };
    match tokio::time::timeout(timeout, read).await {
        Ok(r) => r,
        Err(_) => Err(Refusal::new(
            Kind::Timeout,
            format!(
                "the request body did not arrive within read_timeout ({})",
                profcol_config::Duration(timeout)
            ),
        )),
    }
}

/// The `Content-Encoding` of a request, lower-cased (`None`: identity).
pub fn content_encoding(headers: &HeaderMap) -> Result<Option<String>, Refusal> {
    let Some(v) = headers.get(header::CONTENT_ENCODING) else {
        return Ok(None);
    };
    let v = v
        .to_str()
        .map_err(|_| Refusal::bad_request("the Content-Encoding header is not ASCII"))?
        .trim()
        .to_ascii_lowercase();
    match v.as_str() {
        "" | "identity" => Ok(None),
        "gzip" | "zstd" => Ok(Some(v)),
        other => Err(Refusal::new(
            Kind::UnsupportedEncoding,
            format!(
                "Content-Encoding {:?} is not supported (use gzip, zstd or none)",
                profcol_pdata::ingest::name::clip(other)
            ),
        )),
    }
}

/// `body` with its content encoding undone, at most `max` bytes.
pub fn decode(body: Bytes, encoding: Option<&str>, max: usize) -> Result<Bytes, Refusal> {
    let Some(encoding) = encoding else {
        return Ok(body);
    };
    let want = if encoding == "gzip" {
        Compression::Gzip
    } else {
        Compression::Zstd
    };
    if Compression::detect(&body) != want {
        return Err(Refusal::bad_request(format!(
            "the body is not {encoding} though Content-Encoding says so"
        )));
    }
    match decompress(&body, max) {
        Ok(raw) => Ok(Bytes::from(raw.into_owned())),
        Err(profcol_pdata::Error::TooLarge { .. }) => Err(Refusal::new(
            Kind::TooLarge,
            format!("the request body inflates past max_decompressed_size ({max} bytes)"),
        )),
        Err(e) => Err(Refusal::bad_request(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(header::HeaderName, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(k.clone(), HeaderValue::from_static(v));
        }
        h
    }

    #[tokio::test]
    async fn caps_the_body() {
        let h = HeaderMap::new();
        let t = Duration::from_secs(5);
        assert_eq!(
            &read(Body::from("hello"), &h, 5, t).await.unwrap()[..],
            b"hello"
        );
        let e = read(Body::from("hello!"), &h, 5, t).await.unwrap_err();
        assert_eq!(e.kind, Kind::TooLarge);
        assert!(e.message.contains("max_request_body_size (5 bytes)"));
        let h = headers(&[(header::CONTENT_LENGTH, "1000")]);
        assert_eq!(
            read(Body::from("x"), &h, 5, t).await.unwrap_err().kind,
            Kind::TooLarge
        );
    }

    #[tokio::test]
    async fn times_out() {
        let (_tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(1);
        let stream = tokio_stream_from(rx);
        let e = read(
            Body::from_stream(stream),
            &HeaderMap::new(),
            5,
            Duration::from_millis(50),
        )
        .await
        .unwrap_err();
        assert_eq!(e.kind, Kind::Timeout);
        assert!(e.message.contains("read_timeout"), "{}", e.message);
    }

    fn tokio_stream_from(
        mut rx: tokio::sync::mpsc::Receiver<Result<Bytes, std::io::Error>>,
    ) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> {
        futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
    }

    #[test]
    fn encodings() {
        assert_eq!(content_encoding(&HeaderMap::new()).unwrap(), None);
        let h = headers(&[(header::CONTENT_ENCODING, "GZIP")]);
        assert_eq!(content_encoding(&h).unwrap().as_deref(), Some("gzip"));
        let h = headers(&[(header::CONTENT_ENCODING, "br")]);
        let e = content_encoding(&h).unwrap_err();
        assert_eq!(e.kind, Kind::UnsupportedEncoding);
        assert!(e.message.contains("\"br\""));
        let gz = Bytes::from(profcol_pdata::pprof::gzip(&[7u8; 1000]));
        assert_eq!(decode(gz.clone(), Some("gzip"), 1000).unwrap().len(), 1000);
        let e = decode(gz, Some("gzip"), 999).unwrap_err();
        assert_eq!(e.kind, Kind::TooLarge);
        assert!(e.message.contains("max_decompressed_size (999 bytes)"));
        let e = decode(Bytes::from_static(b"plain"), Some("gzip"), 9).unwrap_err();
        assert!(e.message.contains("not gzip"));
        assert_eq!(
            &decode(Bytes::from_static(b"plain"), None, 1).unwrap()[..],
            b"plain"
        );
    }
}
