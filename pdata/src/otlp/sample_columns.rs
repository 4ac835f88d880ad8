//! One converted profile's samples, kept encoded until the request is
//! written: per sample, the OTLP fields every sample type shares (stack
//! index, attribute indexes, link index), and per sample type a column of
//! values. Each OTLP profile (one per sample type) is then written by one
//! pass over the shared fields and that type's column, reading each value
//! once.
//!
//! What the profiles carry follows DESIGN.md §5: samples of the same
//! identity (equal shared fields: stack, attributes, link) are combined
//! into the first of them when sealed, and a sample whose value for a
//! sample type is zero is left out of that type's profile.

use crate::otlp::fields::{
    PROFILE_SAMPLES, SAMPLE_ATTRIBUTE_INDICES, SAMPLE_LINK_INDEX, SAMPLE_STACK_INDEX, SAMPLE_VALUES,
};
use crate::otlp::hasher::IdentityHasher;
use crate::otlp::sink::Sink;
use crate::wire::{
    append_with, i32_varint, key_byte, len_field_size, put_key, put_varint, varint_len, Reader,
    SliceWriter, LEN, VARINT,
};
use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::io;
use xxhash_rust::xxh3::xxh3_64;

/// Zero bytes after the last sample's shared fields, so that the writer
/// can copy a fixed [`COPY`] bytes of any sample's fields.
const COPY: usize = 32;

/// Shared fields of up to this many bytes (with their length) are written
/// through a fixed run of bytes.
const SHARED_FAST: usize = 32;

/// Value rows per run of [`SampleColumns::push_value_rows`].
const ROWS: usize = 16;

/// Samples per spill check while writing.
const SPILL_EVERY: usize = 256;

pub(crate) struct SampleColumns {
    /// Per sample: the length (varint) and bytes of its shared fields.
    /// Followed by [`COPY`] zero bytes once [`seal`](Self::seal)ed.
    shared: Vec<u8>,
    /// Bytes of `shared` before the padding.
    shared_len: usize,
    /// Per sample type: each sample's value, a varint each.
    values: Vec<Vec<u8>>,
    /// Samples, and the bytes of their shared fields: with the values'
    /// bytes, they give each sample type's encoded size (see `size`).
    count: usize,
    shared_bytes: usize,
    /// Per sample type: what samples whose body takes 128 bytes or more
    /// (a length of two bytes or more) add to that size.
    long_bodies: Vec<usize>,
    /// Per sample type: the bytes of its zero-valued samples, which are
    /// not written.
    zeros: Vec<usize>,
}

impl SampleColumns {
    /// Room for about `samples` samples of `types` values.
    pub(crate) fn new(samples: usize, types: usize) -> Self {
        SampleColumns {
            // A stack index and a byte or two of attributes is close for
            // most profiles, and a byte per value; `reserve` grows them by
            // quarters when short.
            // (Room for the fixed run `push` fills, and the padding.)
            shared: Vec::with_capacity(samples * 4 + SHARED_FAST.max(COPY)),
            shared_len: 0,
            values: (0..types).map(|_| Vec::with_capacity(samples)).collect(),
            count: 0,
            shared_bytes: 0,
            long_bodies: vec![0; types],
            zeros: vec![0; types],
        }
    }

    /// Adds a sample: its stack index, attribute indexes, link index, and
    /// one value per sample type (missing values are 0).
    #[cfg(test)]
    pub(crate) fn push(&mut self, stack: i32, attrs: &[i32], link: i32, values: &[i64]) {
        self.push_shared(stack, attrs, link, values);
        for (t, column) in self.values.iter_mut().enumerate() {
            push_value(column, values.get(t).copied().unwrap_or(0));
        }
    }

    /// Adds the values of samples whose shared fields were added by
    /// [`push_shared`](Self::push_shared): one row per sample, a value per
    /// sample type each, row after row. Column by column, [`ROWS`] rows at
    /// a time, each run written in place.
    pub(crate) fn push_value_rows(&mut self, rows: &[i64]) {
        let types = self.values.len();
        if types == 0 {
            return;
        }
        for chunk in rows.chunks(types * ROWS) {
            for (t, column) in self.values.iter_mut().enumerate() {
                let column_values = chunk.iter().skip(t).step_by(types);
                if column.capacity() - column.len() >= ROWS * 10 {
                    append_with(column, ROWS * 10, |w| {
                        for &v in column_values {
                            w.varint(v as u64);
                        }
                    });
                } else {
                    // Near the end of its room: grown as `push` grows it,
                    // not by a run's worst case.
                    for &v in column_values {
                        push_value(column, v);
                    }
                }
            }
        }
    }

    /// Adds a sample's shared fields (its values, which only size it here,
    /// go to [`push_value_rows`](Self::push_value_rows)).
    pub(crate) fn push_shared(&mut self, stack: i32, attrs: &[i32], link: i32, values: &[i64]) {
        let stack_field = if stack != 0 {
            1 + varint_len(i32_varint(stack))
        } else {
            0
        };
        let attrs_body: usize = attrs.iter().map(|&a| varint_len(i32_varint(a))).sum();
        let attrs_field = if attrs.is_empty() {
            0
        } else {
            len_field_size(attrs_body)
        };
        let link_field = if link != 0 {
            1 + varint_len(i32_varint(link))
        } else {
            0
        };
        let shared = stack_field + attrs_field + link_field;
        reserve(&mut self.shared, SHARED_FAST.max(10 + shared));
        let write = |w: &mut SliceWriter<'_>| {
            w.varint(shared as u64);
            if stack != 0 {
                w.byte(STACK_INDEX_KEY);
                w.varint(i32_varint(stack));
            }
            if !attrs.is_empty() {
                w.byte(ATTRIBUTE_INDICES_KEY);
                w.varint(attrs_body as u64);
                for &a in attrs {
                    w.varint(i32_varint(a));
                }
            }
            if link != 0 {
                w.byte(LINK_INDEX_KEY);
                w.varint(i32_varint(link));
            }
        };
        if shared < SHARED_FAST {
            append_with(&mut self.shared, SHARED_FAST, write);
        } else {
            append_with(&mut self.shared, varint_len(shared as u64) + shared, write);
        }
        self.account(shared, values);
        self.shared_len = self.shared.len();
    }

    /// Adds a sample whose shared fields are given encoded (the slow path
    /// that combines duplicates), with its values.
    fn push_encoded(&mut self, fields: &[u8], values: &[i64]) {
        put_varint(&mut self.shared, fields.len() as u64);
        self.shared.extend_from_slice(fields);
        self.shared_len = self.shared.len();
        self.account(fields.len(), values);
        for (t, column) in self.values.iter_mut().enumerate() {
            push_value(column, values.get(t).copied().unwrap_or(0));
        }
    }

    /// Counts a sample whose shared fields take `shared` bytes into the
    /// sizes [`size`](Self::size) gives.
    #[inline]
    fn account(&mut self, shared: usize, values: &[i64]) {
        // A body (shared fields, value key and length, value) of 128 bytes
        // or more needs a longer length than `size` assumes; a zero value
        // is not written at all.
        let long = shared + 2 + 10 >= 0x80;
        for (t, (extra, zeros)) in self.long_bodies.iter_mut().zip(&mut self.zeros).enumerate() {
            let v = values.get(t).copied().unwrap_or(0) as u64;
            if v == 0 {
                *zeros += 4 + shared + 1;
            } else if long {
                let body = shared + 2 + varint_len(v);
                *extra += len_field_size(body) - (2 + body);
            }
        }
        self.count += 1;
        self.shared_bytes += shared;
    }

    /// The shared fields of every sample, in order, with the position of
    /// their length prefix.
    fn fields(&self) -> impl Iterator<Item = (usize, &[u8])> + '_ {
        let mut pos = 0;
        std::iter::from_fn(move || {
            if pos >= self.shared_len {
                return None;
            }
            let at = pos;
            let fields = self.fields_at(at)?;
            pos = at + varint_len(fields.len() as u64) + fields.len();
            Some((at, fields))
        })
    }

    /// The shared fields whose length prefix is at `pos`.
    fn fields_at(&self, pos: usize) -> Option<&[u8]> {
        let mut r = Reader::new(self.shared.get(pos..self.shared_len)?);
        let len = usize::try_from(r.varint().ok()?).ok()?;
        let at = pos + r.pos();
        self.shared.get(at..at + len)
    }

    /// Combines samples with equal shared fields into the first of them
    /// (their values summed). Rare: a pprof writer merges equal stacks,
    /// but different pprof locations can make the same OTLP stack. The
    /// check costs a hash and a map entry (16 bytes) per sample, freed
    /// before returning.
    fn combine_duplicates(&mut self) {
        if self.count < 2 {
            return;
        }
        // Hash of the fields → (sample number, position of its prefix).
        let mut first: HashMap<u64, (u32, u32), BuildHasherDefault<IdentityHasher>> =
            HashMap::with_capacity_and_hasher(self.count, Default::default());
        // (duplicate, first) sample numbers.
        let mut dups: Vec<(u32, u32)> = Vec::new();
        for (i, (at, f)) in self.fields().enumerate() {
            let (i, at) = (i as u32, at as u32);
            let (j, j_at) = *first.entry(xxh3_64(f)).or_insert((i, at));
            if j != i && self.fields_at(j_at as usize) == Some(f) {
                dups.push((i, j));
            }
        }
        drop(first);
        if dups.is_empty() {
            return;
        }
        // Decode the values, sum the duplicates into their first, rebuild.
        let types = self.values.len();
        let mut rows = vec![0i64; self.count * types];
        for (t, column) in self.values.iter().enumerate() {
            let mut r = Reader::new(column);
            for row in rows.chunks_exact_mut(types.max(1)) {
                if let (Some(slot), Ok(v)) = (row.get_mut(t), r.varint()) {
                    *slot = v as i64;
                }
            }
        }
        let mut gone = vec![false; self.count];
        for &(d, f) in &dups {
            let (d, f) = (d as usize, f as usize);
            if let Some(g) = gone.get_mut(d) {
                *g = true;
            }
            for t in 0..types {
                let v = rows.get(d * types + t).copied().unwrap_or(0);
                if let Some(slot) = rows.get_mut(f * types + t) {
                    *slot = slot.wrapping_add(v);
                }
            }
        }
        let mut out = SampleColumns::new(self.count - dups.len(), types);
        for (i, (_, f)) in self.fields().enumerate() {
            if !gone.get(i).copied().unwrap_or(true) {
                out.push_encoded(f, rows.get(i * types..(i + 1) * types).unwrap_or(&[]));
            }
        }
        *self = out;
    }

    /// Ends the samples: combines duplicates and pads the shared fields for
    /// [`write`](Self::write).
    pub(crate) fn seal(&mut self) {
        self.combine_duplicates();
        self.shared.truncate(self.shared_len);
        self.shared.reserve_exact(COPY);
        self.shared.resize(self.shared_len + COPY, 0);
    }

    /// The encoded size of the samples of sample type `t`.
    pub(crate) fn size(&self, t: usize) -> usize {
        // Each sample: key, one-byte length, shared fields, value key,
        // value length, value.
        let values = self.values.get(t).map_or(0, Vec::len);
        let extra = self.long_bodies.get(t).copied().unwrap_or(0);
        let zeros = self.zeros.get(t).copied().unwrap_or(0);
        (4 * self.count + self.shared_bytes + values + extra).saturating_sub(zeros)
    }

    /// Writes the samples of sample type `t` (`seal` first).
    pub(crate) fn write(&self, sink: &mut impl Sink, t: usize) -> io::Result<()> {
        let Some(column) = self.values.get(t) else {
            return Ok(());
        };
        let mut values = Reader::new(column);
        let mut pos = 0;
        let mut n = 0usize;
        while pos < self.shared_len {
            // Written by `push`: reading cannot fail.
            let (len, at) = match self.shared.get(pos) {
                Some(&b) if b < 0x80 => (usize::from(b), pos + 1),
                _ => {
                    let mut r = Reader::new(self.shared.get(pos..).unwrap_or(&[]));
                    let Ok(len) = r.varint() else { break };
                    (len as usize, pos + r.pos())
                }
            };
            let Ok(v) = values.varint() else { break };
            pos = at + len;
            if v == 0 {
                continue;
            }
            let window = self.shared.get(at..at + COPY);
            let out = sink.buf();
            match window {
                Some(window) if len <= COPY && len + 2 + varint_len(v) < 0x80 => {
                    sample_fast(out, window, len, v);
                }
                _ => {
                    let fields = self.shared.get(at..at + len).unwrap_or(&[]);
                    sample_slow(out, fields, v);
                }
            }
            n += 1;
            if n.is_multiple_of(SPILL_EVERY) {
                sink.spill()?;
            }
        }
        Ok(())
    }
}

/// Appends a value's varint to its column, growing it as [`reserve`] does.
fn push_value(column: &mut Vec<u8>, v: i64) {
    let v = v as u64;
    reserve(column, varint_len(v));
    put_varint(column, v);
}

/// Grows `buf` by a quarter (at least `more` bytes) when it is short: these
/// are the biggest buffers kept per profile, and the first guess is
/// usually close.
fn reserve(buf: &mut Vec<u8>, more: usize) {
    if buf.capacity() - buf.len() < more {
        let by = (buf.capacity() / 4).max(more).max(64);
        buf.reserve_exact(by);
    }
}

/// Bytes [`sample_fast`] appends at most: key, length, the window of
/// shared fields, value key, value length, value.
const RECORD: usize = 2 + COPY + 2 + 10;

/// The keys of the fields a sample record holds.
const STACK_INDEX_KEY: u8 = key_byte(SAMPLE_STACK_INDEX, VARINT);
const ATTRIBUTE_INDICES_KEY: u8 = key_byte(SAMPLE_ATTRIBUTE_INDICES, LEN);
const LINK_INDEX_KEY: u8 = key_byte(SAMPLE_LINK_INDEX, VARINT);
const SAMPLE_KEY: u8 = key_byte(PROFILE_SAMPLES, LEN);
const VALUES_KEY: u8 = key_byte(SAMPLE_VALUES, LEN);

/// Writes one OTLP sample (a `Profile.samples` field) whose body takes less than
/// 128 bytes and whose shared fields are the first `len` bytes of `window`.
#[inline(always)]
fn sample_fast(out: &mut Vec<u8>, window: &[u8], len: usize, v: u64) {
    let value_len = varint_len(v);
    append_with(out, RECORD, |w| {
        w.byte(SAMPLE_KEY);
        w.byte((len + 2 + value_len) as u8);
        w.overlay(window, len);
        w.byte(VALUES_KEY);
        w.byte(value_len as u8);
        w.varint(v);
    });
}

/// Writes one OTLP sample of any size.
fn sample_slow(out: &mut Vec<u8>, fields: &[u8], v: u64) {
    put_key(out, PROFILE_SAMPLES, LEN);
    put_varint(out, (fields.len() + 2 + varint_len(v)) as u64);
    out.extend_from_slice(fields);
    put_key(out, SAMPLE_VALUES, LEN);
    put_varint(out, varint_len(v) as u64);
    put_varint(out, v);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sample as prost encodes it.
    fn prost_sample(stack: i32, attrs: &[i32], link: i32, v: i64) -> Vec<u8> {
        use prost::Message;
        let s = crate::otlp::proto::Sample {
            stack_index: stack,
            attribute_indices: attrs.to_vec(),
            link_index: link,
            values: vec![v],
            ..Default::default()
        };
        let mut out = Vec::new();
        put_key(&mut out, PROFILE_SAMPLES, LEN);
        put_varint(&mut out, s.encoded_len() as u64);
        s.encode(&mut out).unwrap();
        out
    }

    type Row = (i32, Vec<i32>, i32, [i64; 2]);

    /// What `rows` (distinct identities) give for sample type `t`: prost's
    /// encoding of each row whose value is not zero.
    fn want(rows: &[Row], t: usize) -> Vec<u8> {
        rows.iter()
            .filter(|r| r.3[t] != 0)
            .flat_map(|(stack, attrs, link, values)| prost_sample(*stack, attrs, *link, values[t]))
            .collect()
    }

    #[test]
    fn writes_what_prost_writes_fast_and_slow() {
        // Small samples take the fast path; 40 attributes (shared fields
        // over COPY bytes), a huge value or a negative stack the slow one;
        // 125 attributes make a body of 128 bytes or more.
        let many: Vec<i32> = (1..=40).collect();
        let more: Vec<i32> = (1..=125).collect();
        let samples: Vec<Row> = vec![
            (0, vec![], 0, [0, 0]),
            (5, vec![], 0, [1, 300]),
            (200, vec![3, 70_000], 4, [-1, 1 << 40]),
            (7, many, 0, [9, 0]),
            (-3, vec![1], 300, [i64::MAX, 2]),
            (9, more.clone(), 0, [1, 1 << 50]),
            (10, more, 1, [0, 5]),
        ];
        let mut cols = SampleColumns::new(1, 2);
        for (stack, attrs, link, values) in &samples {
            cols.push(*stack, attrs, *link, values);
        }
        cols.seal();
        for t in 0..2 {
            let mut out = Vec::new();
            cols.write(&mut out, t).unwrap();
            let want = want(&samples, t);
            assert_eq!(out, want, "sample type {t}");
            assert_eq!(cols.size(t), want.len());
        }
    }

    #[test]
    fn missing_values_are_zero_and_growth_keeps_samples() {
        let mut cols = SampleColumns::new(0, 3);
        for i in 0..2000 {
            cols.push(i, &[i % 7], 0, &[i64::from(i)]);
        }
        cols.seal();
        let mut out = Vec::new();
        cols.write(&mut out, 2).unwrap();
        assert!(out.is_empty(), "every value of type 2 is zero");
        assert_eq!(cols.size(2), 0);
        let mut out = Vec::new();
        cols.write(&mut out, 0).unwrap();
        let want: Vec<u8> = (1..2000)
            .flat_map(|i| prost_sample(i, &[i % 7], 0, i64::from(i)))
            .collect();
        assert_eq!(out, want);
        assert_eq!(cols.size(0), want.len());
    }

    #[test]
    fn equal_identities_are_combined_into_the_first() {
        let pushed: Vec<Row> = vec![
            (1, vec![2], 0, [1, 10]),
            (1, vec![], 0, [2, 0]),
            (1, vec![2], 0, [3, -10]),
            (1, vec![2], 7, [4, 40]),
            (1, vec![], 0, [-2, 5]),
        ];
        let mut cols = SampleColumns::new(2, 2);
        for (stack, attrs, link, values) in &pushed {
            cols.push(*stack, attrs, *link, values);
        }
        cols.seal();
        let combined: Vec<Row> = vec![
            (1, vec![2], 0, [4, 0]),
            (1, vec![], 0, [0, 5]),
            (1, vec![2], 7, [4, 40]),
        ];
        for t in 0..2 {
            let mut out = Vec::new();
            cols.write(&mut out, t).unwrap();
            let want = want(&combined, t);
            assert_eq!(out, want, "sample type {t}");
            assert_eq!(cols.size(t), want.len());
        }
    }
}
