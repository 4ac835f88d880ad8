//! `${env:VAR}`, `${env:VAR:-default}`, `${VAR}` and `${file:path}` expansion
//! in string values, with `$$` for a literal `$`. Keys are never expanded.
//!
//! A missing variable is an error (write `${env:VAR:-}` for "empty when
//! unset"): a silently empty endpoint or password is worse than a clear
//! refusal. A value that is exactly one reference is re-read as a YAML scalar,
//! so `port: ${env:PORT}` gives a number.

use crate::error::{join_path, Problem};
use crate::yaml::Value;

/// Where expansion looks things up; tests give their own.
pub trait Lookup {
    fn env(&self, name: &str) -> Option<String>;
    fn file(&self, path: &str) -> Result<String, String>;
}

/// The process environment and the real filesystem.
pub struct SystemLookup;

impl Lookup for SystemLookup {
    fn env(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
    fn file(&self, path: &str) -> Result<String, String> {
        std::fs::read_to_string(path)
            .map(|s| s.strip_suffix('\n').unwrap_or(&s).to_string())
            .map_err(|e| e.to_string())
    }
}

/// Expands every string value in `value`, collecting every problem.
pub fn expand_value(value: &mut Value, path: &str, lookup: &dyn Lookup) -> Vec<Problem> {
    let mut problems = Vec::new();
    walk(value, path, lookup, &mut problems);
    problems
}

fn walk(value: &mut Value, path: &str, lookup: &dyn Lookup, problems: &mut Vec<Problem>) {
    match value {
        Value::String(s) => {
            if !s.contains('$') {
                return;
            }
            match expand_str(s, lookup) {
                Ok((out, whole)) => {
                    *value = if whole {
                        reparse_scalar(out)
                    } else {
                        Value::String(out)
                    }
                }
                Err(msg) => problems.push(Problem::new(path, msg)),
            }
        }
        Value::Sequence(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                walk(item, &join_path(path, &i.to_string()), lookup, problems);
            }
        }
        Value::Mapping(map) => {
            for (k, v) in map.iter_mut() {
                let key = key_name(k);
                walk(v, &join_path(path, &key), lookup, problems);
            }
        }
        Value::Tagged(t) => walk(&mut t.value, path, lookup, problems),
        _ => {}
    }
}

/// The printable name of a mapping key.
pub fn key_name(k: &Value) -> String {
    match k {
        Value::String(s) => s.clone(),
        other => crate::yaml::to_string(other)
            .map(|s| s.trim_end().to_string())
            .unwrap_or_default(),
    }
}

fn reparse_scalar(s: String) -> Value {
    match crate::yaml::from_str::<Value>(&s) {
        Ok(v @ (Value::Bool(_) | Value::Number(_))) => v,
        _ => Value::String(s),
    }
}

/// Expands one string. Returns the result and whether the input was exactly
/// one `${…}` reference.
pub fn expand_str(input: &str, lookup: &dyn Lookup) -> Result<(String, bool), String> {
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    let mut references = 0usize;
    let mut literal = false;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        literal |= pos > 0;
        let after = &rest[pos + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            literal = true;
            rest = tail;
        } else if let Some(body) = after.strip_prefix('{') {
            let end = body
                .find('}')
                .ok_or_else(|| format!("unterminated \"${{\" in {input:?}"))?;
            out.push_str(&resolve(&body[..end], lookup)?);
            references += 1;
            rest = &body[end + 1..];
        } else {
            out.push('$');
            literal = true;
            rest = after;
        }
    }
    literal |= !rest.is_empty();
    out.push_str(rest);
    Ok((out, references == 1 && !literal))
}

fn resolve(reference: &str, lookup: &dyn Lookup) -> Result<String, String> {
    let (scheme, body) = match reference.split_once(':') {
        Some((s, b)) if s == "env" || s == "file" => (s, b),
        Some((s, _)) if s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') => {
            return Err(format!(
                "unknown expansion scheme {s:?} in \"${{{reference}}}\" (use env: or file:)"
            ))
        }
        _ => ("env", reference),
    };
    match scheme {
        "file" => lookup
            .file(body)
            .map_err(|e| format!("cannot read file {body:?} for \"${{file:…}}\": {e}")),
        _ => {
            let (name, default) = match body.split_once(":-") {
                Some((n, d)) => (n, Some(d)),
                None => (body, None),
            };
            if name.is_empty()
                || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                || name.starts_with(|c: char| c.is_ascii_digit())
            {
                return Err(format!("invalid environment variable name {name:?}"));
            }
            match (lookup.env(name), default) {
                (Some(v), _) => Ok(v),
                (None, Some(d)) => Ok(d.to_string()),
                (None, None) => Err(format!(
                    "environment variable {name} is not set (write ${{env:{name}:-default}} to give a default)"
                )),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct Fake(HashMap<&'static str, &'static str>);

    impl Lookup for Fake {
        fn env(&self, name: &str) -> Option<String> {
            self.0.get(name).map(|s| s.to_string())
        }
        fn file(&self, path: &str) -> Result<String, String> {
            if path == "/secret" {
                Ok("s3cr3t".into())
            } else {
                Err("No such file or directory (os error 2)".into())
            }
        }
    }

    fn fake() -> Fake {
        Fake(HashMap::from([
            ("HOST", "db"),
            ("PORT", "4317"),
            ("EMPTY", ""),
        ]))
    }

    #[test]
    fn expands_every_form() {
        let cases = [
            ("${env:HOST}:${PORT}", "db:4317"),
            ("${env:NOPE:-fallback}", "fallback"),
            ("${env:NOPE:-}", ""),
            ("${EMPTY}", ""),
            ("price $$5", "price $5"),
            ("$${env:HOST}", "${env:HOST}"),
            ("a$b", "a$b"),
            ("${file:/secret}", "s3cr3t"),
            ("no refs", "no refs"),
        ];
        for (input, want) in cases {
            assert_eq!(expand_str(input, &fake()).unwrap().0, want, "{input}");
        }
    }

    #[test]
    fn reports_problems_with_their_path() {
        let mut v: Value = crate::yaml::from_str(
            "a: ${env:MISSING}\nb: [ok, '${file:/nope}']\nc: ${env:PORT}\nd: '${bogus:x}'",
        )
        .unwrap();
        let problems = expand_value(&mut v, "", &fake());
        let msgs: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
        assert_eq!(
            msgs,
            vec![
                "a: environment variable MISSING is not set (write ${env:MISSING:-default} to give a default)".to_string(),
                "b::1: cannot read file \"/nope\" for \"${file:…}\": No such file or directory (os error 2)".to_string(),
                "d: unknown expansion scheme \"bogus\" in \"${bogus:x}\" (use env: or file:)".to_string(),
            ]
        );
        assert_eq!(
            v["c"],
            Value::Number(4317.into()),
            "a whole reference is re-typed"
        );
    }

    #[test]
    fn unterminated_reference_is_an_error() {
        assert!(expand_str("${env:HOST", &fake()).is_err());
    }
}
