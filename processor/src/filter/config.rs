//! The `filter` processor's config, the Collector's keys for profiles:
//!
//! - `error_mode`: `propagate` (default: a condition that fails to evaluate
//!   refuses the batch), `ignore` (the condition counts as false, logged)
//!   or `silent` (false, not logged);
//! - `profiles.resource` / `profiles.profile`: conditions written for the
//!   resource / profile context (the Collector marks these deprecated in
//!   favour of `profile_conditions`, and still reads them);
//! - `profile_conditions`: a list of conditions whose paths name their
//!   context (`resource.…`, `instrumentation_scope.…`, `profile.…`), or a
//!   list of `{context, conditions, error_mode}` groups — one style or the
//!   other, as in the Collector; not together with `profiles`.
//!
//! The keys of other signals (`traces`, `metrics`, `logs`, `spans`,
//! `trace_conditions`, `metric_conditions`, `log_conditions`) are refused:
//! a profcol pipeline carries profiles only.
//!
//! Parsed groups serialize ([`Shown`]) in the group style,
//! `profile_conditions: [{context, conditions, error_mode}]`, which parses
//! back to the same groups whichever style was written.

use crate::filter::ottl::{parse_condition, Context, Expr};
use profcol_config::{decode_only, join_path, Problem};
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
struct FilterConfig {
    #[serde(default)]
    error_mode: Option<String>,
    #[serde(default)]
    profiles: Option<ProfileFilters>,
    #[serde(default)]
    profile_conditions: Option<Vec<ConditionItem>>,
    #[serde(default)]
    traces: Option<IgnoredAny>,
    #[serde(default)]
    metrics: Option<IgnoredAny>,
    #[serde(default)]
    logs: Option<IgnoredAny>,
    #[serde(default)]
    spans: Option<IgnoredAny>,
    #[serde(default)]
    trace_conditions: Option<IgnoredAny>,
    #[serde(default)]
    metric_conditions: Option<IgnoredAny>,
    #[serde(default)]
    log_conditions: Option<IgnoredAny>,
}

/// One item of `profile_conditions`: a plain condition, or a
/// `{context, conditions}` group (decoded on its own, with its index).
#[derive(Deserialize, Debug)]
#[serde(untagged)]
enum ConditionItem {
    Text(String),
    Group(profcol_config::Body),
}

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
struct ProfileFilters {
    #[serde(default)]
    resource: Vec<String>,
    #[serde(default)]
    profile: Vec<String>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
struct ContextConditions {
    #[serde(default)]
    context: String,
    #[serde(default)]
    conditions: Vec<String>,
    #[serde(default)]
    error_mode: Option<String>,
}

/// What a condition that fails to evaluate does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ErrorMode {
    #[default]
    Propagate,
    Ignore,
    Silent,
}

/// One parsed condition.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    /// As written, for logs and errors.
    pub text: String,
    pub expr: Expr,
}

impl ErrorMode {
    fn name(self) -> &'static str {
        match self {
            ErrorMode::Propagate => "propagate",
            ErrorMode::Ignore => "ignore",
            ErrorMode::Silent => "silent",
        }
    }
}

/// Conditions that share an error mode and a context.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    /// The context the conditions were written for.
    pub context: Context,
    pub error_mode: ErrorMode,
    pub conditions: Vec<Condition>,
}

fn error_mode(v: &Option<String>, path: &str, problems: &mut Vec<Problem>) -> Option<ErrorMode> {
    match v.as_deref() {
        None => None,
        Some("propagate") => Some(ErrorMode::Propagate),
        Some("ignore") => Some(ErrorMode::Ignore),
        Some("silent") => Some(ErrorMode::Silent),
        Some(other) => {
            problems.push(Problem::new(
                path,
                format!("{other:?} is not an error mode: propagate, ignore or silent"),
            ));
            None
        }
    }
}

fn conditions(
    list: &[String],
    ctx: Context,
    path: &str,
    problems: &mut Vec<Problem>,
) -> Vec<Condition> {
    let mut out = Vec::with_capacity(list.len());
    for (i, text) in list.iter().enumerate() {
        match parse_condition(text, ctx) {
            Ok(expr) => out.push(Condition {
                text: text.clone(),
                expr,
            }),
            Err(e) => problems.push(Problem::new(
                join_path(path, &i.to_string()),
                format!("{e} in `{text}`"),
            )),
        }
    }
    out
}

/// Decodes and checks a `filter` body found at `path`: the condition
/// groups, in order.
pub(crate) fn parse(body: &profcol_config::Body, path: &str) -> Result<Vec<Group>, Vec<Problem>> {
    let cfg: FilterConfig = decode_only(body, path).map_err(|p| vec![p])?;
    let mut problems = Vec::new();
    for (key, set, signal) in [
        ("traces", cfg.traces.is_some(), "traces"),
        ("spans", cfg.spans.is_some(), "traces"),
        ("trace_conditions", cfg.trace_conditions.is_some(), "traces"),
        ("metrics", cfg.metrics.is_some(), "metrics"),
        (
            "metric_conditions",
            cfg.metric_conditions.is_some(),
            "metrics",
        ),
        ("logs", cfg.logs.is_some(), "logs"),
        ("log_conditions", cfg.log_conditions.is_some(), "logs"),
    ] {
        if set {
            problems.push(Problem::new(
                join_path(path, key),
                format!("filters {signal}; profcol's pipelines carry profiles only (use profiles or profile_conditions)"),
            ));
        }
    }
    let mode = error_mode(
        &cfg.error_mode,
        &join_path(path, "error_mode"),
        &mut problems,
    )
    .unwrap_or_default();
    let mut groups = Vec::new();
    if let Some(p) = &cfg.profiles {
        let at = join_path(path, "profiles");
        if cfg.profile_conditions.is_some() {
            problems.push(Problem::new(
                join_path(path, "profile_conditions"),
                "cannot be used together with profiles.resource and profiles.profile; use one or the other",
            ));
        }
        for (key, list, ctx) in [
            ("resource", &p.resource, Context::Resource),
            ("profile", &p.profile, Context::Profile),
        ] {
            let cs = conditions(list, ctx, &join_path(&at, key), &mut problems);
            if !cs.is_empty() {
                groups.push(Group {
                    context: ctx,
                    error_mode: mode,
                    conditions: cs,
                });
            }
        }
    }
    if let Some(list) = &cfg.profile_conditions {
        let at = join_path(path, "profile_conditions");
        let strings = list
            .iter()
            .filter(|v| matches!(v, ConditionItem::Text(_)))
            .count();
        if strings > 0 && strings < list.len() {
            problems.push(Problem::new(
                &at,
                "mixes plain conditions and {context, conditions} groups; use one style",
            ));
        } else if strings > 0 {
            let texts: Vec<String> = list
                .iter()
                .filter_map(|v| match v {
                    ConditionItem::Text(t) => Some(t.clone()),
                    ConditionItem::Group(_) => None,
                })
                .collect();
            let cs = conditions(&texts, Context::Inferred, &at, &mut problems);
            groups.push(Group {
                context: Context::Inferred,
                error_mode: mode,
                conditions: cs,
            });
        } else {
            for (i, v) in list.iter().enumerate() {
                let gat = join_path(&at, &i.to_string());
                let ConditionItem::Group(v) = v else {
                    continue;
                };
                let g: ContextConditions = match decode_only(v, &gat) {
                    Ok(g) => g,
                    Err(p) => {
                        problems.push(p);
                        continue;
                    }
                };
                let ctx = match g.context.to_ascii_lowercase().as_str() {
                    "" => Context::Inferred,
                    "resource" => Context::Resource,
                    "scope" | "instrumentation_scope" => Context::Scope,
                    "profile" => Context::Profile,
                    other => {
                        problems.push(Problem::new(
                            join_path(&gat, "context"),
                            format!("{other:?} is not a context of profiles: resource, scope or profile"),
                        ));
                        continue;
                    }
                };
                let gmode =
                    error_mode(&g.error_mode, &join_path(&gat, "error_mode"), &mut problems)
                        .unwrap_or(mode);
                let cs = conditions(
                    &g.conditions,
                    ctx,
                    &join_path(&gat, "conditions"),
                    &mut problems,
                );
                groups.push(Group {
                    context: ctx,
                    error_mode: gmode,
                    conditions: cs,
                });
            }
        }
    }
    if problems.is_empty() {
        Ok(groups)
    } else {
        Err(problems)
    }
}

/// The parsed groups as a `filter` block: `error_mode` is the groups'
/// common mode (`propagate` when they differ or there are none), and a
/// group names its own only when it differs.
pub(crate) struct Shown<'a>(pub &'a [Group]);

impl Serialize for Shown<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Block<'a> {
            error_mode: &'static str,
            profile_conditions: Vec<GroupShown<'a>>,
        }
        #[derive(Serialize)]
        struct GroupShown<'a> {
            #[serde(skip_serializing_if = "Option::is_none")]
            context: Option<&'static str>,
            conditions: Vec<&'a str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            error_mode: Option<&'static str>,
        }
        let common = match self.0.split_first() {
            Some((first, rest)) if rest.iter().all(|g| g.error_mode == first.error_mode) => {
                first.error_mode
            }
            _ => ErrorMode::Propagate,
        };
        Block {
            error_mode: common.name(),
            profile_conditions: self
                .0
                .iter()
                .map(|g| GroupShown {
                    context: match g.context {
                        Context::Resource => Some("resource"),
                        Context::Scope => Some("scope"),
                        Context::Profile => Some("profile"),
                        Context::Inferred => None,
                    },
                    conditions: g.conditions.iter().map(|c| c.text.as_str()).collect(),
                    error_mode: (g.error_mode != common).then(|| g.error_mode.name()),
                })
                .collect(),
        }
        .serialize(s)
    }
}
