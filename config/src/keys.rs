//! The valid keys of config blocks, and the problems for keys a block does
//! not have.
//!
//! A block that must report every unknown key at once (rather than stop at
//! the first, as `#[serde(deny_unknown_fields)]` does) captures them with
//! `#[serde(flatten)] unknown: Unknown` and calls [`unknown_keys`] from its
//! `Validate` with the list of its valid keys. That list is written next to
//! the struct; [`unrecognised_keys`] is what each list's test uses to prove
//! the struct accepts every key on it. For a struct without `flatten`,
//! [`struct_fields`] reads the list from the struct itself.

use crate::decode::{decode, Validate};
use crate::error::Problem;
use crate::suggest::unknown_key;
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;

/// Keys a config struct did not recognise (captured by `#[serde(flatten)]`).
pub type Unknown = BTreeMap<String, crate::body::Body>;

/// One problem per unknown key, each naming the nearest valid key and all
/// of them.
pub fn unknown_keys(unknown: &Unknown, path: &str, valid: &[&str], problems: &mut Vec<Problem>) {
    for key in unknown.keys() {
        problems.push(unknown_key(path, key, valid));
    }
}

/// `a` followed by the keys of `b` that `a` lacks: the valid keys of a
/// block with a flattened part.
pub fn key_union(a: &[&'static str], b: &[&'static str]) -> Vec<&'static str> {
    let mut out = a.to_vec();
    out.extend(b.iter().filter(|k| !a.contains(k)));
    out
}

/// The field names a derived `Deserialize` struct accepts, read from what
/// it asks its deserializer for (so lists of keys never drift from the
/// struct). Empty for types that are not plain structs (a struct with a
/// `#[serde(flatten)]` field asks for a map, without names).
pub fn struct_fields<T: DeserializeOwned>() -> &'static [&'static str] {
    struct Probe(Option<&'static [&'static str]>);

    #[derive(Debug)]
    struct Stop;
    impl std::fmt::Display for Stop {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("probe")
        }
    }
    impl std::error::Error for Stop {}
    impl serde::de::Error for Stop {
        fn custom<M: std::fmt::Display>(_: M) -> Self {
            Stop
        }
    }

    impl<'de> serde::Deserializer<'de> for &mut Probe {
        type Error = Stop;
        fn deserialize_any<V: serde::de::Visitor<'de>>(self, _: V) -> Result<V::Value, Stop> {
            Err(Stop)
        }
        fn deserialize_struct<V: serde::de::Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Stop> {
            self.0 = Some(fields);
            Err(Stop)
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option unit
            unit_struct newtype_struct seq tuple tuple_struct map enum identifier ignored_any
        }
    }

    let mut probe = Probe(None);
    let _ = T::deserialize(&mut probe);
    probe.0.unwrap_or(&[])
}

/// For the tests of key lists: the keys of `keys` that `T` reports as
/// unknown when each is added, set to null, to the block `base` (YAML for
/// whatever the block requires to decode at all; `{}` if nothing).
pub fn unrecognised_keys<T: DeserializeOwned + Validate>(base: &str, keys: &[&str]) -> Vec<String> {
    let base: crate::yaml::Value = crate::yaml::from_str(base).unwrap_or_default();
    keys.iter()
        .filter(|key| {
            let mut doc = match &base {
                crate::yaml::Value::Mapping(m) => m.clone(),
                _ => crate::yaml::Mapping::new(),
            };
            doc.insert((**key).into(), crate::yaml::Value::Null);
            let problems = match decode::<T>(
                &crate::body::Body::from_value(crate::yaml::Value::Mapping(doc)),
                "",
            ) {
                Ok(_) => return false,
                Err(p) => p,
            };
            let unknown = format!("unknown key `{key}`");
            problems.iter().any(|p| p.message.starts_with(&unknown))
        })
        .map(|k| k.to_string())
        .collect()
}

/// For the tests of key lists: the top-level keys `value` serializes to.
pub fn serialized_keys<T: serde::Serialize>(value: &T) -> Vec<String> {
    match crate::yaml::to_value(value) {
        Ok(crate::yaml::Value::Mapping(m)) => m
            .keys()
            .filter_map(|k| k.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http_client::{BasicAuth, HTTP_CLIENT_KEYS};
    use crate::HttpClientConfig;

    #[test]
    fn struct_fields_lists_the_keys() {
        assert_eq!(
            struct_fields::<BasicAuth>(),
            ["username", "password", "password_file"]
        );
        assert_eq!(struct_fields::<HttpClientConfig>(), HTTP_CLIENT_KEYS);
        assert!(struct_fields::<String>().is_empty());
    }

    #[test]
    fn unknown_keys_suggest_the_nearest() {
        let mut unknown = Unknown::new();
        unknown.insert("usernme".into(), crate::Body::empty());
        let mut problems = Vec::new();
        unknown_keys(&unknown, "a::b", &["username", "password"], &mut problems);
        assert_eq!(
            problems[0].to_string(),
            "a::b::usernme: unknown key `usernme`: did you mean `username`? (valid keys: username, password)"
        );
        assert_eq!(key_union(&["a", "b"], &["b", "c"]), ["a", "b", "c"]);
    }

    #[test]
    fn unrecognised_keys_finds_what_a_struct_refuses() {
        assert_eq!(
            unrecognised_keys::<crate::http_client::TlsConfig>(
                "{}",
                &["ca_file", "ca_fil", "server_name"]
            ),
            ["ca_fil"]
        );
        assert_eq!(serialized_keys(&BasicAuth::default()), ["username"]);
    }
}
