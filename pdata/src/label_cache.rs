//! The writer's per-profile cache of attribute indexes by encoded pprof
//! label. A profile repeats a few labels on every sample, and nearly every
//! encoded label is under 16 bytes: those are packed into a two-word key,
//! so a lookup is one multiply and one compare instead of hashing the slice
//! twice (its length, then its bytes) and a `memcmp` call. Longer labels
//! are keyed by their bytes.

use crate::hash::IdentityHasher;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash, Hasher};

/// An encoded label of at most [`SHORT`] bytes, its length in the top
/// byte. Two words, not a `u128`: eight-byte alignment keeps a map entry
/// (with its index) at 24 bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
struct ShortKey(u64, u64);

/// The longest label packed into a [`ShortKey`].
const SHORT: usize = 15;

impl ShortKey {
    /// Packs `bytes` by overlapping loads (no variable-length copy): with
    /// the length known, the loaded words determine every byte.
    #[inline]
    fn new(bytes: &[u8]) -> Option<Self> {
        let n = bytes.len();
        let word = |at: usize| -> u64 {
            let mut w = [0u8; 8];
            if let Some(b) = bytes.get(at..at + 8) {
                w.copy_from_slice(b);
            }
            u64::from_le_bytes(w)
        };
        let half = |at: usize| -> u64 {
            let mut w = [0u8; 4];
            if let Some(b) = bytes.get(at..at + 4) {
                w.copy_from_slice(b);
            }
            u64::from(u32::from_le_bytes(w))
        };
        let byte = |at: usize| u64::from(bytes.get(at).copied().unwrap_or(0));
        let (lo, rest) = match n {
            0 => (0, 0),
            1..=3 => (byte(0) | byte(n / 2) << 8 | byte(n - 1) << 16, 0),
            4..=7 => (half(0) | half(n - 4) << 32, 0),
            8..=SHORT => (word(0), word(n - 8) >> ((16 - n) * 8)),
            _ => return None,
        };
        Some(ShortKey(lo, rest | (n as u64) << 56))
    }
}

impl Hash for ShortKey {
    #[inline]
    fn hash<H: Hasher>(&self, state: &mut H) {
        // A folded multiply: every input bit reaches the high bits the map
        // uses as tags and the low bits it uses as the bucket.
        let ShortKey(lo, hi) = *self;
        let m = u128::from(lo ^ 0x9e37_79b9_7f4a_7c15)
            .wrapping_mul(u128::from(hi ^ 0xd6e8_feb8_6659_fd93));
        state.write_u64(m as u64 ^ (m >> 64) as u64);
    }
}

type Fast<K> = HashMap<K, i32, BuildHasherDefault<IdentityHasher>>;

/// Attribute index per encoded label, for one profile.
#[derive(Default)]
pub(crate) struct LabelCache<'a> {
    short: Fast<ShortKey>,
    long: Fast<&'a [u8]>,
}

impl<'a> LabelCache<'a> {
    #[inline]
    pub(crate) fn get(&self, bytes: &[u8]) -> Option<i32> {
        match ShortKey::new(bytes) {
            Some(k) => self.short.get(&k).copied(),
            None => self.long.get(bytes).copied(),
        }
    }

    pub(crate) fn insert(&mut self, bytes: &'a [u8], attr: i32) {
        match ShortKey::new(bytes) {
            Some(k) => self.short.insert(k, attr),
            None => self.long.insert(bytes, attr),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_differing_in_length_or_a_byte_are_distinct() {
        let long = [7u8; 40];
        let mut c = LabelCache::default();
        let keys: [&[u8]; 6] = [b"", b"\0", b"\0\0", b"ab", b"ac", &long];
        for (i, k) in keys.iter().enumerate() {
            c.insert(k, i as i32);
        }
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(c.get(k), Some(i as i32), "{k:?}");
        }
        assert_eq!(c.get(&[0u8; 15]), None);
        assert_eq!(c.get(&[7u8; 39]), None);
        assert_eq!(c.get(&[7u8; 16]), None);
    }

    /// Every slice of up to 15 bytes gets its own key: all slices over a
    /// three-letter alphabet up to 4 bytes, and every one-byte change of
    /// longer ones at every position.
    #[test]
    fn short_keys_are_injective() {
        let mut seen = std::collections::HashMap::new();
        let mut add = |b: Vec<u8>| {
            let k = ShortKey::new(&b).map(|k| (k.0, k.1));
            if let Some(old) = seen.insert(k, b.clone()) {
                assert_eq!(old, b, "same key");
            }
        };
        for n in 0..=4u32 {
            for code in 0..3usize.pow(n) {
                add((0..n).map(|i| (code / 3usize.pow(i) % 3) as u8).collect());
            }
        }
        for n in 5..=SHORT {
            let base: Vec<u8> = (0..n as u8).map(|i| i.wrapping_mul(37)).collect();
            add(base.clone());
            for at in 0..n {
                let mut b = base.clone();
                b[at] ^= 0x80;
                add(b);
            }
        }
        assert_eq!(
            seen.len(),
            (0..=4).map(|n| 3usize.pow(n)).sum::<usize>()
                + (5..=SHORT).map(|n| n + 1).sum::<usize>()
        );
    }
}
