//! The dictionary's stack table: every distinct stack as the packed varints
//! of its location indexes, back to back (a few bytes per stack instead of a
//! `Vec` each; equal encodings mean equal stacks), with its own
//! open-addressing index. A slot holds a stack's index in its low bits (as
//! many as the home position takes from the hash) and the rest of the
//! hash's low 32 bits above them, compared before the stack's bytes: no
//! per-stack tag array, and no load of one on a probe. Growth (rare:
//! callers size the table) hashes every stack's bytes again, so the hash
//! given to [`StackTable::intern`] must be [`hash`]'s. Indexes of up to
//! [`NARROW_SLOTS`] slots (the tables of small profiles, where the index is
//! a good part of the conversion's memory) take 16-bit slots.
//!
//! On big profiles the index and the bytes are far larger than the CPU
//! caches, and a lookup is a chain of misses. [`StackTable::warm`] lets a
//! caller load the slots of a whole batch of stacks first, with no branch on
//! what is loaded, so the misses overlap instead of waiting one after
//! another; a general-purpose map cannot be warmed that way.

use xxhash_rust::xxh3::xxh3_64;

/// Slots before the first growth, at most (the index doubles when three
/// quarters full).
const MAX_INITIAL_SLOTS: usize = 1 << 17;

/// Indexes of up to this many slots take 16 bits a slot (at least four of
/// them the hash's).
const NARROW_SLOTS: usize = 1 << 12;

/// The slots of an index: a slot is an entry index or'ed with hash bits
/// above it, 0 when empty.
enum Slots {
    Narrow(Vec<u16>),
    Wide(Vec<u32>),
}

impl Slots {
    fn new(n: usize) -> Self {
        if n <= NARROW_SLOTS {
            Slots::Narrow(vec![0; n])
        } else {
            Slots::Wide(vec![0; n])
        }
    }

    fn len(&self) -> usize {
        match self {
            Slots::Narrow(v) => v.len(),
            Slots::Wide(v) => v.len(),
        }
    }

    /// The bits of a slot that hold the hash, given the index bits.
    fn tag_mask(&self, mask: usize) -> u32 {
        let width = match self {
            Slots::Narrow(_) => u32::from(u16::MAX),
            Slots::Wide(_) => u32::MAX,
        };
        width & !(mask as u32)
    }

    #[inline]
    fn get(&self, pos: usize) -> u32 {
        match self {
            Slots::Narrow(v) => v.get(pos).map_or(0, |&s| u32::from(s)),
            Slots::Wide(v) => v.get(pos).copied().unwrap_or(0),
        }
    }

    #[inline]
    fn set(&mut self, pos: usize, slot: u32) {
        match self {
            Slots::Narrow(v) => {
                if let Some(s) = v.get_mut(pos) {
                    *s = slot as u16;
                }
            }
            Slots::Wide(v) => {
                if let Some(s) = v.get_mut(pos) {
                    *s = slot;
                }
            }
        }
    }
}

pub(crate) struct StackTable {
    bytes: Vec<u8>,
    /// `ends[i]` is where stack `i` ends in `bytes` (stack 0 is empty).
    ends: Vec<u32>,
    /// Linear probing; a slot is a stack index (below `slots.len()`, under
    /// the three-quarter load) or'ed with the bits of its hash above those
    /// that fit; 0 is an empty slot (stack 0, the empty stack, is never
    /// looked up). Empty once sealed.
    slots: Slots,
    /// The hash bits a slot holds.
    tag_mask: u32,
}

/// The hash of an entry's bytes the table is keyed by.
#[inline]
pub(crate) fn hash(encoded: &[u8]) -> u32 {
    xxh3_64(encoded) as u32
}

impl StackTable {
    /// A table for about `capacity` stacks whose encodings take about
    /// `bytes` bytes in all.
    pub(crate) fn new(capacity: usize, bytes: usize) -> Self {
        let mut ends = Vec::with_capacity(capacity + 1);
        ends.push(0);
        // Room for `capacity` entries under the growth threshold (3/4).
        let slots = (capacity + 1 + capacity / 3)
            .clamp(8, MAX_INITIAL_SLOTS)
            .next_power_of_two();
        let slots = Slots::new(slots);
        StackTable {
            bytes: Vec::with_capacity(bytes),
            ends,
            tag_mask: slots.tag_mask(slots.len() - 1),
            slots,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.ends.len()
    }

    /// The packed location indexes of stack `i`.
    pub(crate) fn get(&self, i: usize) -> &[u8] {
        let start = match i.checked_sub(1) {
            Some(p) => self.ends.get(p).copied().unwrap_or(0),
            None => 0,
        };
        let end = self.ends.get(i).copied().unwrap_or(start);
        self.bytes.get(start as usize..end as usize).unwrap_or(&[])
    }

    /// The slot index bits (also the stack index bits of a slot).
    #[inline]
    fn mask(&self) -> usize {
        self.slots.len().wrapping_sub(1)
    }

    /// Loads what looking up the stack hashing to `h` will read first and
    /// returns it, for the caller to pass to `std::hint::black_box`:
    /// `depth` 0 is the home slot, 1 the first byte of the stack held there
    /// (call it once the slots of the batch are loaded).
    #[inline]
    pub(crate) fn warm(&self, h: u32, depth: u8) -> u32 {
        let mask = self.mask();
        let slot = self.slots.get(h as usize & mask);
        if depth == 0 {
            return slot;
        }
        u32::from(self.get(slot as usize & mask).first().copied().unwrap_or(0))
    }

    /// The index of the stack encoded as `encoded`, whose [`hash`] is `h`;
    /// added when new. After [`seal`](Self::seal) stacks are added without
    /// dedup.
    pub(crate) fn intern(&mut self, encoded: &[u8], h: u32) -> i32 {
        if encoded.is_empty() {
            return 0;
        }
        if self.slots.len() == 0 {
            return self.push(encoded);
        }
        let mask = self.mask();
        let tag = h & self.tag_mask;
        let mut pos = h as usize & mask;
        loop {
            let s = self.slots.get(pos);
            if s == 0 {
                break;
            }
            let i = s as usize & mask;
            if s & self.tag_mask == tag && self.get(i) == encoded {
                return i as i32;
            }
            pos = (pos + 1) & mask;
        }
        let i = self.push(encoded);
        self.slots.set(pos, tag | i as u32);
        if 4 * self.ends.len() > 3 * self.slots.len() {
            self.grow();
        }
        i
    }

    fn push(&mut self, encoded: &[u8]) -> i32 {
        let i = i32::try_from(self.ends.len()).unwrap_or(i32::MAX);
        if self.bytes.capacity() - self.bytes.len() < encoded.len() {
            // Grow by a quarter, not double: the estimate given to `new` is
            // usually close, and this is the dictionary's biggest part.
            let more = (self.bytes.capacity() / 4).max(encoded.len()).max(64);
            self.bytes.reserve_exact(more);
        }
        self.bytes.extend_from_slice(encoded);
        self.ends
            .push(u32::try_from(self.bytes.len()).unwrap_or(u32::MAX));
        i
    }

    /// Doubles the index and puts every stack back, hashing it again.
    fn grow(&mut self) {
        let slots = (self.slots.len() * 2).max(16);
        let mut new = Slots::new(slots);
        let mask = slots - 1;
        let tag_mask = new.tag_mask(mask);
        for i in 1..self.ends.len() {
            let h = hash(self.get(i));
            let mut pos = h as usize & mask;
            while new.get(pos) != 0 {
                pos = (pos + 1) & mask;
            }
            new.set(pos, (h & tag_mask) | i as u32);
        }
        self.slots = new;
        self.tag_mask = tag_mask;
    }

    /// Frees the index (once nothing more will be added, to lower the peak).
    pub(crate) fn seal(&mut self) {
        self.slots = Slots::Wide(Vec::new());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dedups_across_growth_and_colliding_hashes() {
        let mut t = StackTable::new(0, 0);
        assert_eq!(t.intern(&[], 0), 0);
        let stacks: Vec<Vec<u8>> = (0u32..5000).map(|i| i.to_le_bytes().to_vec()).collect();
        let first: Vec<i32> = stacks.iter().map(|s| t.intern(s, hash(s))).collect();
        // Every stack given the same hash (no growth: the index is sized
        // for them): found by comparing bytes, in wide and narrow slots.
        let mut same = StackTable::new(5000, 0);
        let collided: Vec<i32> = stacks.iter().map(|s| same.intern(s, 7)).collect();
        let mut narrow = StackTable::new(1000, 0);
        assert!(matches!(narrow.slots, Slots::Narrow(_)));
        let narrowed: Vec<i32> = stacks[..1000].iter().map(|s| narrow.intern(s, 7)).collect();
        for (k, s) in stacks.iter().enumerate() {
            assert_eq!(t.intern(s, hash(s)), first[k]);
            assert_eq!(t.get(first[k] as usize), s.as_slice());
            assert_eq!(same.intern(s, 7), collided[k]);
            if k < 1000 {
                assert_eq!(narrow.intern(s, 7), narrowed[k]);
            }
        }
        assert!(matches!(t.slots, Slots::Wide(_)), "grew past narrow");
        assert_eq!(t.len(), 5001);
        assert_eq!(same.len(), 5001);
        t.seal();
        assert_eq!(
            t.intern(&stacks[0], hash(&stacks[0])),
            5001,
            "sealed: appended"
        );
    }
}
