//! `relabel_configs` with Prometheus semantics: the actions `replace`,
//! `keep`, `drop`, `keepequal`, `dropequal`, `hashmod`, `labelmap`,
//! `labeldrop`, `labelkeep`, `lowercase` and `uppercase`, applied to each
//! discovered target before it is expanded into scrape jobs.

use profcol_config::{join_path, Problem};
use profcol_pdata::Labels;
use regex::Regex;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    #[default]
    Replace,
    Keep,
    Drop,
    KeepEqual,
    DropEqual,
    HashMod,
    LabelMap,
    LabelDrop,
    LabelKeep,
    Lowercase,
    Uppercase,
}

/// One rule as written in YAML; `compile` checks it and builds the regex.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelabelConfig {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub source_labels: Vec<String>,
    #[serde(default = "default_separator")]
    pub separator: String,
    #[serde(default = "default_regex")]
    pub regex: String,
    #[serde(default)]
    pub modulus: u64,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub target_label: String,
    #[serde(default = "default_replacement")]
    pub replacement: String,
    #[serde(default)]
    pub action: Action,
}

fn default_separator() -> String {
    ";".into()
}
fn default_regex() -> String {
    "(.*)".into()
}
fn default_replacement() -> String {
    "$1".into()
}

/// A checked rule, ready to apply.
#[derive(Debug, Clone)]
pub struct Rule {
    cfg: RelabelConfig,
    regex: Regex,
}

fn is_label_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A target label may hold `$1`, `${name}` references (replace only).
fn is_label_template(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '$' | '{' | '}'))
        && !s.starts_with(|c: char| c.is_ascii_digit())
}

impl RelabelConfig {
    /// Checks the rule (Prometheus' rules) and compiles its fully anchored regex.
    pub fn compile(&self, path: &str) -> Result<Rule, Vec<Problem>> {
        let mut problems = Vec::new();
        let mut p =
            |field: &str, msg: String| problems.push(Problem::new(join_path(path, field), msg));
        let regex = match Regex::new(&format!("^(?s:{})$", self.regex)) {
            Ok(r) => Some(r),
            Err(e) => {
                // The parser's message draws a caret under the anchored
                // pattern; its last line alone says what is wrong.
                let text = e.to_string();
                let reason = text.lines().last().unwrap_or_default();
                let reason = reason.trim_start_matches("error: ");
                p(
                    "regex",
                    format!("invalid regular expression {:?}: {reason}", self.regex),
                );
                None
            }
        };
        use Action::*;
        let needs_target = matches!(
            self.action,
            Replace | HashMod | Lowercase | Uppercase | KeepEqual | DropEqual
        );
        if needs_target && self.target_label.is_empty() {
            p(
                "target_label",
                format!(
                    "relabel action {} requires target_label",
                    self.action_name()
                ),
            );
        }
        if !self.target_label.is_empty() {
            let ok = if self.action == Replace {
                is_label_template(&self.target_label)
            } else {
                is_label_name(&self.target_label)
            };
            if !ok {
                p(
                    "target_label",
                    format!("{:?} is not a valid label name", self.target_label),
                );
            }
        }
        if self.action == HashMod && self.modulus == 0 {
            p(
                "modulus",
                "relabel action hashmod requires a modulus greater than 0".into(),
            );
        }
        if matches!(self.action, LabelDrop | LabelKeep)
            && (!self.source_labels.is_empty()
                || !self.target_label.is_empty()
                || self.modulus != 0
                || self.separator != default_separator()
                || self.replacement != default_replacement())
        {
            p(
                "action",
                format!("relabel action {} only takes regex; source_labels, target_label, modulus, separator and replacement must be left unset", self.action_name()),
            );
        }
        if matches!(self.action, KeepEqual | DropEqual) && self.regex != default_regex() {
            p(
                "regex",
                format!(
                    "relabel action {} does not take a regex",
                    self.action_name()
                ),
            );
        }
        if matches!(
            self.action,
            Keep | Drop | KeepEqual | DropEqual | HashMod | Lowercase | Uppercase
        ) && self.source_labels.is_empty()
        {
            p(
                "source_labels",
                format!(
                    "relabel action {} requires source_labels",
                    self.action_name()
                ),
            );
        }
        match (regex, problems.is_empty()) {
            (Some(regex), true) => Ok(Rule {
                cfg: self.clone(),
                regex,
            }),
            _ => Err(problems),
        }
    }

    fn action_name(&self) -> String {
        profcol_config::yaml::to_string(&self.action)
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    }
}

/// Compiles a list of rules, collecting every problem.
pub fn compile_all(cfgs: &[RelabelConfig], path: &str) -> Result<Vec<Rule>, Vec<Problem>> {
    let mut rules = Vec::new();
    let mut problems = Vec::new();
    for (i, c) in cfgs.iter().enumerate() {
        match c.compile(&join_path(path, &i.to_string())) {
            Ok(r) => rules.push(r),
            Err(p) => problems.extend(p),
        }
    }
    if problems.is_empty() {
        Ok(rules)
    } else {
        Err(problems)
    }
}

/// Applies every rule in order; `None` means the target was dropped.
pub fn apply(rules: &[Rule], mut labels: Labels) -> Option<Labels> {
    for r in rules {
        if !r.apply(&mut labels) {
            return None;
        }
    }
    Some(labels)
}

impl Rule {
    /// Applies one rule; false when the target must be dropped.
    fn apply(&self, labels: &mut Labels) -> bool {
        let cfg = &self.cfg;
        let value = || {
            cfg.source_labels
                .iter()
                .map(|n| labels.get(n).unwrap_or(""))
                .collect::<Vec<_>>()
                .join(&cfg.separator)
        };
        match cfg.action {
            Action::Keep => self.regex.is_match(&value()),
            Action::Drop => !self.regex.is_match(&value()),
            Action::KeepEqual => labels.get(&cfg.target_label).unwrap_or("") == value(),
            Action::DropEqual => labels.get(&cfg.target_label).unwrap_or("") != value(),
            Action::Replace => {
                let v = value();
                if let Some(caps) = self.regex.captures(&v) {
                    let mut target = String::new();
                    caps.expand(&cfg.target_label, &mut target);
                    if is_label_name(&target) {
                        let mut out = String::new();
                        caps.expand(&cfg.replacement, &mut out);
                        if out.is_empty() {
                            labels.remove(&target);
                        } else {
                            labels.set(target, out);
                        }
                    }
                }
                true
            }
            Action::Lowercase => {
                let v = value().to_lowercase();
                labels.set(cfg.target_label.clone(), v);
                true
            }
            Action::Uppercase => {
                let v = value().to_uppercase();
                labels.set(cfg.target_label.clone(), v);
                true
            }
            Action::HashMod => {
                let digest = <md5::Md5 as md5::Digest>::digest(value().as_bytes());
                let mut tail = [0u8; 8];
                tail.copy_from_slice(&digest[8..16]);
                let m = u64::from_be_bytes(tail) % cfg.modulus;
                labels.set(cfg.target_label.clone(), m.to_string());
                true
            }
            Action::LabelMap => {
                let renamed: Vec<(String, String)> = labels
                    .iter()
                    .filter(|(name, _)| self.regex.is_match(name))
                    .map(|(name, v)| {
                        (
                            self.regex
                                .replace_all(name, cfg.replacement.as_str())
                                .into_owned(),
                            v.to_string(),
                        )
                    })
                    .collect();
                for (name, v) in renamed {
                    labels.set(name, v);
                }
                true
            }
            Action::LabelDrop => {
                labels.retain(|name, _| !self.regex.is_match(name));
                true
            }
            Action::LabelKeep => {
                labels.retain(|name, _| self.regex.is_match(name));
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(yaml: &str) -> Vec<Rule> {
        let cfgs: Vec<RelabelConfig> = profcol_config::yaml::from_str(yaml).unwrap();
        compile_all(&cfgs, "r").unwrap()
    }

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        Labels::from_pairs(pairs.iter().copied())
    }

    #[test]
    fn replace_with_captures_and_defaults() {
        let r = rules("- {source_labels: [a, b], regex: 'f(.*);(.*)r', target_label: c, replacement: '${1}x$2'}");
        let out = apply(&r, labels(&[("a", "foo"), ("b", "bar")])).unwrap();
        assert_eq!(out.get("c"), Some("ooxba"));
        // Anchored: a partial match does nothing.
        let r = rules("- {source_labels: [a], regex: 'o', target_label: c}");
        assert_eq!(apply(&r, labels(&[("a", "foo")])).unwrap().get("c"), None);
        // Default regex (.*) and replacement $1 copy the value.
        let r = rules("- {source_labels: [a], target_label: c}");
        assert_eq!(
            apply(&r, labels(&[("a", "foo")])).unwrap().get("c"),
            Some("foo")
        );
        // An empty result deletes the target label.
        let r = rules("- {source_labels: [missing], target_label: a}");
        assert_eq!(apply(&r, labels(&[("a", "foo")])).unwrap().get("a"), None);
        // A target label built from a capture.
        let r =
            rules("- {source_labels: [a], regex: '(.*)', target_label: 'x_${1}', replacement: v}");
        assert_eq!(
            apply(&r, labels(&[("a", "foo")])).unwrap().get("x_foo"),
            Some("v")
        );
        // Go's $1x means the group named "1x": empty.
        let r =
            rules("- {source_labels: [a], regex: '(f)oo', target_label: c, replacement: '$1x'}");
        assert_eq!(apply(&r, labels(&[("a", "foo")])).unwrap().get("c"), None);
    }

    #[test]
    fn keep_drop_and_equal_variants() {
        let keep = rules("- {source_labels: [a], regex: 'f.*', action: keep}");
        assert!(apply(&keep, labels(&[("a", "foo")])).is_some());
        assert!(apply(&keep, labels(&[("a", "bar")])).is_none());
        assert!(
            apply(&keep, labels(&[])).is_none(),
            "a missing label is the empty string"
        );
        let drop = rules("- {source_labels: [a], regex: 'f.*', action: drop}");
        assert!(apply(&drop, labels(&[("a", "foo")])).is_none());
        assert!(apply(&drop, labels(&[("a", "bar")])).is_some());
        let ke = rules("- {source_labels: [a], target_label: b, action: keepequal}");
        assert!(apply(&ke, labels(&[("a", "x"), ("b", "x")])).is_some());
        assert!(apply(&ke, labels(&[("a", "x"), ("b", "y")])).is_none());
        let de = rules("- {source_labels: [a], target_label: b, action: dropequal}");
        assert!(apply(&de, labels(&[("a", "x"), ("b", "x")])).is_none());
        assert!(apply(&de, labels(&[("a", "x"), ("b", "y")])).is_some());
    }

    #[test]
    fn hashmod_matches_prometheus_values() {
        // Expected values: md5 of the value, last 8 bytes big-endian, modulo
        // (computed independently with Python's hashlib).
        for (value, modulus, want) in [
            ("foo", 1000, "696"),
            ("bar", 1000, "922"),
            ("localhost:9090", 3, "1"),
            ("a", 10, "7"),
        ] {
            let r = rules(&format!("- {{source_labels: [a], modulus: {modulus}, target_label: shard, action: hashmod}}"));
            assert_eq!(
                apply(&r, labels(&[("a", value)])).unwrap().get("shard"),
                Some(want),
                "{value}"
            );
        }
        let r =
            rules("- {source_labels: [a, b], modulus: 2, target_label: shard, action: hashmod}");
        assert_eq!(
            apply(&r, labels(&[("a", "10.0.0.1:8080"), ("b", "prod")]))
                .unwrap()
                .get("shard"),
            Some("0")
        );
    }

    #[test]
    fn labelmap_labeldrop_labelkeep_case() {
        let r = rules("- {regex: '__meta_kubernetes_pod_label_(.+)', action: labelmap}");
        let out = apply(
            &r,
            labels(&[("__meta_kubernetes_pod_label_app", "web"), ("x", "1")]),
        )
        .unwrap();
        assert_eq!(out.get("app"), Some("web"));
        assert_eq!(
            out.get("__meta_kubernetes_pod_label_app"),
            Some("web"),
            "labelmap copies"
        );
        let r = rules("- {regex: 'x|y', action: labeldrop}");
        let out = apply(&r, labels(&[("x", "1"), ("y", "2"), ("xy", "3")])).unwrap();
        assert_eq!(out.iter().map(|(k, _)| k).collect::<Vec<_>>(), ["xy"]);
        let r = rules("- {regex: 'x|y', action: labelkeep}");
        let out = apply(&r, labels(&[("x", "1"), ("y", "2"), ("xy", "3")])).unwrap();
        assert_eq!(out.iter().map(|(k, _)| k).collect::<Vec<_>>(), ["x", "y"]);
        let r = rules("- {source_labels: [a], target_label: lo, action: lowercase}\n- {source_labels: [a], target_label: up, action: uppercase}");
        let out = apply(&r, labels(&[("a", "MiXed")])).unwrap();
        assert_eq!(
            (out.get("lo"), out.get("up")),
            (Some("mixed"), Some("MIXED"))
        );
    }

    #[test]
    fn invalid_rules_name_their_key() {
        let cfgs: Vec<RelabelConfig> = profcol_config::yaml::from_str(
            "- {source_labels: [a], regex: '(', target_label: b}\n- {source_labels: [a], target_label: s, action: hashmod}\n- {source_labels: [a], action: replace}\n- {regex: x, target_label: y, action: labeldrop}\n- {action: keep}",
        )
        .unwrap();
        let msgs: Vec<String> = compile_all(&cfgs, "r")
            .unwrap_err()
            .iter()
            .map(|p| p.to_string())
            .collect();
        assert_eq!(msgs.len(), 5, "{msgs:#?}");
        assert!(
            msgs[0].starts_with("r::0::regex: invalid regular expression \"(\""),
            "{}",
            msgs[0]
        );
        assert_eq!(
            msgs[1],
            "r::1::modulus: relabel action hashmod requires a modulus greater than 0"
        );
        assert_eq!(
            msgs[2],
            "r::2::target_label: relabel action replace requires target_label"
        );
        assert_eq!(msgs[3], "r::3::action: relabel action labeldrop only takes regex; source_labels, target_label, modulus, separator and replacement must be left unset");
        assert_eq!(
            msgs[4],
            "r::4::source_labels: relabel action keep requires source_labels"
        );
        let bad: Result<Vec<RelabelConfig>, _> =
            profcol_config::yaml::from_str("- {action: explode}");
        assert!(bad.is_err());
    }
}
