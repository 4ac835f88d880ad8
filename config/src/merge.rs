//! Deep merge of config documents (maps merge, everything else replaces) and
//! `--set key.path=value` overrides.

use crate::error::Error;
use crate::yaml::{Mapping, Value};

/// Merges `overlay` into `base`: mappings merge key by key, lists and scalars
/// replace.
pub fn deep_merge(base: &mut Value, overlay: Value) {
    match (base, overlay) {
        (Value::Mapping(b), Value::Mapping(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(existing) if !v.is_null() || existing.is_mapping() => {
                        deep_merge(existing, v)
                    }
                    _ => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (b, o) => *b = o,
    }
}

/// Splits a `--set` key: `::` separates segments when present (so ids with
/// dots work), else `.`.
pub fn split_set_key(key: &str) -> Vec<String> {
    if key.contains("::") {
        key.split("::").map(str::to_string).collect()
    } else {
        key.split('.').map(str::to_string).collect()
    }
}

/// Applies one `--set k=v` to `doc`. The value is read as a YAML scalar or
/// flow collection (`--set a=[x,y]`).
pub fn apply_set(doc: &mut Value, arg: &str) -> Result<(), Error> {
    // The value may be a secret: errors show only the key.
    let err = |reason: &str| Error::Set {
        arg: match arg.split_once('=') {
            Some((key, _)) => format!("{key}=…"),
            None => arg.to_string(),
        },
        reason: reason.to_string(),
    };
    let (key, raw) = arg
        .split_once('=')
        .ok_or_else(|| err("expected key=value"))?;
    let segments = split_set_key(key.trim());
    if segments.iter().any(String::is_empty) {
        return Err(err("the key has an empty segment"));
    }
    let value: Value = if raw.is_empty() {
        Value::String(String::new())
    } else {
        crate::yaml::from_str(raw).map_err(|e| err(&format!("value is not valid YAML: {e}")))?
    };
    let mut overlay = value;
    for seg in segments.into_iter().rev() {
        let mut m = Mapping::new();
        m.insert(Value::String(seg), overlay);
        overlay = Value::Mapping(m);
    }
    if doc.is_null() {
        *doc = Value::Mapping(Mapping::new());
    }
    deep_merge(doc, overlay);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn y(s: &str) -> Value {
        crate::yaml::from_str(s).unwrap()
    }

    #[test]
    fn maps_merge_and_lists_replace() {
        let mut base = y("a: {x: 1, y: [1, 2]}\nb: keep");
        deep_merge(&mut base, y("a: {y: [3], z: 2}\nc: new"));
        assert_eq!(base, y("a: {x: 1, y: [3], z: 2}\nb: keep\nc: new"));
    }

    #[test]
    fn set_overrides_nested_keys() {
        let mut doc = y("exporters: {otlp_grpc: {endpoint: a:1}}");
        apply_set(&mut doc, "exporters.otlp_grpc.endpoint=b:2").unwrap();
        apply_set(
            &mut doc,
            "receivers::pyroscope_scrape/x.y::scrape_interval=30s",
        )
        .unwrap();
        apply_set(&mut doc, "service.telemetry.metrics.address=").unwrap();
        assert_eq!(doc["exporters"]["otlp_grpc"]["endpoint"], y("b:2"));
        assert_eq!(
            doc["receivers"]["pyroscope_scrape/x.y"]["scrape_interval"],
            y("30s")
        );
        assert_eq!(doc["service"]["telemetry"]["metrics"]["address"], y("''"));
    }

    #[test]
    fn set_needs_key_and_value() {
        let mut doc = Value::Null;
        assert!(apply_set(&mut doc, "novalue").is_err());
        assert!(apply_set(&mut doc, "a..b=1").is_err());
    }

    #[test]
    fn set_errors_do_not_echo_the_value() {
        let mut doc = Value::Null;
        let e = apply_set(&mut doc, "exporters.x.password=[hunter2").unwrap_err();
        let shown = e.to_string();
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(
            shown.starts_with("invalid --set \"exporters.x.password=…\""),
            "{shown}"
        );
    }
}
