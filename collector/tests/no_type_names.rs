//! Decodes a wide set of wrong values into the real config of every
//! component type and of `service`, and checks that no message shows a
//! Rust type name (`u64`, `Option`, `struct`, `StorageConfig`, …).
//!
//! The keys are found the way a user would find them: a made-up key
//! `zz_probe` is answered with the block's valid keys, and each of those
//! is then given every wrong value, and probed in turn (three levels deep,
//! through lists of blocks too).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use profcol_config::yaml::{Mapping, Value};
use profcol_config::{ComponentId, Kind, Problem};

const PROBE: &str = "zz_probe";

fn bad_values() -> Vec<Value> {
    [
        "zz",
        "-1",
        "1.5",
        "true",
        "~",
        "[1]",
        "{zz: 1}",
        "99999999999",
        "[[1]]",
        "[{zz: 1}]",
    ]
    .iter()
    .map(|v| profcol_config::yaml::from_str(v).unwrap())
    .collect()
}

/// The messages for `body` given to the component or section `target`.
fn messages(target: &(Kind, &str), body: &Value) -> Vec<Problem> {
    let (kind, ty) = target;
    let id: ComponentId = ty.parse().unwrap();
    let path = format!("{}::{ty}", kind.section());
    // The probe builds documents; a component sees its part as a body.
    let body_value = body;
    let body: &profcol_config::Body = &profcol_config::yaml::from_value(body.clone()).unwrap();
    let result = match kind {
        Kind::Receiver => profcol_receiver::RECEIVERS
            .decode(&id, body, &path)
            .map(|_| ()),
        Kind::Processor => profcol_processor::PROCESSORS
            .decode(&id, body, &path)
            .map(|_| ()),
        Kind::Exporter => profcol_exporter::EXPORTERS
            .decode(&id, body, &path)
            .map(|_| ()),
        Kind::Extension if *ty != "service" => profcol::extensions::EXTENSIONS
            .decode(&id, body, &path)
            .map(|_| ()),
        _ => {
            let mut doc = Mapping::new();
            doc.insert("service".into(), body_value.clone());
            profcol_config::collector::parse_collector(&Value::Mapping(doc)).map(|_| ())
        }
    };
    result.err().unwrap_or_default()
}

/// `{a: {b: value}}` for keys `[a, b]`; a key `0` makes a one-item list.
fn nest(keys: &[String], value: Value) -> Value {
    keys.iter().rev().fold(value, |inner, key| {
        if key == "0" {
            Value::Sequence(vec![inner])
        } else {
            let mut m = Mapping::new();
            m.insert(key.as_str().into(), inner);
            Value::Mapping(m)
        }
    })
}

/// The valid keys the probe key is answered with, at `keys`.
fn valid_keys(target: &(Kind, &str), keys: &[String]) -> Vec<String> {
    let mut probe = Mapping::new();
    probe.insert(PROBE.into(), 1.into());
    let body = nest(keys, Value::Mapping(probe));
    messages(target, &body)
        .iter()
        .filter(|p| p.path.ends_with(&format!("::{PROBE}")))
        .filter_map(|p| p.message.split("(valid keys: ").nth(1))
        .flat_map(|list| list.trim_end_matches(')').split(", ").map(str::to_string))
        .collect()
}

fn rust_words(message: &str) -> Vec<String> {
    const FORBIDDEN: &[&str] = &[
        "u8",
        "u16",
        "u32",
        "u64",
        "u128",
        "usize",
        "i8",
        "i16",
        "i32",
        "i64",
        "i128",
        "isize",
        "f32",
        "f64",
        "Option",
        "Vec",
        "String",
        "BTreeMap",
        "HashMap",
        "struct",
        "enum",
        "tuple",
        "newtype",
        "identifier",
        "sequence",
        "Value",
        "Tagged",
    ];
    let mut found = Vec::new();
    for word in message.split(|c: char| !c.is_ascii_alphanumeric() && c != '_') {
        let camel = word.len() > 2
            && word.starts_with(|c: char| c.is_ascii_uppercase())
            && word.chars().skip(1).any(|c| c.is_ascii_lowercase())
            && word.chars().skip(2).any(|c| c.is_ascii_uppercase())
            && !["OpenTelemetry", "MiB", "GiB", "TiB", "KiB"].contains(&word);
        if camel || FORBIDDEN.contains(&word) {
            found.push(word.to_string());
        }
    }
    for phrase in ["unit value", "a map ", "a map,"] {
        if message.contains(phrase) || message.ends_with(phrase.trim_end()) {
            found.push(phrase.to_string());
        }
    }
    found
}

#[test]
fn no_message_names_a_rust_type() {
    let mut targets: Vec<(Kind, &str)> = Vec::new();
    for kind in Kind::ALL {
        for (ty, _) in profcol::components::types(kind) {
            targets.push((kind, ty));
        }
    }
    targets.push((Kind::Extension, "service"));
    let mut checked = 0;
    let mut bad = Vec::new();
    for target in &targets {
        for whole in bad_values() {
            for p in messages(target, &whole) {
                checked += 1;
                if !rust_words(&p.message).is_empty() {
                    bad.push(p.to_string());
                }
            }
        }
        let mut todo: Vec<Vec<String>> = vec![Vec::new()];
        let mut seen = std::collections::HashSet::new();
        while let Some(prefix) = todo.pop() {
            for key in valid_keys(target, &prefix) {
                let mut at = prefix.clone();
                at.push(key);
                if !seen.insert(at.clone()) {
                    continue;
                }
                for value in bad_values() {
                    for p in messages(target, &nest(&at, value)) {
                        checked += 1;
                        if !rust_words(&p.message).is_empty() {
                            bad.push(p.to_string());
                        }
                    }
                }
                if at.len() < 4 {
                    todo.push(at.clone());
                    let mut in_list = at.clone();
                    in_list.push("0".into());
                    todo.push(in_list);
                }
            }
        }
    }
    bad.sort();
    bad.dedup();
    assert!(checked > 5_000, "only {checked} messages checked");
    assert!(
        bad.is_empty(),
        "{} messages name Rust types:\n{}",
        bad.len(),
        bad.join("\n")
    );
}
