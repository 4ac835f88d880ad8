//! Which paths the subset reads, and in which context. A condition is
//! written for one context (`resource`, `instrumentation_scope` / `scope`,
//! or `profile`): in an explicit context a path may leave out the context
//! name (`attributes["k"]` in `profiles.resource` is the resource's); in
//! `profile_conditions` without a `context`, every path starts with its
//! context's name, as the Collector requires there. A context sees its own
//! fields and those of the contexts above it, never below.

use crate::filter::ottl::ParseError;

/// The context a list of conditions is written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    Resource,
    Scope,
    Profile,
    /// No context given: each path names its own.
    Inferred,
}

/// An index into a map (`["k"]`) or an array (`[0]`).
#[derive(Debug, Clone, PartialEq)]
pub enum Key {
    Str(String),
    Int(i64),
}

/// A value type's part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Type,
    Unit,
}

/// A field the subset reads.
#[derive(Debug, Clone, PartialEq)]
pub enum Field {
    ResourceAttr(Vec<Key>),
    ResourceDroppedAttributesCount,
    ScopeName,
    ScopeVersion,
    ScopeAttr(Vec<Key>),
    ScopeDroppedAttributesCount,
    ProfileAttr(Vec<Key>),
    SampleType(Part),
    PeriodType(Part),
    Period,
    TimeUnixNano,
    DurationUnixNano,
    OriginalPayloadFormat,
    ProfileDroppedAttributesCount,
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Level {
    Resource,
    Scope,
    Profile,
}

const PROFILE_FIELDS: &str = "sample_type.type, sample_type.unit, period_type.type, period_type.unit, period, time_unix_nano, duration_unix_nano, attributes[\"…\"], original_payload_format, dropped_attributes_count";

/// Profile paths of the Collector that the subset does not read.
const NOT_IN_SUBSET: [&str; 12] = [
    "sample",
    "location_indices",
    "time",
    "duration",
    "comment_string_indices",
    "default_sample_type_string_index",
    "profile_id",
    "attribute_indices",
    "original_payload",
    "cache",
    "sample_type",
    "period_type",
];

/// Resolves a path (`names` with their offsets, then `keys`) written in
/// `ctx`.
pub(crate) fn resolve(
    src: &str,
    names: &[(String, usize)],
    keys: Vec<Key>,
    ctx: Context,
) -> Result<Field, ParseError> {
    let Some((first, at)) = names.first() else {
        return Err(ParseError::new(src, 0, "empty path"));
    };
    let at = *at;
    let full: String = names
        .iter()
        .map(|(n, _)| n.as_str())
        .collect::<Vec<_>>()
        .join(".");
    let named = match first.as_str() {
        "resource" => Some(Level::Resource),
        "instrumentation_scope" | "scope" => Some(Level::Scope),
        "profile" => Some(Level::Profile),
        _ => None,
    };
    let (level, rest) = match (named, ctx) {
        (Some(l), _) => (l, &names[1..]),
        (None, Context::Resource) => (Level::Resource, names),
        (None, Context::Scope) => (Level::Scope, names),
        (None, Context::Profile) => (Level::Profile, names),
        (None, Context::Inferred) => {
            return Err(ParseError::new(
                src,
                at,
                format!("path `{full}` must start with its context: resource, instrumentation_scope or profile (or give the condition list a context)"),
            ))
        }
    };
    let allowed = match ctx {
        Context::Resource => Level::Resource,
        Context::Scope => Level::Scope,
        Context::Profile | Context::Inferred => Level::Profile,
    };
    if level > allowed {
        return Err(ParseError::new(
            src,
            at,
            format!(
                "path `{full}` is below this condition's context; write it in the profile context"
            ),
        ));
    }
    let rest: Vec<&str> = rest.iter().map(|(n, _)| n.as_str()).collect();
    let no_keys = |f: Field| -> Result<Field, ParseError> {
        if keys.is_empty() {
            Ok(f)
        } else {
            Err(ParseError::new(
                src,
                at,
                format!("path `{full}` cannot be indexed"),
            ))
        }
    };
    let attrs = |keys: Vec<Key>, make: fn(Vec<Key>) -> Field| -> Result<Field, ParseError> {
        if keys.is_empty() {
            Err(ParseError::new(
                src,
                at,
                format!("`{full}` is a whole map, which the subset does not compare; index it: {full}[\"key\"]"),
            ))
        } else {
            Ok(make(keys))
        }
    };
    match (level, rest.as_slice()) {
        (Level::Resource, ["attributes"]) => attrs(keys, Field::ResourceAttr),
        (Level::Resource, ["dropped_attributes_count"]) => {
            no_keys(Field::ResourceDroppedAttributesCount)
        }
        (Level::Scope, ["name"]) => no_keys(Field::ScopeName),
        (Level::Scope, ["version"]) => no_keys(Field::ScopeVersion),
        (Level::Scope, ["attributes"]) => attrs(keys, Field::ScopeAttr),
        (Level::Scope, ["dropped_attributes_count"]) => no_keys(Field::ScopeDroppedAttributesCount),
        (Level::Profile, ["sample_type", "type"]) => no_keys(Field::SampleType(Part::Type)),
        (Level::Profile, ["sample_type", "unit"]) => no_keys(Field::SampleType(Part::Unit)),
        (Level::Profile, ["period_type", "type"]) => no_keys(Field::PeriodType(Part::Type)),
        (Level::Profile, ["period_type", "unit"]) => no_keys(Field::PeriodType(Part::Unit)),
        (Level::Profile, ["period"]) => no_keys(Field::Period),
        (Level::Profile, ["time_unix_nano"]) => no_keys(Field::TimeUnixNano),
        (Level::Profile, ["duration_unix_nano"]) => no_keys(Field::DurationUnixNano),
        (Level::Profile, ["attributes"]) => attrs(keys, Field::ProfileAttr),
        (Level::Profile, ["original_payload_format"]) => no_keys(Field::OriginalPayloadFormat),
        (Level::Profile, ["dropped_attributes_count"]) => {
            no_keys(Field::ProfileDroppedAttributesCount)
        }
        (Level::Profile, [name, more @ ..])
            if NOT_IN_SUBSET.contains(name)
                && (more.is_empty() || !matches!(*name, "sample_type" | "period_type")) =>
        {
            Err(ParseError::new(
            src,
            at,
            format!("path `{full}` is not in profcol's OTTL subset; profile paths: {PROFILE_FIELDS}"),
            ))
        }
        (Level::Profile, _) => Err(ParseError::new(
            src,
            at,
            format!("unknown path `{full}`; profile paths: {PROFILE_FIELDS}"),
        )),
        (Level::Scope, _) => Err(ParseError::new(
            src,
            at,
            format!("unknown path `{full}`; scope paths: name, version, attributes[\"…\"], dropped_attributes_count"),
        )),
        (Level::Resource, _) => Err(ParseError::new(
            src,
            at,
            format!("unknown path `{full}`; resource paths: attributes[\"…\"], dropped_attributes_count"),
        )),
    }
}
