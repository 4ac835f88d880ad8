//! The pprof codec: decompression with a hard size cap (gzip, zstd or raw),
//! protobuf decoding, and the validation that makes a decoded profile safe to
//! convert; plus encoding back to (gzipped) protobuf bytes.

use crate::ids::IdMap;
use crate::pprof;
use crate::tables::Tables;
use crate::Error;
use prost::Message;
use std::borrow::Cow;
use std::io::{Read, Write};

/// Default cap on the decompressed size of one profile.
pub const DEFAULT_MAX_DECOMPRESSED_BYTES: usize = 64 << 20;

/// Default cap on the labels of one sample.
pub const DEFAULT_MAX_LABELS_PER_SAMPLE: usize = 1_000;

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

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

/// The compression a body uses, told by its magic bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    Gzip,
    Zstd,
    None,
}

impl Compression {
    /// Detects gzip (`1f 8b`) and zstd (`28 b5 2f fd`); anything else is raw.
    pub fn detect(body: &[u8]) -> Self {
        if body.starts_with(&GZIP_MAGIC) {
            Compression::Gzip
        } else if body.starts_with(&ZSTD_MAGIC) {
            Compression::Zstd
        } else {
            Compression::None
        }
    }
}

/// Decompresses `body` (gzip, zstd, or raw passed through) without ever
/// holding more than `max` bytes of output: a body that inflates past `max`
/// fails with [`Error::TooLarge`].
pub fn decompress(body: &[u8], max: usize) -> Result<Cow<'_, [u8]>, Error> {
    if Compression::detect(body) == Compression::None {
        if body.len() > max {
            return Err(Error::TooLarge { limit: max });
        }
        return Ok(Cow::Borrowed(body));
    }
    let mut buf = Vec::new();
    decompress_into(body, max, &mut buf)?;
    Ok(Cow::Owned(buf))
}

/// [`decompress`] into `buf`, replacing its content (an uncompressed body
/// is copied).
pub fn decompress_into(body: &[u8], max: usize, buf: &mut Vec<u8>) -> Result<(), Error> {
    buf.clear();
    match Compression::detect(body) {
        Compression::Gzip => {
            // ISIZE, the last 4 bytes, is the uncompressed size mod 2^32 of the
            // last member: a good first capacity for single-member bodies.
            let hint = body
                .len()
                .checked_sub(4)
                .and_then(|at| body.get(at..))
                .and_then(|b| <[u8; 4]>::try_from(b).ok())
                .map_or(0, |b| u32::from_le_bytes(b) as usize)
                // Deflate cannot expand more than ~1032:1; never trust a lie.
                .min(body.len().saturating_mul(1032));
            if crate::gunzip::inflate_one_shot(body, hint, max, buf) {
                return Ok(());
            }
            let reader = flate2::bufread::MultiGzDecoder::new(body);
            read_capped(reader, max, hint, "gzip", buf)
        }
        Compression::Zstd => {
            let hint = zstd::zstd_safe::get_frame_content_size(body)
                .ok()
                .flatten()
                .map_or(0, |n| usize::try_from(n).unwrap_or(usize::MAX));
            let reader = zstd::stream::read::Decoder::with_buffer(body).map_err(|source| {
                Error::Decompress {
                    format: "zstd",
                    source,
                }
            })?;
            read_capped(reader, max, hint, "zstd", buf)
        }
        Compression::None => {
            if body.len() > max {
                return Err(Error::TooLarge { limit: max });
            }
            buf.extend_from_slice(body);
            Ok(())
        }
    }
}

/// Reads `r` to its end into `buf` (empty), which never grows past
/// `max + 1` bytes.
fn read_capped(
    mut r: impl Read,
    max: usize,
    hint: usize,
    format: &'static str,
    buf: &mut Vec<u8>,
) -> Result<(), Error> {
    let cap = max.saturating_add(1);
    // A known size is allocated as is (plus the byte that shows the end),
    // an unknown one from 8 KiB.
    let first = if hint == 0 {
        8 << 10
    } else {
        hint.saturating_add(1)
    };
    buf.resize(first.min(cap), 0);
    let mut len = 0;
    loop {
        if len == buf.len() {
            if buf.len() >= cap {
                return Err(Error::TooLarge { limit: max });
            }
            let grown = buf.len().saturating_mul(2).min(cap);
            buf.resize(grown, 0);
        }
        let Some(spare) = buf.get_mut(len..) else {
            return Err(Error::TooLarge { limit: max });
        };
        match r.read(spare) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(source) => return Err(Error::Decompress { format, source }),
        }
    }
    if len > max {
        return Err(Error::TooLarge { limit: max });
    }
    buf.truncate(len);
    Ok(())
}

/// Decompresses, decodes and validates one pprof profile. Every failure is an
/// [`Error`] whose message can be shown to a person as is.
pub fn decode_pprof(body: &[u8], limits: &DecodeLimits) -> Result<pprof::Profile, Error> {
    if body.is_empty() {
        return Err(Error::EmptyBody);
    }
    let bytes = decompress(body, limits.max_decompressed_bytes)?;
    if bytes.is_empty() {
        return Err(Error::EmptyBody);
    }
    let profile = pprof::Profile::decode(bytes.as_ref())?;
    validate(&profile, limits)?;
    Ok(profile)
}

/// Checks what conversion relies on: table sizes under `limits`, string
/// indexes in range, one value per sample type, and every referenced id
/// defined (0 means "none" for mapping and function references).
pub fn validate(p: &pprof::Profile, limits: &DecodeLimits) -> Result<(), Error> {
    let first = p.string_table.first().map(String::as_str);
    let checker = validate_tables(p, first, p.string_table.len(), p.sample.len(), limits)?;
    for (i, s) in p.sample.iter().enumerate() {
        checker.check_sample(i, &s.location_id, s.value.len(), &s.label)?;
    }
    Ok(())
}

/// Everything [`validate`] checks except the samples themselves (whose
/// count is `n_samples`); the strings are given apart from `p` so that the
/// zero-copy view can share this. Returns the checker for the samples.
pub(crate) fn validate_tables(
    t: &impl Tables,
    first_string: Option<&str>,
    n_strings: usize,
    n_samples: usize,
    limits: &DecodeLimits,
) -> Result<SampleChecker, Error> {
    let p = t.profile();
    check_count("samples", n_samples, limits.max_samples)?;
    check_count("locations", t.location_count(), limits.max_locations)?;
    check_count("functions", t.function_count(), limits.max_functions)?;
    check_count("strings", n_strings, limits.max_strings)?;
    if p.sample_type.is_empty() {
        return Err(Error::NoSampleTypes);
    }
    if let Some(first) = first_string {
        if !first.is_empty() {
            return Err(Error::StringTableStart(first.to_string()));
        }
    }
    let strings = Strings(n_strings);
    for vt in &p.sample_type {
        strings.check("sample_type.type", vt.r#type)?;
        strings.check("sample_type.unit", vt.unit)?;
    }
    if let Some(vt) = &p.period_type {
        strings.check("period_type.type", vt.r#type)?;
        strings.check("period_type.unit", vt.unit)?;
    }
    for &c in &p.comment {
        strings.check("comment", c)?;
    }
    strings.check("drop_frames", p.drop_frames)?;
    strings.check("keep_frames", p.keep_frames)?;
    strings.check("default_sample_type", p.default_sample_type)?;
    strings.check("doc_url", p.doc_url)?;

    for m in &p.mapping {
        if m.id == 0 {
            return Err(Error::ZeroId { kind: "mapping" });
        }
        strings.check("mapping.filename", m.filename)?;
        strings.check("mapping.build_id", m.build_id)?;
    }
    for f in (0..t.function_count()).filter_map(|i| t.function(i)) {
        if f.id == 0 {
            return Err(Error::ZeroId { kind: "function" });
        }
        strings.check("function.name", f.name)?;
        strings.check("function.system_name", f.system_name)?;
        strings.check("function.filename", f.filename)?;
    }
    let mappings = IdMap::build(p.mapping.iter().map(|m| m.id));
    let functions = t.function_ids();
    let mut lines = Vec::new();
    for pos in 0..t.location_count() {
        let Some(l) = t.location(pos, &mut lines) else {
            continue;
        };
        if l.id == 0 {
            return Err(Error::ZeroId { kind: "location" });
        }
        if l.mapping_id != 0 && mappings.get(l.mapping_id).is_none() {
            return Err(Error::MissingId {
                kind: "mapping",
                id: l.mapping_id,
            });
        }
        for line in &lines {
            if line.function_id != 0 && functions.get(line.function_id).is_none() {
                return Err(Error::MissingId {
                    kind: "function",
                    id: line.function_id,
                });
            }
        }
    }
    Ok(SampleChecker {
        // Tables that keep their map are asked for it (`check_sample_in`).
        locations: match t.location_ids() {
            Cow::Owned(map) => Some(map),
            Cow::Borrowed(_) => None,
        },
        strings,
        want: p.sample_type.len(),
        max_labels: limits.max_labels_per_sample,
    })
}

/// Checks one sample against the tables [`validate_tables`] accepted.
pub(crate) struct SampleChecker {
    /// The location id map, unless the tables keep it.
    locations: Option<IdMap>,
    strings: Strings,
    want: usize,
    max_labels: usize,
}

impl SampleChecker {
    /// Checks sample `i`; its location ids must be in the checker's map
    /// (none is, when the tables keep it: use [`check_sample_in`]).
    ///
    /// [`check_sample_in`]: Self::check_sample_in
    #[inline]
    pub(crate) fn check_sample(
        &self,
        i: usize,
        location_ids: &[u64],
        n_values: usize,
        labels: &[pprof::Label],
    ) -> Result<(), Error> {
        static NONE: IdMap = IdMap::Dense(Vec::new());
        let map = self.locations.as_ref().unwrap_or(&NONE);
        self.check_sample_in(map, i, location_ids, n_values, labels)
    }

    /// [`check_sample`](Self::check_sample) against the tables' own map of
    /// location ids.
    #[inline]
    pub(crate) fn check_sample_in(
        &self,
        locations: &IdMap,
        i: usize,
        location_ids: &[u64],
        n_values: usize,
        labels: &[pprof::Label],
    ) -> Result<(), Error> {
        self.check_values(i, n_values)?;
        for &id in location_ids {
            if locations.get(id).is_none() {
                return Err(Error::MissingId {
                    kind: "location",
                    id,
                });
            }
        }
        self.check_label_count(labels.len())?;
        labels.iter().try_for_each(|l| self.check_label(l))
    }

    /// Sample `i` has `n` values: one per sample type?
    #[inline]
    pub(crate) fn check_values(&self, i: usize, n: usize) -> Result<(), Error> {
        if n != self.want {
            return Err(Error::ValueCount {
                sample: i,
                got: n,
                want: self.want,
            });
        }
        Ok(())
    }

    /// A sample has `n` labels: within the limit?
    #[inline]
    pub(crate) fn check_label_count(&self, n: usize) -> Result<(), Error> {
        check_count("labels on one sample", n, self.max_labels)
    }

    /// A label's string indexes are in range?
    #[inline]
    pub(crate) fn check_label(&self, l: &pprof::Label) -> Result<(), Error> {
        self.strings.check("label.key", l.key)?;
        self.strings.check("label.str", l.str)?;
        self.strings.check("label.num_unit", l.num_unit)
    }
}

fn check_count(what: &'static str, count: usize, limit: usize) -> Result<(), Error> {
    if count > limit {
        return Err(Error::TooMany { what, count, limit });
    }
    Ok(())
}

/// Bounds for string indexes; index 0 is always allowed (it means "").
struct Strings(usize);

impl Strings {
    #[inline]
    fn check(&self, field: &'static str, index: i64) -> Result<(), Error> {
        if index == 0 || (index > 0 && (index as u64) < self.0 as u64) {
            Ok(())
        } else {
            Err(Error::StringIndex {
                field,
                index,
                len: self.0,
            })
        }
    }
}

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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::pprof::{Function, Line, Location, Mapping, Profile, Sample, ValueType};

    fn strings(s: &[&str]) -> Vec<String> {
        s.iter().map(|s| s.to_string()).collect()
    }

    pub(crate) fn small() -> Profile {
        Profile {
            sample_type: vec![ValueType { r#type: 1, unit: 2 }],
            sample: vec![Sample {
                location_id: vec![1, 2],
                value: vec![7],
                label: vec![],
            }],
            mapping: vec![Mapping {
                id: 1,
                filename: 5,
                ..Default::default()
            }],
            location: vec![
                Location {
                    id: 1,
                    mapping_id: 1,
                    address: 0x10,
                    line: vec![Line {
                        function_id: 1,
                        line: 3,
                        column: 0,
                    }],
                    is_folded: false,
                },
                Location {
                    id: 2,
                    mapping_id: 0,
                    address: 0x20,
                    line: vec![Line {
                        function_id: 2,
                        line: 9,
                        column: 0,
                    }],
                    is_folded: false,
                },
            ],
            function: vec![
                Function {
                    id: 1,
                    name: 3,
                    system_name: 3,
                    filename: 4,
                    start_line: 1,
                },
                Function {
                    id: 2,
                    name: 6,
                    system_name: 6,
                    filename: 4,
                    start_line: 1,
                },
            ],
            string_table: strings(&[
                "", "samples", "count", "leaf", "main.go", "/bin/app", "main",
            ]),
            ..Default::default()
        }
    }

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
    fn gzip_bomb_stops_at_the_cap() {
        let zeros = vec![0u8; 8 << 20];
        let bomb = gzip(&zeros);
        assert!(bomb.len() < zeros.len() / 100);
        let err = decompress(&bomb, 1 << 20).unwrap_err();
        assert!(matches!(err, Error::TooLarge { limit } if limit == 1 << 20));
        assert!(err.to_string().contains("1048576"), "{err}");
        // Exactly at the cap is fine.
        assert_eq!(decompress(&bomb, 8 << 20).unwrap().len(), 8 << 20);
        let zs = zstd::encode_all(zeros.as_slice(), 3).unwrap();
        assert!(matches!(
            decompress(&zs, 1000),
            Err(Error::TooLarge { limit: 1000 })
        ));
        assert!(matches!(
            decompress(&zeros, 1000),
            Err(Error::TooLarge { limit: 1000 })
        ));
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
        assert!(matches!(err, Error::Decode(_)), "{err}");
        assert!(err.to_string().contains("not a pprof"));
        // A valid empty protobuf message has no sample types.
        assert!(matches!(
            decode_pprof(&gzip(b""), &l),
            Err(Error::EmptyBody)
        ));
    }

    #[test]
    fn validation_failures() {
        let l = DecodeLimits::default();
        let check = |f: &dyn Fn(&mut Profile)| {
            let mut p = small();
            f(&mut p);
            decode_pprof(&encode_pprof(&p), &l).unwrap_err()
        };
        assert!(matches!(
            check(&|p| p.sample_type.clear()),
            Error::NoSampleTypes
        ));
        assert!(matches!(
            check(&|p| p.string_table[0] = "x".into()),
            Error::StringTableStart(_)
        ));
        assert!(matches!(
            check(&|p| p.function[0].name = 99),
            Error::StringIndex {
                field: "function.name",
                index: 99,
                ..
            }
        ));
        assert!(matches!(
            check(&|p| p.sample[0].value.push(1)),
            Error::ValueCount {
                got: 2,
                want: 1,
                ..
            }
        ));
        assert!(matches!(
            check(&|p| p.sample[0].location_id.push(42)),
            Error::MissingId {
                kind: "location",
                id: 42
            }
        ));
        assert!(matches!(
            check(&|p| p.location[0].line[0].function_id = 5),
            Error::MissingId {
                kind: "function",
                id: 5
            }
        ));
        assert!(matches!(
            check(&|p| p.location[1].mapping_id = 3),
            Error::MissingId {
                kind: "mapping",
                id: 3
            }
        ));
        assert!(matches!(
            check(&|p| p.location[0].id = 0),
            Error::ZeroId { .. }
        ));
        assert!(matches!(
            check(&|p| p.period_type = Some(ValueType {
                r#type: -1,
                unit: 0
            })),
            Error::StringIndex { index: -1, .. }
        ));
        let tight = DecodeLimits {
            max_samples: 0,
            ..Default::default()
        };
        assert!(matches!(
            decode_pprof(&encode_pprof(&small()), &tight),
            Err(Error::TooMany {
                what: "samples",
                count: 1,
                limit: 0
            })
        ));
    }

    #[test]
    fn labels_per_sample_are_capped() {
        let mut p = small();
        p.string_table.push("k".into());
        let k = (p.string_table.len() - 1) as i64;
        p.sample[0].label = (0..3)
            .map(|i| crate::pprof::Label {
                key: k,
                num: i,
                ..Default::default()
            })
            .collect();
        let tight = DecodeLimits {
            max_labels_per_sample: 2,
            ..Default::default()
        };
        let err = decode_pprof(&encode_pprof(&p), &tight).unwrap_err();
        assert_eq!(
            err.to_string(),
            "profile has 3 labels on one sample, more than the limit of 2"
        );
        p.sample[0].label.pop();
        assert!(decode_pprof(&encode_pprof(&p), &tight).is_ok());
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

    #[test]
    fn duplicate_ids_are_tolerated() {
        let mut p = small();
        let dup = p.location[1].clone();
        p.location.push(dup);
        assert!(decode_pprof(&encode_pprof(&p), &DecodeLimits::default()).is_ok());
    }
}
