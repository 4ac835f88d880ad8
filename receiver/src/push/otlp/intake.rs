//! The path both protocols share once a request is read: the memory check
//! before reading, decoding off the async threads, the hand-off to the
//! pipeline, and the event that logs and counts the outcome.
//!
//! A hand-off may wait inside the request (a full sending queue with
//! `block_on_overflow`); when the receiver stops, the wait ends and the
//! request is answered with the pipeline's refusal, so none outlives it.

use super::answer::Refusal;
use super::decompress::Encoding;
use crate::push::{PushEvents, DOWNSTREAM_REFUSED};
use profcol_pdata::otlp::{ContentCoding, OtlpLimits, OtlpPayload};
use profcol_pdata::{Consumer, ProfileBatch};
use profcol_runtime::caller::{self, Caller};
use profcol_runtime::MemoryGuard;
use std::sync::Arc;
use std::time::Instant;
use tokio_util::sync::CancellationToken;

/// The reason label of a request refused for the memory limit.
pub const MEMORY_LIMIT: &str = "memory_limit";

/// Where accepted requests go, shared by a receiver's handlers.
pub struct Intake {
    next: Arc<dyn Consumer>,
    memory: MemoryGuard,
    events: PushEvents,
    limits: OtlpLimits,
    /// The receiver's stop: a hand-off still waiting then gives up.
    stop: CancellationToken,
}

impl Intake {
    pub fn new(
        next: Arc<dyn Consumer>,
        memory: MemoryGuard,
        events: PushEvents,
        stop: CancellationToken,
    ) -> Self {
        Self {
            next,
            memory,
            events,
            limits: OtlpLimits::default(),
            stop,
        }
    }

    pub fn limits(&self) -> OtlpLimits {
        self.limits
    }

    /// Refuses new work while memory is over its soft limit (before the
    /// body is read, so a refused request costs nothing).
    pub fn admit(&self) -> Result<(), Refusal> {
        self.memory.check().map_err(|over| Refusal::Overloaded {
            message: over.to_string(),
            reason: MEMORY_LIMIT,
        })
    }

    /// Hands `payload` downstream; returns the number of profiles taken.
    /// A request without samples is answered with success and not
    /// forwarded (as the Collector's receiver does).
    pub async fn forward(&self, payload: OtlpPayload) -> Result<usize, Refusal> {
        if payload.sample_count() == 0 {
            return Ok(0);
        }
        let profiles = payload.profile_count();
        let caller = Caller {
            gave_up: self.stop.clone(),
            observer: None,
        };
        let handing = self.next.consume(ProfileBatch::from_otlp(payload));
        match caller::scope(caller, handing).await {
            Ok(()) => Ok(profiles),
            Err(profcol_pdata::Error::Refused(message)) => Err(Refusal::Overloaded {
                message: format!("the pipeline refused the request: {message}"),
                reason: DOWNSTREAM_REFUSED,
            }),
            Err(other) => Err(Refusal::Unavailable(format!(
                "the pipeline failed to take the request: {other}"
            ))),
        }
    }

    /// Logs and counts the outcome of one request of `bytes` (as received).
    pub fn record(
        &self,
        protocol: &str,
        bytes: usize,
        started: Instant,
        outcome: &Result<usize, Refusal>,
    ) {
        match outcome {
            Ok(profiles) => self
                .events
                .accepted(protocol, *profiles, bytes, started.elapsed()),
            Err(r) => self
                .events
                .refused(protocol, r.reason(), &r.describe(), started.elapsed()),
        }
    }
}

/// A checked request from its protobuf bytes.
pub fn from_protobuf(bytes: bytes::Bytes, limits: &OtlpLimits) -> Result<OtlpPayload, Refusal> {
    OtlpPayload::from_bytes(bytes, limits).map_err(payload_refusal)
}

/// Keeps the body a checked request arrived in, when an OTLP exporter can
/// send it as it came (gzip and zstd; `compressed` is what was decompressed,
/// whole, into the payload's bytes).
pub fn keep_received_compressed(
    payload: OtlpPayload,
    encoding: Encoding,
    compressed: bytes::Bytes,
) -> OtlpPayload {
    match encoding {
        Encoding::Gzip => payload.with_received_compressed(ContentCoding::Gzip, compressed),
        Encoding::Zstd => payload.with_received_compressed(ContentCoding::Zstd, compressed),
        Encoding::Identity | Encoding::Zlib => payload,
    }
}

/// What a payload that did not pass its checks is answered with: a request
/// over [`OtlpLimits`] is too large, anything else bad data.
pub fn payload_refusal(e: profcol_pdata::Error) -> Refusal {
    match e {
        profcol_pdata::Error::TooMany { .. } => Refusal::TooLarge(format!(
            "the request has {}",
            strip_profile_has(&e.to_string())
        )),
        other => Refusal::BadRequest(other.to_string()),
    }
}

/// pdata says "profile has N OTLP samples, more than the limit of M".
fn strip_profile_has(text: &str) -> &str {
    text.strip_prefix("profile has ").unwrap_or(text)
}

/// Runs CPU-bound decoding on the blocking pool, so that a large request
/// does not hold up the connections served by the same thread.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, Refusal> + Send + 'static,
) -> Result<T, Refusal> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(Refusal::Internal(format!("the decoding task failed: {e}"))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_too_large_and_the_rest_bad_data() {
        let r = payload_refusal(profcol_pdata::Error::TooMany {
            what: "OTLP samples",
            count: 11,
            limit: 10,
        });
        assert_eq!(
            r,
            Refusal::TooLarge("the request has 11 OTLP samples, more than the limit of 10".into())
        );
        let r = payload_refusal(profcol_pdata::Error::OtlpIndex {
            table: "stack_table",
            index: 9,
            len: 3,
        });
        assert_eq!(
            r,
            Refusal::BadRequest(
                "invalid OTLP profiles: stack_table index 9 is outside the table of 3".into()
            )
        );
    }
}
