//! The writer's per-profile cache of attribute indexes by encoded pprof
//! label. A profile repeats a few labels on every sample, and nearly every
//! encoded label is under 8 bytes (a key and a value string index, or a
//! key and a number): those are packed into one word, labels under 16
//! bytes into two, so a lookup is one multiply and one compare instead of
//! hashing the slice twice (its length, then its bytes) and a `memcmp`
//! call, and an entry holds no slice. Longer labels are keyed by their
//! bytes.

use crate::otlp::hasher::IdentityHasher;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash, Hasher};

/// An encoded label of at most [`TINY`] bytes, little-endian, its length
/// in the top byte: a map entry (with its index) takes 16 bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
struct TinyKey(u64);

/// An encoded label of [`TINY`]` + 1` to [`SHORT`] bytes: the first eight,
/// then the rest with the length in the top byte (24 bytes an entry).
#[derive(Clone, Copy, PartialEq, Eq)]
struct ShortKey(u64, u64);

/// The longest label packed into a [`TinyKey`].
const TINY: usize = 7;
/// The longest label packed into a [`ShortKey`].
const SHORT: usize = 15;

enum Key<'b> {
    Tiny(TinyKey),
    Short(ShortKey),
    Long(&'b [u8]),
}

/// Packs `bytes` by overlapping loads (no variable-length copy): the
/// overlapping bytes are equal, so OR-ing the loads at their offsets gives
/// the bytes themselves.
#[inline]
fn key(bytes: &[u8]) -> Key<'_> {
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
    let packed = match n {
        0 => 0,
        1..=3 => byte(0) | byte(n / 2) << (8 * (n / 2)) | byte(n - 1) << (8 * (n - 1)),
        4..=TINY => half(0) | half(n - 4) << (8 * (n - 4)),
        8..=SHORT => {
            // The bytes after the first eight (none when there are eight).
            let rest = word(n - 8).checked_shr(((16 - n) * 8) as u32).unwrap_or(0);
            return Key::Short(ShortKey(word(0), rest | (n as u64) << 56));
        }
        _ => return Key::Long(bytes),
    };
    Key::Tiny(TinyKey(packed | (n as u64) << 56))
}

/// A folded multiply: every input bit reaches the high bits the map uses
/// as tags and the low bits it uses as the bucket.
#[inline]
fn fold(a: u64, b: u64) -> u64 {
    let m =
        u128::from(a ^ 0x9e37_79b9_7f4a_7c15).wrapping_mul(u128::from(b ^ 0xd6e8_feb8_6659_fd93));
    m as u64 ^ (m >> 64) as u64
}

impl Hash for TinyKey {
    #[inline]
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(fold(self.0, 0));
    }
}

impl Hash for ShortKey {
    #[inline]
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(fold(self.0, self.1));
    }
}

type Fast<K> = HashMap<K, i32, BuildHasherDefault<IdentityHasher>>;

/// Attribute index per encoded label, for one profile.
#[derive(Default)]
pub(crate) struct LabelCache<'a> {
    tiny: Fast<TinyKey>,
    short: Fast<ShortKey>,
    long: Fast<&'a [u8]>,
}

impl<'a> LabelCache<'a> {
    #[inline]
    pub(crate) fn get(&self, bytes: &[u8]) -> Option<i32> {
        match key(bytes) {
            Key::Tiny(k) => self.tiny.get(&k),
            Key::Short(k) => self.short.get(&k),
            Key::Long(b) => self.long.get(b),
        }
        .copied()
    }

    pub(crate) fn insert(&mut self, bytes: &'a [u8], attr: i32) {
        match key(bytes) {
            Key::Tiny(k) => self.tiny.insert(k, attr),
            Key::Short(k) => self.short.insert(k, attr),
            Key::Long(b) => self.long.insert(b, attr),
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
            let k = match key(&b) {
                Key::Tiny(k) => Some((k.0, 0)),
                Key::Short(k) => Some((k.0, k.1)),
                Key::Long(_) => None,
            };
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
