//! Reads `google.rpc.RetryInfo` out of a gRPC status's details and decides
//! which status codes are worth retrying (the OTLP exporter rules).

use crate::retry::SendError;
use crate::rpc_status::RpcStatus;
use tonic::Code;

/// The server's `RetryInfo.retry_delay`, if the status carries one.
pub fn retry_delay(details: &[u8]) -> Option<std::time::Duration> {
    RpcStatus::from_protobuf(details)?.retry_delay
}

/// Encodes a status details blob with a `RetryInfo` (for tests and servers).
pub fn details_with_retry_delay(code: Code, message: &str, delay: std::time::Duration) -> Vec<u8> {
    crate::rpc_status::encode(code as i32, message, Some(delay))
}

/// The canonical name of a status's code (`INVALID_ARGUMENT`), the
/// `code` label of `profcol_exporter_send_errors_total`.
pub fn code_label(status: &tonic::Status) -> &'static str {
    crate::rpc_status::code_name(status.code() as i32).unwrap_or("UNKNOWN")
}

/// Added to UNIMPLEMENTED (and HTTP 404) errors: the usual cause.
pub const UNIMPLEMENTED_HINT: &str = " (does the server accept OTLP profiles? The OpenTelemetry Collector needs a profiles pipeline and --feature-gates=service.profilesSupport)";

/// How a failed export call is handled.
pub fn classify(status: &tonic::Status) -> SendError {
    let mut reason = format!(
        "gRPC {}: {}",
        code_label(status),
        crate::rpc_status::escape_prefix(status.message().as_bytes(), 512)
    );
    if status.code() == Code::Unimplemented {
        reason.push_str(UNIMPLEMENTED_HINT);
    }
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
                reason: "gRPC RESOURCE_EXHAUSTED: x".into(),
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
