//! Reads `google.rpc.RetryInfo` out of a gRPC status's details and decides
//! which status codes are worth retrying (the OTLP exporter rules).

use crate::retry::SendError;
use prost::Message;
use tonic::Code;

const RETRY_INFO: &str = "type.googleapis.com/google.rpc.RetryInfo";

#[derive(Clone, PartialEq, prost::Message)]
struct RpcStatus {
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
    retry_delay: Option<ProtoDuration>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct ProtoDuration {
    #[prost(int64, tag = "1")]
    seconds: i64,
    #[prost(int32, tag = "2")]
    nanos: i32,
}

/// The server's `RetryInfo.retry_delay`, if the status carries one.
pub fn retry_delay(details: &[u8]) -> Option<std::time::Duration> {
    let status = RpcStatus::decode(details).ok()?;
    let info = status.details.iter().find(|a| a.type_url == RETRY_INFO)?;
    let d = RetryInfo::decode(info.value.as_slice()).ok()?.retry_delay?;
    let secs = u64::try_from(d.seconds).ok()?;
    let nanos = u32::try_from(d.nanos).ok()?;
    Some(std::time::Duration::new(secs, nanos.min(999_999_999)))
}

/// Encodes a status details blob with a `RetryInfo` (for tests and servers).
pub fn details_with_retry_delay(code: Code, message: &str, delay: std::time::Duration) -> Vec<u8> {
    let info = RetryInfo {
        retry_delay: Some(ProtoDuration {
            seconds: i64::try_from(delay.as_secs()).unwrap_or(i64::MAX),
            nanos: i32::try_from(delay.subsec_nanos()).unwrap_or(0),
        }),
    };
    RpcStatus {
        code: code as i32,
        message: message.to_string(),
        details: vec![Any {
            type_url: RETRY_INFO.to_string(),
            value: info.encode_to_vec(),
        }],
    }
    .encode_to_vec()
}

/// How a failed export call is handled.
pub fn classify(status: &tonic::Status) -> SendError {
    let reason = format!("gRPC {:?}: {}", status.code(), status.message());
    let delay = retry_delay(status.details());
    match status.code() {
        Code::Unavailable
        | Code::DeadlineExceeded
        | Code::Aborted
        | Code::OutOfRange
        | Code::DataLoss
        | Code::Cancelled => SendError::Retryable {
            reason,
            after: delay,
        },
        Code::ResourceExhausted if delay.is_some() => SendError::Retryable {
            reason,
            after: delay,
        },
        _ => SendError::Permanent { reason },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn retry_info_round_trips_and_drives_the_decision() {
        let d = details_with_retry_delay(
            Code::ResourceExhausted,
            "slow down",
            Duration::from_millis(1500),
        );
        assert_eq!(retry_delay(&d), Some(Duration::from_millis(1500)));
        let with = tonic::Status::with_details(Code::ResourceExhausted, "x", d.into());
        assert_eq!(
            classify(&with),
            SendError::Retryable {
                reason: "gRPC ResourceExhausted: x".into(),
                after: Some(Duration::from_millis(1500))
            }
        );
        assert!(matches!(
            classify(&tonic::Status::resource_exhausted("x")),
            SendError::Permanent { .. }
        ));
        assert!(matches!(
            classify(&tonic::Status::unavailable("x")),
            SendError::Retryable { after: None, .. }
        ));
        for c in [
            Code::InvalidArgument,
            Code::Unauthenticated,
            Code::PermissionDenied,
            Code::Internal,
        ] {
            assert!(
                matches!(
                    classify(&tonic::Status::new(c, "x")),
                    SendError::Permanent { .. }
                ),
                "{c:?}"
            );
        }
        assert_eq!(retry_delay(b"\xff\xff"), None);
    }
}
