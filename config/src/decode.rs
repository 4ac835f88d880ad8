//! Turns a YAML value into a typed config struct, reporting the key path of
//! the first decode error and then every validation problem. Decode errors
//! are rewritten for people ([`crate::readable`]).

use crate::error::{join_path, Problem};
use serde::de::DeserializeOwned;
use serde_yaml::Value;

/// A config struct that can check itself after decoding.
pub trait Validate {
    /// Pushes every problem found, each under `path`.
    fn validate(&self, path: &str, problems: &mut Vec<Problem>);
}

/// Decodes `value` (the config found at `path`) into `T` and validates it.
pub fn decode<T: DeserializeOwned + Validate>(
    value: &Value,
    path: &str,
) -> Result<T, Vec<Problem>> {
    let value = if value.is_null() {
        Value::Mapping(Default::default())
    } else {
        value.clone()
    };
    let decoded: T = decode_only(value, path).map_err(|p| vec![p])?;
    let mut problems = Vec::new();
    decoded.validate(path, &mut problems);
    if problems.is_empty() {
        Ok(decoded)
    } else {
        Err(problems)
    }
}

/// Decodes without validating; the error carries the full key path and a
/// message without Rust's type names.
pub fn decode_only<T: DeserializeOwned>(value: Value, path: &str) -> Result<T, Problem> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let mut full = join_nonempty(path, &key_path(e.path()));
        let mut key = last_key(&full);
        let message = clean_message(&e.into_inner().to_string());
        let (inner, message) = split_inner_path(&message);
        if let Some(inner) = inner {
            full = join_nonempty(&full, inner);
            key = last_key(&full);
        }
        Problem::new(full, crate::readable::rewrite(message, &key))
    })
}

fn join_nonempty(parent: &str, child: &str) -> String {
    if child.is_empty() {
        parent.to_string()
    } else {
        join_path(parent, child)
    }
}

/// The last key of `path` that is not a list index: what an enum value
/// is the value of.
fn last_key(path: &str) -> String {
    path.rsplit("::")
        .find(|s| s.parse::<usize>().is_err())
        .unwrap_or_default()
        .to_string()
}

/// `a::0::b` for serde_path_to_error's path.
pub(crate) fn key_path(path: &serde_path_to_error::Path) -> String {
    let mut out = String::new();
    for seg in path.iter() {
        use serde_path_to_error::Segment;
        let s = match seg {
            Segment::Seq { index } => index.to_string(),
            Segment::Map { key } => key.clone(),
            Segment::Enum { variant } => variant.clone(),
            Segment::Unknown => continue,
        };
        out = join_path(&out, &s);
    }
    out
}

/// Marks the key path of an error found inside a flattened block, which
/// serde would otherwise report at the block's parent (see
/// [`crate::http_client`]); [`decode_only`] puts it back in the path.
pub(crate) fn with_inner_path(inner: &str, message: &str) -> String {
    if inner.is_empty() {
        message.to_string()
    } else {
        format!("{INNER_PATH}{inner}{INNER_PATH}{message}")
    }
}

const INNER_PATH: char = '\u{1}';

fn split_inner_path(message: &str) -> (Option<&str>, &str) {
    message
        .strip_prefix(INNER_PATH)
        .and_then(|rest| rest.split_once(INNER_PATH))
        .map_or((None, message), |(inner, rest)| (Some(inner), rest))
}

/// serde_yaml appends " at line X column Y" for positions inside the merged
/// document, which mean nothing to the user; the key path says where.
fn clean_message(msg: &str) -> String {
    match msg.find(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    struct Inner {
        #[allow(dead_code)]
        n: u32,
    }

    #[derive(Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    struct Outer {
        #[allow(dead_code)]
        inner: Vec<Inner>,
    }

    impl Validate for Outer {
        fn validate(&self, path: &str, problems: &mut Vec<Problem>) {
            if self.inner.is_empty() {
                problems.push(Problem::new(join_path(path, "inner"), "must not be empty"));
            }
        }
    }

    #[test]
    fn errors_carry_the_key_path() {
        let v: Value = serde_yaml::from_str("inner: [{n: 1}, {n: 1, bogus: 2}]").unwrap();
        let err = decode::<Outer>(&v, "receivers::x").unwrap_err();
        assert_eq!(err.len(), 1);
        assert_eq!(err[0].path, "receivers::x::inner::1::bogus");
        assert!(
            err[0].message.starts_with("unknown key `bogus` (valid keys: n)"),
            "{}",
            err[0].message
        );
        let v: Value = serde_yaml::from_str("inner: []").unwrap();
        let err = decode::<Outer>(&v, "r").unwrap_err();
        assert_eq!(err[0].to_string(), "r::inner: must not be empty");
    }
}
