//! Turns a component's [`Body`] into a typed config struct, reporting every decode
//! error and validation problem with its key path. Decode errors are
//! rewritten for people ([`crate::readable`]).

use crate::body::Body;
use crate::error::{join_path, Problem};
use crate::yaml::Value;
use serde::de::DeserializeOwned;

/// A config struct that can check itself after decoding.
pub trait Validate {
    /// Pushes every problem found, each under `path`.
    fn validate(&self, path: &str, problems: &mut Vec<Problem>);
}

/// Decode errors reported for one block at most; past that, fix and rerun.
const MAX_DECODE_PROBLEMS: usize = 20;

/// Decodes `body` (the config found at `path`) into `T` and validates it,
/// reporting every problem: after a decode error the offending key is set
/// aside and decoding tried again, so that one wrong value does not hide
/// the next; validation then runs on the rest, leaving out what concerns a
/// key set aside.
pub fn decode<T: DeserializeOwned + Validate>(body: &Body, path: &str) -> Result<T, Vec<Problem>> {
    let mut value = block_of(body);
    let mut problems = Vec::new();
    let mut set_aside: Vec<String> = Vec::new();
    let decoded = loop {
        let problem = match decode_value::<T>(value.clone(), path) {
            Ok(decoded) => break Some(decoded),
            Err(p) => p,
        };
        if missing_because_set_aside(&problem, &set_aside) {
            break None;
        }
        let relative = problem
            .path
            .strip_prefix(path)
            .and_then(|r| r.strip_prefix("::"))
            .map(str::to_string);
        let retry = !set_aside.contains(&problem.path);
        set_aside.push(problem.path.clone());
        problems.push(problem);
        let removed = relative.is_some_and(|r| retry && remove_key(&mut value, &r));
        if !removed || problems.len() >= MAX_DECODE_PROBLEMS {
            break None;
        }
    };
    if let Some(decoded) = &decoded {
        let mut found = Vec::new();
        decoded.validate(path, &mut found);
        problems.extend(
            found
                .into_iter()
                .filter(|p| !concerns_set_aside(p, &set_aside)),
        );
    }
    match decoded {
        Some(decoded) if problems.is_empty() => Ok(decoded),
        _ => Err(problems),
    }
}

/// Removes the key at `relative` (`a::0::b`) from `value`; false when
/// there is no such key or it is a list item (removing one would renumber
/// the next).
fn remove_key(value: &mut Value, relative: &str) -> bool {
    let segments: Vec<&str> = relative.split("::").collect();
    let Some((last, parents)) = segments.split_last() else {
        return false;
    };
    let mut at = value;
    for seg in parents {
        at = match at {
            Value::Mapping(m) => match m.iter_mut().find(|(k, _)| key_is(k, seg)) {
                Some((_, v)) => v,
                None => return false,
            },
            Value::Sequence(items) => {
                match seg.parse::<usize>().ok().and_then(|i| items.get_mut(i)) {
                    Some(v) => v,
                    None => return false,
                }
            }
            _ => return false,
        };
    }
    match at {
        Value::Mapping(m) => {
            let key = m.keys().find(|k| key_is(k, last)).cloned();
            key.is_some_and(|k| m.shift_remove(&k).is_some())
        }
        _ => false,
    }
}

fn key_is(key: &Value, name: &str) -> bool {
    match key {
        Value::String(s) => s == name,
        Value::Number(n) => n.to_string() == name,
        Value::Bool(b) => b.to_string() == name,
        _ => false,
    }
}

/// A required key reported missing only because its wrong value was set
/// aside.
fn missing_because_set_aside(problem: &Problem, set_aside: &[String]) -> bool {
    problem
        .message
        .strip_prefix("missing required key `")
        .and_then(|r| r.strip_suffix('`'))
        .is_some_and(|key| set_aside.contains(&join_path(&problem.path, key)))
}

/// A validation problem about a key set aside (its default stood in), or
/// naming one.
fn concerns_set_aside(problem: &Problem, set_aside: &[String]) -> bool {
    set_aside.iter().any(|aside| {
        let name = last_key(aside);
        problem.path == *aside
            || problem.path.starts_with(&format!("{aside}::"))
            || (!name.is_empty() && problem.message.contains(&name))
    })
}

/// A null body (a component listed with nothing under it) is an empty
/// block.
fn block_of(body: &Body) -> Value {
    if body.is_null() {
        Value::Mapping(Default::default())
    } else {
        body.value().clone()
    }
}

/// Decodes `body` without validating (a null body as an empty block, as
/// [`decode`] does); the error carries the full key path and a message
/// without Rust's type names.
pub fn decode_only<T: DeserializeOwned>(body: &Body, path: &str) -> Result<T, Problem> {
    decode_value(block_of(body), path)
}

/// [`decode_only`] for a part of a document.
pub(crate) fn decode_value<T: DeserializeOwned>(value: Value, path: &str) -> Result<T, Problem> {
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
/// [`crate::http_client`]); [`decode_value`] puts it back in the path.
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

    #[derive(Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Several {
        #[serde(default)]
        a: u32,
        #[serde(default)]
        b: u32,
        #[serde(default)]
        c: Vec<Inner>,
    }

    impl Validate for Several {
        fn validate(&self, path: &str, problems: &mut Vec<Problem>) {
            if self.b == 0 {
                problems.push(Problem::new(join_path(path, "b"), "b must not be 0"));
            }
        }
    }

    #[test]
    fn every_decode_error_is_reported() {
        let v = Body::parse("a: x\nb: -1\nbogus: 1\nc: [{n: z}]").unwrap();
        let got: Vec<String> = decode::<Several>(&v, "r")
            .unwrap_err()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            got,
            [
                "r::a: expected an integer from 0 to 4294967295, got \"x\"",
                "r::b: expected an integer from 0 to 4294967295, got -1",
                "r::bogus: unknown key `bogus` (valid keys: a, b, c)",
                "r::c::0::n: expected an integer from 0 to 4294967295, got \"z\"",
            ]
        );
        let v = Body::parse("a: 1\nc: [{n: 1, zz: 2}]").unwrap();
        let got: Vec<String> = decode::<Several>(&v, "r")
            .unwrap_err()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            got,
            [
                "r::c::0::zz: unknown key `zz` (valid keys: n)",
                "r::b: b must not be 0",
            ]
        );
        let v = Body::parse("[1]").unwrap();
        assert_eq!(decode::<Several>(&v, "r").unwrap_err().len(), 1);
        // A required key set aside is not also reported missing.
        let v = Body::parse("inner: [{n: x}]").unwrap();
        let got = decode::<Outer>(&v, "r").unwrap_err();
        assert_eq!(got.len(), 1, "{got:?}");
    }

    #[test]
    fn errors_carry_the_key_path() {
        let v = Body::parse("inner: [{n: 1}, {n: 1, bogus: 2}]").unwrap();
        let err = decode::<Outer>(&v, "receivers::x").unwrap_err();
        assert_eq!(err.len(), 1);
        assert_eq!(err[0].path, "receivers::x::inner::1::bogus");
        assert!(
            err[0]
                .message
                .starts_with("unknown key `bogus` (valid keys: n)"),
            "{}",
            err[0].message
        );
        let v = Body::parse("inner: []").unwrap();
        let err = decode::<Outer>(&v, "r").unwrap_err();
        assert_eq!(err[0].to_string(), "r::inner: must not be empty");
    }
}
