//! `IndexCache`: a table position -> dictionary index map, filled lazily
//! (the [`crate::otlp::convert::Converter`]'s per-profile caches). Indexes are
//! kept in two bytes while they fit (small profiles, the common case: half
//! the memory), and in four from the first that does not.

/// Per position: its dictionary index, or unset.
#[derive(Debug)]
pub(crate) enum IndexCache {
    /// [`NARROW_UNSET`] = unset.
    Narrow(Vec<u16>),
    /// -1 = unset.
    Wide(Vec<i32>),
}

const NARROW_UNSET: u16 = u16::MAX;
const WIDE_UNSET: i32 = -1;

impl IndexCache {
    /// A cache of `len` positions, all unset.
    pub(crate) fn new(len: usize) -> Self {
        IndexCache::Narrow(vec![NARROW_UNSET; len])
    }

    pub(crate) fn len(&self) -> usize {
        match self {
            IndexCache::Narrow(v) => v.len(),
            IndexCache::Wide(v) => v.len(),
        }
    }

    /// The index at `pos`, if set.
    #[inline]
    pub(crate) fn get(&self, pos: usize) -> Option<i32> {
        match self {
            IndexCache::Narrow(v) => v
                .get(pos)
                .filter(|&&i| i != NARROW_UNSET)
                .map(|&i| i32::from(i)),
            IndexCache::Wide(v) => v.get(pos).copied().filter(|&i| i != WIDE_UNSET),
        }
    }

    /// Sets the index at `pos` (nothing when out of range; a negative
    /// index stays unset).
    pub(crate) fn set(&mut self, pos: usize, index: i32) {
        if let IndexCache::Narrow(v) = self {
            match u16::try_from(index) {
                Ok(i) if i != NARROW_UNSET => {
                    if let Some(slot) = v.get_mut(pos) {
                        *slot = i;
                    }
                    return;
                }
                _ => {
                    let wide = v
                        .iter()
                        .map(|&i| {
                            if i == NARROW_UNSET {
                                WIDE_UNSET
                            } else {
                                i32::from(i)
                            }
                        })
                        .collect();
                    *self = IndexCache::Wide(wide);
                }
            }
        }
        if let IndexCache::Wide(v) = self {
            if let Some(slot) = v.get_mut(pos) {
                *slot = index;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widens_keeping_what_was_set() {
        let mut c = IndexCache::new(4);
        assert_eq!(c.get(0), None);
        c.set(0, 7);
        c.set(1, 65_534);
        assert!(matches!(c, IndexCache::Narrow(_)));
        c.set(2, 65_535);
        assert!(matches!(c, IndexCache::Wide(_)));
        c.set(9, 1);
        assert_eq!(
            (0..5).map(|i| c.get(i)).collect::<Vec<_>>(),
            vec![Some(7), Some(65_534), Some(65_535), None, None]
        );
        assert_eq!(c.len(), 4);
    }
}
