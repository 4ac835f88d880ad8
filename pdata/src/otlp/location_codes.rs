//! Rewrites a sample's pprof location ids into its OTLP stack encoding (the
//! varints of dictionary location indexes), through a per-profile table of
//! each id's encoded index, filled on first use. The writer's hottest loop:
//! every location id of every sample goes through it.

use crate::error::Error;
use crate::wire::{i32_varint, put_varint, Reader, Repeated};

/// Per pprof location id: the varint of its dictionary index, in the low
/// three bytes (zero-padded, little-endian), and that varint's length in
/// the top byte. [`UNKNOWN`] until the id is first seen.
pub(crate) struct LocationCodes {
    codes: Vec<u32>,
}

const UNKNOWN: u32 = 0;
/// Indexes below this fit a three-byte varint, so in a code.
const CODE_LIMIT: u64 = 1 << 21;

impl LocationCodes {
    pub(crate) fn new() -> Self {
        LocationCodes { codes: Vec::new() }
    }

    /// Whether every location of a profile gets a code once seen, so that
    /// the caller need not cache their indexes too: its ids all below
    /// `bound` (the table's, see [`reset`](Self::reset)), and every index
    /// below `max_index` small enough for a code.
    pub(crate) fn keeps_all(bound: usize, max_index: usize) -> bool {
        bound > 0 && (max_index as u64) < CODE_LIMIT
    }

    /// Forgets every code; ids below `bound` get a table slot (larger ids
    /// are interned on every use).
    pub(crate) fn reset(&mut self, bound: usize) {
        self.codes.clear();
        self.codes.resize(bound, UNKNOWN);
    }

    /// Appends the encoded dictionary index of each id in `ids` to `out`.
    /// `intern` gives an id's index on its first use, or None when the
    /// profile defines no such location, which is an error.
    #[inline]
    pub(crate) fn translate(
        &mut self,
        ids: Repeated<'_>,
        out: &mut Vec<u8>,
        mut intern: impl FnMut(u64) -> Option<i32>,
    ) -> Result<(), Error> {
        let packed = match ids {
            Repeated::One(id) => return self.translate_one(id, out, &mut intern),
            Repeated::Packed(b) => b,
        };
        // Codes go to a local chunk first, its fill level in a register: a
        // store into `out`'s bytes could alias its length, which would then
        // be reloaded for every id (a store-to-load stall per id).
        let mut chunk = [0u8; CHUNK + 4];
        let mut used = 0;
        let mut pos = 0;
        while let Some(&b0) = packed.get(pos) {
            // Ids below 16384 (one or two bytes) are decoded inline.
            let id = if b0 < 0x80 {
                pos += 1;
                u64::from(b0)
            } else if let Some(&b1) = packed.get(pos + 1).filter(|&&b| b < 0x80) {
                pos += 2;
                u64::from(b0 & 0x7f) | u64::from(b1) << 7
            } else {
                let mut r = Reader::new(packed.get(pos..).unwrap_or(&[]));
                let id = r.varint()?;
                pos += r.pos();
                id
            };
            match usize::try_from(id).ok().and_then(|i| self.codes.get(i)) {
                Some(&code) if code != UNKNOWN => {
                    // Four bytes written (the code and its length byte),
                    // what follows the varint overwritten by the
                    // next code: no branch on the length.
                    if let Some(dst) = chunk.get_mut(used..used + 4) {
                        dst.copy_from_slice(&code.to_le_bytes());
                        used += (code >> 24) as usize;
                    }
                    if used > CHUNK {
                        out.extend_from_slice(chunk.get(..used).unwrap_or(&[]));
                        used = 0;
                    }
                }
                _ => {
                    out.extend_from_slice(chunk.get(..used).unwrap_or(&[]));
                    used = 0;
                    self.first_use(id, out, &mut intern)?;
                }
            }
        }
        out.extend_from_slice(chunk.get(..used).unwrap_or(&[]));
        Ok(())
    }

    fn translate_one(
        &mut self,
        id: u64,
        out: &mut Vec<u8>,
        intern: &mut impl FnMut(u64) -> Option<i32>,
    ) -> Result<(), Error> {
        match usize::try_from(id).ok().and_then(|i| self.codes.get(i)) {
            Some(&code) if code != UNKNOWN => {
                let len = (code >> 24) as usize;
                out.extend_from_slice(&code.to_le_bytes()[..len.min(3)]);
                Ok(())
            }
            _ => self.first_use(id, out, intern),
        }
    }

    #[cold]
    #[inline(never)]
    fn first_use(
        &mut self,
        id: u64,
        out: &mut Vec<u8>,
        intern: &mut impl FnMut(u64) -> Option<i32>,
    ) -> Result<(), Error> {
        let Some(index) = intern(id) else {
            return Err(Error::MissingId {
                kind: "location",
                id,
            });
        };
        let start = out.len();
        let v = i32_varint(index);
        put_varint(out, v);
        let slot = usize::try_from(id).ok().and_then(|i| self.codes.get_mut(i));
        if let (Some(slot), Some(bytes)) = (slot, out.get(start..)) {
            if v < CODE_LIMIT {
                let mut low = [0u8; 4];
                low[..bytes.len()].copy_from_slice(bytes);
                *slot = u32::from_le_bytes(low) | (bytes.len() as u32) << 24;
            }
        }
        Ok(())
    }
}

/// Bytes of codes gathered before they are appended to the stack.
const CHUNK: usize = 60;

#[cfg(test)]
mod tests {
    use super::*;

    fn packed(ids: &[u64]) -> Vec<u8> {
        let mut b = Vec::new();
        for &id in ids {
            put_varint(&mut b, id);
        }
        b
    }

    fn expected(ids: &[u64], index: impl Fn(u64) -> i32) -> Vec<u8> {
        let mut b = Vec::new();
        for &id in ids {
            put_varint(&mut b, i32_varint(index(id)));
        }
        b
    }

    #[test]
    fn encodes_every_width_and_interns_each_id_once() {
        // Ids of one, two and three bytes; indexes of one to five bytes
        // (from 1 << 21 too big for a code, so interned on every use).
        let ids = [1, 300, 1, 20_000, 300, 7, 8, 7, 20_000, 8, 9];
        let index = |id: u64| match id {
            1 => 0,
            300 => 200,
            20_000 => 1 << 21,
            7 => 1 << 28,
            8 => (1 << 21) - 1,
            _ => 5,
        };
        let mut codes = LocationCodes::new();
        codes.reset(400);
        let mut calls = Vec::new();
        let mut out = Vec::new();
        let ids_bytes = packed(&ids);
        codes
            .translate(Repeated::Packed(&ids_bytes), &mut out, |id| {
                calls.push(id);
                Some(index(id))
            })
            .unwrap();
        assert_eq!(out, expected(&ids, index));
        // 20_000 has no slot (bound 400) and 7's index is too big for a
        // code: both are interned at each use; the others once.
        assert_eq!(calls, vec![1, 300, 20_000, 7, 8, 7, 20_000, 9]);
        codes
            .translate(Repeated::One(300), &mut out, |_| panic!("cached"))
            .unwrap();
        assert_eq!(out.len(), expected(&ids, index).len() + 2);
    }

    #[test]
    fn unknown_id_and_bad_varint_are_errors() {
        let mut codes = LocationCodes::new();
        codes.reset(10);
        let mut out = Vec::new();
        let err = codes
            .translate(Repeated::Packed(&[3]), &mut out, |_| None)
            .unwrap_err();
        assert!(matches!(err, Error::MissingId { id: 3, .. }), "{err}");
        let truncated = [0x80, 0x80];
        assert!(codes
            .translate(Repeated::Packed(&truncated), &mut out, |_| Some(1))
            .is_err());
    }

    #[test]
    fn reset_forgets_codes() {
        let mut codes = LocationCodes::new();
        codes.reset(4);
        let mut out = Vec::new();
        codes
            .translate(Repeated::One(2), &mut out, |_| Some(5))
            .unwrap();
        codes.reset(4);
        codes
            .translate(Repeated::One(2), &mut out, |_| Some(6))
            .unwrap();
        assert_eq!(out, vec![5, 6]);
    }
}
