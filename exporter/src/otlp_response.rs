//! Reading an OTLP server's answer to an export: the partial success of an
//! `ExportProfilesServiceResponse` (protobuf, or its JSON form when an
//! OTLP/HTTP server answers `application/json`), and a bounded read of an
//! HTTP response body.

use profcol_pdata::otlp::collector::ExportProfilesServiceResponse;
use prost::Message;

/// The most of a response body an exporter reads: an export response or
/// an error status is a few hundred bytes; anything beyond this is cut.
pub const MAX_RESPONSE_BYTES: usize = 64 << 10;

/// What a partial success reports: profiles rejected and the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartialSuccess {
    pub rejected_profiles: i64,
    pub error_message: String,
}

/// The partial success in a response body, when it reports anything
/// (rejected profiles or a message; the OTLP spec's "warning" case is a
/// message with zero rejected). A body that does not decode is ignored:
/// the export itself was accepted.
pub fn partial_success(content_type: Option<&str>, body: &[u8]) -> Option<PartialSuccess> {
    let json = content_type.is_some_and(|c| {
        c.split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .eq_ignore_ascii_case("application/json")
    });
    let p = if json {
        from_json(body)?
    } else {
        let p = ExportProfilesServiceResponse::decode(body)
            .ok()?
            .partial_success?;
        PartialSuccess {
            rejected_profiles: p.rejected_profiles,
            error_message: p.error_message,
        }
    };
    (p.rejected_profiles != 0 || !p.error_message.is_empty()).then_some(p)
}

/// `{"partialSuccess": {"rejectedProfiles": "2", "errorMessage": "…"}}`;
/// the count may be a string (proto3 JSON's int64) or a number, and the
/// original snake_case names are accepted too.
fn from_json(body: &[u8]) -> Option<PartialSuccess> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let field = |o: &serde_json::Value, camel: &str, snake: &str| {
        o.get(camel).or_else(|| o.get(snake)).cloned()
    };
    let p = field(&v, "partialSuccess", "partial_success")?;
    let rejected = match field(&p, "rejectedProfiles", "rejected_profiles") {
        Some(serde_json::Value::String(s)) => s.parse().ok()?,
        Some(serde_json::Value::Number(n)) => n.as_i64()?,
        None => 0,
        Some(_) => return None,
    };
    let message = field(&p, "errorMessage", "error_message")
        .and_then(|m| m.as_str().map(str::to_string))
        .unwrap_or_default();
    Some(PartialSuccess {
        rejected_profiles: rejected,
        error_message: message,
    })
}

/// Reads at most [`MAX_RESPONSE_BYTES`] of a response body; a body that
/// fails midway yields what arrived (the status line already says enough).
pub async fn read_bounded(mut resp: reqwest::Response) -> Vec<u8> {
    let mut out = Vec::new();
    while let Ok(Some(chunk)) = resp.chunk().await {
        let room = MAX_RESPONSE_BYTES - out.len();
        out.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if out.len() >= MAX_RESPONSE_BYTES {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use profcol_pdata::otlp::collector::ExportProfilesPartialSuccess;

    #[test]
    fn protobuf_and_json_partial_success() {
        let pb = ExportProfilesServiceResponse {
            partial_success: Some(ExportProfilesPartialSuccess {
                rejected_profiles: 2,
                error_message: "too old".into(),
            }),
        }
        .encode_to_vec();
        let want = PartialSuccess {
            rejected_profiles: 2,
            error_message: "too old".into(),
        };
        assert_eq!(
            partial_success(Some("application/x-protobuf"), &pb),
            Some(want.clone())
        );
        assert_eq!(partial_success(None, &pb), Some(want.clone()));
        let j = br#"{"partialSuccess":{"rejectedProfiles":"2","errorMessage":"too old"}}"#;
        assert_eq!(
            partial_success(Some("application/json"), j),
            Some(want.clone())
        );
        let j = br#"{"partial_success":{"rejected_profiles":2,"error_message":"too old"}}"#;
        assert_eq!(partial_success(Some("application/json"), j), Some(want));
        // A warning: nothing rejected, a message.
        let j = br#"{"partialSuccess":{"errorMessage":"slow"}}"#;
        assert_eq!(
            partial_success(Some("application/json"), j)
                .unwrap()
                .rejected_profiles,
            0
        );
        assert_eq!(partial_success(Some("application/json"), b"{}"), None);
        assert_eq!(partial_success(None, b""), None);
        assert_eq!(partial_success(Some("application/json"), b"{"), None);
    }
}
