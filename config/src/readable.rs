//! serde's decode errors rewritten for the person who wrote the YAML:
//! `unknown field` becomes the unknown-key message with a suggestion
//! ([`crate::suggest`]), `unknown variant` the unknown-value one, and Rust's
//! type names (`u64`, `struct StorageConfig`, `a sequence`, …) words a
//! config author uses (`a non-negative integer`, `a mapping`, `a list`).
//! [`crate::decode::decode_only`] passes every error through [`rewrite`];
//! messages written by profcol itself pass through unchanged.

use crate::suggest::{unknown_key_message, unknown_value};

/// The readable form of serde's `message` for the value of `key` (the last
/// segment of the key path; empty at the top).
pub fn rewrite(message: &str, key: &str) -> String {
    if let Some(rest) = message.strip_prefix("unknown field ") {
        if let Some((name, valid)) = parse_unknown(rest, "fields") {
            let valid: Vec<&str> = valid.iter().map(String::as_str).collect();
            return unknown_key_message(&name, &valid);
        }
    }
    if let Some(rest) = message.strip_prefix("unknown variant ") {
        if let Some((name, expected)) = parse_unknown(rest, "variants") {
            let expected: Vec<&str> = expected.iter().map(String::as_str).collect();
            return unknown_value(&name, key, &expected);
        }
    }
    if let Some(name) = message
        .strip_prefix("missing field `")
        .and_then(|r| r.strip_suffix('`'))
    {
        return format!("missing required key `{name}`");
    }
    if let Some(rest) = message
        .strip_prefix("invalid type: ")
        .or_else(|| message.strip_prefix("invalid value: "))
    {
        if let Some((got, expected)) = rest.split_once(", expected ") {
            return format!(
                "expected {}, got {}",
                expected_words(expected),
                got_words(got)
            );
        }
    }
    if let Some(rest) = message.strip_prefix("invalid length ") {
        if let Some((n, expected)) = rest.split_once(", expected ") {
            return format!("expected {}, got a list of {n}", expected_words(expected));
        }
    }
    if message.starts_with("data did not match any variant of untagged enum") {
        return "this value has none of the forms this key accepts".to_string();
    }
    message.to_string()
}

/// `` `x`, expected one of `a`, `b` `` → `("x", ["a", "b"])`; also the
/// `` expected `a` or `b` ``, `` expected `a` `` and `there are no …` forms.
fn parse_unknown(rest: &str, plural: &str) -> Option<(String, Vec<String>)> {
    let rest = rest.strip_prefix('`')?;
    let (name, tail) = rest.split_once('`')?;
    let tail = tail.strip_prefix(", ")?;
    if tail == format!("there are no {plural}") {
        return Some((name.to_string(), Vec::new()));
    }
    let list = tail.strip_prefix("expected ")?;
    let list = list.strip_prefix("one of ").unwrap_or(list);
    let names = list
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect();
    Some((name.to_string(), names))
}

/// What serde says it expected, in a config author's words.
fn expected_words(expected: &str) -> String {
    let words = match expected {
        "u8" => "an integer from 0 to 255",
        "u16" => "an integer from 0 to 65535",
        "u32" => "an integer from 0 to 4294967295",
        "u64" | "u128" | "usize" => "a non-negative integer",
        "i8" => "an integer from -128 to 127",
        "i16" => "an integer from -32768 to 32767",
        "i32" => "an integer from -2147483648 to 2147483647",
        "i64" | "i128" | "isize" => "an integer",
        "f32" | "f64" => "a number",
        "a boolean" => "true or false",
        "a string" | "a borrowed string" | "a string or bytes" => "a string",
        "a character" | "a char" => "a single character",
        "a sequence" => "a list",
        "a map" => "a mapping",
        "unit" | "unit value" => "nothing (null)",
        "option" => "a value",
        "a Value::Tagged enum" | "variant identifier" | "field identifier" => {
            "one of the names this key accepts"
        }
        other => {
            if other.starts_with("struct ")
                || other.starts_with("internally tagged enum ")
                || other.starts_with("adjacently tagged enum ")
            {
                "a mapping"
            } else if let Some(n) = other.strip_prefix("a tuple of size ") {
                return format!("a list of {n} items");
            } else if other.starts_with("tuple struct ") || other.starts_with("tuple ") {
                "a list"
            } else if other.starts_with("enum ") {
                "one of the names this key accepts"
            } else if other.starts_with("unit struct ") || other.starts_with("unit variant") {
                "nothing (null)"
            } else if other.starts_with("newtype struct ") {
                "a value"
            } else {
                return other.to_string();
            }
        }
    };
    words.to_string()
}

/// What serde says it found, in a config author's words: scalars as
/// written, containers by their YAML name.
fn got_words(got: &str) -> String {
    for prefix in ["integer ", "floating point ", "boolean ", "char "] {
        if let Some(v) = got.strip_prefix(prefix) {
            return v.trim_matches('`').to_string();
        }
    }
    if let Some(v) = got.strip_prefix("string ") {
        return v.to_string();
    }
    match got {
        "sequence" => "a list".to_string(),
        "map" => "a mapping".to_string(),
        "unit value" | "unit" => "nothing (null)".to_string(),
        "Option value" => "a value".to_string(),
        "newtype struct" | "newtype variant" | "unit variant" | "tuple variant"
        | "struct variant" | "enum" => "a tagged value".to_string(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::rewrite;

    #[test]
    fn serde_messages_become_sentences() {
        let cases = [
            (
                "unknown field `scrape_intervall`, expected one of `scheme`, `scrape_interval`",
                "unknown key `scrape_intervall`: did you mean `scrape_interval`? (valid keys: scheme, scrape_interval)",
            ),
            (
                "unknown field `zz`, expected `n` or `s`",
                "unknown key `zz` (valid keys: n, s)",
            ),
            (
                "unknown field `zz`, expected `n`",
                "unknown key `zz` (valid keys: n)",
            ),
            (
                "unknown field `zz`, there are no fields",
                "unknown key `zz` (this block takes no keys)",
            ),
            (
                "unknown variant `detaild`, expected `basic` or `detailed`",
                "unknown value `detaild` for verbosity: did you mean `detailed`? (expected one of basic, detailed)",
            ),
            ("missing field `n`", "missing required key `n`"),
            (
                "invalid type: string \"x\", expected u64",
                "expected a non-negative integer, got \"x\"",
            ),
            (
                "invalid value: integer `-1`, expected u64",
                "expected a non-negative integer, got -1",
            ),
            (
                "invalid value: integer `70000`, expected u16",
                "expected an integer from 0 to 65535, got 70000",
            ),
            (
                "invalid type: string \"x\", expected a sequence",
                "expected a list, got \"x\"",
            ),
            (
                "invalid type: sequence, expected struct StorageConfig",
                "expected a mapping, got a list",
            ),
            (
                "invalid type: map, expected a boolean",
                "expected true or false, got a mapping",
            ),
            (
                "invalid type: unit value, expected a string",
                "expected a string, got nothing (null)",
            ),
            (
                "invalid type: integer `1`, expected a Value::Tagged enum",
                "expected one of the names this key accepts, got 1",
            ),
            (
                "invalid type: floating point `1.5`, expected i32",
                "expected an integer from -2147483648 to 2147483647, got 1.5",
            ),
            (
                "invalid length 1, expected a tuple of size 2",
                "expected a list of 2 items, got a list of 1",
            ),
            (
                "data did not match any variant of untagged enum ResponseHeaders",
                "this value has none of the forms this key accepts",
            ),
            (
                "invalid duration 5: a unit is required (write 5s or 5ms)",
                "invalid duration 5: a unit is required (write 5s or 5ms)",
            ),
        ];
        for (serde, want) in cases {
            assert_eq!(rewrite(serde, "verbosity"), want, "for {serde}");
        }
    }
}
