//! The byte stream `DeltaComputer` keeps between scrapes: one entry per
//! series, sorted by key, each entry the key's gap from the previous key as a
//! varint (the first entry's gap is from 0) followed by the series' totals as
//! zigzag varints. Keys are 56-bit (see the `delta` module doc for why), so
//! with n series the gaps average 2^56 / n; small totals cost a byte each.
//!
//! The stream is only read sequentially ([`Reader`]), in key order, which is
//! all a merge join against the next profile's sorted series needs. Gaps are
//! taken with wrapping arithmetic, so any key sequence round-trips, and a
//! truncated or malformed stream just ends early; decoding never panics.

use crate::wire::put_varint;

/// Bits kept of a series' 64-bit content hash.
pub(super) const KEY_BITS: u32 = 56;

/// Builds a stream; push entries in increasing key order.
pub(super) struct Writer {
    buf: Vec<u8>,
    prev: u64,
}

impl Writer {
    pub(super) fn with_capacity(bytes: usize) -> Self {
        Self {
            buf: Vec::with_capacity(bytes),
            prev: 0,
        }
    }

    pub(super) fn push(&mut self, key: u64, totals: &[i64]) {
        put_varint(&mut self.buf, key.wrapping_sub(self.prev));
        self.prev = key;
        for &t in totals {
            put_varint(&mut self.buf, zigzag(t));
        }
    }

    /// The stream, its allocation shrunk to its length.
    pub(super) fn finish(mut self) -> Vec<u8> {
        self.buf.shrink_to_fit();
        self.buf
    }
}

/// Reads a stream of entries with `width` totals each, in order.
pub(super) struct Reader<'a> {
    wire: crate::wire::Reader<'a>,
    key: u64,
    width: usize,
}

impl<'a> Reader<'a> {
    pub(super) fn new(buf: &'a [u8], width: usize) -> Self {
        Self {
            wire: crate::wire::Reader::new(buf),
            key: 0,
            width,
        }
    }

    /// The next entry's key, its totals written to `totals` (which should
    /// hold `width` values; extra ones are left alone, missing ones are
    /// skipped); `None` at the end of the stream or on malformed bytes.
    pub(super) fn next(&mut self, totals: &mut [i64]) -> Option<u64> {
        let gap = self.wire.varint().ok()?;
        self.key = self.key.wrapping_add(gap);
        for j in 0..self.width {
            let v = unzigzag(self.wire.varint().ok()?);
            if let Some(t) = totals.get_mut(j) {
                *t = v;
            }
        }
        Some(self.key)
    }
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(u: u64) -> i64 {
    ((u >> 1) as i64) ^ -((u & 1) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(buf: &[u8], width: usize) -> Vec<(u64, Vec<i64>)> {
        let mut r = Reader::new(buf, width);
        let mut out = Vec::new();
        let mut t = vec![0; width];
        while let Some(k) = r.next(&mut t) {
            out.push((k, t.clone()));
        }
        out
    }

    #[test]
    fn round_trip() {
        let max_key = (1u64 << KEY_BITS) - 1;
        let entries: Vec<(u64, Vec<i64>)> = vec![
            (0, vec![0, 0]),
            (1, vec![1, -1]),
            (2, vec![63, 64]),
            (130, vec![i64::MAX, i64::MIN]),
            (1 << 40, vec![-64, -65]),
            ((1 << 40) + 1, vec![1_000_000_000_000, 300]),
            (max_key - 1, vec![i64::MIN + 1, i64::MAX - 1]),
            (max_key, vec![0, 7]),
        ];
        let mut w = Writer::with_capacity(0);
        for (k, t) in &entries {
            w.push(*k, t);
        }
        let buf = w.finish();
        assert_eq!(buf.capacity(), buf.len());
        assert_eq!(read_all(&buf, 2), entries);

        // Sizes: a 1-byte gap and two 1-byte totals; a full 56-bit key.
        let mut w = Writer::with_capacity(0);
        w.push(5, &[1, 32]);
        assert_eq!(w.finish().len(), 3);
        let mut w = Writer::with_capacity(0);
        w.push(max_key, &[]);
        assert_eq!(w.finish().len(), 8);

        // Any 64-bit key sequence round-trips (gaps wrap).
        let odd: Vec<(u64, Vec<i64>)> = vec![(u64::MAX, vec![3]), (2, vec![-3]), (2, vec![0])];
        let mut w = Writer::with_capacity(0);
        for (k, t) in &odd {
            w.push(*k, t);
        }
        assert_eq!(read_all(&w.finish(), 1), odd);
        assert!(read_all(&[], 2).is_empty());
    }

    #[test]
    fn malformed_streams_end_early() {
        let mut w = Writer::with_capacity(0);
        w.push(1 << 50, &[1 << 40, 5]);
        w.push((1 << 50) + 9, &[2, 3]);
        let buf = w.finish();
        for cut in 0..buf.len() {
            let got = read_all(&buf[..cut], 2);
            assert!(got.len() <= 1, "cut {cut}: {got:?}");
        }
        // An over-long varint (11 continuation bytes) ends the stream.
        assert!(read_all(&[0xff; 11], 0).is_empty());
        // A narrower buffer than the width skips the extra totals.
        let mut r = Reader::new(&buf, 2);
        let mut one = [0i64; 1];
        assert_eq!(r.next(&mut one), Some(1 << 50));
        assert_eq!(one, [1 << 40]);
        assert_eq!(r.next(&mut one), Some((1 << 50) + 9));
    }
}
