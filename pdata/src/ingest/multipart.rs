//! `multipart/form-data` bodies (RFC 7578) as the Pyroscope SDKs send them
//! to `/ingest`: a `profile` part (pprof, gzipped or raw), optionally
//! `sample_type_config` (JSON) and, from old pyroscope-go versions,
//! `prev_profile`. Parts are slices of the body (no copy). Lines end with
//! CRLF, as every SDK's form writer ends them.

use bytes::Bytes;
use std::fmt;

/// Parts one body may have.
pub const MAX_PARTS: usize = 16;
/// Bytes of one part's header block.
pub const MAX_PART_HEADER_BYTES: usize = 8 << 10;
/// RFC 2046: a boundary is 1 to 70 characters.
const MAX_BOUNDARY_LEN: usize = 70;

/// One part of the form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// The `name` of its `Content-Disposition`.
    pub name: String,
    pub filename: Option<String>,
    pub content_type: Option<String>,
    pub body: Bytes,
}

/// Why a body is not a usable form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MultipartError {
    /// The content type has no usable `boundary` parameter.
    NoBoundary,
    /// The body never starts a first part.
    NoFirstBoundary,
    /// A part's header block is not closed by an empty line.
    UnterminatedHeaders,
    /// A part's header block is larger than [`MAX_PART_HEADER_BYTES`].
    HeadersTooLarge,
    /// A part has no `Content-Disposition: form-data; name=…`.
    NoName,
    /// The body ends inside a part.
    Truncated,
    /// More parts than [`MAX_PARTS`].
    TooManyParts,
}

impl fmt::Display for MultipartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MultipartError::NoBoundary => {
                "the multipart content type has no boundary parameter (expected multipart/form-data; boundary=…)"
            }
            MultipartError::NoFirstBoundary => "the body does not start with the multipart boundary",
            MultipartError::UnterminatedHeaders => "a part's headers are not followed by an empty line",
            MultipartError::HeadersTooLarge => "a part's headers are larger than 8 KiB",
            MultipartError::NoName => {
                "a part has no Content-Disposition form-data name"
            }
            MultipartError::Truncated => "the body ends before the closing boundary (truncated?)",
            MultipartError::TooManyParts => "the body has more than 16 parts",
        })
    }
}

impl std::error::Error for MultipartError {}

/// Whether a `Content-Type` is `multipart/form-data` (any parameters).
pub fn is_form_data(content_type: &str) -> bool {
    media_type(content_type).eq_ignore_ascii_case("multipart/form-data")
}

/// The media type of a `Content-Type`, without parameters, trimmed.
pub fn media_type(content_type: &str) -> &str {
    content_type.split(';').next().unwrap_or("").trim()
}

/// The value of parameter `key` (case-insensitive) of a header value such
/// as `form-data; name="profile"`, unquoted.
pub fn param(header: &str, key: &str) -> Option<String> {
    let mut rest = header.split_once(';')?.1;
    loop {
        let trimmed = rest.trim_start();
        let (k, after) = trimmed.split_once('=')?;
        let after = after.trim_start();
        let (value, next) = if let Some(quoted) = after.strip_prefix('"') {
            let (v, len) = unquote(quoted)?;
            (v, quoted.get(len..).unwrap_or(""))
        } else {
            let end = after.find(';').unwrap_or(after.len());
            (after[..end].trim().to_string(), &after[end..])
        };
        if k.trim().eq_ignore_ascii_case(key) {
            return Some(value);
        }
        rest = next.split_once(';')?.1;
    }
}

/// A quoted string's value (after its opening `"`) and the bytes it takes,
/// closing quote included; `\` escapes the next character.
fn unquote(s: &str) -> Option<(String, usize)> {
    let mut out = String::new();
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        if escaped {
            out.push(c);
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == '"' {
            return Some((out, i + 1));
        } else {
            out.push(c);
        }
    }
    None
}

/// The boundary of a `multipart/form-data` content type.
pub fn boundary(content_type: &str) -> Result<String, MultipartError> {
    match param(content_type, "boundary") {
        Some(b) if !b.is_empty() && b.len() <= MAX_BOUNDARY_LEN => Ok(b),
        _ => Err(MultipartError::NoBoundary),
    }
}

/// The first position of `needle` in `hay` at or after `from`.
fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    let first = *needle.first()?;
    let mut at = from;
    while let Some(rest) = hay.get(at..) {
        let i = rest.iter().position(|&b| b == first)?;
        let start = at + i;
        if hay.get(start..start + needle.len()) == Some(needle) {
            return Some(start);
        }
        at = start + 1;
    }
    None
}

/// The next `delimiter` (CRLF, `--`, boundary) at or after `from` that is
/// one: followed by `--`, or by optional spaces and CRLF. A part's content
/// may hold the delimiter's text followed by anything else.
fn next_delimiter(data: &[u8], delimiter: &[u8], from: usize) -> Option<usize> {
    let mut at = from;
    loop {
        let start = find(data, delimiter, at)?;
        let after = data.get(start + delimiter.len()..).unwrap_or(&[]);
        let padded = after.iter().position(|&b| b != b' ' && b != b'\t');
        let closes = after.starts_with(b"--");
        let opens = padded.is_some_and(|i| after.get(i..i + 2) == Some(b"\r\n"));
        if closes || opens || after.is_empty() {
            return Some(start);
        }
        at = start + 1;
    }
}

/// Splits `body` into its parts.
pub fn parse(content_type: &str, body: &Bytes) -> Result<Vec<Part>, MultipartError> {
    let boundary = boundary(content_type)?;
    let dash = format!("--{boundary}");
    let delimiter = format!("\r\n--{boundary}");
    let data: &[u8] = body;
    // The first boundary may open the body or follow a preamble line.
    let mut at = if data.starts_with(dash.as_bytes()) {
        dash.len()
    } else {
        find(data, delimiter.as_bytes(), 0).ok_or(MultipartError::NoFirstBoundary)?
            + delimiter.len()
    };
    let mut parts = Vec::new();
    loop {
        // After a boundary: "--" closes the body, else (transport padding
        // and) CRLF starts a part.
        let after = data.get(at..).unwrap_or(&[]);
        if after.starts_with(b"--") {
            return Ok(parts);
        }
        let line_end = find(data, b"\r\n", at).ok_or(MultipartError::Truncated)?;
        if data
            .get(at..line_end)
            .is_some_and(|pad| pad.iter().any(|&b| b != b' ' && b != b'\t'))
        {
            return Err(MultipartError::NoFirstBoundary);
        }
        let headers_start = line_end + 2;
        if parts.len() == MAX_PARTS {
            return Err(MultipartError::TooManyParts);
        }
        let (headers_end, body_start) =
            if data.get(headers_start..headers_start + 2) == Some(b"\r\n") {
                (headers_start, headers_start + 2)
            } else {
                let end = find(data, b"\r\n\r\n", headers_start)
                    .ok_or(MultipartError::UnterminatedHeaders)?;
                (end, end + 4)
            };
        if headers_end - headers_start > MAX_PART_HEADER_BYTES {
            return Err(MultipartError::HeadersTooLarge);
        }
        let headers = String::from_utf8_lossy(data.get(headers_start..headers_end).unwrap_or(&[]));
        let end = next_delimiter(data, delimiter.as_bytes(), body_start)
            .ok_or(MultipartError::Truncated)?;
        parts.push(part(&headers, body.slice(body_start..end))?);
        at = end + delimiter.len();
    }
}

fn part(headers: &str, body: Bytes) -> Result<Part, MultipartError> {
    let mut disposition = None;
    let mut content_type = None;
    for line in headers.split("\r\n") {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let name = name.trim();
        if name.eq_ignore_ascii_case("content-disposition") {
            disposition = Some(value.trim().to_string());
        } else if name.eq_ignore_ascii_case("content-type") {
            content_type = Some(value.trim().to_string());
        }
    }
    let disposition = disposition.ok_or(MultipartError::NoName)?;
    if !media_type(&disposition).eq_ignore_ascii_case("form-data") {
        return Err(MultipartError::NoName);
    }
    let name = param(&disposition, "name").ok_or(MultipartError::NoName)?;
    Ok(Part {
        name,
        filename: param(&disposition, "filename"),
        content_type,
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A body the way Go's mime/multipart writes it.
    fn form(boundary: &str, parts: &[(&str, &[u8])]) -> Bytes {
        let mut b = Vec::new();
        for (name, body) in parts {
            b.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{name}.pprof\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes());
            b.extend_from_slice(body);
            b.extend_from_slice(b"\r\n");
        }
        b.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        Bytes::from(b)
    }

    #[test]
    fn reads_the_parts_an_sdk_sends() {
        let ct = "multipart/form-data; boundary=abc123";
        let body = form(
            "abc123",
            &[
                ("profile", b"\x1f\x8b\r\n--abc12 binary"),
                ("sample_type_config", b"{}"),
            ],
        );
        let parts = parse(ct, &body).unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].name, "profile");
        assert_eq!(parts[0].filename.as_deref(), Some("profile.pprof"));
        assert_eq!(
            parts[0].content_type.as_deref(),
            Some("application/octet-stream")
        );
        assert_eq!(&parts[0].body[..], b"\x1f\x8b\r\n--abc12 binary");
        assert_eq!(&parts[1].body[..], b"{}");
        // The boundary's text inside content, followed by more text.
        let body = form("abc123", &[("profile", b"a\r\n--abc123x\r\n")]);
        assert_eq!(
            &parse(ct, &body).unwrap()[0].body[..],
            b"a\r\n--abc123x\r\n"
        );
        // A quoted boundary, a preamble, an empty part, no final CRLF.
        let body = Bytes::from_static(
            b"preamble\r\n--b c\r\nContent-Disposition: form-data; name=\"p\\\"q\"\r\n\r\n\r\n--b c--",
        );
        let parts = parse("multipart/form-data; boundary=\"b c\"", &body).unwrap();
        assert_eq!(parts[0].name, "p\"q");
        assert!(parts[0].body.is_empty());
        // Headers may be absent but for the disposition; no parts at all.
        let parts = parse(ct, &Bytes::from_static(b"--abc123--\r\n")).unwrap();
        assert!(parts.is_empty());
    }

    #[test]
    fn refusals_say_what_is_wrong() {
        let ct = "multipart/form-data; boundary=abc";
        let ok = form("abc", &[("profile", b"xyz")]);
        let cases: Vec<(&str, Bytes, MultipartError)> = vec![
            (
                "multipart/form-data",
                ok.clone(),
                MultipartError::NoBoundary,
            ),
            (
                "multipart/form-data; boundary=",
                ok.clone(),
                MultipartError::NoBoundary,
            ),
            (
                ct,
                Bytes::from_static(b"hello"),
                MultipartError::NoFirstBoundary,
            ),
            (ct, ok.slice(..ok.len() - 12), MultipartError::Truncated),
            (
                ct,
                Bytes::from_static(b"--abc\r\nContent-Disposition: form-data; name=a"),
                MultipartError::UnterminatedHeaders,
            ),
            (
                ct,
                Bytes::from_static(b"--abc\r\nContent-Type: x\r\n\r\nbody\r\n--abc--"),
                MultipartError::NoName,
            ),
            (
                ct,
                Bytes::from_static(
                    b"--abc\r\nContent-Disposition: attachment; name=a\r\n\r\nbody\r\n--abc--",
                ),
                MultipartError::NoName,
            ),
            (
                ct,
                Bytes::from_static(b"--abcdef\r\n"),
                MultipartError::NoFirstBoundary,
            ),
        ];
        for (ct, body, want) in cases {
            assert_eq!(parse(ct, &body), Err(want.clone()), "{body:?}");
        }
        let many: Vec<(&str, &[u8])> = (0..17).map(|_| ("x", &b"1"[..])).collect();
        assert_eq!(
            parse(ct, &form("abc", &many)),
            Err(MultipartError::TooManyParts)
        );
        let big = format!(
            "--abc\r\nContent-Disposition: form-data; name=a\r\nX: {}\r\n\r\nb\r\n--abc--",
            "y".repeat(9000)
        );
        assert_eq!(
            parse(ct, &Bytes::from(big)),
            Err(MultipartError::HeadersTooLarge)
        );
    }

    #[test]
    fn content_type_parameters() {
        assert!(is_form_data("Multipart/Form-Data; boundary=x"));
        assert!(!is_form_data("application/octet-stream"));
        assert_eq!(
            param("form-data; name=profile; filename=\"a;b\"", "filename").as_deref(),
            Some("a;b")
        );
        assert_eq!(
            param("form-data; NAME = \"p\"", "name").as_deref(),
            Some("p")
        );
        assert_eq!(param("form-data; name=\"unclosed", "name"), None);
        assert_eq!(param("form-data", "name"), None);
    }
}
