//! [`Actions::apply`]: the actions run in order over one attribute set, each
//! as the Collector runs it (contrib `attraction.AttrProc.Process`).

use crate::actions::config::{Action, Source};
use crate::actions::convert::convert;
use crate::actions::hash::hash;
use crate::actions::{Actions, Attrs, Value};
use regex::Regex;

impl Actions {
    /// Runs every action over `attrs`; true when the set changed.
    pub fn apply(&self, attrs: &mut Attrs) -> bool {
        let before = attrs.clone();
        for action in &self.0 {
            apply_one(action, attrs);
        }
        *attrs != before
    }
}

fn source_value(source: &Source, attrs: &Attrs) -> Option<Value> {
    match source {
        Source::Value(v) | Source::Default(v) => Some(v.clone()),
        Source::Attribute { key, default } => attrs.get(key).cloned().or_else(|| default.clone()),
    }
}

/// The keys `pattern` matches, in order.
fn matching(pattern: &Option<Regex>, attrs: &Attrs) -> Vec<String> {
    match pattern {
        Some(re) => attrs
            .keys()
            .filter(|k| re.is_match(k))
            .map(str::to_string)
            .collect(),
        None => Vec::new(),
    }
}

fn apply_one(action: &Action, attrs: &mut Attrs) {
    match action {
        Action::Delete { key, pattern } => {
            attrs.remove(key);
            for k in matching(pattern, attrs) {
                attrs.remove(&k);
            }
        }
        Action::Insert { key, source } => {
            if attrs.get(key).is_none() {
                if let Some(v) = source_value(source, attrs) {
                    attrs.put(key, v);
                }
            }
        }
        Action::Update { key, source } => {
            if attrs.get(key).is_some() {
                if let Some(v) = source_value(source, attrs) {
                    attrs.put(key, v);
                }
            }
        }
        Action::Upsert { key, source } => {
            if let Some(v) = source_value(source, attrs) {
                attrs.put(key, v);
            }
        }
        Action::Hash { key, pattern } => {
            let mut keys = vec![key.clone()];
            keys.extend(matching(pattern, attrs));
            for k in keys {
                if let Some(v) = attrs.get_mut(&k) {
                    *v = hash(v);
                }
            }
        }
        Action::Extract {
            key,
            pattern,
            names,
        } => {
            let Some(Value::Str(s)) = attrs.get(key) else {
                return;
            };
            let Some(caps) = pattern.captures(s) else {
                return;
            };
            let found: Vec<(String, String)> = names
                .iter()
                .map(|n| {
                    let v = caps.name(n).map_or("", |m| m.as_str());
                    (n.clone(), v.to_string())
                })
                .collect();
            for (name, v) in found {
                attrs.put(&name, Value::Str(v));
            }
        }
        Action::Convert { key, to } => {
            if let Some(v) = attrs.get_mut(key) {
                if let Some(new) = convert(v, *to) {
                    *v = new;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::actions::{ActionConfig, Actions, Attr, Attrs, Value};

    fn actions(yaml: &str) -> Actions {
        let list: Vec<ActionConfig> = profcol_config::yaml::from_str(yaml).unwrap();
        Actions::compile(&list, "p").unwrap()
    }

    fn attrs(pairs: &[(&str, Value)]) -> Attrs {
        Attrs(
            pairs
                .iter()
                .map(|(k, v)| Attr {
                    key: k.to_string(),
                    value: v.clone(),
                    unit: String::new(),
                })
                .collect(),
        )
    }

    fn s(x: &str) -> Value {
        Value::Str(x.into())
    }

    #[test]
    fn insert_update_upsert() {
        let a = actions(
            r#"
- {key: new, value: 1, action: insert}
- {key: keep, value: changed, action: insert}
- {key: keep2, value: changed, action: update}
- {key: missing, value: x, action: update}
- {key: up, value: true, action: upsert}
- {key: copy, from_attribute: keep, action: upsert}
- {key: nosrc, from_attribute: absent, action: upsert}
- {key: dflt, from_attribute: absent, default_value: d, action: upsert}
"#,
        );
        let mut m = attrs(&[("keep", s("k")), ("keep2", s("k2"))]);
        assert!(a.apply(&mut m));
        assert_eq!(
            m,
            attrs(&[
                ("keep", s("k")),
                ("keep2", s("changed")),
                ("new", Value::Int(1)),
                ("up", Value::Bool(true)),
                ("copy", s("k")),
                ("dflt", s("d")),
            ])
        );
        // Nothing to do the second time but the upserts, which set the same.
        assert!(!a.apply(&mut m));
    }

    #[test]
    fn update_keeps_the_unit() {
        let a = actions("[{key: bytes, value: 1, action: update}]");
        let mut m = Attrs(vec![Attr {
            key: "bytes".into(),
            value: Value::Int(512),
            unit: "bytes".into(),
        }]);
        a.apply(&mut m);
        assert_eq!(m.0[0].unit, "bytes");
        assert_eq!(m.0[0].value, Value::Int(1));
    }

    #[test]
    fn delete_and_hash_by_key_and_pattern() {
        let a = actions(
            r#"
- {key: gone, action: delete}
- {pattern: "^tmp\\.", action: delete}
- {key: email, pattern: "^secret_", action: hash}
"#,
        );
        let mut m = attrs(&[
            ("gone", s("x")),
            ("tmp.a", s("1")),
            ("tmp.b", s("2")),
            ("kept", s("3")),
            ("email", s("john.doe@example.com")),
            ("secret_id", Value::Int(10)),
        ]);
        assert!(a.apply(&mut m));
        assert_eq!(m.keys().collect::<Vec<_>>(), ["kept", "email", "secret_id"]);
        assert_eq!(
            m.get("email"),
            Some(&s(
                "836f82db99121b3481011f16b49dfa5fbc714a0d1b1b9f784a1ebbbf5b39577f"
            ))
        );
        assert_eq!(
            m.get("secret_id"),
            Some(&s(
                "a111f275cc2e7588000001d300a31e76336d15b9d314cd1a1d8f3d3556975eed"
            ))
        );
    }

    #[test]
    fn extract_sets_named_groups_from_strings_only() {
        let a = actions(
            r#"[{key: url, pattern: "^(?P<scheme>\\w+)://(?P<host>[^/:]+)(?::(?P<port>\\d+))?", action: extract}]"#,
        );
        let mut m = attrs(&[("url", s("https://example.com/x")), ("host", s("old"))]);
        assert!(a.apply(&mut m));
        assert_eq!(m.get("url"), Some(&s("https://example.com/x")));
        assert_eq!(m.get("scheme"), Some(&s("https")));
        assert_eq!(m.get("host"), Some(&s("example.com")));
        assert_eq!(m.get("port"), Some(&s("")));
        let mut n = attrs(&[("url", Value::Int(3))]);
        assert!(!a.apply(&mut n));
        let mut o = attrs(&[("url", s("no match"))]);
        assert!(!a.apply(&mut o));
    }

    #[test]
    fn convert_in_place() {
        let a = actions(
            r#"
- {key: i, converted_type: int, action: convert}
- {key: d, converted_type: double, action: convert}
- {key: s, converted_type: string, action: convert}
- {key: absent, converted_type: int, action: convert}
"#,
        );
        let mut m = attrs(&[("i", s("42")), ("d", s("1.5")), ("s", Value::Int(7))]);
        assert!(a.apply(&mut m));
        assert_eq!(
            m,
            attrs(&[
                ("i", Value::Int(42)),
                ("d", Value::Double(1.5)),
                ("s", s("7"))
            ])
        );
    }
}
