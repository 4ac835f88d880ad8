//! [`OtlpPayload`]: an `ExportProfilesServiceRequest` received over OTLP,
//! kept as the protobuf bytes it arrived in so that OTLP exporters forward
//! it untouched — links, attribute types, dictionary entries and fields
//! this version does not know all survive. Exporters that need pprof (the
//! Pyroscope push API, pprof files) convert it with
//! [`OtlpPayload::to_records`].
//!
//! Construction checks the request once: it must decode, stay within
//! [`OtlpLimits`], and every dictionary index it uses must be in range, so
//! that a bad request is refused where it arrived (with a reason the sender
//! reads), not by a backend later. A received request is checked over its
//! bytes in one pass ([`wire_check`]); only one that pass cannot vouch for
//! is decoded by prost, whose decoding and [`checks`] then decide and word
//! the refusal — except attribute values nested more than 64 levels deep
//! and protobuf groups, which the pass refuses itself (prost, without its
//! recursion limit in profcol's build, would recurse through them until
//! the stack overflows).
//!
//! ```
//! use profcol_pdata::otlp::{to_otlp_bytes, OtlpLimits, OtlpPayload};
//! use profcol_pdata::{pprof::Profile, Labels, ProfileRecord};
//! let record = ProfileRecord::from_profile(
//!     Labels::from_pairs([("service_name", "api")]),
//!     &Profile::empty("samples", "count"),
//! )?;
//! let bytes = to_otlp_bytes(&[record]);
//! let payload = OtlpPayload::from_bytes(bytes.into(), &OtlpLimits::default())?;
//! assert_eq!(payload.profile_count(), 1);
//! assert_eq!(payload.to_records()?[0].labels.get("service_name"), Some("api"));
//! # Ok::<(), profcol_pdata::Error>(())
//! ```

mod checks;
mod wire_check;

use crate::otlp::collector::ExportProfilesServiceRequest;
use crate::{Error, ProfileRecord};
use bytes::Bytes;
use prost::Message;

/// Bounds a received request must stay within.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OtlpLimits {
    /// OTLP `Profile` messages in one request.
    pub max_profiles: usize,
    /// Samples over all profiles of one request.
    pub max_samples: usize,
}

impl Default for OtlpLimits {
    fn default() -> Self {
        Self {
            max_profiles: 100_000,
            max_samples: 10_000_000,
        }
    }
}

/// A checked OTLP profiles request, as received.
#[derive(Clone, Debug)]
pub struct OtlpPayload {
    bytes: Bytes,
    profiles: usize,
    samples: usize,
    resources: usize,
    received_compressed: Option<(ContentCoding, Bytes)>,
}

/// A compression a request can arrive in and an OTLP exporter can send it
/// in (`grpc-encoding` / `Content-Encoding`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentCoding {
    Gzip,
    Zstd,
}

impl OtlpPayload {
    /// Checks `bytes` (an uncompressed protobuf `ExportProfilesServiceRequest`)
    /// and keeps them.
    pub fn from_bytes(bytes: Bytes, limits: &OtlpLimits) -> Result<Self, Error> {
        let (counts, resources) = match wire_check::check(&bytes, limits) {
            wire_check::Verdict::Vouched(counts, resources) => (counts, resources),
            wire_check::Verdict::Refused(why) => return Err(Error::InvalidOtlp(why.into())),
            wire_check::Verdict::Unsure => Self::check_decoded(&bytes, limits)?,
        };
        Ok(Self::checked(bytes, counts, resources))
    }

    /// A payload of `bytes` that passed the checks with `counts`.
    fn checked(bytes: Bytes, counts: checks::Counts, resources: usize) -> Self {
        Self {
            bytes,
            profiles: counts.profiles,
            samples: counts.samples,
            resources,
            received_compressed: None,
        }
    }

    /// The checks on the request decoded by prost: the verdict of record.
    fn check_decoded(bytes: &Bytes, limits: &OtlpLimits) -> Result<(checks::Counts, usize), Error> {
        let req = ExportProfilesServiceRequest::decode(bytes.clone()).map_err(Error::OtlpDecode)?;
        Ok((checks::check(&req, limits)?, req.resource_profiles.len()))
    }

    /// [`Self::from_bytes`] without the one-pass check: the oracle the
    /// fuzz target and the benchmark compare it with.
    #[cfg(any(test, feature = "oracle"))]
    pub fn from_bytes_via_prost(bytes: Bytes, limits: &OtlpLimits) -> Result<Self, Error> {
        let (counts, resources) = Self::check_decoded(&bytes, limits)?;
        Ok(Self::checked(bytes, counts, resources))
    }

    /// Checks a decoded request (from OTLP/JSON) and keeps its protobuf
    /// encoding.
    pub fn from_request(
        req: &ExportProfilesServiceRequest,
        limits: &OtlpLimits,
    ) -> Result<Self, Error> {
        let counts = checks::check(req, limits)?;
        Ok(Self::checked(
            Bytes::from(req.encode_to_vec()),
            counts,
            req.resource_profiles.len(),
        ))
    }

    /// The request's protobuf bytes, as received.
    pub fn bytes(&self) -> &Bytes {
        &self.bytes
    }

    /// The request decoded into prost structs.
    pub fn request(&self) -> Result<ExportProfilesServiceRequest, Error> {
        ExportProfilesServiceRequest::decode(self.bytes.clone()).map_err(Error::OtlpDecode)
    }

    /// One pprof record per original profile (see [`crate::otlp::from_otlp`]).
    pub fn to_records(&self) -> Result<Vec<ProfileRecord>, Error> {
        crate::otlp::from_otlp(&self.request()?)
    }

    /// OTLP `Profile` messages in the request.
    pub fn profile_count(&self) -> usize {
        self.profiles
    }

    /// Samples over all profiles.
    pub fn sample_count(&self) -> usize {
        self.samples
    }

    /// `ResourceProfiles` in the request.
    pub fn resource_count(&self) -> usize {
        self.resources
    }

    /// Keeps the body the request arrived in beside its bytes: `compressed`
    /// must decompress (with `compression`, every frame or member of it) to
    /// exactly [`Self::bytes`], so only the receiver that decompressed it
    /// into them calls this. An exporter compressing the same way sends it
    /// as it came instead of compressing the request again.
    pub fn with_received_compressed(
        mut self,
        compression: ContentCoding,
        compressed: Bytes,
    ) -> Self {
        self.received_compressed = Some((compression, compressed));
        self
    }

    /// The body as it arrived, if it arrived compressed with `compression`.
    pub fn received_compressed(&self, compression: ContentCoding) -> Option<&Bytes> {
        match &self.received_compressed {
            Some((c, bytes)) if *c == compression => Some(bytes),
            _ => None,
        }
    }

    /// The memory the payload holds (with the body it arrived in).
    pub fn memory_bytes(&self) -> usize {
        self.bytes.len()
            + self
                .received_compressed
                .as_ref()
                .map_or(0, |(_, b)| b.len())
    }
}

#[cfg(test)]
mod tests;
