//! `IdMap`: pprof id → table position, for the id-keyed tables of a pprof
//! profile (locations, functions, mappings). Ids are usually 1..=n in table
//! order (Go, the `pprof` crate): then the position is the id minus one, and
//! nothing is stored. Other dense ids get a plain vector; sparse ids fall
//! back to a hash map.

use std::collections::HashMap;

/// Looks up the position of a definition by its pprof id. When an id is
/// defined twice the later definition wins (as Go's `profile.Parse` does).
#[derive(Debug, Clone)]
pub(crate) enum IdMap {
    /// Ids 1..=n, in table order: position = id - 1.
    Sequential(usize),
    /// `table[id]` = position + 1; 0 = undefined.
    Dense(Vec<u32>),
    Sparse(HashMap<u64, u32>),
}

impl IdMap {
    /// Heap bytes held (a hash map's entries estimated at 16 bytes).
    pub(crate) fn memory_bytes(&self) -> usize {
        match self {
            IdMap::Sequential(_) => 0,
            IdMap::Dense(t) => 4 * t.capacity(),
            IdMap::Sparse(m) => 16 * m.capacity(),
        }
    }

    /// Builds the map from ids in table order.
    pub(crate) fn build(ids: impl ExactSizeIterator<Item = u64> + Clone) -> Self {
        let n = ids.len();
        if ids.clone().zip(1u64..).all(|(id, want)| id == want) {
            return IdMap::Sequential(n);
        }
        let max = ids.clone().max().unwrap_or(0);
        // Positions are stored as u32; tables beyond that are refused by the
        // decode limits long before this point, so saturate defensively.
        if max <= (4 * n as u64).saturating_add(1024) {
            let mut table = vec![0u32; max as usize + 1];
            for (pos, id) in ids.enumerate() {
                table[id as usize] = u32::try_from(pos + 1).unwrap_or(u32::MAX);
            }
            IdMap::Dense(table)
        } else {
            let mut map = HashMap::with_capacity(n);
            for (pos, id) in ids.enumerate() {
                map.insert(id, u32::try_from(pos).unwrap_or(u32::MAX));
            }
            IdMap::Sparse(map)
        }
    }

    /// Ids below this bound are kept in a vector (0 for a hash map).
    pub(crate) fn dense_bound(&self) -> usize {
        match self {
            IdMap::Sequential(n) => n + 1,
            IdMap::Dense(t) => t.len(),
            IdMap::Sparse(_) => 0,
        }
    }

    /// The position of `id` in its table, if defined.
    #[inline]
    pub(crate) fn get(&self, id: u64) -> Option<usize> {
        match self {
            IdMap::Sequential(n) => {
                let pos = usize::try_from(id).ok()?.checked_sub(1)?;
                (pos < *n).then_some(pos)
            }
            IdMap::Dense(t) => match usize::try_from(id).ok().and_then(|i| t.get(i)) {
                Some(&p) if p != 0 => Some(p as usize - 1),
                _ => None,
            },
            IdMap::Sparse(m) => m.get(&id).map(|&p| p as usize),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequential_dense_sparse_and_duplicates() {
        let q = IdMap::build([1u64, 2, 3].into_iter());
        assert!(matches!(q, IdMap::Sequential(3)));
        assert_eq!(q.dense_bound(), 4);
        assert_eq!((q.get(1), q.get(3)), (Some(0), Some(2)));
        assert_eq!((q.get(0), q.get(4), q.get(u64::MAX)), (None, None, None));
        assert!(matches!(IdMap::build([].into_iter()), IdMap::Sequential(0)));
        assert!(matches!(
            IdMap::build([2u64, 1].into_iter()),
            IdMap::Dense(_)
        ));
        let d = IdMap::build([1u64, 2, 3, 2].into_iter());
        assert!(matches!(d, IdMap::Dense(_)));
        assert_eq!(d.get(1), Some(0));
        assert_eq!(d.get(2), Some(3));
        assert_eq!(d.get(0), None);
        assert_eq!(d.get(99), None);
        let s = IdMap::build([1u64, 1 << 40, 7].into_iter());
        assert!(matches!(s, IdMap::Sparse(_)));
        assert_eq!(s.get(1 << 40), Some(1));
        assert_eq!(s.get(7), Some(2));
        assert_eq!(s.get(8), None);
    }
}
