//! `Labels`: the label set of one profile series, sorted by name, one value
//! per name.

use std::fmt;

#[derive(Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Labels(Vec<(String, String)>);

impl Labels {
    /// Labels prefixed with this are internal to the scrape and dropped before
    /// export, except the two below.
    pub const RESERVED_PREFIX: &str = "__";
    /// The profile type (`process_cpu`, `memory`, …).
    pub const NAME: &str = "__name__";
    /// Set to "false" on profiles that are not per-interval deltas.
    pub const DELTA: &str = "__delta__";
    /// Set by discovery or relabeling to push a target's profiles to its own
    /// Pyroscope tenant; kept on records for the Pyroscope exporter, never
    /// exported as a label.
    pub const TENANT_ID: &str = "__tenant_id__";
    /// The service the profile belongs to.
    pub const SERVICE_NAME: &str = "service_name";

    pub fn new() -> Self {
        Self::default()
    }

    /// Builds from pairs; a later duplicate name wins.
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        let mut l = Self::new();
        for (k, v) in pairs {
            l.set(k, v);
        }
        l
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .binary_search_by(|(k, _)| k.as_str().cmp(name))
            .ok()
            .map(|i| self.0[i].1.as_str())
    }

    pub fn set(&mut self, name: impl Into<String>, value: impl Into<String>) {
        let name = name.into();
        let value = value.into();
        match self.0.binary_search_by(|(k, _)| k.as_str().cmp(&name)) {
            Ok(i) => self.0[i].1 = value,
            Err(i) => self.0.insert(i, (name, value)),
        }
    }

    pub fn remove(&mut self, name: &str) -> Option<String> {
        match self.0.binary_search_by(|(k, _)| k.as_str().cmp(name)) {
            Ok(i) => Some(self.0.remove(i).1),
            Err(_) => None,
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Keeps only the labels for which `keep` is true.
    pub fn retain(&mut self, mut keep: impl FnMut(&str, &str) -> bool) {
        self.0.retain(|(k, v)| keep(k, v));
    }

    /// The labels that leave profcol: no `__`-prefixed ones except `__name__`
    /// and `__delta__`.
    pub fn public(&self) -> Labels {
        let mut l = self.clone();
        l.retain(|k, _| {
            !k.starts_with(Self::RESERVED_PREFIX) || k == Self::NAME || k == Self::DELTA
        });
        l
    }
}

impl fmt::Debug for Labels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for Labels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (i, (k, v)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{k}={v:?}")?;
        }
        f.write_str("}")
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Labels {
    fn from_iter<T: IntoIterator<Item = (K, V)>>(iter: T) -> Self {
        Self::from_pairs(iter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_unique_and_public() {
        let l = Labels::from_pairs([
            ("b", "2"),
            ("a", "1"),
            ("__meta_x", "m"),
            (Labels::NAME, "memory"),
            ("a", "3"),
        ]);
        assert_eq!(
            l.to_string(),
            r#"{__meta_x="m", __name__="memory", a="3", b="2"}"#
        );
        assert_eq!(
            l.public().to_string(),
            r#"{__name__="memory", a="3", b="2"}"#
        );
        assert_eq!(l.get("b"), Some("2"));
        assert_eq!(l.get("zz"), None);
    }
}
