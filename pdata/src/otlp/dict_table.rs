//! `Table<T>`: one table of the OTLP dictionary with content-keyed dedup
//! (the mappings and links, kept as structs). Its index is its own open
//! addressing over 32-bit slots, rebuilt from a 32-bit hash tag kept per
//! entry: a fraction of what a `HashMap` of keys to indexes holds per entry,
//! which on small profiles is a good part of the conversion's memory. A tag
//! hit is confirmed by comparing the entry, so dedup never merges different
//! entries.

/// A dictionary table: its entries in index order, entry 0 the zero value.
pub(crate) struct Table<T> {
    pub(crate) items: Vec<T>,
    /// Per entry: the low 32 bits of its key.
    tags: Vec<u32>,
    /// Linear probing over entry index + 1; 0 is an empty slot. Empty once
    /// sealed.
    slots: Vec<u32>,
}

/// A slot count for `n` entries (at most three quarters full).
fn slots_for(n: usize) -> usize {
    (n + n / 3 + 1).max(8).next_power_of_two()
}

impl<T: Default> Table<T> {
    /// A table holding the zero value, whose key is `zero_hash`, with room
    /// for `capacity` more entries.
    pub(crate) fn new(zero_hash: u64, capacity: usize) -> Self {
        let mut t = Table {
            items: Vec::with_capacity(capacity + 1),
            tags: Vec::with_capacity(capacity + 1),
            slots: vec![0; slots_for(capacity + 1)],
        };
        t.push_indexed(zero_hash as u32, T::default());
        t
    }
}

impl<T> Table<T> {
    /// The entry with tag `tag` for which `eq` holds, if any (the index is
    /// not empty).
    #[inline]
    fn find(&self, tag: u32, eq: impl Fn(&T) -> bool) -> Option<i32> {
        let mask = self.slots.len().wrapping_sub(1);
        let mut pos = tag as usize & mask;
        loop {
            match self.slots.get(pos).copied() {
                Some(s) if s != 0 => {
                    let i = s as usize - 1;
                    if self.tags.get(i) == Some(&tag) && self.items.get(i).is_some_and(&eq) {
                        return Some(i as i32);
                    }
                    pos = (pos + 1) & mask;
                }
                _ => return None,
            }
        }
    }

    /// Adds an entry that lookups do not find.
    pub(crate) fn push_unindexed(&mut self, item: T) -> i32 {
        let i = i32::try_from(self.items.len()).unwrap_or(i32::MAX);
        self.items.push(item);
        if !self.slots.is_empty() {
            // A tag no lookup's `eq` accepts the entry for would do; this
            // one keeps `tags` aligned with `items`.
            self.tags.push(0);
        }
        i
    }

    fn push_indexed(&mut self, tag: u32, item: T) -> i32 {
        let i = i32::try_from(self.items.len()).unwrap_or(i32::MAX);
        self.items.push(item);
        self.tags.push(tag);
        if 4 * self.items.len() > 3 * self.slots.len() {
            self.rebuild(slots_for(self.items.len()) * 2);
        } else {
            self.place(tag, self.items.len());
        }
        i
    }

    /// Puts entry `n - 1` (tag `tag`) in the first free slot from its home.
    fn place(&mut self, tag: u32, n: usize) {
        let mask = self.slots.len() - 1;
        let mut pos = tag as usize & mask;
        while self.slots.get(pos).is_some_and(|&s| s != 0) {
            pos = (pos + 1) & mask;
        }
        if let Some(slot) = self.slots.get_mut(pos) {
            *slot = u32::try_from(n).unwrap_or(u32::MAX);
        }
    }

    fn rebuild(&mut self, slots: usize) {
        self.slots = vec![0; slots];
        for i in 0..self.tags.len() {
            let tag = self.tags.get(i).copied().unwrap_or(0);
            self.place(tag, i + 1);
        }
    }

    /// Frees the index once nothing more will be looked up.
    pub(crate) fn seal(&mut self) {
        self.slots = Vec::new();
        self.tags = Vec::new();
    }
}

impl<T: PartialEq> Table<T> {
    /// The index of the entry equal to `item`, whose key is `h`, or a new
    /// entry. Once sealed, entries are added without dedup.
    #[inline]
    pub(crate) fn intern_owned(&mut self, h: u64, item: T) -> i32 {
        let tag = h as u32;
        if self.slots.is_empty() {
            return self.push_unindexed(item);
        }
        match self.find(tag, |x| x == &item) {
            Some(i) => i,
            None => self.push_indexed(tag, item),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_collisions_do_not_merge() {
        // Force every entry onto one hash: the probe keeps them apart.
        let mut t: Table<String> = Table::new(0, 0);
        let a = t.intern_owned(7, "a".into());
        let b = t.intern_owned(7, "b".into());
        assert_ne!(a, b);
        assert_eq!(t.intern_owned(7, "b".into()), b);
        assert_eq!(t.intern_owned(0, String::new()), 0);
        assert_eq!(t.items, vec!["", "a", "b"]);
    }

    #[test]
    fn dedups_across_growth_and_unindexed_entries() {
        let mut t: Table<u64> = Table::new(0, 2);
        let h = |x: u64| x.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let first: Vec<i32> = (1..2000u64).map(|x| t.intern_owned(h(x), x)).collect();
        assert_eq!(t.push_unindexed(5), 2000);
        for x in 1..2000u64 {
            assert_eq!(t.intern_owned(h(x), x), first[x as usize - 1]);
        }
        // The unindexed entry is not found: an equal one is added.
        assert_eq!(t.intern_owned(h(5) ^ 1, 5), 2001);
        t.seal();
        let n = t.items.len() as i32;
        assert_eq!(t.intern_owned(h(1), 1), n, "sealed: appended");
    }
}
