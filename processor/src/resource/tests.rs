use super::*;
use crate::testutil::{cpu, payload, record, request};
use opentelemetry_proto::tonic::common::v1::any_value;
use std::sync::Arc;

fn processor(yaml: &str) -> ResourceProcessor {
    ResourceProcessor::parse(
        &profcol_config::yaml::from_str(yaml).unwrap(),
        "processors::resource",
    )
    .unwrap()
}

fn problems(yaml: &str) -> Vec<String> {
    ResourceProcessor::parse(
        &profcol_config::yaml::from_str(yaml).unwrap(),
        "processors::resource/x",
    )
    .unwrap_err()
    .iter()
    .map(|p| p.to_string())
    .collect()
}

const ACTIONS: &str = r#"
attributes:
  - { key: deployment.environment, value: production, action: upsert }
  - { key: k8s.pod.name, from_attribute: pod, action: insert }
  - { key: pod, action: delete }
  - { key: service.name, value: checkout, action: update }
  - { key: replicas, action: convert, converted_type: int }
  - { key: owner, action: hash }
"#;

#[test]
fn pprof_records_get_dotted_labels_and_keep_internal_ones() {
    let p = processor(ACTIONS);
    let rec = record(
        &[
            ("__name__", "process_cpu"),
            ("__delta__", "false"),
            ("service_name", "api"),
            ("pod", "api-7d9"),
            ("replicas", "3"),
            ("owner", "john.doe@example.com"),
        ],
        &cpu(),
    );
    let body = rec.pprof.clone();
    let out = p.apply(ProfileBatch::new(vec![rec])).unwrap();
    let labels = &out.records[0].labels;
    assert_eq!(labels.get("deployment.environment"), Some("production"));
    assert_eq!(labels.get("k8s.pod.name"), Some("api-7d9"));
    assert_eq!(labels.get("pod"), None);
    assert_eq!(labels.get("service_name"), Some("checkout"));
    // A label is text: the int the action made is written as its digits.
    assert_eq!(labels.get("replicas"), Some("3"));
    assert_eq!(
        labels.get("owner"),
        Some("836f82db99121b3481011f16b49dfa5fbc714a0d1b1b9f784a1ebbbf5b39577f")
    );
    assert_eq!(labels.get("__name__"), Some("process_cpu"));
    assert_eq!(labels.get("__delta__"), Some("false"));
    // The profile itself is untouched: the same body travels on.
    assert!(Arc::ptr_eq(&out.records[0].pprof, &body));
}

#[test]
fn the_resource_of_the_otlp_output_carries_the_new_attributes() {
    let p = processor(ACTIONS);
    let rec = record(&[("service_name", "api"), ("pod", "p-1")], &cpu());
    let out = p.apply(ProfileBatch::new(vec![rec])).unwrap();
    let bytes = profcol_pdata::otlp::to_otlp_bytes(&out.records);
    let req = request(&OtlpPayload::from_bytes(bytes.into(), &Default::default()).unwrap());
    let attrs = kv_attrs(
        &req.resource_profiles[0]
            .resource
            .as_ref()
            .unwrap()
            .attributes,
    );
    assert_eq!(
        attrs.get("deployment.environment"),
        Some(&Value::Str("production".into()))
    );
    assert_eq!(attrs.get("k8s.pod.name"), Some(&Value::Str("p-1".into())));
    assert_eq!(
        attrs.get("service.name"),
        Some(&Value::Str("checkout".into()))
    );
    assert_eq!(attrs.get("pod"), None);
}

use profcol_pdata::otlp::OtlpPayload;

#[test]
fn otlp_payloads_keep_types_and_are_reencoded_only_when_changed() {
    let p = processor(
        r#"
attributes:
  - { key: deployment.environment, value: staging, action: upsert }
  - { key: replicas, value: "3", action: insert }
  - { key: replicas, action: convert, converted_type: int }
  - { key: service.name, action: delete }
"#,
    );
    let a = record(&[("service_name", "a"), ("team", "x")], &cpu());
    let b = record(&[("service_name", "b")], &cpu());
    let input = payload(&[a, b]);
    let out = p.apply(ProfileBatch::from_otlp((*input).clone())).unwrap();
    assert_eq!(out.otlp.len(), 1);
    let req = request(&out.otlp[0]);
    assert_eq!(req.resource_profiles.len(), 2);
    for rp in &req.resource_profiles {
        let kvs = &rp.resource.as_ref().unwrap().attributes;
        let attrs = kv_attrs(kvs);
        assert_eq!(
            attrs.get("deployment.environment"),
            Some(&Value::Str("staging".into()))
        );
        assert_eq!(attrs.get("service.name"), None);
        let replicas = kvs.iter().find(|kv| kv.key == "replicas").unwrap();
        assert_eq!(
            replicas.value.as_ref().unwrap().value,
            Some(any_value::Value::IntValue(3)),
            "typed int in OTLP"
        );
    }
    assert_eq!(
        req.resource_profiles[0].scope_profiles,
        request(&input).resource_profiles[0].scope_profiles
    );

    // Nothing to change: the very same payload goes on.
    let noop = processor("attributes: [{ key: absent, action: delete }]");
    let batch = ProfileBatch {
        records: vec![],
        otlp: vec![input.clone()],
    };
    let out = noop.apply(batch).unwrap();
    assert!(Arc::ptr_eq(&out.otlp[0], &input));
}

#[test]
fn config_problems_name_their_key_path() {
    assert_eq!(
        problems("{}"),
        ["processors::resource/x::attributes: is required: the list of actions on resource attributes"]
    );
    let unknown = problems("attributes: [{key: a, value: 1, action: insert}]\nactions: []");
    assert!(
        unknown[0].starts_with(
            "processors::resource/x::actions: unknown key `actions` (valid keys: attributes)"
        ),
        "{unknown:?}"
    );
    let p = problems("attributes: [{key: a, action: upsert}, {key: b, action: frob}]");
    assert_eq!(p.len(), 2);
    assert!(
        p[0].starts_with(
            "processors::resource/x::attributes::0: action \"upsert\" needs one of value"
        ),
        "{p:?}"
    );
    assert!(
        p[1].starts_with(
            "processors::resource/x::attributes::1::action: \"frob\" is not an action"
        ),
        "{p:?}"
    );
}
