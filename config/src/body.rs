//! [`Body`]: one component's configuration as written under its id, before
//! its factory decodes it. Other crates hold and pass bodies without
//! seeing the YAML document model, so that only this crate knows which
//! YAML implementation reads them.
//!
//! A factory decodes a body with [`crate::decode()`] (or
//! [`crate::decode_only()`]); tests and tools make one with [`Body::parse`].
//!
//! ```
//! use profcol_config::Body;
//! let body = Body::parse("{endpoint: 'http://h:4040', timeout: 5s}").unwrap();
//! let (http, own) = body.split_keys(&["timeout"]).unwrap();
//! assert_eq!(http, Body::parse("{timeout: 5s}").unwrap());
//! assert_eq!(own, Body::parse("{endpoint: 'http://h:4040'}").unwrap());
//! assert!(Body::empty().is_null());
//! ```

use crate::yaml::{self, Mapping, Value};
use serde::{Deserialize, Serialize};

/// A component's configuration body: any YAML node (usually a mapping;
/// null when the component is listed with nothing under it).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Body(Value);

impl Body {
    /// Reads a body from YAML text.
    pub fn parse(text: &str) -> Result<Body, yaml::Error> {
        yaml::from_str(text)
    }

    /// The body of a component listed with nothing under it.
    pub fn empty() -> Body {
        Body(Value::Null)
    }

    /// True when nothing is written (null).
    pub fn is_null(&self) -> bool {
        self.0.is_null()
    }

    /// True when the body is a mapping of keys to settings.
    pub fn is_mapping(&self) -> bool {
        self.0.is_mapping()
    }

    /// The items of a list, or `None` when the body is not a list.
    pub fn items(&self) -> Option<Vec<Body>> {
        self.0
            .as_sequence()
            .map(|items| items.iter().cloned().map(Body).collect())
    }

    /// For a mapping: the entries whose key is one of `keys`, and the
    /// others (each in the order written); `None` when the body is not a
    /// mapping.
    pub fn split_keys(&self, keys: &[&str]) -> Option<(Body, Body)> {
        let map = self.0.as_mapping()?;
        let (mut named, mut rest) = (Mapping::new(), Mapping::new());
        for (k, v) in map {
            if k.as_str().is_some_and(|k| keys.contains(&k)) {
                named.insert(k.clone(), v.clone());
            } else {
                rest.insert(k.clone(), v.clone());
            }
        }
        Some((Body(Value::Mapping(named)), Body(Value::Mapping(rest))))
    }

    pub(crate) fn from_value(value: Value) -> Body {
        Body(value)
    }

    pub(crate) fn value(&self) -> &Value {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{decode, Validate};
    use crate::error::Problem;

    #[test]
    fn a_body_round_trips_through_its_text() {
        let text = "endpoint: {url: 'http://p:4040', headers: {X-A: b}}\nlist: [1, two, 3.5, true, null]\n";
        let body = Body::parse(text).unwrap();
        let shown = yaml::to_string(&body).unwrap();
        assert_eq!(Body::parse(&shown).unwrap(), body, "{shown}");
        assert!(body.is_mapping() && !body.is_null());
    }

    #[derive(Deserialize, Debug, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Block {
        #[serde(default = "five")]
        n: u32,
        #[serde(default)]
        name: String,
    }
    fn five() -> u32 {
        5
    }
    impl Validate for Block {
        fn validate(&self, _: &str, _: &mut Vec<Problem>) {}
    }

    #[test]
    fn an_empty_or_null_body_decodes_to_the_defaults() {
        let want = Block {
            n: 5,
            name: String::new(),
        };
        assert_eq!(decode::<Block>(&Body::empty(), "x").unwrap(), want);
        assert_eq!(
            decode::<Block>(&Body::parse("").unwrap(), "x").unwrap(),
            want
        );
        assert_eq!(
            decode::<Block>(&Body::parse("{}").unwrap(), "x").unwrap(),
            want
        );
        assert_eq!(
            crate::decode_only::<Block>(&Body::empty(), "x").unwrap(),
            want
        );
    }

    #[test]
    fn items_and_split_keys_only_apply_to_their_shapes() {
        let list = Body::parse("[{a: 1}, b]").unwrap();
        let items = list.items().unwrap();
        assert_eq!(
            items,
            [Body::parse("{a: 1}").unwrap(), Body::parse("b").unwrap()]
        );
        assert!(list.split_keys(&["a"]).is_none());
        assert!(Body::parse("{a: 1}").unwrap().items().is_none());
    }
}
