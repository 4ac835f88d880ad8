//! The `include` / `exclude` match properties of the `attributes`
//! processor, as the Collector's `filterconfig.MatchProperties` reads them,
//! for profiles: `match_type` (`strict` or `regexp`: an unanchored RE2-style
//! search), `services` (the resource's `service.name`, any item),
//! `resources` and `attributes` (every `{key, value}` must match; without
//! `value` the key must exist; `strict` compares typed values, `regexp`
//! matches the value's text), `libraries` (every `{name, version}` against
//! the instrumentation scope). The span, log and metric properties are
//! refused. `attributes` are the sample's attributes here, the ones the
//! actions edit; the rest are checked once per profile.

use crate::actions::{Attrs, Value};
use profcol_config::{join_path, Problem};
use regex::Regex;
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};

/// One `include` or `exclude` block as written; serialized (from a
/// [`Matcher`]) with the profile properties only.
#[derive(Serialize, Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct MatchConfig {
    #[serde(default)]
    match_type: String,
    #[serde(default, skip_serializing)]
    regexp: Option<RegexpOptions>,
    #[serde(default)]
    services: Vec<String>,
    #[serde(default)]
    resources: Vec<AttributeConfig>,
    #[serde(default)]
    attributes: Vec<AttributeConfig>,
    #[serde(default)]
    libraries: Vec<LibraryConfig>,
    // Properties of other signals: refused by name.
    #[serde(default, skip_serializing)]
    span_names: Option<IgnoredAny>,
    #[serde(default, skip_serializing)]
    span_kinds: Option<IgnoredAny>,
    #[serde(default, skip_serializing)]
    log_bodies: Option<IgnoredAny>,
    #[serde(default, skip_serializing)]
    log_severity_texts: Option<IgnoredAny>,
    #[serde(default, skip_serializing)]
    log_severity_number: Option<IgnoredAny>,
    #[serde(default, skip_serializing)]
    metric_names: Option<IgnoredAny>,
}

/// `regexp`'s cache options: accepted, no effect (matches are not cached),
/// so not kept and not printed.
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
struct RegexpOptions {
    #[serde(default)]
    #[allow(dead_code)]
    cacheenabled: bool,
    #[serde(default)]
    #[allow(dead_code)]
    cachemaxnumentries: i64,
}

#[derive(Serialize, Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct AttributeConfig {
    key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    value: Option<Value>,
}

#[derive(Serialize, Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct LibraryConfig {
    name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    version: Option<String>,
}

#[derive(Debug, Clone)]
enum Text {
    Exact(String),
    Search(Regex),
}

impl Text {
    /// As written: the string, or the pattern's source text.
    fn as_written(&self) -> String {
        match self {
            Text::Exact(x) => x.clone(),
            Text::Search(re) => re.as_str().to_string(),
        }
    }

    fn matches(&self, s: &str) -> bool {
        match self {
            Text::Exact(x) => x == s,
            Text::Search(re) => re.is_match(s),
        }
    }
}

#[derive(Debug, Clone)]
enum Want {
    Exists,
    Equal(Value),
    Text(Regex),
}

/// Compiled patterns compare by their source text.
impl PartialEq for Text {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Text::Exact(a), Text::Exact(b)) => a == b,
            (Text::Search(a), Text::Search(b)) => a.as_str() == b.as_str(),
            _ => false,
        }
    }
}

/// Compiled patterns compare by their source text.
impl PartialEq for Want {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Want::Exists, Want::Exists) => true,
            (Want::Equal(a), Want::Equal(b)) => a == b,
            (Want::Text(a), Want::Text(b)) => a.as_str() == b.as_str(),
            _ => false,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
struct AttrMatch {
    key: String,
    want: Want,
}

/// A compiled `include` or `exclude` block.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Matcher {
    /// `match_type: regexp` (else `strict`).
    regexp: bool,
    services: Vec<Text>,
    resources: Vec<AttrMatch>,
    attributes: Vec<AttrMatch>,
    libraries: Vec<(Text, Option<Text>)>,
}

impl MatchConfig {
    pub(crate) fn compile(&self, path: &str) -> Result<Matcher, Vec<Problem>> {
        let mut problems = Vec::new();
        for (key, set, signal) in [
            ("span_names", self.span_names.is_some(), "spans"),
            ("span_kinds", self.span_kinds.is_some(), "spans"),
            ("log_bodies", self.log_bodies.is_some(), "logs"),
            (
                "log_severity_texts",
                self.log_severity_texts.is_some(),
                "logs",
            ),
            (
                "log_severity_number",
                self.log_severity_number.is_some(),
                "logs",
            ),
            ("metric_names", self.metric_names.is_some(), "metrics"),
        ] {
            if set {
                problems.push(Problem::new(
                    join_path(path, key),
                    format!("matches {signal}, not profiles; for profiles use services, resources, attributes or libraries"),
                ));
            }
        }
        let regexp = match self.match_type.as_str() {
            "strict" => false,
            "regexp" => true,
            "" => {
                problems.push(Problem::new(
                    join_path(path, "match_type"),
                    "is required: strict or regexp",
                ));
                return Err(problems);
            }
            other => {
                problems.push(Problem::new(
                    join_path(path, "match_type"),
                    format!("{other:?} is not a match type: strict or regexp"),
                ));
                return Err(problems);
            }
        };
        if self.regexp.is_some() && !regexp {
            problems.push(Problem::new(
                join_path(path, "regexp"),
                "applies to match_type regexp only",
            ));
        }
        let text = |at: String, s: &str, problems: &mut Vec<Problem>| -> Option<Text> {
            if !regexp {
                return Some(Text::Exact(s.to_string()));
            }
            match Regex::new(s) {
                Ok(re) => Some(Text::Search(re)),
                Err(e) => {
                    problems.push(Problem::new(
                        at,
                        format!(
                            "{s:?} is not a valid regular expression: {}",
                            crate::regex_error::describe(&e)
                        ),
                    ));
                    None
                }
            }
        };
        let services = self
            .services
            .iter()
            .enumerate()
            .filter_map(|(i, s)| {
                text(
                    join_path(&join_path(path, "services"), &i.to_string()),
                    s,
                    &mut problems,
                )
            })
            .collect();
        let attr_list = |key: &str, list: &[AttributeConfig], problems: &mut Vec<Problem>| {
            let mut out = Vec::new();
            for (i, a) in list.iter().enumerate() {
                let at = join_path(&join_path(path, key), &i.to_string());
                if a.key.is_empty() {
                    problems.push(Problem::new(join_path(&at, "key"), "must not be empty"));
                    continue;
                }
                let want = match &a.value {
                    None => Want::Exists,
                    Some(v) if regexp => match v {
                        Value::Str(s) => match text(join_path(&at, "value"), s, problems) {
                            Some(Text::Search(re)) => Want::Text(re),
                            _ => continue,
                        },
                        _ => {
                            problems.push(Problem::new(
                                join_path(&at, "value"),
                                "match_type regexp needs a string pattern here",
                            ));
                            continue;
                        }
                    },
                    Some(v) => Want::Equal(v.clone()),
                };
                out.push(AttrMatch {
                    key: a.key.clone(),
                    want,
                });
            }
            out
        };
        let resources = attr_list("resources", &self.resources, &mut problems);
        let attributes = attr_list("attributes", &self.attributes, &mut problems);
        let mut libraries = Vec::new();
        for (i, l) in self.libraries.iter().enumerate() {
            let at = join_path(&join_path(path, "libraries"), &i.to_string());
            let name = text(join_path(&at, "name"), &l.name, &mut problems);
            let version = match &l.version {
                Some(v) => text(join_path(&at, "version"), v, &mut problems).map(Some),
                None => Some(None),
            };
            if let (Some(n), Some(v)) = (name, version) {
                libraries.push((n, v));
            }
        }
        if problems.is_empty() {
            Ok(Matcher {
                regexp,
                services,
                resources,
                attributes,
                libraries,
            })
        } else {
            Err(problems)
        }
    }
}

impl Matcher {
    /// The block as a user writes it; it compiles back to an equal matcher.
    pub(crate) fn to_config(&self) -> MatchConfig {
        let attrs = |list: &[AttrMatch]| {
            list.iter()
                .map(|m| AttributeConfig {
                    key: m.key.clone(),
                    value: match &m.want {
                        Want::Exists => None,
                        Want::Equal(v) => Some(v.clone()),
                        Want::Text(re) => Some(Value::Str(re.as_str().to_string())),
                    },
                })
                .collect()
        };
        MatchConfig {
            match_type: if self.regexp { "regexp" } else { "strict" }.to_string(),
            services: self.services.iter().map(Text::as_written).collect(),
            resources: attrs(&self.resources),
            attributes: attrs(&self.attributes),
            libraries: self
                .libraries
                .iter()
                .map(|(name, version)| LibraryConfig {
                    name: name.as_written(),
                    version: version.as_ref().map(Text::as_written),
                })
                .collect(),
            ..MatchConfig::default()
        }
    }
}

impl Serialize for Matcher {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_config().serialize(s)
    }
}

/// Attribute text as the Collector matches it with `regexp`; arrays, maps
/// and bytes never match.
fn match_text(v: &Value) -> Option<String> {
    match v {
        Value::Other(_) => None,
        v => Some(v.as_string()),
    }
}

fn attrs_match(list: &[AttrMatch], attrs: &Attrs) -> bool {
    if list.is_empty() {
        return true;
    }
    list.iter().all(|m| match attrs.get(&m.key) {
        None => false,
        Some(v) => match &m.want {
            Want::Exists => true,
            Want::Equal(want) => want == v,
            Want::Text(re) => match_text(v).is_some_and(|t| re.is_match(&t)),
        },
    })
}

/// What a profile is matched on, besides its samples.
pub(crate) struct ProfileFacts<'a> {
    pub resource: &'a Attrs,
    pub scope_name: &'a str,
    pub scope_version: &'a str,
}

impl Matcher {
    /// Whether the profile-level properties match.
    pub(crate) fn profile_matches(&self, f: &ProfileFacts<'_>) -> bool {
        let service = match f.resource.get(profcol_pdata::otlp::SERVICE_NAME_ATTRIBUTE) {
            Some(v) => v.as_string(),
            None => String::new(),
        };
        (self.services.is_empty() || self.services.iter().any(|s| s.matches(&service)))
            && self.libraries.iter().all(|(name, version)| {
                name.matches(f.scope_name)
                    && version.as_ref().is_none_or(|v| v.matches(f.scope_version))
            })
            && attrs_match(&self.resources, f.resource)
    }

    /// Whether a sample's attributes match.
    pub(crate) fn sample_matches(&self, attrs: &Attrs) -> bool {
        attrs_match(&self.attributes, attrs)
    }

    pub(crate) fn looks_at_samples(&self) -> bool {
        !self.attributes.is_empty()
    }
}

/// `include` and `exclude` together: which samples the actions apply to.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Selector {
    pub include: Option<Matcher>,
    pub exclude: Option<Matcher>,
}

/// The selector's verdict on one profile.
pub(crate) enum ProfileVerdict {
    /// No sample of the profile is edited.
    SkipAll,
    /// Every sample is edited.
    All,
    /// Decided per sample: (include matched the profile, exclude matched
    /// the profile).
    PerSample { include: bool, exclude: bool },
}

impl Selector {
    pub(crate) fn profile(&self, f: &ProfileFacts<'_>) -> ProfileVerdict {
        let include = self.include.as_ref().map(|m| m.profile_matches(f));
        let exclude = self.exclude.as_ref().map(|m| m.profile_matches(f));
        if include == Some(false) {
            return ProfileVerdict::SkipAll;
        }
        let inc_samples = self.include.as_ref().is_some_and(Matcher::looks_at_samples);
        let exc_samples = self.exclude.as_ref().is_some_and(Matcher::looks_at_samples);
        if exclude == Some(true) && !exc_samples {
            return ProfileVerdict::SkipAll;
        }
        if !inc_samples && (exclude != Some(true)) {
            return ProfileVerdict::All;
        }
        ProfileVerdict::PerSample {
            include: include.unwrap_or(true),
            exclude: exclude.unwrap_or(false),
        }
    }

    /// For [`ProfileVerdict::PerSample`]: whether this sample is edited.
    pub(crate) fn sample(&self, include: bool, exclude: bool, attrs: &Attrs) -> bool {
        let included = include
            && self
                .include
                .as_ref()
                .is_none_or(|m| m.sample_matches(attrs));
        let excluded = exclude
            && self
                .exclude
                .as_ref()
                .is_some_and(|m| m.sample_matches(attrs));
        included && !excluded
    }
}
