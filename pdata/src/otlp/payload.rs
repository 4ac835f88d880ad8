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
//! reads), not by a backend later.
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

use crate::otlp::collector::ExportProfilesServiceRequest;
use crate::otlp::proto;
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
}

impl OtlpPayload {
    /// Checks `bytes` (an uncompressed protobuf `ExportProfilesServiceRequest`)
    /// and keeps them.
    pub fn from_bytes(bytes: Bytes, limits: &OtlpLimits) -> Result<Self, Error> {
        let req = ExportProfilesServiceRequest::decode(bytes.clone()).map_err(Error::OtlpDecode)?;
        let counts = check(&req, limits)?;
        Ok(Self {
            bytes,
            profiles: counts.profiles,
            samples: counts.samples,
            resources: req.resource_profiles.len(),
        })
    }

    /// Checks a decoded request (from OTLP/JSON) and keeps its protobuf
    /// encoding.
    pub fn from_request(
        req: &ExportProfilesServiceRequest,
        limits: &OtlpLimits,
    ) -> Result<Self, Error> {
        let counts = check(req, limits)?;
        Ok(Self {
            bytes: Bytes::from(req.encode_to_vec()),
            profiles: counts.profiles,
            samples: counts.samples,
            resources: req.resource_profiles.len(),
        })
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

    /// The memory the payload holds.
    pub fn memory_bytes(&self) -> usize {
        self.bytes.len()
    }
}

struct Counts {
    profiles: usize,
    samples: usize,
}

fn in_range(table: &'static str, index: i32, len: usize) -> Result<(), Error> {
    if index >= 0 && (index as usize) < len {
        Ok(())
    } else {
        Err(Error::OtlpIndex {
            table,
            index: index.into(),
            len,
        })
    }
}

/// Every index in range, counts within limits. Index 0 of an empty table is
/// allowed only where the proto says 0 means "unset" (a link, a mapping).
fn check(req: &ExportProfilesServiceRequest, limits: &OtlpLimits) -> Result<Counts, Error> {
    let empty = proto::ProfilesDictionary::default();
    let has_profiles = req
        .resource_profiles
        .iter()
        .flat_map(|r| &r.scope_profiles)
        .any(|s| !s.profiles.is_empty());
    let dict = match &req.dictionary {
        Some(d) => d,
        None if has_profiles => {
            return Err(Error::InvalidOtlp(
                "the request has profiles but no dictionary".into(),
            ))
        }
        None => &empty,
    };
    let strings = dict.string_table.len().max(1);
    let attr = |i: i32| in_range("attribute_table", i, dict.attribute_table.len());
    let string = |i: i32| in_range("string_table", i, strings);
    for a in &dict.attribute_table {
        string(a.key_strindex)?;
        string(a.unit_strindex)?;
    }
    for f in &dict.function_table {
        string(f.name_strindex)?;
        string(f.system_name_strindex)?;
        string(f.filename_strindex)?;
    }
    for m in &dict.mapping_table {
        string(m.filename_strindex)?;
        m.attribute_indices.iter().try_for_each(|&i| attr(i))?;
    }
    for l in &dict.location_table {
        if l.mapping_index != 0 {
            in_range("mapping_table", l.mapping_index, dict.mapping_table.len())?;
        }
        for line in &l.lines {
            in_range(
                "function_table",
                line.function_index,
                dict.function_table.len(),
            )?;
        }
        l.attribute_indices.iter().try_for_each(|&i| attr(i))?;
    }
    for s in &dict.stack_table {
        for &i in &s.location_indices {
            in_range("location_table", i, dict.location_table.len())?;
        }
    }
    let mut counts = Counts {
        profiles: 0,
        samples: 0,
    };
    for p in req
        .resource_profiles
        .iter()
        .flat_map(|r| &r.scope_profiles)
        .flat_map(|s| &s.profiles)
    {
        counts.profiles += 1;
        counts.samples += p.samples.len();
        if counts.profiles > limits.max_profiles {
            return Err(Error::TooMany {
                what: "OTLP profiles",
                count: counts.profiles,
                limit: limits.max_profiles,
            });
        }
        if counts.samples > limits.max_samples {
            return Err(Error::TooMany {
                what: "OTLP samples",
                count: counts.samples,
                limit: limits.max_samples,
            });
        }
        for vt in p.sample_type.iter().chain(p.period_type.iter()) {
            string(vt.type_strindex)?;
            string(vt.unit_strindex)?;
        }
        p.attribute_indices.iter().try_for_each(|&i| attr(i))?;
        for s in &p.samples {
            in_range("stack_table", s.stack_index, dict.stack_table.len().max(1))?;
            s.attribute_indices.iter().try_for_each(|&i| attr(i))?;
            if s.link_index != 0 {
                in_range("link_table", s.link_index, dict.link_table.len())?;
            }
        }
    }
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Labels, ProfileRecord};

    fn request() -> ExportProfilesServiceRequest {
        let record = ProfileRecord::from_profile(
            Labels::from_pairs([("service_name", "api")]),
            &crate::testutil::Builder::new(&[("samples", "count"), ("cpu", "nanoseconds")])
                .sample(&["main", "work"], &[("thread", "t1")], &[3, 30])
                .sample(&["main", "idle"], &[], &[1, 10])
                .build(),
        )
        .unwrap();
        let bytes = crate::otlp::to_otlp_bytes(&[record]);
        ExportProfilesServiceRequest::decode(bytes.as_slice()).unwrap()
    }

    #[test]
    fn keeps_the_bytes_it_was_given() {
        let bytes = Bytes::from(request().encode_to_vec());
        let p = OtlpPayload::from_bytes(bytes.clone(), &OtlpLimits::default()).unwrap();
        assert_eq!(p.bytes(), &bytes);
        assert!(p.profile_count() >= 1);
        assert!(p.sample_count() >= 1);
        assert_eq!(p.resource_count(), 1);
        let records = p.to_records().unwrap();
        assert_eq!(records[0].labels.get("service_name"), Some("api"));
    }

    #[test]
    fn refuses_what_does_not_decode() {
        let bytes = request().encode_to_vec();
        let cut = Bytes::from(bytes[..bytes.len() - 3].to_vec());
        let err = OtlpPayload::from_bytes(cut, &OtlpLimits::default()).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("body is not an OTLP ExportProfilesServiceRequest"),
            "{err}"
        );
    }

    #[test]
    fn refuses_indexes_out_of_range() {
        let mut req = request();
        let dict = req.dictionary.as_mut().unwrap();
        let n = dict.stack_table.len() as i32;
        req.resource_profiles[0].scope_profiles[0].profiles[0].samples[0].stack_index = n + 5;
        let err = OtlpPayload::from_request(&req, &OtlpLimits::default()).unwrap_err();
        assert!(err.to_string().contains("stack_table index"), "{err}");

        let mut req = request();
        req.dictionary.as_mut().unwrap().function_table[0].name_strindex = -1;
        let err = OtlpPayload::from_request(&req, &OtlpLimits::default()).unwrap_err();
        assert!(err.to_string().contains("string_table index -1"), "{err}");

        let mut req = request();
        req.dictionary = None;
        let err = OtlpPayload::from_request(&req, &OtlpLimits::default()).unwrap_err();
        assert!(err.to_string().contains("no dictionary"), "{err}");
    }

    #[test]
    fn refuses_requests_over_the_limits() {
        let req = request();
        let limits = OtlpLimits {
            max_profiles: 100,
            max_samples: 0,
        };
        let err = OtlpPayload::from_request(&req, &limits).unwrap_err();
        assert!(
            err.to_string().contains("more than the limit of 0"),
            "{err}"
        );
        let empty = ExportProfilesServiceRequest::default();
        let p = OtlpPayload::from_request(&empty, &limits).unwrap();
        assert_eq!(p.profile_count(), 0);
    }
}
