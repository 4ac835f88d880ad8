//! The cluster as components see it: the sorted names of the live members,
//! this node's name, and which member owns a key (rendezvous hashing). The
//! collector publishes a new view on every membership change through a
//! `tokio::sync::watch`; receivers read it. Pure types, no tasks.

use profcol_pdata::Labels;
use tokio::sync::watch;
use xxhash_rust::xxh3::{xxh3_64_with_seed, Xxh3};

/// Labels that never take part in a target's ownership key.
const META_PREFIX: &str = "__meta_";

/// One moment of the cluster's membership.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterView {
    /// This node's name.
    pub local: String,
    /// Live members' names, sorted, each once (normally includes `local`).
    pub members: Vec<String>,
}

/// What a component holds: the latest view, updated by the collector.
pub type ClusterWatch = watch::Receiver<ClusterView>;

impl ClusterView {
    /// A view with `members` sorted and deduplicated.
    pub fn new(local: impl Into<String>, members: impl IntoIterator<Item = String>) -> Self {
        let mut members: Vec<String> = members.into_iter().collect();
        members.sort();
        members.dedup();
        Self {
            local: local.into(),
            members,
        }
    }

    /// A cluster of this node alone.
    pub fn single(local: impl Into<String>) -> Self {
        let local = local.into();
        Self::new(local.clone(), [local])
    }

    /// The member that owns `key`: the one with the highest rendezvous
    /// weight. When a member leaves, only its keys move; when one joins, it
    /// takes about `1/n` of the keys from the others. `None` when the view
    /// has no member.
    pub fn owner(&self, key: u64) -> Option<&str> {
        self.members
            .iter()
            .map(|m| (xxh3_64_with_seed(m.as_bytes(), key), m))
            // Ties (practically never) go to the smaller name: the list is
            // sorted and `max_by_key` keeps the last maximum, so reverse.
            .rev()
            .max_by_key(|(w, _)| *w)
            .map(|(_, m)| m.as_str())
    }

    /// True when this node owns `key`, or when the view has no member (a node
    /// that knows of no cluster keeps its work rather than dropping it).
    pub fn owns(&self, key: u64) -> bool {
        self.owner(key).is_none_or(|o| o == self.local)
    }
}

/// A target's ownership key: a hash of its labels except `__meta_*` ones, as
/// Grafana Alloy hashes a target's non-meta labels to pick its owner. Equal
/// label sets give equal keys on every node.
pub fn target_key(labels: &Labels) -> u64 {
    let mut h = Xxh3::new();
    for (k, v) in labels.iter().filter(|(k, _)| !k.starts_with(META_PREFIX)) {
        h.update(k.as_bytes());
        h.update(&[0xff]);
        h.update(v.as_bytes());
        h.update(&[0xfe]);
    }
    h.digest()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("node-{i}")).collect()
    }

    #[test]
    fn members_are_sorted_and_unique() {
        let v = ClusterView::new("b", ["c".into(), "a".into(), "b".into(), "a".into()]);
        assert_eq!(v.members, ["a", "b", "c"]);
        assert_eq!(ClusterView::single("x").members, ["x"]);
    }

    #[test]
    fn every_node_agrees_and_keys_spread() {
        let members = names(3);
        let views: Vec<ClusterView> = members
            .iter()
            .map(|m| ClusterView::new(m.clone(), members.clone()))
            .collect();
        let mut per_node = [0usize; 3];
        for key in 0..3000u64 {
            let key = xxh3_64_with_seed(&key.to_le_bytes(), 0);
            let owners: Vec<usize> = (0..3).filter(|i| views[*i].owns(key)).collect();
            assert_eq!(owners.len(), 1, "key {key} owned by {owners:?}");
            per_node[owners[0]] += 1;
        }
        for n in per_node {
            assert!((800..1200).contains(&n), "{per_node:?}");
        }
    }

    #[test]
    fn only_the_leaving_members_keys_move() {
        let before = ClusterView::new("node-0", names(4));
        let after = ClusterView::new("node-0", names(4).into_iter().filter(|m| m != "node-2"));
        let mut moved = 0;
        for key in 0..2000u64 {
            let (b, a) = (before.owner(key).unwrap(), after.owner(key).unwrap());
            if b != "node-2" {
                assert_eq!(a, b, "key {key} moved without cause");
            } else {
                moved += 1;
            }
        }
        assert!(moved > 300, "{moved}");
    }

    #[test]
    fn an_empty_view_owns_everything() {
        let v = ClusterView::default();
        assert_eq!(v.owner(7), None);
        assert!(v.owns(7));
    }

    #[test]
    fn target_keys_ignore_meta_labels_only() {
        let a = Labels::from_pairs([("__address__", "h:1"), ("env", "a")]);
        let mut with_meta = a.clone();
        with_meta.set("__meta_x", "y");
        assert_eq!(target_key(&a), target_key(&with_meta));
        let mut other_addr = a.clone();
        other_addr.set("__address__", "h:2");
        assert_ne!(target_key(&a), target_key(&other_addr));
        // Concatenation does not collide: {ab=c} vs {a=bc}.
        assert_ne!(
            target_key(&Labels::from_pairs([("ab", "c")])),
            target_key(&Labels::from_pairs([("a", "bc")]))
        );
    }
}
