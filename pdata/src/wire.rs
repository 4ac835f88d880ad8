//! Protobuf wire primitives for the hand-written fast paths (the zero-copy
//! pprof view and the direct OTLP writer): a bounds-checked reader that
//! rejects what prost rejects, and the writers prost's encoding uses, so the
//! bytes produced are the ones prost would produce.

use crate::Error;

pub(crate) const VARINT: u8 = 0;
pub(crate) const FIXED64: u8 = 1;
pub(crate) const LEN: u8 = 2;
pub(crate) const FIXED32: u8 = 5;

fn bad(what: &'static str) -> Error {
    Error::Malformed(what)
}

/// Reads protobuf fields from a byte slice; every read is bounds-checked.
#[derive(Clone, Copy)]
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    /// Offset of the next byte in the reader's slice.
    #[inline]
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    #[inline(always)]
    pub(crate) fn varint(&mut self) -> Result<u64, Error> {
        // Fast path: one byte.
        if let Some(&b) = self.buf.get(self.pos) {
            if b < 0x80 {
                self.pos += 1;
                return Ok(u64::from(b));
            }
        }
        self.varint_slow()
    }

    #[cold]
    #[inline(never)]
    fn varint_slow(&mut self) -> Result<u64, Error> {
        let mut v: u64 = 0;
        for i in 0..10 {
            let Some(&b) = self.buf.get(self.pos) else {
                return Err(bad("buffer underflow"));
            };
            self.pos += 1;
            if i == 9 && b > 1 {
                return Err(bad("invalid varint"));
            }
            v |= u64::from(b & 0x7f) << (7 * i);
            if b < 0x80 {
                return Ok(v);
            }
        }
        Err(bad("invalid varint"))
    }

    /// The next field's number and wire type.
    #[inline]
    pub(crate) fn key(&mut self) -> Result<(u32, u8), Error> {
        let k = self.varint()?;
        let k = u32::try_from(k).map_err(|_| bad("invalid key value"))?;
        let wt = (k & 7) as u8;
        if wt > FIXED32 {
            return Err(bad("invalid wire type value"));
        }
        let field = k >> 3;
        if field == 0 {
            return Err(bad("invalid tag value: 0"));
        }
        Ok((field, wt))
    }

    /// A length-delimited payload.
    #[inline]
    pub(crate) fn bytes(&mut self) -> Result<&'a [u8], Error> {
        let n = self.varint()?;
        let n = usize::try_from(n).map_err(|_| bad("buffer underflow"))?;
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .ok_or_else(|| bad("buffer underflow"))?;
        let out = self
            .buf
            .get(self.pos..end)
            .ok_or_else(|| bad("buffer underflow"))?;
        self.pos = end;
        Ok(out)
    }

    fn advance(&mut self, n: usize) -> Result<(), Error> {
        if self.buf.len() - self.pos.min(self.buf.len()) < n {
            return Err(bad("buffer underflow"));
        }
        self.pos += n;
        Ok(())
    }

    /// Skips a field of wire type `wt` (groups are refused).
    pub(crate) fn skip(&mut self, wt: u8) -> Result<(), Error> {
        match wt {
            VARINT => self.varint().map(drop),
            FIXED64 => self.advance(8),
            LEN => self.bytes().map(drop),
            FIXED32 => self.advance(4),
            _ => Err(bad("groups are not supported")),
        }
    }

    /// A varint scalar field: checks the wire type.
    #[inline]
    pub(crate) fn scalar(&mut self, wt: u8) -> Result<u64, Error> {
        if wt != VARINT {
            return Err(bad("invalid wire type"));
        }
        self.varint()
    }

    /// A length-delimited field: checks the wire type.
    #[inline]
    pub(crate) fn message(&mut self, wt: u8) -> Result<&'a [u8], Error> {
        if wt != LEN {
            return Err(bad("invalid wire type"));
        }
        self.bytes()
    }

    /// One occurrence of a repeated varint field, packed or not: calls `f`
    /// for each value.
    #[inline]
    pub(crate) fn repeated(&mut self, wt: u8, f: impl FnMut(u64)) -> Result<(), Error> {
        self.repeated_raw(wt)?.for_each(f)
    }

    /// One occurrence of a repeated varint field, its packed values left
    /// undecoded.
    #[inline]
    pub(crate) fn repeated_raw(&mut self, wt: u8) -> Result<Repeated<'a>, Error> {
        match wt {
            VARINT => Ok(Repeated::One(self.varint()?)),
            LEN => Ok(Repeated::Packed(self.bytes()?)),
            _ => Err(bad("invalid wire type")),
        }
    }
}

/// One occurrence of a repeated varint field.
#[derive(Clone, Copy)]
pub(crate) enum Repeated<'a> {
    /// An unpacked value.
    One(u64),
    /// Packed values, back to back.
    Packed(&'a [u8]),
}

impl Repeated<'_> {
    /// Calls `f` for each value.
    #[inline]
    pub(crate) fn for_each(self, mut f: impl FnMut(u64)) -> Result<(), Error> {
        match self {
            Repeated::One(v) => f(v),
            Repeated::Packed(b) => {
                let mut r = Reader::new(b);
                while let Some(&b) = r.buf.get(r.pos) {
                    if b < 0x80 {
                        r.pos += 1;
                        f(u64::from(b));
                    } else {
                        f(r.varint_slow()?);
                    }
                }
            }
        }
        Ok(())
    }
}

/// Appends `v` as a varint.
#[inline]
pub(crate) fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Fills a run of bytes appended to a vector: for the hot writers, which
/// append a fixed run of zeros (one capacity check, a copy of fixed size)
/// and fill it through this, then cut it to length. Pushing byte by byte
/// would reload the vector's length after each store (a byte store may
/// alias it).
pub(crate) struct SliceWriter<'b> {
    buf: &'b mut [u8],
    at: usize,
}

impl SliceWriter<'_> {
    #[inline(always)]
    pub(crate) fn byte(&mut self, b: u8) {
        if let Some(slot) = self.buf.get_mut(self.at) {
            *slot = b;
        }
        self.at += 1;
    }

    #[inline(always)]
    pub(crate) fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.byte((v as u8) | 0x80);
            v >>= 7;
        }
        self.byte(v as u8);
    }

    /// Copies all of `window` at the cursor but moves past only its first
    /// `used` bytes: a copy of fixed size whose tail the next writes
    /// overwrite (or the final cut drops).
    #[inline(always)]
    pub(crate) fn overlay(&mut self, window: &[u8], used: usize) {
        if let Some(dst) = self.buf.get_mut(self.at..self.at + window.len()) {
            dst.copy_from_slice(window);
        }
        self.at += used.min(window.len());
    }
}

/// Appends what `fill` writes, which must take at most `max` bytes (what
/// goes past them is dropped). Give a constant `max` on hot paths: the
/// zeros are then a copy of fixed size.
#[inline(always)]
pub(crate) fn append_with(out: &mut Vec<u8>, max: usize, fill: impl FnOnce(&mut SliceWriter<'_>)) {
    let start = out.len();
    out.resize(start + max, 0);
    let mut w = SliceWriter {
        buf: out.get_mut(start..).unwrap_or(&mut []),
        at: 0,
    };
    fill(&mut w);
    let end = start + w.at.min(max);
    out.truncate(end);
}

/// Bytes `v` takes as a varint.
#[inline]
pub(crate) fn varint_len(v: u64) -> usize {
    // 1 + floor(bits / 7), as prost computes it.
    ((((v | 1).leading_zeros() ^ 63) * 9 + 73) / 64) as usize
}

/// The one-byte key of field `field` (at most 15) with wire type `wt`:
/// for writers that put keys as constants.
#[inline]
pub(crate) const fn key_byte(field: u32, wt: u8) -> u8 {
    (field << 3) as u8 | wt
}

/// Appends a field key.
#[inline]
pub(crate) fn put_key(out: &mut Vec<u8>, field: u32, wt: u8) {
    put_varint(out, u64::from(field << 3 | u32::from(wt)));
}

/// An int32 as prost encodes it (negatives sign-extended to 10 bytes).
#[inline]
pub(crate) fn i32_varint(v: i32) -> u64 {
    i64::from(v) as u64
}

/// Appends a varint field unless it is zero (proto3 default).
#[inline]
pub(crate) fn put_varint_field(out: &mut Vec<u8>, field: u32, v: u64) {
    if v != 0 {
        put_key(out, field, VARINT);
        put_varint(out, v);
    }
}

/// The encoded size of a length-delimited field with a `body`-byte body and
/// a one-byte key (field numbers up to 15).
#[inline]
pub(crate) fn len_field_size(body: usize) -> usize {
    1 + varint_len(body as u64) + body
}

/// Appends a length-delimited field with `body`.
#[inline]
pub(crate) fn put_len_field(out: &mut Vec<u8>, field: u32, body: &[u8]) {
    put_key(out, field, LEN);
    put_varint(out, body.len() as u64);
    out.extend_from_slice(body);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_match_prost() {
        for v in [0u64, 1, 127, 128, 300, 1 << 35, u64::MAX, (-1i64) as u64] {
            let mut ours = Vec::new();
            put_varint(&mut ours, v);
            let mut theirs = Vec::new();
            prost::encoding::encode_varint(v, &mut theirs);
            assert_eq!(ours, theirs, "{v}");
            assert_eq!(varint_len(v), theirs.len(), "{v}");
            assert_eq!(Reader::new(&ours).varint().unwrap(), v);
        }
        // An 11-byte varint and a truncated one are errors.
        assert!(Reader::new(&[0xff; 11]).varint().is_err());
        assert!(Reader::new(&[0x80]).varint().is_err());
    }

    #[test]
    fn keys_and_skips() {
        assert!(Reader::new(&[0x00]).key().is_err(), "field 0");
        assert!(Reader::new(&[0x0e]).key().is_err(), "wire type 6");
        let mut r = Reader::new(&[0x0a, 0x05, 1, 2]);
        let (f, wt) = r.key().unwrap();
        assert_eq!((f, wt), (1, LEN));
        assert!(r.skip(wt).is_err(), "length past the end");
        assert!(Reader::new(&[1, 2, 3]).skip(FIXED64).is_err());
    }
}
