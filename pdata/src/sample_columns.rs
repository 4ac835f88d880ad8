//! One converted profile's samples, kept encoded until the request is
//! written: per sample, the OTLP fields every sample type shares (stack
//! index, attribute indexes), and per sample type a column of values. Each
//! OTLP profile (one per sample type) is then written by one pass over the
//! shared fields and that type's column, reading each value once.

use crate::sink::Sink;
use crate::wire::{
    append_with, i32_varint, len_field_size, put_key, put_varint, varint_len, Reader, SliceWriter,
    LEN, VARINT,
};
use std::io;

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
        }
    }

    /// Adds a sample: its stack index, attribute indexes, and one value
    /// per sample type (missing values are 0).
    pub(crate) fn push(&mut self, stack: i32, attrs: &[i32], values: &[i64]) {
        self.push_shared(stack, attrs, values);
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
    pub(crate) fn push_shared(&mut self, stack: i32, attrs: &[i32], values: &[i64]) {
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
        let shared = stack_field + attrs_field;
        reserve(&mut self.shared, SHARED_FAST.max(10 + shared));
        let write = |w: &mut SliceWriter<'_>| {
            w.varint(shared as u64);
            if stack != 0 {
                w.byte(1 << 3 | VARINT);
                w.varint(i32_varint(stack));
            }
            if !attrs.is_empty() {
                w.byte(2 << 3 | LEN);
                w.varint(attrs_body as u64);
                for &a in attrs {
                    w.varint(i32_varint(a));
                }
            }
        };
        if shared < SHARED_FAST {
            append_with(&mut self.shared, SHARED_FAST, write);
        } else {
            append_with(&mut self.shared, varint_len(shared as u64) + shared, write);
        }
        // A body (shared fields, value key and length, value) of 128 bytes
        // or more needs a longer length than `size` assumes.
        if shared + 2 + 10 >= 0x80 {
            for (t, extra) in self.long_bodies.iter_mut().enumerate() {
                let v = values.get(t).copied().unwrap_or(0) as u64;
                let body = shared + 2 + varint_len(v);
                *extra += len_field_size(body) - (2 + body);
            }
        }
        self.count += 1;
        self.shared_bytes += shared;
        self.shared_len = self.shared.len();
    }

    /// Ends the samples: pads the shared fields for [`write`](Self::write).
    pub(crate) fn seal(&mut self) {
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
        4 * self.count + self.shared_bytes + values + extra
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
            pos = at + len;
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

/// Writes one OTLP sample (field 2 of `Profile`) whose body takes less than
/// 128 bytes and whose shared fields are the first `len` bytes of `window`.
#[inline(always)]
fn sample_fast(out: &mut Vec<u8>, window: &[u8], len: usize, v: u64) {
    let value_len = varint_len(v);
    append_with(out, RECORD, |w| {
        w.byte(2 << 3 | LEN);
        w.byte((len + 2 + value_len) as u8);
        w.overlay(window, len);
        w.byte(4 << 3 | LEN);
        w.byte(value_len as u8);
        w.varint(v);
    });
}

/// Writes one OTLP sample of any size.
fn sample_slow(out: &mut Vec<u8>, fields: &[u8], v: u64) {
    put_key(out, 2, LEN);
    put_varint(out, (fields.len() + 2 + varint_len(v)) as u64);
    out.extend_from_slice(fields);
    put_key(out, 4, LEN);
    put_varint(out, varint_len(v) as u64);
    put_varint(out, v);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sample as prost encodes it.
    fn prost_sample(stack: i32, attrs: &[i32], v: i64) -> Vec<u8> {
        use prost::Message;
        let s = crate::otlp::Sample {
            stack_index: stack,
            attribute_indices: attrs.to_vec(),
            values: vec![v],
            ..Default::default()
        };
        let mut out = Vec::new();
        put_key(&mut out, 2, LEN);
        put_varint(&mut out, s.encoded_len() as u64);
        s.encode(&mut out).unwrap();
        out
    }

    #[test]
    fn writes_what_prost_writes_fast_and_slow() {
        // Small samples take the fast path; 40 attributes (shared fields
        // over COPY bytes), a huge value or a negative stack the slow one;
        // 125 attributes make a body of 128 bytes or more.
        let many: Vec<i32> = (1..=40).collect();
        let more: Vec<i32> = (1..=125).collect();
        let samples: Vec<(i32, Vec<i32>, [i64; 2])> = vec![
            (0, vec![], [0, 0]),
            (5, vec![], [1, 300]),
            (200, vec![3, 70_000], [-1, 1 << 40]),
            (7, many, [9, 10]),
            (-3, vec![1], [i64::MAX, 2]),
            (9, more, [1, 1 << 50]),
        ];
        let mut cols = SampleColumns::new(1, 2);
        for (stack, attrs, values) in &samples {
            cols.push(*stack, attrs, values);
        }
        cols.seal();
        for t in 0..2 {
            let mut out = Vec::new();
            cols.write(&mut out, t).unwrap();
            let want: Vec<u8> = samples
                .iter()
                .flat_map(|(stack, attrs, values)| prost_sample(*stack, attrs, values[t]))
                .collect();
            assert_eq!(out, want, "sample type {t}");
            assert_eq!(cols.size(t), want.len());
        }
    }

    #[test]
    fn missing_values_are_zero_and_growth_keeps_samples() {
        let mut cols = SampleColumns::new(0, 3);
        for i in 0..2000 {
            cols.push(i, &[i % 7], &[i64::from(i)]);
        }
        cols.seal();
        let mut out = Vec::new();
        cols.write(&mut out, 2).unwrap();
        let want: Vec<u8> = (0..2000)
            .flat_map(|i| prost_sample(i, &[i % 7], 0))
            .collect();
        assert_eq!(out, want);
        let mut out = Vec::new();
        cols.write(&mut out, 0).unwrap();
        let want: Vec<u8> = (0..2000)
            .flat_map(|i| prost_sample(i, &[i % 7], i64::from(i)))
            .collect();
        assert_eq!(out, want);
    }
}
