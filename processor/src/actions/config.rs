//! [`ActionConfig`]: one entry of an `actions` (attributes processor) or
//! `attributes` (resource processor) list as written, and [`Actions`]: the
//! list compiled and checked, every problem under its key path.

use crate::actions::Value;
use profcol_config::{join_path, Problem};
use regex::Regex;
use serde::{Deserialize, Serialize};

/// One action as written in the config (the Collector's keys); serialized
/// without the keys left empty.
#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ActionConfig {
    /// The attribute to act on.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub key: String,
    /// The value to set (its type as written).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
    /// The value to set when `from_attribute` finds nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_value: Option<Value>,
    /// The attribute to copy the value from.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub from_attribute: String,
    /// A client metadata key (not available in profcol: refused).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub from_context: String,
    /// A regular expression: keys to delete or hash, or the named groups to
    /// extract.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub pattern: String,
    /// `int`, `double` or `string`, for `convert`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub converted_type: String,
    /// `insert`, `update`, `upsert`, `delete`, `hash`, `extract` or
    /// `convert` (any case).
    #[serde(default)]
    pub action: String,
}

/// Where `insert`, `update` and `upsert` take their value from.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Source {
    Value(Value),
    Attribute { key: String, default: Option<Value> },
    Default(Value),
}

/// The target type of `convert`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    Int,
    Double,
    Str,
}

/// One compiled action.
#[derive(Debug, Clone)]
pub(crate) enum Action {
    Insert {
        key: String,
        source: Source,
    },
    Update {
        key: String,
        source: Source,
    },
    Upsert {
        key: String,
        source: Source,
    },
    Delete {
        key: String,
        pattern: Option<Regex>,
    },
    Hash {
        key: String,
        pattern: Option<Regex>,
    },
    Extract {
        key: String,
        pattern: Regex,
        names: Vec<String>,
    },
    Convert {
        key: String,
        to: Target,
    },
}

/// Compiled patterns compare by their source text.
impl PartialEq for Action {
    fn eq(&self, other: &Self) -> bool {
        use Action::*;
        let text = |p: &Option<Regex>| p.as_ref().map(Regex::as_str).map(str::to_owned);
        match (self, other) {
            (Insert { key: a, source: x }, Insert { key: b, source: y })
            | (Update { key: a, source: x }, Update { key: b, source: y })
            | (Upsert { key: a, source: x }, Upsert { key: b, source: y }) => a == b && x == y,
            (Delete { key: a, pattern: x }, Delete { key: b, pattern: y })
            | (Hash { key: a, pattern: x }, Hash { key: b, pattern: y }) => {
                a == b && text(x) == text(y)
            }
            (
                Extract {
                    key: a,
                    pattern: x,
                    names: m,
                },
                Extract {
                    key: b,
                    pattern: y,
                    names: n,
                },
            ) => a == b && x.as_str() == y.as_str() && m == n,
            (Convert { key: a, to: x }, Convert { key: b, to: y }) => a == b && x == y,
            _ => false,
        }
    }
}

/// A checked list of actions, applied in order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Actions(pub(crate) Vec<Action>);

const ACTIONS: &str = "insert, update, upsert, delete, hash, extract or convert";

impl Actions {
    /// Compiles `list` (found at `path`); every problem at once, each under
    /// `path::<index>::<key>`.
    pub fn compile(list: &[ActionConfig], path: &str) -> Result<Self, Vec<Problem>> {
        let mut problems = Vec::new();
        let mut out = Vec::with_capacity(list.len());
        for (i, a) in list.iter().enumerate() {
            let at = join_path(path, &i.to_string());
            match compile_one(a, &at) {
                Ok(action) => out.push(action),
                Err(p) => problems.push(p),
            }
        }
        if problems.is_empty() {
            Ok(Self(out))
        } else {
            Err(problems)
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The list as a user writes it (action names in lower case, patterns
    /// as their source text): it compiles back to an equal list.
    pub fn to_config(&self) -> Vec<ActionConfig> {
        self.0.iter().map(Action::to_config).collect()
    }
}

/// As [`Actions::to_config`], except that the value set on an attribute
/// whose name looks like a credential (`api_token`, `password`, …; see
/// `profcol_config::redact::is_secret_param`) prints as `<secret>`.
impl serde::Serialize for Actions {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut list = self.to_config();
        for a in &mut list {
            if profcol_config::redact::is_secret_param(&a.key) {
                for v in [&mut a.value, &mut a.default_value].into_iter().flatten() {
                    *v = Value::Str(profcol_config::secret::REDACTED.into());
                }
            }
        }
        list.serialize(s)
    }
}

impl Action {
    fn to_config(&self) -> ActionConfig {
        let text = |p: &Option<Regex>| p.as_ref().map_or(String::new(), |p| p.as_str().into());
        let (name, key) = match self {
            Action::Insert { key, .. } => ("insert", key),
            Action::Update { key, .. } => ("update", key),
            Action::Upsert { key, .. } => ("upsert", key),
            Action::Delete { key, .. } => ("delete", key),
            Action::Hash { key, .. } => ("hash", key),
            Action::Extract { key, .. } => ("extract", key),
            Action::Convert { key, .. } => ("convert", key),
        };
        let mut out = ActionConfig {
            key: key.clone(),
            action: name.to_string(),
            ..ActionConfig::default()
        };
        match self {
            Action::Insert { source, .. }
            | Action::Update { source, .. }
            | Action::Upsert { source, .. } => match source {
                Source::Value(v) => out.value = Some(v.clone()),
                Source::Default(v) => out.default_value = Some(v.clone()),
                Source::Attribute { key, default } => {
                    out.from_attribute = key.clone();
                    out.default_value = default.clone();
                }
            },
            Action::Delete { pattern, .. } | Action::Hash { pattern, .. } => {
                out.pattern = text(pattern)
            }
            Action::Extract { pattern, .. } => out.pattern = pattern.as_str().to_string(),
            Action::Convert { to, .. } => {
                out.converted_type = match to {
                    Target::Int => "int",
                    Target::Double => "double",
                    Target::Str => "string",
                }
                .to_string()
            }
        }
        out
    }
}

fn compile_one(a: &ActionConfig, at: &str) -> Result<Action, Problem> {
    let problem = |key: &str, msg: String| Problem::new(join_path(at, key), msg);
    let action = a.action.to_ascii_lowercase();
    let not_for = |key: &str, set: bool| -> Result<(), Problem> {
        if set {
            Err(problem(
                key,
                format!("action {action:?} does not use {key:?}; remove it"),
            ))
        } else {
            Ok(())
        }
    };
    let compile_pattern = |pattern: &str| {
        Regex::new(pattern).map_err(|e| {
            problem(
                "pattern",
                format!(
                    "is not a valid regular expression: {}",
                    crate::regex_error::describe(&e)
                ),
            )
        })
    };
    match action.as_str() {
        "insert" | "update" | "upsert" => {
            if a.key.is_empty() {
                return Err(problem("key", "is required".into()));
            }
            not_for("pattern", !a.pattern.is_empty())?;
            not_for("converted_type", !a.converted_type.is_empty())?;
            if !a.from_context.is_empty() {
                return Err(problem(
                    "from_context",
                    "reads the sender's request metadata, which profcol's receivers do not pass on; use value or from_attribute".into(),
                ));
            }
            let source = match (&a.value, a.from_attribute.as_str(), &a.default_value) {
                (Some(_), from, _) if !from.is_empty() => {
                    return Err(problem(
                        "from_attribute",
                        "cannot be set together with value: one value source per action".into(),
                    ))
                }
                (Some(_), _, Some(_)) => {
                    return Err(problem(
                        "default_value",
                        "is for when from_attribute finds nothing; with value it is never used"
                            .into(),
                    ))
                }
                (Some(v), _, None) => Source::Value(v.clone()),
                (None, "", Some(d)) => Source::Default(d.clone()),
                (None, "", None) => {
                    return Err(Problem::new(
                        at,
                        format!(
                            "action {action:?} needs one of value, from_attribute or default_value"
                        ),
                    ))
                }
                (None, from, d) => Source::Attribute {
                    key: from.to_string(),
                    default: d.clone(),
                },
            };
            let key = a.key.clone();
            Ok(match action.as_str() {
                "insert" => Action::Insert { key, source },
                "update" => Action::Update { key, source },
                _ => Action::Upsert { key, source },
            })
        }
        "delete" | "hash" => {
            if a.key.is_empty() && a.pattern.is_empty() {
                return Err(Problem::new(
                    at,
                    format!("action {action:?} needs key, pattern or both"),
                ));
            }
            not_for("value", a.value.is_some())?;
            not_for("from_attribute", !a.from_attribute.is_empty())?;
            not_for("from_context", !a.from_context.is_empty())?;
            not_for("default_value", a.default_value.is_some())?;
            not_for("converted_type", !a.converted_type.is_empty())?;
            let pattern = if a.pattern.is_empty() {
                None
            } else {
                Some(compile_pattern(&a.pattern)?)
            };
            let key = a.key.clone();
            Ok(if action == "delete" {
                Action::Delete { key, pattern }
            } else {
                Action::Hash { key, pattern }
            })
        }
        "extract" => {
            if a.key.is_empty() {
                return Err(problem("key", "is required".into()));
            }
            not_for("value", a.value.is_some())?;
            not_for("from_attribute", !a.from_attribute.is_empty())?;
            not_for("from_context", !a.from_context.is_empty())?;
            not_for("default_value", a.default_value.is_some())?;
            not_for("converted_type", !a.converted_type.is_empty())?;
            if a.pattern.is_empty() {
                return Err(problem(
                    "pattern",
                    "is required for action \"extract\"".into(),
                ));
            }
            let pattern = compile_pattern(&a.pattern)?;
            let names: Vec<Option<&str>> = pattern.capture_names().skip(1).collect();
            if names.is_empty() {
                return Err(problem(
                    "pattern",
                    "has no named groups ((?P<name>…)): nothing to extract".into(),
                ));
            }
            if names.iter().any(Option::is_none) {
                return Err(problem(
                    "pattern",
                    "has a group without a name; every group names the attribute it sets ((?P<name>…), or (?:…) to group without capturing)".into(),
                ));
            }
            let names = names.into_iter().flatten().map(str::to_string).collect();
            Ok(Action::Extract {
                key: a.key.clone(),
                pattern,
                names,
            })
        }
        "convert" => {
            if a.key.is_empty() {
                return Err(problem("key", "is required".into()));
            }
            not_for("value", a.value.is_some())?;
            not_for("from_attribute", !a.from_attribute.is_empty())?;
            not_for("from_context", !a.from_context.is_empty())?;
            not_for("default_value", a.default_value.is_some())?;
            not_for("pattern", !a.pattern.is_empty())?;
            let to = match a.converted_type.as_str() {
                "int" => Target::Int,
                "double" => Target::Double,
                "string" => Target::Str,
                "" => {
                    return Err(problem(
                        "converted_type",
                        "is required for action \"convert\": int, double or string".into(),
                    ))
                }
                other => {
                    return Err(problem(
                        "converted_type",
                        format!("{other:?} is not a type to convert to: int, double or string"),
                    ))
                }
            };
            Ok(Action::Convert {
                key: a.key.clone(),
                to,
            })
        }
        "" => Err(problem("action", format!("is required: {ACTIONS}"))),
        other => Err(problem(
            "action",
            format!("{other:?} is not an action: {ACTIONS}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compile(yaml: &str) -> Result<Actions, Vec<Problem>> {
        let list: Vec<ActionConfig> = profcol_config::yaml::from_str(yaml).unwrap();
        Actions::compile(&list, "processors::attributes::actions")
    }

    fn err(yaml: &str) -> String {
        compile(yaml)
            .unwrap_err()
            .iter()
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
            .join("; ")
    }

    #[test]
    fn valid_lists_compile() {
        let a = compile(
            r#"
- {key: a, value: 1, action: INSERT}
- {key: b, from_attribute: a, default_value: x, action: update}
- {key: c, default_value: 2.5, action: upsert}
- {pattern: "^tmp_", action: delete}
- {key: email, action: hash}
- {key: url, pattern: "^(?P<scheme>\\w+)://(?P<host>[^/]+)", action: extract}
- {key: n, converted_type: int, action: convert}
"#,
        )
        .unwrap();
        assert_eq!(a.0.len(), 7);
    }

    #[test]
    fn every_rule_names_its_key_path() {
        let p = "processors::attributes::actions";
        for (yaml, want) in [
            ("[{key: a}]", format!("{p}::0::action: is required")),
            (
                "[{key: a, value: 1, action: rename}]",
                format!("{p}::0::action: \"rename\" is not an action"),
            ),
            (
                "[{value: 1, action: insert}]",
                format!("{p}::0::key: is required"),
            ),
            (
                "[{key: a, action: insert}]",
                format!("{p}::0: action \"insert\" needs one of value"),
            ),
            (
                "[{key: a, value: 1, from_attribute: b, action: upsert}]",
                format!("{p}::0::from_attribute: cannot be set together with value"),
            ),
            (
                "[{key: a, value: 1, default_value: 2, action: upsert}]",
                format!("{p}::0::default_value: is for when from_attribute finds nothing"),
            ),
            (
                "[{key: a, value: 1, pattern: x, action: upsert}]",
                format!("{p}::0::pattern: action \"upsert\" does not use \"pattern\""),
            ),
            (
                "[{key: a, value: 1, converted_type: int, action: upsert}]",
                format!("{p}::0::converted_type: action \"upsert\" does not use"),
            ),
            (
                "[{key: a, from_context: metadata.x, action: upsert}]",
                format!("{p}::0::from_context: reads the sender's request metadata"),
            ),
            (
                "[{action: delete}]",
                format!("{p}::0: action \"delete\" needs key, pattern or both"),
            ),
            (
                "[{key: a, value: 1, action: hash}]",
                format!("{p}::0::value: action \"hash\" does not use \"value\""),
            ),
            (
                "[{pattern: '(', action: delete}]",
                format!("{p}::0::pattern: is not a valid regular expression"),
            ),
            (
                "[{key: a, action: extract}]",
                format!("{p}::0::pattern: is required for action \"extract\""),
            ),
            (
                "[{key: a, pattern: 'ab', action: extract}]",
                format!("{p}::0::pattern: has no named groups"),
            ),
            (
                "[{key: a, pattern: '(?P<x>a)(b)', action: extract}]",
                format!("{p}::0::pattern: has a group without a name"),
            ),
            (
                "[{key: a, action: convert}]",
                format!("{p}::0::converted_type: is required for action \"convert\""),
            ),
            (
                "[{key: a, converted_type: bool, action: convert}]",
                format!("{p}::0::converted_type: \"bool\" is not a type to convert to"),
            ),
            (
                "[{key: a, converted_type: int, pattern: x, action: convert}]",
                format!("{p}::0::pattern: action \"convert\" does not use"),
            ),
        ] {
            let got = err(yaml);
            assert!(got.starts_with(&want), "{yaml}\n got: {got}\nwant: {want}");
        }
        // All problems at once, each at its index.
        let got =
            compile("[{key: a}, {key: b, value: 1, action: insert}, {action: nope}]").unwrap_err();
        assert_eq!(got.len(), 2);
        assert_eq!(got[1].path, format!("{p}::2::action"));
    }

    #[test]
    fn unknown_keys_are_refused_with_their_path() {
        let v = profcol_config::Body::parse("[{key: a, vlaue: 1, action: insert}]").unwrap();
        #[derive(Deserialize, Debug)]
        #[allow(dead_code)]
        struct L(Vec<ActionConfig>);
        let e = profcol_config::decode_only::<Vec<ActionConfig>>(&v, "p::actions").unwrap_err();
        assert_eq!(e.path, "p::actions::0::vlaue");
    }
}
