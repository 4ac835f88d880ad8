//! The OTLP requests one batch becomes, shared by `otlp_grpc` and
//! `otlp_http`: pprof records are written into requests of at most
//! `max_request_bytes` (one dictionary each, split as needed), and each
//! OTLP request that a receiver took in is forwarded as it arrived — its
//! own request, byte for byte, and, when it arrived gzipped or zstd'd, with
//! that body, which an exporter compressing the same way sends as it came
//! ([`OtlpRequest::compressed`]). A received request over the limit is the one
//! exception: it is converted to pprof records and split like them (counted
//! and logged, as attributes pprof cannot hold are lost on that path).

use crate::compression::Codec;
use crate::events::ExporterEvents;
use bytes::Bytes;
use profcol_pdata::otlp::{to_otlp_bytes_with, ContentCoding, OtlpOptions, OtlpPayload};
use profcol_pdata::{ProfileBatch, ProfileRecord};
use std::sync::Arc;

/// One request's protobuf bytes (uncompressed) and its profile count.
pub struct OtlpRequest {
    pub bytes: Bytes,
    pub profiles: u64,
    /// The received request it is, if it is one.
    received: Option<Arc<OtlpPayload>>,
}

impl OtlpRequest {
    /// The request already compressed with `codec`'s compression, as it
    /// arrived: sent instead of compressing it again (at whatever level
    /// its sender chose).
    pub fn compressed(&self, codec: Codec) -> Option<&Bytes> {
        let coding = match codec {
            Codec::Gzip { .. } => ContentCoding::Gzip,
            Codec::Zstd { .. } => ContentCoding::Zstd,
            Codec::None => return None,
        };
        self.received.as_ref()?.received_compressed(coding)
    }
}

pub fn otlp_requests(
    batch: ProfileBatch,
    max: u64,
    options: &OtlpOptions,
    events: &ExporterEvents,
) -> Vec<OtlpRequest> {
    let mut records = batch.records;
    let mut out = Vec::new();
    for payload in batch.otlp {
        let size = payload.bytes().len() as u64;
        if max == 0 || size <= max {
            out.push(OtlpRequest {
                bytes: payload.bytes().clone(),
                profiles: payload.profile_count() as u64,
                received: Some(payload),
            });
            continue;
        }
        match payload.to_records() {
            Ok(converted) => {
                events.oversized_otlp_converted(size, max, converted.len());
                records.extend(converted);
            }
            Err(e) => events.dropped(
                "too_large",
                payload.profile_count() as u64,
                size,
                &format!("a received OTLP request of {size} bytes is over max_request_bytes ({max}) and cannot be split: {e}"),
            ),
        }
    }
    let encode = |r: &[ProfileRecord]| to_otlp_bytes_with(r, options);
    let parts = crate::split::split_to_fit(records, max, &encode, &mut |n| {
        events.request_too_large("max_request_bytes", max, n);
    });
    for (bytes, records) in parts {
        out.push(OtlpRequest {
            bytes: Bytes::from(bytes),
            profiles: records.len() as u64,
            received: None,
        });
    }
    out
}
