//! One scrape request: GET the URL and read the body with a cap, within the
//! scrape timeout (the network exchange); then, within its own bound
//! ([`DECODE_TIMEOUT`]), decompress and validate the body once into the
//! [`PprofData`] everything downstream reads, refusing anything that is not
//! a pprof profile with an error that says what came back. Also the URL
//! redaction every message and debug page uses.

use crate::config::Limits;
use crate::Error;
use bytes::{Bytes, BytesMut};
use profcol_http::HttpClient;
use profcol_pdata::PprofData;

/// How much of an unexpected body an error message quotes.
const QUOTE: usize = 64;

/// The bound on decompressing and decoding one scraped body, apart from the
/// scrape timeout: a body within the size caps decodes in well under a
/// second, so reaching this means a machine too loaded to keep up.
pub const DECODE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// A scraped and validated profile.
#[derive(Debug)]
pub struct Fetched {
    /// Size of the body as served.
    pub served_bytes: usize,
    pub data: PprofData,
}

/// Scrapes `url` once: the network exchange is bounded by `timeout`, the
/// decoding by [`DECODE_TIMEOUT`].
pub async fn scrape(
    client: &HttpClient,
    url: &url::Url,
    timeout: std::time::Duration,
    max_body_size: usize,
    limits: &Limits,
) -> Result<Fetched, Error> {
    let served = tokio::time::timeout(timeout, fetch(client, url, max_body_size))
        .await
        .unwrap_or(Err(Error::Timeout(timeout.into())))?;
    let decode_limits = limits.decode_limits(max_body_size);
    decode(served, decode_limits, DECODE_TIMEOUT).await
}

/// Decompresses and decodes what was served within `bound`. It is CPU
/// work: kept off the async worker threads. On timeout the blocking task
/// finishes on its own (its work is bounded by the size caps) and is dropped.
async fn decode(
    served: Served,
    limits: profcol_pdata::pprof::DecodeLimits,
    bound: std::time::Duration,
) -> Result<Fetched, Error> {
    let raw = served.body.clone();
    let decoding = tokio::task::spawn_blocking(move || PprofData::from_served(raw, &limits));
    let decoded = tokio::time::timeout(bound, decoding)
        .await
        .map_err(|_| Error::DecodeTimeout(bound.into()))?
        .map_err(|e| Error::Body(format!("decoding task failed: {e}")))?;
    check_decoded(served, decoded)
}

/// What a 200 OK answer served.
struct Served {
    status: reqwest::StatusCode,
    content_type: String,
    body: Bytes,
}

/// The request and the body, refusing any status but 200 OK and an empty body.
async fn fetch(client: &HttpClient, url: &url::Url, max_body_size: usize) -> Result<Served, Error> {
    let req = client.request(reqwest::Method::GET, url.clone());
    let resp = client
        .send(req)
        .await
        .map_err(|e| Error::Request(strip_url(&e.to_string(), url)))?;
    let status = resp.status();
    let content_type = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    // The seed's contract: a scrape succeeds only on 200 OK. Any other
    // status (204, 206 and the rest of 2xx included) fails and says what
    // came back.
    if status != reqwest::StatusCode::OK {
        // Only the first bytes are quoted: never read a large error page.
        let start = read_head(resp, QUOTE + 1).await;
        return Err(Error::Status {
            status: status.as_u16(),
            content_type,
            body_start: quote(&start),
        });
    }
    let body = read_body_capped(resp, max_body_size)
        .await
        .map_err(|e| match e {
            Error::Body(m) => Error::Body(strip_url(&m, url)),
            other => other,
        });
    let body = body?;
    if body.is_empty() {
        return Err(Error::EmptyBody {
            status: status.as_u16(),
            content_type,
        });
    }
    Ok(Served {
        status,
        content_type,
        body,
    })
}

/// The decoded profile, or the error that says what the body was instead.
fn check_decoded(
    served: Served,
    decoded: Result<PprofData, profcol_pdata::Error>,
) -> Result<Fetched, Error> {
    let Served {
        status,
        content_type,
        body,
    } = served;
    match decoded {
        Ok(data) => Ok(Fetched {
            served_bytes: body.len(),
            data,
        }),
        Err(profcol_pdata::Error::TooLarge { limit }) => Err(Error::DecompressedTooLarge { limit }),
        Err(profcol_pdata::Error::TooMany { what, count, limit }) => Err(Error::Limit {
            key: match what {
                "samples" => "max_samples_per_profile",
                "labels on one sample" => "max_labels_per_sample",
                // Table caps without a config key of their own.
                _ => "pprof table size",
            },
            limit,
            what: format!("profile has {count} {what}"),
        }),
        // The bytes decide, not the header: a raw pprof body served as
        // `text/plain` decoded above; one that does not decode and looks
        // like text (by its content type or its first bytes) is reported
        // as text, quoting it.
        Err(_) if looks_like_text(&body, &content_type) => Err(Error::NotPprof {
            status: status.as_u16(),
            body_start: quote(&body),
            content_type,
        }),
        Err(source) => Err(Error::Decode {
            status: status.as_u16(),
            content_type,
            first_bytes: hex_head(&body),
            source,
        }),
    }
}

/// Reads the body chunk by chunk and stops as soon as it passes `limit`.
pub async fn read_body_capped(mut resp: reqwest::Response, limit: usize) -> Result<Bytes, Error> {
    if resp.content_length().is_some_and(|n| n > limit as u64) {
        return Err(Error::BodyTooLarge { limit });
    }
    let mut buf = BytesMut::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| Error::Body(e.without_url().to_string()))?
    {
        if buf.len() + chunk.len() > limit {
            return Err(Error::BodyTooLarge { limit });
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

/// At least `n` bytes from the start of the body (fewer if it is shorter
/// or breaks off); the rest is not read.
async fn read_head(mut resp: reqwest::Response, n: usize) -> Vec<u8> {
    let mut head = Vec::new();
    while head.len() < n {
        match resp.chunk().await {
            Ok(Some(chunk)) => head.extend_from_slice(&chunk),
            _ => break,
        }
    }
    head
}

/// True for a body that did not decode as pprof and is evidently HTML,
/// JSON or plain text (pprof is binary protobuf, usually gzipped): a
/// compressed body never is; otherwise a text-like content type or a
/// first byte of `<`, `{` or `[` says so.
fn looks_like_text(body: &[u8], content_type: &str) -> bool {
    let compressed = body.starts_with(&[0x1f, 0x8b]) || body.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]);
    if compressed {
        return false;
    }
    let ct = content_type.to_ascii_lowercase();
    if ct.starts_with("text/") || ct.contains("json") || ct.contains("html") {
        return true;
    }
    let trimmed = body
        .iter()
        .skip_while(|b| b.is_ascii_whitespace())
        .copied()
        .next();
    matches!(trimmed, Some(b'<' | b'{' | b'['))
}

/// The first bytes of a body, printable.
fn quote(body: &[u8]) -> String {
    let head = &body[..body.len().min(QUOTE)];
    let mut s: String = String::from_utf8_lossy(head)
        .chars()
        .map(|c| if c.is_control() && c != ' ' { '.' } else { c })
        .collect();
    if body.len() > QUOTE {
        s.push('…');
    }
    s
}

/// The first 16 bytes as hex, e.g. `1f 8b 08 00 …`.
fn hex_head(body: &[u8]) -> String {
    let mut s: Vec<String> = body.iter().take(16).map(|b| format!("{b:02x}")).collect();
    if body.len() > 16 {
        s.push("…".to_string());
    }
    s.join(" ")
}

/// Replaces the URL inside a client error message by its redacted form
/// (clients print it without userinfo, so both spellings are replaced).
pub(crate) fn strip_url(message: &str, url: &url::Url) -> String {
    profcol_config::redact::redact_url_in(message, url)
}

pub(crate) use profcol_config::redact::is_secret_param;
pub use profcol_config::redact::redact_url;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_userinfo_and_secret_params() {
        let u = url::Url::parse(
            "http://user:pw@h:1/debug/pprof/profile?seconds=14&api_token=abc&Key=k",
        )
        .unwrap();
        let r = redact_url(&u);
        assert_eq!(
            r,
            "http://h:1/debug/pprof/profile?seconds=14&api_token=%3Csecret%3E&Key=%3Csecret%3E"
        );
        assert!(!r.contains("pw") && !r.contains("abc"));
    }

    #[test]
    fn text_bodies_are_recognised() {
        assert!(looks_like_text(b"<html>", ""));
        assert!(looks_like_text(b"  {\"a\":1}", "application/octet-stream"));
        assert!(looks_like_text(b"\x0a\x02", "text/plain"));
        assert!(looks_like_text(b"\x0a\x02", "application/json"));
        assert!(!looks_like_text(b"\x1f\x8b\x08", "text/plain"));
        assert!(!looks_like_text(b"\x28\xb5\x2f\xfd", "text/html"));
        assert!(!looks_like_text(
            b"\x0a\x04\x08\x01\x10\x02",
            "application/octet-stream"
        ));
    }

    /// A valid pprof body with `samples` samples of distinct stacks.
    fn big_profile(samples: usize) -> Bytes {
        use profcol_pdata::pprof::{
            encode_pprof, Function, Line, Location, Profile, Sample, ValueType,
        };
        let mut p = Profile {
            string_table: vec!["".into(), "samples".into(), "count".into()],
            sample_type: vec![ValueType { r#type: 1, unit: 2 }],
            ..Default::default()
        };
        for i in 0..samples as u64 {
            p.string_table.push(format!("f{i}"));
            let name = p.string_table.len() as i64 - 1;
            p.function.push(Function {
                id: i + 1,
                name,
                ..Default::default()
            });
            p.location.push(Location {
                id: i + 1,
                line: vec![Line {
                    function_id: i + 1,
                    line: 1,
                    column: 0,
                }],
                ..Default::default()
            });
            p.sample.push(Sample {
                location_id: vec![i + 1],
                value: vec![1],
                label: vec![],
            });
        }
        Bytes::from(encode_pprof(&p))
    }

    fn served(body: Bytes) -> Served {
        Served {
            status: reqwest::StatusCode::OK,
            content_type: "application/octet-stream".into(),
            body,
        }
    }

    /// Decoding has its own bound and its own error, apart from the scrape
    /// timeout (which only covers the request and the body).
    #[tokio::test]
    async fn decoding_is_bounded_on_its_own() {
        let limits = Limits::default().decode_limits(64 << 20);
        let body = big_profile(100_000);
        let ok = decode(served(body.clone()), limits.clone(), DECODE_TIMEOUT)
            .await
            .unwrap();
        assert_eq!(ok.data.to_profile().sample.len(), 100_000);
        // A zero bound elapses before the blocking decode of 100k samples
        // can report back.
        let err = decode(served(body), limits, std::time::Duration::ZERO)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::DecodeTimeout(_)), "{err}");
        assert_eq!(err.reason(), "decode_timeout");
        assert!(
            err.to_string()
                .starts_with("decoding the profile took longer than"),
            "{err}"
        );
    }

    #[test]
    fn quotes_are_short_and_printable() {
        assert_eq!(quote(b"a\nb"), "a.b");
        let long = vec![b'x'; 100];
        assert_eq!(quote(&long).chars().count(), QUOTE + 1);
    }
}
