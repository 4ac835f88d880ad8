use super::*;
use crate::actions::{Attr, Attrs, Value};

/// A profile with fixed fields.
struct Fake {
    resource: Attrs,
    samples: Vec<Attrs>,
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

impl Subject for Fake {
    fn resource_attr(&self, key: &str) -> Option<Value> {
        self.resource.get(key).cloned()
    }
    fn scope_name(&self) -> &str {
        "profcol"
    }
    fn scope_version(&self) -> &str {
        "1.2.3"
    }
    fn scope_attr(&self, _: &str) -> Option<Value> {
        None
    }
    fn profile_attr(&self, key: &str) -> Option<Value> {
        (key == "pprof.profile.doc_url").then(|| Value::Str("https://doc".into()))
    }
    fn sample_type(&self) -> (&str, &str) {
        ("alloc_space", "bytes")
    }
    fn period_type(&self) -> Option<(&str, &str)> {
        None
    }
    fn period(&self) -> i64 {
        524288
    }
    fn time_unix_nano(&self) -> i64 {
        1_000
    }
    fn duration_unix_nano(&self) -> i64 {
        10
    }
    fn original_payload_format(&self) -> &str {
        ""
    }
    fn dropped_attributes_count(&self, _: u8) -> i64 {
        0
    }
    fn any_sample(&self, f: &mut dyn FnMut(&Attrs) -> bool) -> bool {
        self.samples.iter().any(f)
    }
}

fn fake() -> Fake {
    Fake {
        resource: attrs(&[
            ("service.name", Value::Str("api".into())),
            ("replicas", Value::Int(3)),
            ("ratio", Value::Double(0.5)),
            ("canary", Value::Bool(true)),
            (
                "tags",
                profcol_config::yaml::from_str::<Value>("[a, b]").unwrap(),
            ),
        ]),
        samples: vec![
            attrs(&[("handler", Value::Str("/api".into()))]),
            attrs(&[("bytes", Value::Int(512))]),
        ],
    }
}

fn holds(src: &str, ctx: Context) -> bool {
    let e = parse_condition(src, ctx).unwrap_or_else(|e| panic!("{src}: {e}"));
    eval(&e, &fake()).unwrap_or_else(|e| panic!("{src}: {e}"))
}

#[test]
fn valid_conditions_evaluate_as_ottl_does() {
    let p = Context::Profile;
    for (src, want) in [
        (r#"resource.attributes["service.name"] == "api""#, true),
        (r#"resource.attributes["service.name"] != "api""#, false),
        (r#"resource.attributes["missing"] == nil"#, true),
        (r#"resource.attributes["missing"] != nil"#, false),
        (r#"resource.attributes["missing"] == """#, false),
        (r#"resource.attributes["replicas"] == 3"#, true),
        (r#"resource.attributes["replicas"] == 3.0"#, true),
        (
            r#"resource.attributes["replicas"] > 2 and resource.attributes["replicas"] <= 3"#,
            true,
        ),
        (r#"resource.attributes["replicas"] == "3""#, false),
        (r#"resource.attributes["ratio"] < 1"#, true),
        (r#"resource.attributes["canary"] == true"#, true),
        (r#"resource.attributes["canary"] > false"#, false),
        (r#"resource.attributes["tags"][1] == "b""#, true),
        (r#"resource.attributes["tags"][7] == nil"#, true),
        (r#"sample_type.type == "alloc_space""#, true),
        (r#"profile.sample_type.unit == "bytes""#, true),
        (r#"IsMatch(sample_type.type, "^(alloc|inuse)_")"#, true),
        (r#"IsMatch(resource.attributes["replicas"], "^3$")"#, true),
        (r#"IsMatch(resource.attributes["missing"], ".*")"#, false),
        (r#"not IsMatch(sample_type.type, "^inuse_")"#, true),
        (r#"period_type.type == """#, true),
        (
            r#"period == 524288 and time_unix_nano == 1000 and duration_unix_nano == 10"#,
            true,
        ),
        (
            r#"attributes["pprof.profile.doc_url"] == "https://doc""#,
            true,
        ),
        (
            r#"instrumentation_scope.name == "profcol" and scope.version == "1.2.3""#,
            true,
        ),
        (r#"false or (true and not false)"#, true),
        (r#"not true or false"#, false),
        (r#"true or false and false"#, true),
        (r#"(true or false) and false"#, false),
        (r#"HasAttrOnSample("handler", "/api")"#, true),
        (r#"HasAttrOnSample("bytes", "512")"#, true),
        (r#"HasAttrOnSample("handler", "/x")"#, false),
        (
            r#"HasAttrKeyOnSample("bytes") and not HasAttrKeyOnSample("span_id")"#,
            true,
        ),
        (r#""a" < "b""#, true),
        (r#"nil == nil"#, true),
        (r#"nil < 1"#, false),
    ] {
        assert_eq!(holds(src, p), want, "{src}");
    }
    // Context names may be left out in an explicit context.
    assert!(holds(
        r#"attributes["service.name"] == "api""#,
        Context::Resource
    ));
    assert!(holds(r#"name == "profcol""#, Context::Scope));
}

#[test]
fn errors_name_the_column() {
    for (src, ctx, col, msg) in [
        (
            r#"sample_type.typ == "x""#,
            Context::Profile,
            1,
            "unknown path `sample_type.typ`",
        ),
        (
            r#"profile.sample == nil"#,
            Context::Inferred,
            1,
            "not in profcol's OTTL subset",
        ),
        (
            r#"resource.attributes["a"] == 1 and attributes["b"] == 2"#,
            Context::Inferred,
            35,
            "must start with its context",
        ),
        (
            r#"sample_type.type == "x""#,
            Context::Resource,
            1,
            "unknown path",
        ),
        (
            r#"profile.period == 1"#,
            Context::Resource,
            1,
            "below this condition's context",
        ),
        (
            r#"resource.attributes == nil"#,
            Context::Profile,
            1,
            "whole map",
        ),
        (
            r#"Concat(["a"], "") == "a""#,
            Context::Profile,
            1,
            "unknown function `Concat`",
        ),
        (
            r#"set(attributes["a"], 1)"#,
            Context::Profile,
            1,
            "is an editor",
        ),
        (
            r#"IsMatch(sample_type.type, "(")"#,
            Context::Profile,
            27,
            "invalid regular expression",
        ),
        (
            r#"IsMatch(sample_type.type, period)"#,
            Context::Profile,
            27,
            "must be a string literal",
        ),
        (
            r#"IsMatch(sample_type.type)"#,
            Context::Profile,
            1,
            "takes 2 arguments, got 1",
        ),
        (
            r#"sample_type.type == "x" and"#,
            Context::Profile,
            28,
            "expected a value",
        ),
        (
            r#"(sample_type.type == "x""#,
            Context::Profile,
            25,
            "expected `)`",
        ),
        (
            r#"sample_type.type"#,
            Context::Profile,
            1,
            "a value alone is not a condition",
        ),
        (
            r#"sample_type.type == "x" "y""#,
            Context::Profile,
            25,
            "expected `and`, `or` or the end",
        ),
        (
            r#"period == METRIC_DATA_TYPE_SUM"#,
            Context::Profile,
            11,
            "no enums",
        ),
        (r#""#, Context::Profile, 1, "empty condition"),
        (
            r#"period == 1 andd true"#,
            Context::Profile,
            13,
            "expected `and`",
        ),
        (
            r#"résumé == 1"#,
            Context::Profile,
            2,
            "unexpected character",
        ),
    ] {
        let e = parse_condition(src, ctx).unwrap_err();
        assert_eq!(e.column, col, "{src}: {e}");
        assert!(e.message.contains(msg), "{src}: {e}");
    }
}

#[test]
fn is_match_on_a_list_is_an_evaluation_error() {
    let e = parse_condition(
        r#"IsMatch(resource.attributes["tags"], "a")"#,
        Context::Profile,
    )
    .unwrap();
    let err = eval(&e, &fake()).unwrap_err();
    assert!(err.0.contains("found a Slice"), "{err}");
}

/// Arbitrary text never panics the parser, and whatever parses evaluates.
#[test]
fn the_parser_takes_any_text() {
    let pieces = [
        "resource.attributes[\"a\"]",
        "==",
        "!=",
        "<",
        "(",
        ")",
        "and",
        "or",
        "not",
        "\"x\"",
        "1",
        "-2.5",
        "nil",
        "true",
        "IsMatch(",
        ",",
        "[",
        "]",
        ".",
        "sample_type.type",
        "\\",
        "\"",
        "é",
        "HasAttrOnSample(\"k\", \"v\")",
        "0x",
        "+",
        "=",
    ];
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..20_000 {
        let mut s = String::new();
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let n = (seed % 9) as usize;
        for j in 0..n {
            let k = ((seed >> (j * 5)) as usize) % pieces.len();
            s.push_str(pieces[k]);
            if (seed >> (j + 40)) & 1 == 1 {
                s.push(' ');
            }
        }
        for ctx in [Context::Inferred, Context::Profile, Context::Resource] {
            match parse_condition(&s, ctx) {
                Ok(e) => {
                    let _ = eval(&e, &fake());
                }
                Err(e) => assert!(
                    e.column >= 1 && e.column <= s.chars().count() + 1,
                    "{s}: {e}"
                ),
            }
        }
    }
}
