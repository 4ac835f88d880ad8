//! Decoding a body into a [`PprofView`]: one pass over the top-level
//! fields that indexes the samples, strings, functions and locations and
//! decodes the small tables, then the checks of [`validate_tables`] on the
//! result and, unless the caller checks them as it reads them, on every
//! sample.

use super::messages::{function, location, mapping, value_type};
use super::PprofView;
use crate::pprof;
use crate::pprof::ids::IdMap;
use crate::pprof::model::{
    PROFILE_COMMENT, PROFILE_DEFAULT_SAMPLE_TYPE, PROFILE_DOC_URL, PROFILE_DROP_FRAMES,
    PROFILE_DURATION_NANOS, PROFILE_FUNCTION, PROFILE_KEEP_FRAMES, PROFILE_LOCATION,
    PROFILE_MAPPING, PROFILE_PERIOD, PROFILE_PERIOD_TYPE, PROFILE_SAMPLE, PROFILE_SAMPLE_TYPE,
    PROFILE_STRING_TABLE, PROFILE_TIME_NANOS, SAMPLE_LABEL, SAMPLE_LOCATION_ID, SAMPLE_VALUE,
};
use crate::pprof::offsets::Offsets;
use crate::pprof::validate::{validate_tables, SampleChecker};
use crate::pprof::{decompress, DecodeLimits};
use crate::wire::{varint_len, Reader, Repeated};
use crate::Error;
use bytes::Bytes;
use std::borrow::Cow;

/// Bodies up to this size have every sample's location ids counted for
/// [`PprofView::sample_ids_len`]; bigger ones one sample in
/// [`ID_SAMPLE_STRIDE`] (the count would cost them a few percent of the
/// conversion's time, and their estimate errs by far less).
const SMALL_BODY: usize = 256 << 10;
const ID_SAMPLE_STRIDE: usize = 16;

fn too_many(what: &'static str, count: usize, limit: usize) -> Result<(), Error> {
    if count > limit {
        return Err(Error::TooMany { what, count, limit });
    }
    Ok(())
}

impl PprofView {
    /// Decompresses `body` when needed (see [`decompress`](fn@decompress)); the result must
    /// outlive the view, so it is returned for the caller to keep.
    pub fn decompress<'b>(body: &'b [u8], limits: &DecodeLimits) -> Result<Cow<'b, [u8]>, Error> {
        if body.is_empty() {
            return Err(Error::EmptyBody);
        }
        let bytes = decompress(body, limits.max_decompressed_bytes)?;
        if bytes.is_empty() {
            return Err(Error::EmptyBody);
        }
        Ok(bytes)
    }

    /// [`decompress`](Self::decompress) into `buf` (replacing its content):
    /// a caller reading many profiles one after another reuses one buffer,
    /// whose memory is already mapped, instead of a fresh one each time.
    pub fn decompress_into(
        body: &[u8],
        limits: &DecodeLimits,
        buf: &mut Vec<u8>,
    ) -> Result<(), Error> {
        if body.is_empty() {
            return Err(Error::EmptyBody);
        }
        crate::pprof::decompress_into(body, limits.max_decompressed_bytes, buf)?;
        if buf.is_empty() {
            return Err(Error::EmptyBody);
        }
        Ok(())
    }

    /// Decodes and validates an uncompressed pprof protobuf.
    pub fn decode(data: Bytes, limits: &DecodeLimits) -> Result<Self, Error> {
        let (mut view, checker) = Self::decode_unchecked(data, limits)?;
        (view.location_refs, view.deep_samples) = view.check_samples(&checker)?;
        Ok(view)
    }

    /// [`decode`](Self::decode) but for the samples, which are only
    /// indexed: the caller checks each with the returned checker as it reads
    /// it (the writer's `add_pprof` does), which for a caller that reads
    /// every sample anyway is one pass over them instead of two.
    /// `location_refs` is 0.
    pub(crate) fn decode_unchecked(
        data: Bytes,
        limits: &DecodeLimits,
    ) -> Result<(Self, SampleChecker), Error> {
        if data.is_empty() {
            return Err(Error::EmptyBody);
        }
        if data.len() > limits.max_decompressed_bytes {
            return Err(Error::TooLarge {
                limit: limits.max_decompressed_bytes,
            });
        }
        if u32::try_from(data.len()).is_err() {
            return Err(Error::TooLarge {
                limit: u32::MAX as usize,
            });
        }
        let mut header = pprof::Profile::default();
        let mut strings = Offsets::new(data.len());
        let mut string_bytes = 0usize;
        let mut first_string = None;
        let mut samples = Offsets::new(data.len());
        let mut functions = Offsets::new(data.len());
        let mut locations = Offsets::new(data.len());
        let (mut function_bytes, mut location_bytes) = (0usize, 0usize);
        let (mut function_ids, mut location_ids) = (Vec::new(), Vec::new());
        let mut sample_data = 0usize;
        let mut sample_ids = 0usize;
        let stride = if data.len() <= SMALL_BODY {
            1
        } else {
            ID_SAMPLE_STRIDE
        };
        // A location's lines, checked and dropped.
        let mut lines: Vec<pprof::Line> = Vec::new();
        let mut r = Reader::new(&data);
        while !r.is_empty() {
            let (field, wt) = r.key()?;
            match field {
                PROFILE_SAMPLE_TYPE => header
                    .sample_type
                    .push(value_type(r.message(wt)?, pprof::ValueType::default())?),
                PROFILE_SAMPLE => {
                    let at = r.pos();
                    let body = r.message(wt)?;
                    samples.push(at);
                    sample_data += body.len();
                    // Every sample of a small body, one in
                    // `ID_SAMPLE_STRIDE` of a big one (scaled up below).
                    if samples.len() % stride == 1 % stride {
                        sample_ids += location_ids_len(body);
                    }
                    too_many("samples", samples.len(), limits.max_samples)?;
                }
                PROFILE_MAPPING => header.mapping.push(mapping(r.message(wt)?)?),
                PROFILE_LOCATION => {
                    let at = r.pos();
                    let body = r.message(wt)?;
                    let id = location(body, &mut lines)?.id;
                    location_ids.push(id);
                    locations.push(at);
                    location_bytes += body.len();
                    too_many("locations", locations.len(), limits.max_locations)?;
                }
                PROFILE_FUNCTION => {
                    let at = r.pos();
                    let body = r.message(wt)?;
                    let id = function(body)?.id;
                    function_ids.push(id);
                    functions.push(at);
                    function_bytes += body.len();
                    too_many("functions", functions.len(), limits.max_functions)?;
                }
                PROFILE_STRING_TABLE => {
                    let at = r.pos();
                    let s = std::str::from_utf8(r.message(wt)?)
                        .map_err(|_| Error::Malformed("a string is not valid UTF-8"))?;
                    if strings.is_empty() {
                        first_string = Some(at);
                    }
                    strings.push(at);
                    string_bytes += s.len();
                    too_many("strings", strings.len(), limits.max_strings)?;
                }
                PROFILE_DROP_FRAMES => header.drop_frames = r.scalar(wt)? as i64,
                PROFILE_KEEP_FRAMES => header.keep_frames = r.scalar(wt)? as i64,
                PROFILE_TIME_NANOS => header.time_nanos = r.scalar(wt)? as i64,
                PROFILE_DURATION_NANOS => header.duration_nanos = r.scalar(wt)? as i64,
                PROFILE_PERIOD_TYPE => {
                    let prev = header.period_type.unwrap_or_default();
                    header.period_type = Some(value_type(r.message(wt)?, prev)?);
                }
                PROFILE_PERIOD => header.period = r.scalar(wt)? as i64,
                PROFILE_COMMENT => r.repeated(wt, |v| header.comment.push(v as i64))?,
                PROFILE_DEFAULT_SAMPLE_TYPE => header.default_sample_type = r.scalar(wt)? as i64,
                PROFILE_DOC_URL => header.doc_url = r.scalar(wt)? as i64,
                _ => r.skip(wt)?,
            }
        }
        // The header lives through the conversion: no growth slack.
        samples.shrink_to_fit();
        strings.shrink_to_fit();
        header.sample_type.shrink_to_fit();
        header.mapping.shrink_to_fit();
        functions.shrink_to_fit();
        locations.shrink_to_fit();
        header.comment.shrink_to_fit();
        let view = PprofView {
            header,
            strings,
            string_bytes,
            samples,
            functions,
            locations,
            function_ids: IdMap::build(function_ids.iter().copied()),
            location_ids: IdMap::build(location_ids.iter().copied()),
            data,
            location_refs: 0,
            max_stack_depth: limits.max_stack_depth,
            deep_samples: 0,
            sample_data,
            sample_ids: sample_ids * stride,
            table_data: (
                function_bytes.saturating_sub(id_fields_len(&function_ids)),
                location_bytes.saturating_sub(id_fields_len(&location_ids)),
            ),
        };
        let first_string = first_string
            .and_then(|at| u32::try_from(at).ok())
            .map(|at| view.str_at_offset(at));
        let checker = validate_tables(
            &view,
            first_string,
            view.strings.len(),
            view.samples.len(),
            limits,
        )?;
        Ok((view, checker))
    }

    /// Checks every sample with the [`SampleChecker`] (values, location
    /// ids, labels) without collecting its ids, values or labels (a hostile sample may
    /// hold tens of millions); returns the number of location ids over all
    /// samples and of samples deeper than the depth limit.
    fn check_samples(&self, checker: &SampleChecker) -> Result<(usize, usize), Error> {
        let (mut refs, mut deep) = (0usize, 0usize);
        for i in 0..self.samples.len() {
            let (mut depth, mut values, mut labels) = (0usize, 0usize, 0usize);
            let mut missing = None;
            let mut bad_label = None;
            let mut r = Reader::new(self.sample_bytes(i));
            while !r.is_empty() {
                let (field, wt) = r.key()?;
                match field {
                    SAMPLE_LOCATION_ID => r.repeated(wt, |id| {
                        depth += 1;
                        if missing.is_none() && self.location_ids.get(id).is_none() {
                            missing = Some(id);
                        }
                    })?,
                    SAMPLE_VALUE => r.repeated(wt, |_| values += 1)?,
                    SAMPLE_LABEL => {
                        let l = super::label(r.message(wt)?)?;
                        labels += 1;
                        if bad_label.is_none() {
                            bad_label = checker.check_label(&l).err();
                        }
                    }
                    _ => r.skip(wt)?,
                }
            }
            checker.check_values(i, values)?;
            if let Some(id) = missing {
                return Err(Error::MissingId {
                    kind: "location",
                    id,
                });
            }
            checker.check_label_count(labels)?;
            if let Some(e) = bad_label {
                return Err(e);
            }
            refs += depth.min(self.depth_limit());
            if depth > self.depth_limit() {
                deep += 1;
            }
        }
        Ok((refs, deep))
    }
}

/// Bytes of the location ids (packed or not) among the first four fields
/// of the sample message `body` (Go's runtime writes the values first,
/// packed or not, its `profile` package the ids). Only sizes buffers: the
/// sample is read and checked later.
fn location_ids_len(body: &[u8]) -> usize {
    let mut r = Reader::new(body);
    let mut len = 0;
    for _ in 0..4 {
        if r.is_empty() {
            break;
        }
        let Ok((field, wt)) = r.key() else { break };
        if field != SAMPLE_LOCATION_ID {
            if r.skip(wt).is_err() {
                break;
            }
            continue;
        }
        match r.repeated_raw(wt) {
            // All of them, usually.
            Ok(Repeated::Packed(b)) => return len + b.len(),
            Ok(Repeated::One(id)) => len += varint_len(id),
            Err(_) => break,
        }
    }
    len
}

/// Bytes of the id fields (key and varint) of messages with these ids (an
/// id of 0 is not written).
fn id_fields_len(ids: &[u64]) -> usize {
    ids.iter()
        .filter(|&&id| id != 0)
        .map(|&id| 1 + varint_len(id))
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oracle::decode_pprof;
    use crate::pprof::encode_pprof;
    use prost::Message;

    fn corpus() -> Vec<(String, Vec<u8>)> {
        crate::testutil::corpus()
            .into_iter()
            .map(|(path, body)| (path.display().to_string(), body))
            .collect()
    }

    #[test]
    fn corpus_decodes_as_prost_does() {
        let l = DecodeLimits::default();
        for (name, body) in corpus() {
            assert_eq!(
                crate::pprof::decode_pprof(&body, &l).unwrap(),
                decode_pprof(&body, &l).unwrap(),
                "{name}"
            );
        }
    }

    /// Agrees with prost (then `validate`) on every truncation and many
    /// single-byte corruptions of real bodies: both fail, or both succeed
    /// with equal profiles.
    #[test]
    fn corrupted_bodies_agree_with_prost() {
        let l = DecodeLimits::default();
        for (name, body) in corpus().into_iter().filter(|(_, b)| b.len() < 3000) {
            let raw = PprofView::decompress(&body, &l).unwrap().into_owned();
            let step = (raw.len() / 150).max(1);
            let mut cases: Vec<Vec<u8>> = (0..raw.len())
                .step_by(step)
                .map(|n| raw[..n].to_vec())
                .collect();
            for (k, at) in (0..raw.len()).step_by(step).enumerate() {
                let mut c = raw.clone();
                c[at] = c[at].wrapping_add(1 + (k as u8 % 200));
                cases.push(c);
            }
            for c in cases {
                let ours = PprofView::decode(Bytes::from(c.clone()), &l).map(|v| v.to_profile());
                let theirs = pprof::Profile::decode(c.as_slice())
                    .map_err(Error::from)
                    .and_then(|p| crate::oracle::validate(&p, &l).map(|()| p));
                match (ours, theirs) {
                    (Ok(a), Ok(b)) => assert_eq!(a, b, "{name}"),
                    (Err(_), Err(_)) => {}
                    (a, b) => panic!("{name}: view {:?} vs prost {:?}", a.err(), b.err()),
                }
            }
        }
    }

    #[test]
    fn merges_and_unpacked_fields_like_prost() {
        // period_type given twice merges field by field; an unpacked
        // location id after a packed run appends; unknown fields skip.
        let mut p = crate::testutil::small();
        p.period_type = Some(pprof::ValueType { r#type: 1, unit: 0 });
        let mut body = encode_pprof(&p);
        body.extend([0x5a, 0x02, 0x10, 0x02]); // period_type { unit: 2 }
        body.extend([0x12, 0x04, 0x08, 0x01, 0x10, 0x05]); // sample { location_id: 1, value: 5 }
        body.extend([0xf8, 0x01, 0x07]); // field 31 varint, unknown
        let ours = PprofView::decode(Bytes::from(body.clone()), &DecodeLimits::default())
            .unwrap()
            .to_profile();
        assert_eq!(ours, pprof::Profile::decode(body.as_slice()).unwrap());
        assert_eq!(
            ours.period_type,
            Some(pprof::ValueType { r#type: 1, unit: 2 })
        );
        assert_eq!(ours.sample.len(), 2);
    }

    #[test]
    fn limits_stop_early() {
        let p = crate::testutil::small();
        let body = encode_pprof(&p);
        let tight = DecodeLimits {
            max_strings: 3,
            ..Default::default()
        };
        assert!(matches!(
            PprofView::decode(Bytes::from(body.clone()), &tight),
            Err(Error::TooMany {
                what: "strings",
                ..
            })
        ));
        let small = DecodeLimits {
            max_decompressed_bytes: 4,
            ..Default::default()
        };
        assert!(matches!(
            PprofView::decode(Bytes::from(body.clone()), &small),
            Err(Error::TooLarge { limit: 4 })
        ));
        assert!(matches!(
            PprofView::decode(Bytes::new(), &small),
            Err(Error::EmptyBody)
        ));
    }
}
