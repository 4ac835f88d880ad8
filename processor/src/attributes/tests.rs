use super::*;
use crate::testutil::{cpu, payload, record, request, sample_labels, Builder};
use profcol_pdata::delta::DeltaComputer;
use profcol_pdata::{Labels, PprofData, ProfileRecord};
use std::sync::Arc;

fn processor(yaml: &str) -> AttributesProcessor {
    AttributesProcessor::parse(
        &profcol_config::yaml::from_str(yaml).unwrap(),
        "processors::attributes",
    )
    .unwrap()
}

fn problems(yaml: &str) -> Vec<String> {
    AttributesProcessor::parse(
        &profcol_config::yaml::from_str(yaml).unwrap(),
        "processors::attributes/a",
    )
    .unwrap_err()
    .iter()
    .map(|p| p.to_string())
    .collect()
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

const HASH_AND_RENAME: &str = r#"
actions:
  - { key: user, action: hash }
  - { key: route, from_attribute: handler, action: insert }
  - { key: handler, action: delete }
  - { key: region, value: eu, action: upsert }
"#;

#[test]
fn sample_labels_of_pprof_records_are_edited() {
    let p = processor(HASH_AND_RENAME);
    let rec = record(&[("service_name", "api")], &cpu());
    let out = p.apply(ProfileBatch::new(vec![rec])).unwrap();
    let got = sample_labels(&out.records[0]);
    let alice = "2bd806c97f0e00af1a1fc3328fa763a9269723c8db8fac4f93af71db186d6e90";
    assert_eq!(
        got,
        vec![
            pairs(&[("user", alice), ("route", "/api"), ("region", "eu")]),
            pairs(&[("region", "eu")]),
            pairs(&[("route", "/health"), ("region", "eu")]),
        ]
    );
    // Stacks and values are those of the input.
    let (a, b) = (cpu(), out.records[0].profile());
    assert_eq!(
        a.sample.iter().map(|s| s.value.clone()).collect::<Vec<_>>(),
        b.sample.iter().map(|s| s.value.clone()).collect::<Vec<_>>()
    );
    assert_eq!(a.sample.len(), b.sample.len());
}

#[test]
fn numeric_labels_stay_numeric_and_keep_their_unit() {
    let mut b = Builder::new(&[("inuse_space", "bytes")]);
    b.num_sample(
        &["alloc"],
        &[("pool", "a")],
        ("bytes", 512, "bytes"),
        &[512],
    )
    .num_sample(&["alloc"], &[], ("bytes", 64, "bytes"), &[64]);
    let p = processor(
        r#"
actions:
  - { key: pool, action: convert, converted_type: int }
  - { key: bytes, action: convert, converted_type: string }
  - { key: ratio, value: 0.5, action: insert }
  - { key: sampled, value: true, action: insert }
"#,
    );
    let out = p
        .apply(ProfileBatch::new(vec![record(&[], &b.build())]))
        .unwrap();
    assert_eq!(
        sample_labels(&out.records[0]),
        vec![
            // "a" does not parse as an int: left as it was.
            pairs(&[
                ("pool", "a"),
                ("bytes", "512"),
                ("ratio", "0.5"),
                ("sampled", "true")
            ]),
            pairs(&[("bytes", "64"), ("ratio", "0.5"), ("sampled", "true")]),
        ]
    );
    // The other way: a string converted to int becomes a numeric label.
    let mut b = Builder::new(&[("samples", "count")]);
    b.sample(&["f"], &[("n", "42")], &[1]);
    let p = processor("actions: [{ key: n, action: convert, converted_type: int }]");
    let out = p
        .apply(ProfileBatch::new(vec![record(&[], &b.build())]))
        .unwrap();
    let prof = out.records[0].profile();
    let l = prof.sample[0].label[0];
    assert_eq!((l.str, l.num), (0, 42));
}

#[test]
fn an_unchanged_record_passes_as_it_came() {
    let p = processor("actions: [{ key: absent, action: delete }]");
    let rec = record(&[], &cpu());
    let body = rec.pprof.clone();
    let out = p.apply(ProfileBatch::new(vec![rec])).unwrap();
    assert!(Arc::ptr_eq(&out.records[0].pprof, &body));
}

/// A delta of a cumulative profile carries its per-interval values in an
/// overlay; editing labels must keep those values and the window.
#[test]
fn deltas_stay_deltas() {
    let profile = |total: i64| {
        let mut b = Builder::new(&[("alloc_objects", "count"), ("alloc_space", "bytes")]);
        b.sample(&["a"], &[("user", "bob")], &[total, total * 10])
            .sample(&["b"], &[], &[5, 50]);
        b.build()
    };
    let mut dc = DeltaComputer::new();
    let first = PprofData::from_profile(&profile(100)).unwrap();
    assert!(dc.apply(first, 1_000).is_none());
    let second = PprofData::from_profile(&profile(130)).unwrap();
    let delta = dc.apply(second, 2_000).unwrap();
    assert!(delta.overlay().is_some());
    let rec = ProfileRecord::new(Labels::from_pairs([("service_name", "s")]), delta);
    let want = rec.profile();
    let p = processor("actions: [{ key: user, value: anon, action: update }]");
    let out = p.apply(ProfileBatch::new(vec![rec])).unwrap();
    let got = out.records[0].profile();
    assert_eq!(got.time_nanos, want.time_nanos);
    assert_eq!(got.duration_nanos, want.duration_nanos);
    assert_eq!(
        got.sample
            .iter()
            .map(|s| s.value.clone())
            .collect::<Vec<_>>(),
        vec![vec![30, 300]],
        "only the changed stack, with its delta"
    );
    assert_eq!(
        sample_labels(&out.records[0]),
        vec![pairs(&[("user", "anon")])]
    );
}

#[test]
fn include_and_exclude_select_profiles_and_samples() {
    let p = processor(
        r#"
include:
  match_type: regexp
  services: ["^api$"]
  attributes: [{ key: handler, value: "^/api" }]
exclude:
  match_type: strict
  resources: [{ key: env, value: dev }]
actions:
  - { key: marked, value: yes, action: insert }
"#,
    );
    let api = record(&[("service_name", "api"), ("env", "prod")], &cpu());
    let dev = record(&[("service_name", "api"), ("env", "dev")], &cpu());
    let web = record(&[("service_name", "web")], &cpu());
    let out = p.apply(ProfileBatch::new(vec![api, dev, web])).unwrap();
    let marked = |r: &ProfileRecord| {
        sample_labels(r)
            .iter()
            .map(|s| s.iter().any(|(k, _)| k == "marked"))
            .collect::<Vec<_>>()
    };
    assert_eq!(marked(&out.records[0]), [true, false, false]);
    assert_eq!(marked(&out.records[1]), [false, false, false]);
    assert_eq!(marked(&out.records[2]), [false, false, false]);
}

#[test]
fn libraries_match_the_scope() {
    let yes = processor(
        "include: {match_type: strict, libraries: [{name: profcol}]}\nactions: [{key: x, value: 1, action: insert}]",
    );
    let no = processor(
        "include: {match_type: strict, libraries: [{name: profcol, version: '0.0.0-none'}]}\nactions: [{key: x, value: 1, action: insert}]",
    );
    let r = || record(&[], &cpu());
    let touched = |p: &AttributesProcessor| {
        let out = p.apply(ProfileBatch::new(vec![r()])).unwrap();
        sample_labels(&out.records[0])[1]
            .iter()
            .any(|(k, _)| k == "x")
    };
    assert!(touched(&yes));
    assert!(!touched(&no));
}

#[test]
fn otlp_sample_attributes_are_edited_through_the_dictionary() {
    let p = processor(HASH_AND_RENAME);
    let input = payload(&[record(&[("service_name", "api")], &cpu())]);
    let before = request(&input);
    let out = p.apply(ProfileBatch::from_otlp((*input).clone())).unwrap();
    let req = request(&out.otlp[0]);
    let dict = req.dictionary.as_ref().unwrap();
    let profiles = &req.resource_profiles[0].scope_profiles[0].profiles;
    assert_eq!(profiles.len(), 2);
    for prof in profiles {
        for s in &prof.samples {
            let attrs = otlp::dict_attrs(dict, &s.attribute_indices);
            assert_eq!(
                attrs.get("region"),
                Some(&crate::actions::Value::Str("eu".into()))
            );
            assert!(attrs.get("handler").is_none());
            if let Some(u) = attrs.get("user") {
                assert_eq!(u.as_string().len(), 64);
            }
        }
    }
    // Stacks untouched; the dictionary only grew.
    let b = before.dictionary.as_ref().unwrap();
    assert_eq!(dict.stack_table, b.stack_table);
    assert!(dict.attribute_table.len() > b.attribute_table.len());
    assert_eq!(
        dict.attribute_table[..b.attribute_table.len()],
        b.attribute_table[..]
    );
    // And it converts back to pprof with the new labels.
    let (records, errors) = out.clone().into_pprof_records();
    assert!(errors.is_empty());
    let labels = sample_labels(&records[0]);
    assert!(labels
        .iter()
        .all(|s| s.iter().any(|(k, v)| k == "region" && v == "eu")));
}

#[test]
fn config_problems_name_their_key_path() {
    let p = problems(
        r#"
actions: [{ key: a, value: 1, action: insert }]
include: { match_type: regexp, span_names: [x], services: ["("] }
exclude: { services: [a] }
"#,
    );
    assert_eq!(p.len(), 3, "{p:#?}");
    assert!(p[0]
        .starts_with("processors::attributes/a::include::span_names: matches spans, not profiles"));
    assert!(p[1].starts_with(
        "processors::attributes/a::include::services::0: \"(\" is not a valid regular expression"
    ));
    assert_eq!(
        p[2],
        "processors::attributes/a::exclude::match_type: is required: strict or regexp"
    );
    assert_eq!(
        problems("{}"),
        ["processors::attributes/a::actions: is required: the list of actions on sample attributes"]
    );
    let p = problems("actions: [{key: a, value: 1, action: insert}]\ninclude: {match_type: regexp, attributes: [{key: k, value: 3}]}");
    assert_eq!(p, ["processors::attributes/a::include::attributes::0::value: match_type regexp needs a string pattern here"]);
    let p = problems("actions: [{key: a, value: 1, action: insert}]\ninclude: {match_type: strict, metric_names: [m], log_bodies: [b]}");
    assert_eq!(p.len(), 2);
}
