//! [`Attrs`]: the attribute set the actions edit, in order, one entry per
//! key (as an OTLP attribute map), each with its unit (an OTLP dictionary
//! attribute's `unit_strindex`, a pprof numeric label's `num_unit`).

use crate::actions::Value;

/// One attribute.
#[derive(Clone, Debug, PartialEq)]
pub struct Attr {
    pub key: String,
    pub value: Value,
    /// "" when it has none.
    pub unit: String,
}

/// An ordered attribute map: keys are unique; a new key goes last.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Attrs(pub Vec<Attr>);

impl Attrs {
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.iter().find(|a| a.key == key).map(|a| &a.value)
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut Value> {
        self.0
            .iter_mut()
            .find(|a| a.key == key)
            .map(|a| &mut a.value)
    }

    /// Sets `key` to `value`: in place when present (its unit kept), else
    /// appended.
    pub fn put(&mut self, key: &str, value: Value) {
        match self.get_mut(key) {
            Some(v) => *v = value,
            None => self.0.push(Attr {
                key: key.to_string(),
                value,
                unit: String::new(),
            }),
        }
    }

    /// Adds an entry, replacing one of the same key.
    pub fn push(&mut self, attr: Attr) {
        match self.0.iter_mut().find(|a| a.key == attr.key) {
            Some(a) => *a = attr,
            None => self.0.push(attr),
        }
    }

    pub fn remove(&mut self, key: &str) {
        self.0.retain(|a| a.key != key);
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|a| a.key.as_str())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }
}
