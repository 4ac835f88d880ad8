//! `google.rpc.Status`, the error body of OTLP (gRPC status details and
//! OTLP/HTTP error responses): decoding it from protobuf or from its JSON
//! form, the canonical code names, and a short description of an error
//! body for logs when it is not a status (an escaped prefix of the bytes).

use prost::Message;
use std::fmt;

/// The type URL of `google.rpc.RetryInfo` in `details`.
pub const RETRY_INFO: &str = "type.googleapis.com/google.rpc.RetryInfo";

/// How many bytes of an undecodable body a log line quotes.
pub const BODY_PREFIX_BYTES: usize = 128;

// The messages, as far as profcol reads them (field numbers per
// google/rpc/status.proto, error_details.proto, protobuf any/duration).
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct RpcStatusProto {
    #[prost(int32, tag = "1")]
    pub code: i32,
    #[prost(string, tag = "2")]
    pub message: String,
    #[prost(message, repeated, tag = "3")]
    pub details: Vec<AnyProto>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct AnyProto {
    #[prost(string, tag = "1")]
    pub type_url: String,
    #[prost(bytes = "vec", tag = "2")]
    pub value: Vec<u8>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct RetryInfoProto {
    #[prost(message, optional, tag = "1")]
    pub retry_delay: Option<DurationProto>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct DurationProto {
    #[prost(int64, tag = "1")]
    pub seconds: i64,
    #[prost(int32, tag = "2")]
    pub nanos: i32,
}

/// A decoded status: what a log line and a metric label need.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RpcStatus {
    pub code: i32,
    pub message: String,
    /// The type URLs of `details`, in order.
    pub detail_types: Vec<String>,
    /// `RetryInfo.retry_delay`, when a detail carries one.
    pub retry_delay: Option<std::time::Duration>,
}

impl RpcStatus {
    /// Decodes the protobuf form. `None` when the bytes are not a status.
    pub fn from_protobuf(bytes: &[u8]) -> Option<Self> {
        let s = RpcStatusProto::decode(bytes).ok()?;
        let retry_delay = s
            .details
            .iter()
            .find(|a| a.type_url == RETRY_INFO)
            .and_then(|a| RetryInfoProto::decode(a.value.as_slice()).ok())
            .and_then(|r| r.retry_delay)
            .and_then(|d| {
                let secs = u64::try_from(d.seconds).ok()?;
                let nanos = u32::try_from(d.nanos).ok()?;
                Some(std::time::Duration::new(secs, nanos.min(999_999_999)))
            });
        Some(Self {
            code: s.code,
            message: s.message,
            detail_types: s.details.into_iter().map(|a| a.type_url).collect(),
            retry_delay,
        })
    }

    /// Decodes the JSON form (proto3 JSON: `{"code": 3, "message": "…",
    /// "details": [{"@type": "…", …}]}`). The code may also be a name
    /// (`"INVALID_ARGUMENT"`, or Connect's `"invalid_argument"`).
    pub fn from_json(bytes: &[u8]) -> Option<Self> {
        let v: serde_json::Value = serde_json::from_slice(bytes).ok()?;
        let obj = v.as_object()?;
        let code = match obj.get("code")? {
            serde_json::Value::Number(n) => i32::try_from(n.as_i64()?).ok()?,
            serde_json::Value::String(s) => s.parse::<i32>().ok().or_else(|| code_from_name(s))?,
            _ => return None,
        };
        let message = obj
            .get("message")
            .and_then(|m| m.as_str())
            .unwrap_or_default()
            .to_string();
        let mut detail_types = Vec::new();
        let mut retry_delay = None;
        for d in obj
            .get("details")
            .and_then(|d| d.as_array())
            .into_iter()
            .flatten()
        {
            let ty = d.get("@type").and_then(|t| t.as_str()).unwrap_or_default();
            if ty == RETRY_INFO {
                retry_delay = d
                    .get("retryDelay")
                    .and_then(|r| r.as_str())
                    .and_then(parse_json_duration);
            }
            detail_types.push(ty.to_string());
        }
        Some(Self {
            code,
            message,
            detail_types,
            retry_delay,
        })
    }

    /// Decodes an error body by its `Content-Type`: protobuf for
    /// `application/x-protobuf` (and `application/protobuf`,
    /// `application/proto`), JSON for `application/json`. Without a
    /// content type both are tried; a protobuf reading counts only when it
    /// says something (a code or a message), since many short texts happen
    /// to parse as protobuf.
    pub fn from_body(content_type: Option<&str>, body: &[u8]) -> Option<Self> {
        let mime = content_type.map(|c| {
            c.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        });
        match mime.as_deref() {
            Some("application/x-protobuf" | "application/protobuf" | "application/proto") => {
                Self::from_protobuf(body)
            }
            Some("application/json") => Self::from_json(body),
            Some(_) => None,
            None => Self::from_json(body).or_else(|| {
                Self::from_protobuf(body).filter(|s| s.code != 0 || !s.message.is_empty())
            }),
        }
    }

    /// The canonical name of the code (`INVALID_ARGUMENT`), or `CODE_<n>`.
    pub fn code_name(&self) -> String {
        code_name(self.code).map_or_else(|| format!("CODE_{}", self.code), str::to_string)
    }
}

impl fmt::Display for RpcStatus {
    /// `INVALID_ARGUMENT: message [details: type.googleapis.com/…]`; the
    /// message is escaped (it comes from the network).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.code_name())?;
        if !self.message.is_empty() {
            write!(f, ": {}", escape_prefix(self.message.as_bytes(), 512))?;
        }
        if !self.detail_types.is_empty() {
            write!(f, " [details: {}]", self.detail_types.join(", "))?;
        }
        Ok(())
    }
}

/// The canonical gRPC code names, by number.
const CODE_NAMES: [&str; 17] = [
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
];

/// `INVALID_ARGUMENT` for 3; `None` outside the canonical codes.
pub fn code_name(code: i32) -> Option<&'static str> {
    usize::try_from(code)
        .ok()
        .and_then(|i| CODE_NAMES.get(i))
        .copied()
}

/// 3 for `INVALID_ARGUMENT` or `invalid_argument` (Connect writes names in
/// lower case; it spells CANCELLED `canceled`).
pub fn code_from_name(name: &str) -> Option<i32> {
    let upper = name.trim().to_ascii_uppercase();
    let upper = if upper == "CANCELED" {
        "CANCELLED".to_string()
    } else {
        upper
    };
    CODE_NAMES
        .iter()
        .position(|n| *n == upper)
        .and_then(|i| i32::try_from(i).ok())
}

/// `"1.5s"` (proto3 JSON's Duration) as a duration.
fn parse_json_duration(s: &str) -> Option<std::time::Duration> {
    let secs: f64 = s.strip_suffix('s')?.parse().ok()?;
    std::time::Duration::try_from_secs_f64(secs).ok()
}

/// At most `max` bytes of `body` as text with every control character and
/// quote escaped (`\n`, `\u{1b}`, …; invalid UTF-8 shows as U+FFFD), and
/// `… (N bytes)` when it was cut: safe to put on a log line.
pub fn escape_prefix(body: &[u8], max: usize) -> String {
    let mut cut = body.len().min(max);
    // Do not split the last character when the bytes are UTF-8 there.
    if cut < body.len() {
        if let Err(e) = std::str::from_utf8(&body[..cut]) {
            if e.error_len().is_none() {
                cut = e.valid_up_to();
            }
        }
    }
    let text = String::from_utf8_lossy(&body[..cut]);
    let mut out: String = text.trim().escape_debug().collect();
    if cut < body.len() {
        out.push_str(&format!("… ({} bytes)", body.len()));
    }
    out
}

/// What a non-2xx body says, for a log line: the decoded status, or an
/// escaped prefix of the bytes, or `empty body`.
pub fn describe_body(status: Option<&RpcStatus>, body: &[u8]) -> String {
    match status {
        Some(s) => s.to_string(),
        None if body.is_empty() => "empty body".to_string(),
        None => escape_prefix(body, BODY_PREFIX_BYTES),
    }
}

/// Encodes a status (for tests and local servers).
pub fn encode(code: i32, message: &str, retry_delay: Option<std::time::Duration>) -> Vec<u8> {
    let details = retry_delay
        .map(|d| AnyProto {
            type_url: RETRY_INFO.to_string(),
            value: RetryInfoProto {
                retry_delay: Some(DurationProto {
                    seconds: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
                    nanos: i32::try_from(d.subsec_nanos()).unwrap_or(0),
                }),
            }
            .encode_to_vec(),
        })
        .into_iter()
        .collect();
    RpcStatusProto {
        code,
        message: message.to_string(),
        details,
    }
    .encode_to_vec()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::time::Duration;

    #[test]
    fn protobuf_status_decodes_with_its_retry_delay() {
        let b = encode(8, "slow down", Some(Duration::from_millis(1500)));
        let s = RpcStatus::from_protobuf(&b).unwrap();
        assert_eq!(s.code, 8);
        assert_eq!(s.message, "slow down");
        assert_eq!(s.detail_types, [RETRY_INFO]);
        assert_eq!(s.retry_delay, Some(Duration::from_millis(1500)));
        assert_eq!(
            s.to_string(),
            "RESOURCE_EXHAUSTED: slow down [details: type.googleapis.com/google.rpc.RetryInfo]"
        );
        assert_eq!(RpcStatus::from_protobuf(b"\xff\xff"), None);
    }

    #[test]
    fn json_status_in_proto3_and_connect_spelling() {
        let j = br#"{"code":3,"message":"bad \"x\"","details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"2.500s"}]}"#;
        let s = RpcStatus::from_json(j).unwrap();
        assert_eq!(
            (s.code, s.message.as_str(), s.retry_delay),
            (3, "bad \"x\"", Some(Duration::from_millis(2500)))
        );
        assert_eq!(
            s.to_string(),
            r#"INVALID_ARGUMENT: bad \"x\" [details: type.googleapis.com/google.rpc.RetryInfo]"#
        );
        let c = RpcStatus::from_json(br#"{"code":"invalid_argument","message":"m"}"#).unwrap();
        assert_eq!(c.code, 3);
        assert_eq!(code_from_name("canceled"), Some(1));
        assert_eq!(RpcStatus::from_json(b"[1]"), None);
        assert_eq!(RpcStatus::from_json(br#"{"message":"no code"}"#), None);
    }

    #[test]
    fn the_content_type_picks_the_decoder() {
        let pb = encode(3, "m", None);
        let s = RpcStatus::from_body(Some("application/x-protobuf"), &pb).unwrap();
        assert_eq!(s.code_name(), "INVALID_ARGUMENT");
        assert_eq!(RpcStatus::from_body(Some("text/plain"), &pb), None);
        assert_eq!(
            RpcStatus::from_body(Some("application/json; charset=utf-8"), br#"{"code":14}"#)
                .unwrap()
                .code_name(),
            "UNAVAILABLE"
        );
        assert_eq!(RpcStatus::from_body(None, &pb).unwrap().code, 3);
        // Text that happens to parse as an empty protobuf message says nothing.
        assert_eq!(RpcStatus::from_body(None, b""), None);
        assert_eq!(RpcStatus::from_body(None, b"nope"), None);
        assert_eq!(
            RpcStatus {
                code: 99,
                ..Default::default()
            }
            .code_name(),
            "CODE_99"
        );
    }

    #[test]
    fn undecodable_bodies_are_quoted_short_and_escaped() {
        assert_eq!(describe_body(None, b""), "empty body");
        assert_eq!(
            describe_body(None, b"<html>\n\x1b[31mx</html>\n"),
            r"<html>\n\u{1b}[31mx</html>"
        );
        let long = vec![b'a'; 1000];
        let d = describe_body(None, &long);
        assert!(d.ends_with("… (1000 bytes)"), "{d}");
        assert_eq!(d.len(), BODY_PREFIX_BYTES + "… (1000 bytes)".len());
        let bin = describe_body(None, &[0xff, 0x00, b'"']);
        assert_eq!(bin, "\u{fffd}\\0\\\"");
    }
}
