//! Decoding one pprof body: decompression under the [`DecodeLimits`], then
//! the zero-copy [`PprofView`], which validates it, then the prost structs.
//! The scrape path keeps the view ([`crate::PprofData`]); this is for
//! callers that want the decoded profile (tests, tools, debug output).
//!
//! ```
//! use profcol_pdata::pprof::{decode_pprof, encode_pprof_gzip, DecodeLimits, Profile};
//! let body = encode_pprof_gzip(&Profile::empty("samples", "count"));
//! let p = decode_pprof(&body, &DecodeLimits::default()).unwrap();
//! assert_eq!(p.str(p.sample_type[0].r#type), "samples");
//! ```

use crate::pprof;
use crate::pprof::PprofView;
use crate::Error;
use bytes::Bytes;

/// Default cap on the decompressed size of one profile.
pub const DEFAULT_MAX_DECOMPRESSED_BYTES: usize = 64 << 20;

/// Default cap on the labels of one sample.
pub const DEFAULT_MAX_LABELS_PER_SAMPLE: usize = 1_000;

/// Caps applied while decoding one profile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeLimits {
    /// Bytes after decompression (64 MiB by default).
    pub max_decompressed_bytes: usize,
    pub max_samples: usize,
    pub max_locations: usize,
    pub max_functions: usize,
    pub max_strings: usize,
    /// Labels on one sample (pprof `Sample.label`).
    pub max_labels_per_sample: usize,
    /// Frames kept of one sample's stack; deeper stacks are truncated to
    /// their root-most frames, as Grafana Pyroscope's
    /// `validation.max-profile-stacktrace-depth` does (0: no limit, the
    /// default here; the scrape receiver sets its `max_stack_depth`).
    pub max_stack_depth: usize,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        Self {
            max_decompressed_bytes: DEFAULT_MAX_DECOMPRESSED_BYTES,
            max_samples: 4_000_000,
            max_locations: 4_000_000,
            max_functions: 4_000_000,
            max_strings: 4_000_000,
            max_labels_per_sample: DEFAULT_MAX_LABELS_PER_SAMPLE,
            max_stack_depth: 0,
        }
    }
}

impl DecodeLimits {
    /// Caps that let through whatever `self` or `other` lets through (a
    /// stack depth of 0 means no truncation and wins).
    pub fn widest(&self, other: &Self) -> Self {
        Self {
            max_decompressed_bytes: self
                .max_decompressed_bytes
                .max(other.max_decompressed_bytes),
            max_samples: self.max_samples.max(other.max_samples),
            max_locations: self.max_locations.max(other.max_locations),
            max_functions: self.max_functions.max(other.max_functions),
            max_strings: self.max_strings.max(other.max_strings),
            max_labels_per_sample: self.max_labels_per_sample.max(other.max_labels_per_sample),
            max_stack_depth: if self.max_stack_depth == 0 || other.max_stack_depth == 0 {
                0
            } else {
                self.max_stack_depth.max(other.max_stack_depth)
            },
        }
    }

    /// No caps: for bodies that were validated under caps before (read
    /// back from storage) or built here.
    pub fn unlimited() -> Self {
        Self {
            max_decompressed_bytes: usize::MAX,
            max_samples: usize::MAX,
            max_locations: usize::MAX,
            max_functions: usize::MAX,
            max_strings: usize::MAX,
            max_labels_per_sample: usize::MAX,
            max_stack_depth: 0,
        }
    }
}

/// Decompresses, decodes and validates one pprof profile (through the
/// view). Every failure is an [`Error`] whose message can be shown to a
/// person as is.
pub fn decode_pprof(body: &[u8], limits: &DecodeLimits) -> Result<pprof::Profile, Error> {
    let bytes = PprofView::decompress(body, limits)?;
    Ok(PprofView::decode(Bytes::from(bytes.into_owned()), limits)?.to_profile())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widest_lets_through_what_either_does() {
        let a = DecodeLimits {
            max_decompressed_bytes: 10,
            max_samples: 5,
            max_stack_depth: 64,
            ..DecodeLimits::default()
        };
        let b = DecodeLimits {
            max_decompressed_bytes: 7,
            max_samples: usize::MAX,
            max_stack_depth: 128,
            ..DecodeLimits::default()
        };
        let w = a.widest(&b);
        assert_eq!(w.max_decompressed_bytes, 10);
        assert_eq!(w.max_samples, usize::MAX);
        assert_eq!(w.max_stack_depth, 128);
        let no_truncation = DecodeLimits {
            max_stack_depth: 0,
            ..DecodeLimits::default()
        };
        assert_eq!(a.widest(&no_truncation).max_stack_depth, 0);
    }
    use crate::pprof::{encode_pprof, encode_pprof_gzip, gzip, Compression};
    use crate::testutil::small;

    #[test]
    fn raw_gzip_and_zstd_decode_alike() {
        let p = small();
        let raw = encode_pprof(&p);
        let gz = encode_pprof_gzip(&p);
        let zs = zstd::encode_all(raw.as_slice(), 3).unwrap();
        assert_eq!(Compression::detect(&gz), Compression::Gzip);
        assert_eq!(Compression::detect(&zs), Compression::Zstd);
        for body in [&raw, &gz, &zs] {
            assert_eq!(decode_pprof(body, &DecodeLimits::default()).unwrap(), p);
        }
    }

    #[test]
    fn truncated_gzip_is_a_decompress_error() {
        let gz = encode_pprof_gzip(&small());
        let err = decode_pprof(&gz[..gz.len() / 2], &DecodeLimits::default()).unwrap_err();
        assert!(
            matches!(err, Error::Decompress { format: "gzip", .. }),
            "{err}"
        );
    }

    #[test]
    fn non_pprof_bodies_fail_clearly() {
        let l = DecodeLimits::default();
        assert!(matches!(decode_pprof(b"", &l), Err(Error::EmptyBody)));
        let err = decode_pprof(b"<html><body>404 page not found</body></html>", &l).unwrap_err();
        assert!(matches!(err, Error::Malformed(_)), "{err}");
        assert!(err.to_string().contains("not a pprof"));
        // A valid empty protobuf message has no sample types.
        assert!(matches!(
            decode_pprof(&gzip(b""), &l),
            Err(Error::EmptyBody)
        ));
    }

    #[test]
    fn invalid_utf8_strings_are_refused() {
        let mut raw = encode_pprof(&small());
        // Corrupt one byte inside the first non-empty string of the table.
        let at = raw.windows(4).position(|w| w == b"leaf").unwrap();
        raw[at] = 0xff;
        let err = decode_pprof(&raw, &DecodeLimits::default()).unwrap_err();
        assert!(err.to_string().contains("UTF-8"), "{err}");
    }
}
