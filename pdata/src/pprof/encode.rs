//! Encoding a decoded profile back to pprof protobuf bytes, raw or gzipped
//! as Go's `profile.Write` does.
//!
//! ```
//! use profcol_pdata::pprof::{decode_pprof, encode_pprof_gzip, DecodeLimits, Profile};
//! let p = Profile::empty("samples", "count");
//! let body = encode_pprof_gzip(&p);
//! assert_eq!(decode_pprof(&body, &DecodeLimits::default()).unwrap(), p);
//! ```

use crate::pprof;
use prost::Message;
use std::io::Write;

/// Encodes a profile as uncompressed protobuf bytes.
pub fn encode_pprof(p: &pprof::Profile) -> Vec<u8> {
    p.encode_to_vec()
}

/// Encodes a profile as gzipped protobuf bytes, as Go's `profile.Write` does.
pub fn encode_pprof_gzip(p: &pprof::Profile) -> Vec<u8> {
    let raw = p.encode_to_vec();
    gzip(&raw)
}

/// Gzips `data` at a fast level (profiles compress well even at level 1).
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(
        Vec::with_capacity(data.len() / 4 + 64),
        flate2::Compression::fast(),
    );
    // Writing into a Vec cannot fail.
    if enc.write_all(data).is_err() {
        return Vec::new();
    }
    enc.finish().unwrap_or_default()
}
