//! One batcher per distinct combination of `metadata_keys` values, as the
//! Collector keeps one per combination of client metadata: profiles whose
//! records carry different values for those labels never share a batch.
//!
//! A unit's combination is the value of each listed label on its record
//! (unset and empty are one case: profcol keeps no empty label values); a
//! received OTLP request is kept whole and has no record labels, so it
//! belongs to the combination where every key is unset. Batchers are kept
//! for the processor's lifetime and `metadata_cardinality_limit` bounds how
//! many there are; a batch that would need one more is refused whole.

use super::pending::{Pending, Unit};
use std::collections::HashMap;
use tokio::time::Instant;

/// The values of the `metadata_keys`, in their order; `None` is unset.
pub type ShardKey = Vec<Option<String>>;

/// One batcher: what it holds and since when.
#[derive(Debug, Default)]
pub struct Shard {
    pub pending: Pending,
    /// When the batch being filled got its first profile (or was last cut
    /// by the size trigger); `None` while nothing waits.
    pub since: Option<Instant>,
}

/// A batch needed more batchers than `metadata_cardinality_limit` allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OverLimit {
    pub limit: usize,
}

#[derive(Debug)]
pub struct Shards {
    keys: Vec<String>,
    limit: usize,
    map: HashMap<ShardKey, Shard>,
}

impl Shards {
    /// Batchers told apart by `keys`; at most `limit` of them (0: no bound).
    pub fn new(keys: Vec<String>, limit: usize) -> Self {
        Self {
            keys,
            limit,
            map: HashMap::new(),
        }
    }

    fn key_of(&self, unit: &Unit) -> ShardKey {
        match unit {
            Unit::Record(r) => self
                .keys
                .iter()
                .map(|k| r.labels.get(k).map(str::to_string))
                .collect(),
            Unit::Otlp(_) => vec![None; self.keys.len()],
        }
    }

    /// The units grouped by combination, groups in order of first
    /// appearance and units in arrival order.
    pub fn group(&self, units: impl Iterator<Item = Unit>) -> Vec<(ShardKey, Vec<Unit>)> {
        let mut groups: Vec<(ShardKey, Vec<Unit>)> = Vec::new();
        for unit in units {
            let key = self.key_of(&unit);
            match groups.iter_mut().find(|(k, _)| *k == key) {
                Some((_, list)) => list.push(unit),
                None => groups.push((key, vec![unit])),
            }
        }
        groups
    }

    /// Makes sure every combination of `groups` has a batcher: all of them,
    /// or none when that would pass the limit.
    pub fn admit(&mut self, groups: &[(ShardKey, Vec<Unit>)]) -> Result<(), OverLimit> {
        let new: Vec<&ShardKey> = groups
            .iter()
            .map(|(k, _)| k)
            .filter(|k| !self.map.contains_key(*k))
            .collect();
        if self.limit > 0 && self.map.len() + new.len() > self.limit {
            return Err(OverLimit { limit: self.limit });
        }
        for k in new {
            self.map.insert(k.clone(), Shard::default());
        }
        Ok(())
    }

    /// The batcher of an admitted combination.
    pub fn get_mut(&mut self, key: &ShardKey) -> Option<&mut Shard> {
        self.map.get_mut(key)
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut Shard> {
        self.map.values_mut()
    }

    /// The earliest time a waiting batch started.
    pub fn oldest(&self) -> Option<Instant> {
        self.map.values().filter_map(|s| s.since).min()
    }

    /// Combinations seen so far.
    pub fn cardinality(&self) -> usize {
        self.map.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::sized::record_with;
    use profcol_pdata::Labels;

    fn unit(pairs: &[(&str, &str)]) -> Unit {
        Unit::Record(record_with(Labels::from_pairs(pairs.iter().copied()), 1))
    }

    #[test]
    fn units_group_by_the_values_of_the_keys() {
        let shards = Shards::new(vec!["__tenant_id__".into(), "env".into()], 0);
        let groups = shards.group(
            [
                unit(&[("__tenant_id__", "a"), ("env", "prod"), ("x", "1")]),
                unit(&[("__tenant_id__", "b"), ("env", "prod")]),
                unit(&[("__tenant_id__", "a"), ("env", "prod"), ("x", "2")]),
                unit(&[("env", "prod")]),
            ]
            .into_iter(),
        );
        let keys: Vec<(ShardKey, usize)> =
            groups.iter().map(|(k, u)| (k.clone(), u.len())).collect();
        let s = |v: &str| Some(v.to_string());
        assert_eq!(
            keys,
            [
                (vec![s("a"), s("prod")], 2),
                (vec![s("b"), s("prod")], 1),
                (vec![None, s("prod")], 1),
            ]
        );
    }

    #[test]
    fn an_otlp_request_has_every_key_unset() {
        let shards = Shards::new(vec!["__tenant_id__".into()], 0);
        let bytes = profcol_pdata::otlp::to_otlp_bytes(&[record_with(
            Labels::from_pairs([("__tenant_id__", "a")]),
            1,
        )]);
        let payload =
            profcol_pdata::otlp::OtlpPayload::from_bytes(bytes.into(), &Default::default())
                .unwrap();
        let groups = shards.group([Unit::Otlp(std::sync::Arc::new(payload))].into_iter());
        assert_eq!(groups[0].0, vec![None]);
    }

    #[test]
    fn the_limit_refuses_a_batch_that_needs_one_more_batcher_whole() {
        let mut shards = Shards::new(vec!["t".into()], 2);
        let g = shards.group([unit(&[("t", "a")]), unit(&[("t", "b")])].into_iter());
        shards.admit(&g).unwrap();
        assert_eq!(shards.cardinality(), 2);
        // Known combinations pass; one new one among them refuses all.
        let g = shards.group([unit(&[("t", "a")]), unit(&[("t", "c")])].into_iter());
        assert_eq!(shards.admit(&g), Err(OverLimit { limit: 2 }));
        assert_eq!(shards.cardinality(), 2);
        let g = shards.group([unit(&[("t", "b")])].into_iter());
        assert!(shards.admit(&g).is_ok());
        // 0 is no bound.
        let mut free = Shards::new(vec!["t".into()], 0);
        for i in 0..50 {
            let g = free.group([unit(&[("t", &i.to_string())])].into_iter());
            free.admit(&g).unwrap();
        }
        assert_eq!(free.cardinality(), 50);
    }
}
