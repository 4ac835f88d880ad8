//! `profiling_config`: the nine built-in profile types with the seed's
//! enabled/path/delta defaults, `profile.custom` blocks, and their
//! resolution into the list of profile types a target is expanded into.

use profcol_config::{join_path, Problem};
use serde::de::{MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeSet;
use std::fmt;

/// A built-in profile type and its seed defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuiltIn {
    pub name: &'static str,
    pub enabled: bool,
    pub path: &'static str,
    /// The seed's `delta`: whether `seconds` is added to the request.
    pub delta: bool,
    /// For godeltaprof endpoints: the type they report as.
    pub reports_as: Option<&'static str>,
}

const fn b(name: &'static str, enabled: bool, path: &'static str, delta: bool) -> BuiltIn {
    BuiltIn {
        name,
        enabled,
        path,
        delta,
        reports_as: None,
    }
}

const fn godelta(name: &'static str, path: &'static str, reports_as: &'static str) -> BuiltIn {
    BuiltIn {
        name,
        enabled: false,
        path,
        delta: false,
        reports_as: Some(reports_as),
    }
}

/// The built-in types in the seed's order.
pub const BUILT_IN: [BuiltIn; 9] = [
    b("memory", true, "/debug/pprof/allocs", false),
    b("block", true, "/debug/pprof/block", false),
    b("goroutine", true, "/debug/pprof/goroutine", false),
    b("mutex", true, "/debug/pprof/mutex", false),
    b("process_cpu", true, "/debug/pprof/profile", true),
    b("fgprof", false, "/debug/fgprof", true),
    godelta("godeltaprof_memory", "/debug/pprof/delta_heap", "memory"),
    godelta("godeltaprof_mutex", "/debug/pprof/delta_mutex", "mutex"),
    godelta("godeltaprof_block", "/debug/pprof/delta_block", "block"),
];

/// `profile.<builtin> { enabled, path, delta }`; omitted fields keep the
/// type's defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileBlock {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delta: Option<bool>,
}

/// `profile.godeltaprof_* { enabled, path }`: the seed gives these no
/// `delta` argument (the target computes the delta).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GoDeltaProfBlock {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

/// One `profile.custom "NAME" { … }` block.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomBlock {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default)]
    pub delta: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NamedCustomBlock {
    name: String,
    #[serde(default)]
    enabled: Option<bool>,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    delta: bool,
}

/// The custom blocks, written either as a map `{NAME: {…}}` (as DESIGN.md
/// maps the seed's labelled blocks) or as a list `[{name: NAME, …}]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CustomBlocks(pub Vec<(String, CustomBlock)>);

impl<'de> Deserialize<'de> for CustomBlocks {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = CustomBlocks;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "a mapping of custom profile types by name, or a list of them with `name`",
                )
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<CustomBlocks, A::Error> {
                let mut out = Vec::new();
                while let Some((name, block)) = map.next_entry::<String, CustomBlock>()? {
                    out.push((name, block));
                }
                Ok(CustomBlocks(out))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<CustomBlocks, A::Error> {
                let mut out = Vec::new();
                while let Some(n) = seq.next_element::<NamedCustomBlock>()? {
                    let block = CustomBlock {
                        enabled: n.enabled,
                        path: n.path,
                        delta: n.delta,
                    };
                    out.push((n.name, block));
                }
                Ok(CustomBlocks(out))
            }
            fn visit_unit<E>(self) -> Result<CustomBlocks, E> {
                Ok(CustomBlocks::default())
            }
        }
        d.deserialize_any(V)
    }
}

impl Serialize for CustomBlocks {
    /// As the map form, in the order given.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(name, block)| (name, block)))
    }
}

/// `profiling_config > profile`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileBlocks {
    #[serde(default)]
    pub memory: ProfileBlock,
    #[serde(default)]
    pub block: ProfileBlock,
    #[serde(default)]
    pub goroutine: ProfileBlock,
    #[serde(default)]
    pub mutex: ProfileBlock,
    #[serde(default)]
    pub process_cpu: ProfileBlock,
    #[serde(default)]
    pub fgprof: ProfileBlock,
    #[serde(default)]
    pub godeltaprof_memory: GoDeltaProfBlock,
    #[serde(default)]
    pub godeltaprof_mutex: GoDeltaProfBlock,
    #[serde(default)]
    pub godeltaprof_block: GoDeltaProfBlock,
    #[serde(default)]
    pub custom: CustomBlocks,
}

/// `profiling_config`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfilingConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_prefix: Option<String>,
    #[serde(default)]
    pub profile: ProfileBlocks,
}

/// A profile type after defaults are applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileType {
    /// The seed's name (`memory`, `godeltaprof_mutex`, or a custom name).
    pub name: String,
    pub enabled: bool,
    pub path: String,
    /// The seed's `delta`: add `seconds` to the request.
    pub delta: bool,
    /// `__name__` on the records (`godeltaprof_*` report as their base type).
    pub reported_name: String,
    /// The endpoint already serves per-interval deltas (godeltaprof).
    pub target_computes_delta: bool,
    pub custom: bool,
}

impl ProfileType {
    /// True when the collector must subtract consecutive scrapes: a
    /// cumulative endpoint scraped instantaneously.
    pub fn needs_delta_computation(&self) -> bool {
        !self.custom
            && !self.delta
            && !self.target_computes_delta
            && profcol_pdata::delta::is_cumulative(&self.name)
    }

    /// True when a record of this type is a per-interval delta, whoever
    /// made it: profcol (cumulative `memory`/`block`/`mutex`), the target
    /// (godeltaprof), or the target asked for a window (`delta: true`, the
    /// `seconds` parameter). Such records carry `__delta__="false"`, the
    /// Pyroscope push label that tells its ingester not to subtract again.
    /// Snapshots (`goroutine`) and custom types scraped without `seconds`
    /// are none of these and carry no `__delta__` label.
    pub fn is_delta_output(&self) -> bool {
        self.delta || self.target_computes_delta || self.needs_delta_computation()
    }
}

impl ProfileBlocks {
    fn builtin_block(&self, name: &str) -> (Option<bool>, Option<&String>, Option<bool>) {
        fn pb(p: &ProfileBlock) -> (Option<bool>, Option<&String>, Option<bool>) {
            (p.enabled, p.path.as_ref(), p.delta)
        }
        fn gd(p: &GoDeltaProfBlock) -> (Option<bool>, Option<&String>, Option<bool>) {
            (p.enabled, p.path.as_ref(), None)
        }
        match name {
            "memory" => pb(&self.memory),
            "block" => pb(&self.block),
            "goroutine" => pb(&self.goroutine),
            "mutex" => pb(&self.mutex),
            "process_cpu" => pb(&self.process_cpu),
            "fgprof" => pb(&self.fgprof),
            "godeltaprof_memory" => gd(&self.godeltaprof_memory),
            "godeltaprof_mutex" => gd(&self.godeltaprof_mutex),
            "godeltaprof_block" => gd(&self.godeltaprof_block),
            _ => (None, None, None),
        }
    }
}

impl ProfilingConfig {
    /// Every built-in and custom type, enabled or not, defaults applied.
    pub fn all(&self) -> Vec<ProfileType> {
        let mut out = Vec::with_capacity(BUILT_IN.len() + self.profile.custom.0.len());
        for bi in BUILT_IN {
            let (enabled, path, delta) = self.profile.builtin_block(bi.name);
            out.push(ProfileType {
                name: bi.name.to_string(),
                enabled: enabled.unwrap_or(bi.enabled),
                path: path.cloned().unwrap_or_else(|| bi.path.to_string()),
                delta: delta.unwrap_or(bi.delta),
                reported_name: bi.reports_as.unwrap_or(bi.name).to_string(),
                target_computes_delta: bi.reports_as.is_some(),
                custom: false,
            });
        }
        for (name, c) in &self.profile.custom.0 {
            out.push(ProfileType {
                name: name.clone(),
                enabled: c.enabled.unwrap_or(false),
                path: c.path.clone().unwrap_or_default(),
                delta: c.delta,
                reported_name: name.clone(),
                target_computes_delta: false,
                custom: true,
            });
        }
        out
    }

    /// The same settings with every default written out, so that two
    /// configs that scrape the same types compare equal however they were
    /// spelled (a block left out, or its defaults written).
    pub fn resolved(&self) -> ProfilingConfig {
        let all = self.all();
        let block = |name: &str| {
            let t = all.iter().find(|t| !t.custom && t.name == name);
            ProfileBlock {
                enabled: t.map(|t| t.enabled),
                path: t.map(|t| t.path.clone()),
                delta: t.map(|t| t.delta),
            }
        };
        let godelta = |name: &str| {
            let b = block(name);
            GoDeltaProfBlock {
                enabled: b.enabled,
                path: b.path,
            }
        };
        let custom = all
            .iter()
            .filter(|t| t.custom)
            .map(|t| {
                let block = CustomBlock {
                    enabled: Some(t.enabled),
                    path: Some(t.path.clone()),
                    delta: t.delta,
                };
                (t.name.clone(), block)
            })
            .collect();
        ProfilingConfig {
            path_prefix: Some(self.path_prefix.clone().unwrap_or_default()),
            profile: ProfileBlocks {
                memory: block("memory"),
                block: block("block"),
                goroutine: block("goroutine"),
                mutex: block("mutex"),
                process_cpu: block("process_cpu"),
                fgprof: block("fgprof"),
                godeltaprof_memory: godelta("godeltaprof_memory"),
                godeltaprof_mutex: godelta("godeltaprof_mutex"),
                godeltaprof_block: godelta("godeltaprof_block"),
                custom: CustomBlocks(custom),
            },
        }
    }

    /// The enabled types, in the seed's order then custom ones.
    pub fn enabled(&self) -> Vec<ProfileType> {
        self.all().into_iter().filter(|p| p.enabled).collect()
    }

    /// Checks paths and custom names; `path` is `…::profiling_config`.
    pub fn check(&self, path: &str, problems: &mut Vec<Problem>) {
        if let Some(prefix) = &self.path_prefix {
            if !prefix.is_empty() && !prefix.starts_with('/') {
                problems.push(Problem::new(
                    join_path(path, "path_prefix"),
                    format!("path_prefix must start with \"/\" (got {prefix:?})"),
                ));
            }
        }
        let profile = join_path(path, "profile");
        for bi in BUILT_IN {
            if let (_, Some(p), _) = self.profile.builtin_block(bi.name) {
                check_path(
                    &join_path(&join_path(&profile, bi.name), "path"),
                    p,
                    problems,
                );
            }
        }
        let custom = join_path(&profile, "custom");
        let mut seen = BTreeSet::new();
        for (name, c) in &self.profile.custom.0 {
            let at = join_path(&custom, name);
            if !valid_name(name) {
                problems.push(Problem::new(
                    at.clone(),
                    format!("custom profile type name {name:?} must match [a-zA-Z_][a-zA-Z0-9_]*"),
                ));
            }
            if BUILT_IN.iter().any(|bi| bi.name == name) {
                problems.push(Problem::new(
                    at.clone(),
                    format!(
                        "custom profile type name {name:?} is the name of a built-in profile type"
                    ),
                ));
            }
            if !seen.insert(name.as_str()) {
                problems.push(Problem::new(
                    at.clone(),
                    format!("duplicate custom profile type name {name:?}: names must be unique"),
                ));
            }
            if c.enabled.is_none() {
                problems.push(Problem::new(
                    join_path(&at, "enabled"),
                    "enabled is required",
                ));
            }
            match &c.path {
                None => problems.push(Problem::new(join_path(&at, "path"), "path is required")),
                Some(p) => check_path(&join_path(&at, "path"), p, problems),
            }
        }
    }
}

fn check_path(at: &str, p: &str, problems: &mut Vec<Problem>) {
    if p.is_empty() {
        problems.push(Problem::new(at, "path must not be empty"));
    } else if !p.starts_with('/') {
        problems.push(Problem::new(
            at,
            format!("path must start with \"/\" (got {p:?})"),
        ));
    }
}

/// Label-name syntax, used for custom type names and target labels.
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(yaml: &str) -> ProfilingConfig {
        profcol_config::yaml::from_str(yaml).unwrap()
    }

    #[test]
    fn builtin_defaults_match_the_seed() {
        let want = [
            ("memory", true, "/debug/pprof/allocs", false, "memory"),
            ("block", true, "/debug/pprof/block", false, "block"),
            (
                "goroutine",
                true,
                "/debug/pprof/goroutine",
                false,
                "goroutine",
            ),
            ("mutex", true, "/debug/pprof/mutex", false, "mutex"),
            (
                "process_cpu",
                true,
                "/debug/pprof/profile",
                true,
                "process_cpu",
            ),
            ("fgprof", false, "/debug/fgprof", true, "fgprof"),
            (
                "godeltaprof_memory",
                false,
                "/debug/pprof/delta_heap",
                false,
                "memory",
            ),
            (
                "godeltaprof_mutex",
                false,
                "/debug/pprof/delta_mutex",
                false,
                "mutex",
            ),
            (
                "godeltaprof_block",
                false,
                "/debug/pprof/delta_block",
                false,
                "block",
            ),
        ];
        let all = cfg("{}").all();
        assert_eq!(all.len(), want.len());
        for (got, (name, enabled, path, delta, reported)) in all.iter().zip(want) {
            assert_eq!(
                (
                    got.name.as_str(),
                    got.enabled,
                    got.path.as_str(),
                    got.delta,
                    got.reported_name.as_str()
                ),
                (name, enabled, path, delta, reported)
            );
        }
    }

    #[test]
    fn blocks_override_only_what_they_set() {
        let c = cfg("profile: {memory: {path: /debug/pprof/heap}, fgprof: {enabled: true}, process_cpu: {delta: false}}");
        let all = c.all();
        let m = &all[0];
        assert!(m.enabled && m.path == "/debug/pprof/heap" && !m.delta);
        let f = all.iter().find(|p| p.name == "fgprof").unwrap();
        assert!(f.enabled && f.delta && f.path == "/debug/fgprof");
        let cpu = all.iter().find(|p| p.name == "process_cpu").unwrap();
        assert!(cpu.enabled && !cpu.delta);
    }

    #[test]
    fn custom_blocks_as_map_or_list() {
        let a = cfg("profile: {custom: {my_type: {enabled: true, path: /debug/custom}}}");
        let b = cfg("profile: {custom: [{name: my_type, enabled: true, path: /debug/custom}]}");
        assert_eq!(a, b);
        let last = a.enabled().pop().unwrap();
        assert_eq!(
            (last.name.as_str(), last.path.as_str(), last.delta),
            ("my_type", "/debug/custom", false)
        );
        assert!(last.custom && !last.is_delta_output());
    }

    #[test]
    fn godeltaprof_blocks_have_no_delta_argument() {
        let e = profcol_config::yaml::from_str::<ProfilingConfig>(
            "profile: {godeltaprof_memory: {delta: true}}",
        )
        .unwrap_err();
        assert!(e.to_string().contains("unknown field `delta`"), "{e}");
    }

    #[test]
    fn which_types_are_per_interval_deltas() {
        let c = cfg("profile: {fgprof: {enabled: true}, godeltaprof_memory: {enabled: true}}");
        let by = |n: &str| c.all().into_iter().find(|p| p.name == n).unwrap();
        for n in ["memory", "block", "mutex"] {
            assert!(by(n).needs_delta_computation(), "{n}");
            assert!(by(n).is_delta_output(), "{n}");
        }
        assert!(!by("goroutine").is_delta_output());
        assert!(!by("goroutine").needs_delta_computation());
        for n in [
            "process_cpu",
            "fgprof",
            "godeltaprof_memory",
            "godeltaprof_mutex",
            "godeltaprof_block",
        ] {
            assert!(
                !by(n).needs_delta_computation() && by(n).is_delta_output(),
                "{n}"
            );
        }
        // With `seconds` the target already returns a delta.
        let c = cfg("profile: {memory: {delta: true}}");
        let m = &c.all()[0];
        assert!(!m.needs_delta_computation() && m.is_delta_output());
        // Custom types: a delta only when scraped with `seconds`.
        let c = cfg("profile: {custom: {a: {enabled: true, path: /a}, b: {enabled: true, path: /b, delta: true}}}");
        let by = |n: &str| c.all().into_iter().find(|p| p.name == n).unwrap();
        assert!(!by("a").is_delta_output() && !by("a").needs_delta_computation());
        assert!(by("b").is_delta_output());
    }

    #[test]
    fn path_and_name_problems() {
        let c = cfg(
            "path_prefix: app\nprofile: {memory: {path: heap}, block: {path: ''}, custom: [{name: memory, enabled: true, path: /x}, {name: a, enabled: true, path: /a}, {name: a, path: /b}, {name: 'b-c', enabled: false}]}",
        );
        let mut problems = Vec::new();
        c.check("pc", &mut problems);
        let got: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
        assert_eq!(
            got,
            [
                "pc::path_prefix: path_prefix must start with \"/\" (got \"app\")",
                "pc::profile::memory::path: path must start with \"/\" (got \"heap\")",
                "pc::profile::block::path: path must not be empty",
                "pc::profile::custom::memory: custom profile type name \"memory\" is the name of a built-in profile type",
                "pc::profile::custom::a: duplicate custom profile type name \"a\": names must be unique",
                "pc::profile::custom::a::enabled: enabled is required",
                "pc::profile::custom::b-c: custom profile type name \"b-c\" must match [a-zA-Z_][a-zA-Z0-9_]*",
                "pc::profile::custom::b-c::path: path is required",
            ]
        );
    }
}
