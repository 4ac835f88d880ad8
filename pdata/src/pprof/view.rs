//! `PprofView`: a zero-copy, validated view of a decompressed pprof body.
//!
//! prost's decoder allocates three vectors per sample (location ids, values,
//! labels) and one `String` per string; on big profiles that allocation is
//! most of the decode time and several times the body's size in memory. The
//! view instead keeps each string, sample, function and location as the
//! offset in the body of its length varint (2 or 4 bytes, see
//! [`crate::offsets`]; the message follows the length), parsed again when it is read (packed location ids are
//! skipped by length when only values are needed); functions and
//! locations also have maps from their ids, and are decoded again when
//! read (see [`crate::tables`]). The small tables (mappings,
//! sample types) and scalars are decoded into an ordinary
//! [`pprof::Profile`] header whose `sample`, `string_table`, `function` and
//! `location` stay empty.
//!
//! The view accepts exactly the bodies prost accepts (except protobuf groups,
//! which it refuses) and decodes them to the same values; [`validate`]'s
//! checks run on it, so every accessor is total afterwards.
//!
//! [`validate`]: crate::oracle::validate

use crate::pprof;
use crate::pprof::ids::IdMap;
use crate::pprof::model::{
    FUNCTION_FILENAME, FUNCTION_ID, FUNCTION_NAME, FUNCTION_START_LINE, FUNCTION_SYSTEM_NAME,
    LABEL_KEY, LABEL_NUM, LABEL_NUM_UNIT, LABEL_STR, LINE_COLUMN, LINE_FUNCTION_ID, LINE_LINE,
    LOCATION_ADDRESS, LOCATION_ID, LOCATION_IS_FOLDED, LOCATION_LINE, LOCATION_MAPPING_ID,
    MAPPING_BUILD_ID, MAPPING_FILENAME, MAPPING_FILE_OFFSET, MAPPING_HAS_FILENAMES,
    MAPPING_HAS_FUNCTIONS, MAPPING_HAS_INLINE_FRAMES, MAPPING_HAS_LINE_NUMBERS, MAPPING_ID,
    MAPPING_MEMORY_LIMIT, MAPPING_MEMORY_START, PROFILE_COMMENT, PROFILE_DEFAULT_SAMPLE_TYPE,
    PROFILE_DOC_URL, PROFILE_DROP_FRAMES, PROFILE_DURATION_NANOS, PROFILE_FUNCTION,
    PROFILE_KEEP_FRAMES, PROFILE_LOCATION, PROFILE_MAPPING, PROFILE_PERIOD, PROFILE_PERIOD_TYPE,
    PROFILE_SAMPLE, PROFILE_SAMPLE_TYPE, PROFILE_STRING_TABLE, PROFILE_TIME_NANOS, SAMPLE_LABEL,
    SAMPLE_LOCATION_ID, SAMPLE_VALUE, VALUE_TYPE_TYPE, VALUE_TYPE_UNIT,
};
use crate::pprof::offsets::Offsets;
use crate::pprof::tables::{StringTable, Tables};
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

/// A decoded, validated pprof profile whose samples and strings stay in the
/// (decompressed) body they were read from.
#[derive(Debug, Clone)]
pub struct PprofView {
    header: pprof::Profile,
    /// Per string: the offset of its length in `data` (checked UTF-8).
    strings: Offsets,
    /// Bytes of the strings, in all.
    string_bytes: usize,
    /// Per sample, function and location: the offset of its message's
    /// length in `data` (see [`len_prefixed`]).
    samples: Offsets,
    functions: Offsets,
    locations: Offsets,
    /// Their ids -> positions.
    function_ids: IdMap,
    location_ids: IdMap,
    data: Bytes,
    /// Location ids over all samples (stacks counted at most
    /// `max_stack_depth` deep).
    location_refs: usize,
    /// [`DecodeLimits::max_stack_depth`] (0: none).
    max_stack_depth: usize,
    /// Samples deeper than that.
    deep_samples: usize,
    /// Bytes of the sample messages, in all.
    sample_data: usize,
    /// Bytes of the location ids near the start of the sample messages
    /// (where encoders put them), in all.
    sample_ids: usize,
    /// Bytes of the function messages and of the location messages, their
    /// id fields left out.
    table_data: (usize, usize),
}

/// One sample, read into reusable buffers.
#[derive(Debug, Default, Clone)]
pub struct SampleBuf {
    pub location_ids: Vec<u64>,
    pub values: Vec<i64>,
    pub labels: Vec<pprof::Label>,
}

fn too_many(what: &'static str, count: usize, limit: usize) -> Result<(), Error> {
    if count > limit {
        return Err(Error::TooMany { what, count, limit });
    }
    Ok(())
}

impl PprofView {
    /// Decompresses `body` when needed (see [`decompress`]); the result must
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
    /// it ([`read_checked`] does both), which for a caller that reads every
    /// sample anyway is one pass over them instead of two. `location_refs`
    /// is 0.
    ///
    /// [`read_checked`]: Self::read_checked
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

    /// Checks every sample as [`SampleChecker::check_sample_in`] would,
    /// without collecting its ids, values or labels (a hostile sample may
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
                        let l = label(r.message(wt)?)?;
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

    /// The most frames a stack keeps (`usize::MAX` without a limit).
    pub(crate) fn depth_limit(&self) -> usize {
        if self.max_stack_depth == 0 {
            usize::MAX
        } else {
            self.max_stack_depth
        }
    }

    /// Samples whose stack is deeper than [`DecodeLimits::max_stack_depth`]:
    /// they are read truncated to their root-most frames.
    pub fn truncated_stacks(&self) -> usize {
        self.deep_samples
    }

    /// Whether sample `i` may be deeper than the depth limit (a location id
    /// takes at least one byte, so a shorter message cannot be).
    #[inline]
    pub(crate) fn may_be_deep(&self, i: usize) -> bool {
        self.max_stack_depth != 0 && self.sample_bytes(i).len() > self.max_stack_depth
    }

    /// The number of location ids over all samples.
    pub fn location_refs(&self) -> usize {
        self.location_refs
    }

    /// Everything but the samples, the string table, the functions and the
    /// locations (see [`to_profile`](Self::to_profile)).
    pub fn header(&self) -> &pprof::Profile {
        &self.header
    }

    pub(crate) fn header_mut(&mut self) -> &mut pprof::Profile {
        &mut self.header
    }

    /// The decompressed body.
    pub fn data(&self) -> &Bytes {
        &self.data
    }

    /// Memory the view holds: the body and its indexes.
    pub fn memory_bytes(&self) -> usize {
        self.data.len()
            + self.strings.memory_bytes()
            + self.samples.memory_bytes()
            + self.functions.memory_bytes()
            + self.locations.memory_bytes()
            + self.function_ids.memory_bytes()
            + self.location_ids.memory_bytes()
            + std::mem::size_of::<pprof::Mapping>() * self.header.mapping.len()
    }

    pub fn string_count(&self) -> usize {
        self.strings.len()
    }

    /// Bytes of the strings, in all.
    pub fn string_bytes_len(&self) -> usize {
        self.string_bytes
    }

    /// The bytes of string `i`, if in range.
    fn string_at(&self, i: usize) -> Option<&[u8]> {
        len_prefixed(&self.data, self.strings.get(i)?)
    }

    /// The string at `idx`, or "" when out of range.
    pub fn str(&self, idx: i64) -> &str {
        let bytes = usize::try_from(idx)
            .ok()
            .and_then(|i| self.string_at(i))
            .unwrap_or(&[]);
        // Checked when decoded.
        std::str::from_utf8(bytes).unwrap_or("")
    }

    pub fn sample_count(&self) -> usize {
        self.samples.len()
    }

    /// Size of the uncompressed body.
    pub fn data_len(&self) -> usize {
        self.data.len()
    }

    /// Bytes of the function messages and of the location messages in the
    /// body, their id fields left out: about what their OTLP encodings
    /// take (the same fields, no id).
    pub fn table_data_len(&self) -> (usize, usize) {
        self.table_data
    }

    /// Bytes of the sample messages in the body, in all.
    pub fn sample_data_len(&self) -> usize {
        self.sample_data
    }

    /// Bytes of the location ids near the start of the sample messages
    /// (where encoders put them), in all (estimated from a share of the
    /// samples on big bodies): about what the samples' stacks take before
    /// dedup.
    pub fn sample_ids_len(&self) -> usize {
        self.sample_ids
    }

    #[inline]
    pub(crate) fn sample_bytes(&self, i: usize) -> &[u8] {
        self.samples
            .get(i)
            .and_then(|at| len_prefixed(&self.data, at))
            .unwrap_or(&[])
    }

    /// Reads sample `i` into `buf` (cleared first).
    pub fn read_sample(&self, i: usize, buf: &mut SampleBuf) -> Result<(), Error> {
        let SampleBuf {
            location_ids,
            values,
            labels,
        } = buf;
        location_ids.clear();
        values.clear();
        labels.clear();
        let limit = self.depth_limit();
        let mut r = Reader::new(self.sample_bytes(i));
        while !r.is_empty() {
            let (field, wt) = r.key()?;
            match field {
                SAMPLE_LOCATION_ID => r.repeated(wt, |id| {
                    location_ids.push(id);
                    // Never more than twice the limit held (hostile stacks
                    // are millions of frames deep).
                    if location_ids.len() >= limit.saturating_mul(2) {
                        location_ids.drain(..location_ids.len() - limit);
                    }
                })?,
                SAMPLE_VALUE => r.repeated(wt, |v| values.push(v as i64))?,
                SAMPLE_LABEL => labels.push(label(r.message(wt)?)?),
                _ => r.skip(wt)?,
            }
        }
        if location_ids.len() > limit {
            location_ids.drain(..location_ids.len() - limit);
        }
        Ok(())
    }

    /// Sample `i`'s location ids, truncated as [`read_sample`] does, into
    /// `out` (cleared first).
    ///
    /// [`read_sample`]: Self::read_sample
    pub(crate) fn read_stack(&self, i: usize, out: &mut Vec<u64>) -> Result<(), Error> {
        out.clear();
        let limit = self.depth_limit();
        let mut r = Reader::new(self.sample_bytes(i));
        while !r.is_empty() {
            let (field, wt) = r.key()?;
            if field != SAMPLE_LOCATION_ID {
                r.skip(wt)?;
                continue;
            }
            r.repeated(wt, |id| {
                out.push(id);
                if out.len() >= limit.saturating_mul(2) {
                    out.drain(..out.len() - limit);
                }
            })?;
        }
        if out.len() > limit {
            out.drain(..out.len() - limit);
        }
        Ok(())
    }

    /// The same profile as prost would decode it, samples and strings owned.
    pub fn to_profile(&self) -> pprof::Profile {
        let mut p = self.header.clone();
        p.string_table = (0..self.strings.len())
            .map(|i| self.str(i as i64).to_string())
            .collect();
        // Validated at decode: reading cannot fail here.
        p.function = (0..self.functions.len())
            .filter_map(|i| Tables::function(self, i))
            .collect();
        let mut lines = Vec::new();
        p.location = (0..self.locations.len())
            .filter_map(|i| {
                let mut l = Tables::location(self, i, &mut lines)?;
                l.line = lines.clone();
                Some(l)
            })
            .collect();
        p.sample = Vec::with_capacity(self.samples.len());
        let mut buf = SampleBuf::default();
        for i in 0..self.samples.len() {
            // Validated at decode: reading cannot fail here.
            if self.read_sample(i, &mut buf).is_ok() {
                p.sample.push(pprof::Sample {
                    location_id: buf.location_ids.clone(),
                    value: buf.values.clone(),
                    label: buf.labels.clone(),
                });
            }
        }
        p
    }
}

impl StringTable for PprofView {
    fn count(&self) -> usize {
        self.strings.len()
    }
    fn bytes(&self, i: usize) -> Option<&[u8]> {
        self.string_at(i)
    }
}

impl PprofView {
    /// The string whose length varint is at `at`.
    fn str_at_offset(&self, at: u32) -> &str {
        let bytes = len_prefixed(&self.data, at).unwrap_or(&[]);
        // Checked when decoded.
        std::str::from_utf8(bytes).unwrap_or("")
    }

    fn entry_bytes(&self, at: Option<u32>) -> Option<&[u8]> {
        len_prefixed(&self.data, at?)
    }
}

impl Tables for PprofView {
    fn profile(&self) -> &pprof::Profile {
        &self.header
    }
    fn function_count(&self) -> usize {
        self.functions.len()
    }
    fn location_count(&self) -> usize {
        self.locations.len()
    }
    fn function_ids(&self) -> Cow<'_, IdMap> {
        Cow::Borrowed(&self.function_ids)
    }
    fn location_ids(&self) -> Cow<'_, IdMap> {
        Cow::Borrowed(&self.location_ids)
    }
    fn function(&self, pos: usize) -> Option<pprof::Function> {
        function(self.entry_bytes(self.functions.get(pos))?).ok()
    }
    fn location(&self, pos: usize, lines: &mut Vec<pprof::Line>) -> Option<pprof::Location> {
        location(self.entry_bytes(self.locations.get(pos))?, lines).ok()
    }
}

fn value_type(b: &[u8], mut vt: pprof::ValueType) -> Result<pprof::ValueType, Error> {
    let mut r = Reader::new(b);
    while !r.is_empty() {
        let (field, wt) = r.key()?;
        match field {
            VALUE_TYPE_TYPE => vt.r#type = r.scalar(wt)? as i64,
            VALUE_TYPE_UNIT => vt.unit = r.scalar(wt)? as i64,
            _ => r.skip(wt)?,
        }
    }
    Ok(vt)
}

pub(crate) fn label(b: &[u8]) -> Result<pprof::Label, Error> {
    let mut l = pprof::Label::default();
    let mut r = Reader::new(b);
    while !r.is_empty() {
        let (field, wt) = r.key()?;
        match field {
            LABEL_KEY => l.key = r.scalar(wt)? as i64,
            LABEL_STR => l.str = r.scalar(wt)? as i64,
            LABEL_NUM => l.num = r.scalar(wt)? as i64,
            LABEL_NUM_UNIT => l.num_unit = r.scalar(wt)? as i64,
            _ => r.skip(wt)?,
        }
    }
    Ok(l)
}

fn mapping(b: &[u8]) -> Result<pprof::Mapping, Error> {
    let mut m = pprof::Mapping::default();
    let mut r = Reader::new(b);
    while !r.is_empty() {
        let (field, wt) = r.key()?;
        match field {
            MAPPING_ID => m.id = r.scalar(wt)?,
            MAPPING_MEMORY_START => m.memory_start = r.scalar(wt)?,
            MAPPING_MEMORY_LIMIT => m.memory_limit = r.scalar(wt)?,
            MAPPING_FILE_OFFSET => m.file_offset = r.scalar(wt)?,
            MAPPING_FILENAME => m.filename = r.scalar(wt)? as i64,
            MAPPING_BUILD_ID => m.build_id = r.scalar(wt)? as i64,
            MAPPING_HAS_FUNCTIONS => m.has_functions = r.scalar(wt)? != 0,
            MAPPING_HAS_FILENAMES => m.has_filenames = r.scalar(wt)? != 0,
            MAPPING_HAS_LINE_NUMBERS => m.has_line_numbers = r.scalar(wt)? != 0,
            MAPPING_HAS_INLINE_FRAMES => m.has_inline_frames = r.scalar(wt)? != 0,
            _ => r.skip(wt)?,
        }
    }
    Ok(m)
}

/// A location, its lines in `lines` (cleared first).
fn location(b: &[u8], lines: &mut Vec<pprof::Line>) -> Result<pprof::Location, Error> {
    let mut l = pprof::Location::default();
    lines.clear();
    let mut r = Reader::new(b);
    while !r.is_empty() {
        let (field, wt) = r.key()?;
        match field {
            LOCATION_ID => l.id = r.scalar(wt)?,
            LOCATION_MAPPING_ID => l.mapping_id = r.scalar(wt)?,
            LOCATION_ADDRESS => l.address = r.scalar(wt)?,
            LOCATION_LINE => lines.push(line(r.message(wt)?)?),
            LOCATION_IS_FOLDED => l.is_folded = r.scalar(wt)? != 0,
            _ => r.skip(wt)?,
        }
    }
    Ok(l)
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

/// The length-delimited bytes whose length varint is at `at` in `data`
/// (None when they do not fit: never for an offset the view kept). Lengths
/// below 2^14 (two bytes) are read inline.
#[inline(always)]
fn len_prefixed(data: &[u8], at: u32) -> Option<&[u8]> {
    let at = at as usize;
    let (len, start) = match data.get(at..at + 2) {
        Some(&[b0, _]) if b0 < 0x80 => (usize::from(b0), at + 1),
        Some(&[b0, b1]) if b1 < 0x80 => (usize::from(b0 & 0x7f) | usize::from(b1) << 7, at + 2),
        _ => return Reader::new(data.get(at..)?).bytes().ok(),
    };
    data.get(start..start.checked_add(len)?)
}

fn line(b: &[u8]) -> Result<pprof::Line, Error> {
    let mut l = pprof::Line::default();
    let mut r = Reader::new(b);
    while !r.is_empty() {
        let (field, wt) = r.key()?;
        match field {
            LINE_FUNCTION_ID => l.function_id = r.scalar(wt)?,
            LINE_LINE => l.line = r.scalar(wt)? as i64,
            LINE_COLUMN => l.column = r.scalar(wt)? as i64,
            _ => r.skip(wt)?,
        }
    }
    Ok(l)
}

fn function(b: &[u8]) -> Result<pprof::Function, Error> {
    let mut f = pprof::Function::default();
    let mut r = Reader::new(b);
    while !r.is_empty() {
        let (field, wt) = r.key()?;
        match field {
            FUNCTION_ID => f.id = r.scalar(wt)?,
            FUNCTION_NAME => f.name = r.scalar(wt)? as i64,
            FUNCTION_SYSTEM_NAME => f.system_name = r.scalar(wt)? as i64,
            FUNCTION_FILENAME => f.filename = r.scalar(wt)? as i64,
            FUNCTION_START_LINE => f.start_line = r.scalar(wt)? as i64,
            _ => r.skip(wt)?,
        }
    }
    Ok(f)
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
