//! `Offsets`: the offsets into a pprof body that
//! [`PprofView`](crate::pprof::PprofView) keeps per string, sample, function
//! and location, in two bytes each when the body is small enough (most
//! profiles scraped at a short interval: half the memory), in four
//! otherwise.

/// Bodies up to this size have their offsets kept in two bytes.
const NARROW_BODY: usize = 1 << 16;

#[derive(Debug, Clone)]
pub(crate) enum Offsets {
    Narrow(Vec<u16>),
    Wide(Vec<u32>),
}

impl Offsets {
    /// Empty, for offsets into a body of `body_len` bytes (at most
    /// `u32::MAX`, checked by the caller).
    pub(crate) fn new(body_len: usize) -> Self {
        if body_len <= NARROW_BODY {
            Offsets::Narrow(Vec::new())
        } else {
            Offsets::Wide(Vec::new())
        }
    }

    /// Appends `at`, an offset into the body (so below its length).
    #[inline]
    pub(crate) fn push(&mut self, at: usize) {
        match self {
            Offsets::Narrow(v) => v.push(at as u16),
            Offsets::Wide(v) => v.push(at as u32),
        }
    }

    #[inline]
    pub(crate) fn get(&self, i: usize) -> Option<u32> {
        match self {
            Offsets::Narrow(v) => v.get(i).map(|&at| u32::from(at)),
            Offsets::Wide(v) => v.get(i).copied(),
        }
    }

    pub(crate) fn len(&self) -> usize {
        match self {
            Offsets::Narrow(v) => v.len(),
            Offsets::Wide(v) => v.len(),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Heap bytes held.
    pub(crate) fn memory_bytes(&self) -> usize {
        match self {
            Offsets::Narrow(v) => 2 * v.capacity(),
            Offsets::Wide(v) => 4 * v.capacity(),
        }
    }

    pub(crate) fn shrink_to_fit(&mut self) {
        match self {
            Offsets::Narrow(v) => v.shrink_to_fit(),
            Offsets::Wide(v) => v.shrink_to_fit(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn narrow_up_to_64k_bodies() {
        for (len, narrow) in [(10, true), (1 << 16, true), ((1 << 16) + 1, false)] {
            let mut o = Offsets::new(len);
            assert_eq!(matches!(o, Offsets::Narrow(_)), narrow);
            assert!(o.is_empty());
            o.push(len - 1);
            o.push(0);
            assert_eq!(
                (o.len(), o.get(0), o.get(1), o.get(2)),
                (2, Some(len as u32 - 1), Some(0), None)
            );
        }
    }
}
