//! The lock-free ring the signal handler writes samples into and the drain
//! thread empties: [`SLOTS`] preallocated slots of up to [`DEPTH`] frames.
//!
//! Each slot has a state (free → writing → ready → free). A writer claims a
//! free slot by compare-and-swap, starting at a rotating cursor, fills it
//! and marks it ready; the single reader copies ready slots out and frees
//! them. The frames are atomics written with relaxed stores (plain moves on
//! x86_64 and aarch64) and published by the state's release store, so the
//! ring needs no `unsafe`. Claiming and writing neither allocate nor lock:
//! safe in a signal handler. A ring with no free slot counts the sample as
//! dropped.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicU8, AtomicUsize, Ordering};

/// Slots in the ring: at 100 Hz and a drain every 50 ms, ~5 are in use.
pub const SLOTS: usize = 512;
/// The most frames kept per sample (leaf first; deeper frames are cut).
pub const DEPTH: usize = 64;

const FREE: u8 = 0;
const WRITING: u8 = 1;
const READY: u8 = 2;

struct Slot {
    state: AtomicU8,
    len: AtomicUsize,
    frames: [AtomicUsize; DEPTH],
}

/// The preallocated sample ring (~260 KiB).
pub struct Ring {
    slots: Box<[Slot]>,
    cursor: AtomicUsize,
    dropped: AtomicU64,
}

impl Default for Ring {
    fn default() -> Self {
        Self::new()
    }
}

impl Ring {
    /// Allocates the ring (before the handler can write into it).
    pub fn new() -> Self {
        let slots = (0..SLOTS)
            .map(|_| Slot {
                state: AtomicU8::new(FREE),
                len: AtomicUsize::new(0),
                frames: std::array::from_fn(|_| AtomicUsize::new(0)),
            })
            .collect();
        Self {
            slots,
            cursor: AtomicUsize::new(0),
            dropped: AtomicU64::new(0),
        }
    }

    /// Claims a free slot for one sample, or counts a drop and returns
    /// `None` when every slot is taken. Async-signal-safe.
    pub fn claim(&self) -> Option<Writer<'_>> {
        let start = self.cursor.fetch_add(1, Ordering::Relaxed);
        for i in 0..SLOTS {
            let slot = &self.slots[start.wrapping_add(i) % SLOTS];
            if slot
                .state
                .compare_exchange(FREE, WRITING, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                return Some(Writer { slot, len: 0 });
            }
        }
        self.dropped.fetch_add(1, Ordering::Relaxed);
        None
    }

    /// Samples lost because the ring was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Moves every ready sample into `stacks` (stack → count) and frees its
    /// slot. One reader at a time (`&mut` is not required by the atomics,
    /// but two readers would count a sample twice): the profile's thread.
    pub fn drain(&self, stacks: &mut HashMap<Vec<usize>, u64>) -> usize {
        let mut scratch = [0usize; DEPTH];
        let mut n = 0;
        for slot in self.slots.iter() {
            if slot.state.load(Ordering::Acquire) != READY {
                continue;
            }
            let len = slot.len.load(Ordering::Relaxed).min(DEPTH);
            for (to, from) in scratch.iter_mut().zip(&slot.frames[..len]) {
                *to = from.load(Ordering::Relaxed);
            }
            slot.state.store(FREE, Ordering::Release);
            let stack = &scratch[..len];
            match stacks.get_mut(stack) {
                Some(count) => *count += 1,
                None => {
                    stacks.insert(stack.to_vec(), 1);
                }
            }
            n += 1;
        }
        n
    }
}

/// A claimed slot being filled; marked ready when dropped.
pub struct Writer<'a> {
    slot: &'a Slot,
    len: usize,
}

impl Writer<'_> {
    /// Appends a frame; `false` (and the frame is not kept) when the slot
    /// already holds [`DEPTH`] frames.
    pub fn push(&mut self, address: usize) -> bool {
        match self.slot.frames.get(self.len) {
            Some(f) => {
                f.store(address, Ordering::Relaxed);
                self.len += 1;
                true
            }
            None => false,
        }
    }

    /// Frames written so far.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.len
    }
}

impl Drop for Writer<'_> {
    fn drop(&mut self) {
        self.slot.len.store(self.len, Ordering::Relaxed);
        self.slot.state.store(READY, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn claimed_samples_are_drained_and_aggregated() {
        let ring = Ring::new();
        for _ in 0..3 {
            let mut w = ring.claim().unwrap();
            assert!(w.push(1));
            assert!(w.push(2));
        }
        ring.claim().unwrap().push(7);
        let mut stacks = HashMap::new();
        assert_eq!(ring.drain(&mut stacks), 4);
        assert_eq!(stacks.get(&vec![1, 2]), Some(&3));
        assert_eq!(stacks.get(&vec![7]), Some(&1));
        // Drained slots are free again; nothing is counted twice.
        assert_eq!(ring.drain(&mut stacks), 0);
        assert_eq!(stacks.values().sum::<u64>(), 4);
        assert_eq!(ring.dropped(), 0);
    }

    #[test]
    fn a_slot_keeps_at_most_depth_frames() {
        let ring = Ring::new();
        {
            let mut w = ring.claim().unwrap();
            for a in 0..DEPTH {
                assert!(w.push(a));
            }
            assert!(!w.push(999));
            assert_eq!(w.len(), DEPTH);
        }
        let mut stacks = HashMap::new();
        ring.drain(&mut stacks);
        let expected: Vec<usize> = (0..DEPTH).collect();
        assert_eq!(stacks.get(&expected), Some(&1));
    }

    #[test]
    fn a_slot_being_written_is_not_drained() {
        let ring = Ring::new();
        let mut w = ring.claim().unwrap();
        w.push(5);
        let mut stacks = HashMap::new();
        assert_eq!(ring.drain(&mut stacks), 0);
        drop(w);
        assert_eq!(ring.drain(&mut stacks), 1);
    }

    #[test]
    fn a_full_ring_counts_drops() {
        let ring = Ring::new();
        for i in 0..SLOTS {
            ring.claim().unwrap().push(i);
        }
        assert!(ring.claim().is_none());
        assert!(ring.claim().is_none());
        assert_eq!(ring.dropped(), 2);
        let mut stacks = HashMap::new();
        assert_eq!(ring.drain(&mut stacks), SLOTS);
        assert!(ring.claim().is_some());
    }

    #[test]
    fn concurrent_writers_lose_nothing() {
        let ring = Arc::new(Ring::new());
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let writers: Vec<_> = (0..4usize)
            .map(|t| {
                let ring = ring.clone();
                std::thread::spawn(move || {
                    let mut written = 0u64;
                    for i in 0..20_000usize {
                        if let Some(mut w) = ring.claim() {
                            w.push(t);
                            w.push(i % 3);
                            written += 1;
                        }
                    }
                    written
                })
            })
            .collect();
        let reader = {
            let (ring, stop) = (ring.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut stacks = HashMap::new();
                while !stop.load(Ordering::Relaxed) {
                    ring.drain(&mut stacks);
                    std::thread::yield_now();
                }
                ring.drain(&mut stacks);
                stacks
            })
        };
        let written: u64 = writers.into_iter().map(|w| w.join().unwrap()).sum();
        stop.store(true, Ordering::Relaxed);
        let stacks = reader.join().unwrap();
        assert_eq!(written + ring.dropped(), 4 * 20_000);
        assert_eq!(stacks.values().sum::<u64>(), written);
        for (stack, _) in stacks {
            assert_eq!(stack.len(), 2);
            assert!(stack[0] < 4 && stack[1] < 3, "{stack:?}");
        }
    }
}
