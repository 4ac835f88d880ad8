//! `PprofView`: a zero-copy, validated view of a decompressed pprof body,
//! what the data path keeps a profile as ([`crate::PprofData`] holds one).
//! [`PprofView::decode`] indexes and validates a body; the accessors
//! ([`header`](PprofView::header), [`str`](PprofView::str),
//! [`read_sample`](PprofView::read_sample), …) are total afterwards.
//!
//! prost's decoder allocates three vectors per sample (location ids, values,
//! labels) and one `String` per string; on big profiles that allocation is
//! most of the decode time and several times the body's size in memory. The
//! view instead keeps each string, sample, function and location as the
//! offset in the body of its length varint (`offsets.rs`; the message
//! follows the length), parsed again when it is read (packed location ids
//! are skipped by length when only values are needed); functions and
//! locations also have maps from their ids, and are decoded again when
//! read (`tables.rs`). The small tables (mappings, sample types) and
//! scalars are decoded into an ordinary [`pprof::Profile`] header whose
//! `sample`, `string_table`, `function` and `location` stay empty.
//!
//! The view accepts exactly the bodies prost accepts (except protobuf groups,
//! which it refuses) and decodes them to the same values (the tests and a
//! fuzz target check it against the test oracle's prost decoding); the
//! checks of `validate.rs` run on it.

mod decode;
mod messages;

pub(crate) use messages::label;

use crate::pprof;
use crate::pprof::ids::IdMap;
use crate::pprof::model::{SAMPLE_LABEL, SAMPLE_LOCATION_ID, SAMPLE_VALUE};
use crate::pprof::offsets::Offsets;
use crate::pprof::tables::{StringTable, Tables};
use crate::wire::Reader;
use crate::Error;
use bytes::Bytes;
use messages::{function, len_prefixed, location};
use std::borrow::Cow;

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
    /// [`DecodeLimits::max_stack_depth`](crate::pprof::DecodeLimits::max_stack_depth) (0: none).
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

impl PprofView {
    /// The most frames a stack keeps (`usize::MAX` without a limit).
    pub(crate) fn depth_limit(&self) -> usize {
        if self.max_stack_depth == 0 {
            usize::MAX
        } else {
            self.max_stack_depth
        }
    }

    /// Samples whose stack is deeper than [`DecodeLimits::max_stack_depth`](crate::pprof::DecodeLimits::max_stack_depth):
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
