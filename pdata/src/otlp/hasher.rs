//! `IdentityHasher`: the hasher of the writer's small maps, whose keys are
//! already hashes (or are hashed once by their `Hash` impl into one word).

use std::hash::Hasher;
use xxhash_rust::xxh3::xxh3_64;

/// Passes a u64 key through unchanged; hashes other keys with xxh3.
#[derive(Default, Clone, Copy)]
pub(crate) struct IdentityHasher(u64);

impl Hasher for IdentityHasher {
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        self.0 = xxh3_64(bytes) ^ self.0.rotate_left(5);
    }
    #[inline]
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}
