use super::*;
use crate::testutil::{cpu, payload, record, request, Builder};
use opentelemetry_proto::tonic::common::v1::AnyValue;

fn processor(yaml: &str) -> FilterProcessor {
    FilterProcessor::parse(
        "filter",
        &profcol_config::yaml::from_str(yaml).unwrap(),
        "processors::filter",
    )
    .unwrap()
}

fn problems(yaml: &str) -> Vec<String> {
    FilterProcessor::parse(
        "filter/f",
        &profcol_config::yaml::from_str(yaml).unwrap(),
        "processors::filter/f",
    )
    .unwrap_err()
    .iter()
    .map(|p| p.to_string())
    .collect()
}

fn goroutine() -> profcol_pdata::pprof::Profile {
    let mut b = Builder::new(&[("goroutine", "count")]);
    b.sample(&["gopark", "main"], &[], &[7]);
    b.build()
}

fn types(r: &profcol_pdata::ProfileRecord) -> Vec<String> {
    let p = r.profile();
    p.sample_type
        .iter()
        .map(|t| p.string_table[t.r#type as usize].clone())
        .collect()
}

#[test]
fn profile_types_are_dropped_from_pprof_records() {
    let f = processor(r#"profiles: { profile: ['sample_type.type == "goroutine"'] }"#);
    let cpu_rec = record(&[("service_name", "a")], &cpu());
    let body = cpu_rec.pprof.clone();
    let out = f
        .apply(ProfileBatch::new(vec![
            cpu_rec,
            record(&[("service_name", "a")], &goroutine()),
        ]))
        .unwrap();
    assert_eq!(out.records.len(), 1);
    assert!(
        Arc::ptr_eq(&out.records[0].pprof, &body),
        "an unmatched record passes as it came"
    );
}

#[test]
fn one_sample_type_of_several_can_go() {
    let f = processor(r#"profile_conditions: ['profile.sample_type.type == "samples"']"#);
    let out = f
        .apply(ProfileBatch::new(vec![record(&[], &cpu())]))
        .unwrap();
    assert_eq!(types(&out.records[0]), ["cpu"]);
    let p = out.records[0].profile();
    let values: Vec<Vec<i64>> = p.sample.iter().map(|s| s.value.clone()).collect();
    assert_eq!(values, [vec![30], vec![10], vec![20]]);
}

#[test]
fn resource_conditions_drop_every_profile_of_the_resource() {
    let f = processor(
        r#"
error_mode: ignore
profile_conditions:
  - context: resource
    conditions: ['attributes["service.name"] == "canary"']
"#,
    );
    let out = f
        .apply(ProfileBatch::new(vec![
            record(&[("service_name", "canary")], &cpu()),
            record(&[("service_name", "api")], &cpu()),
        ]))
        .unwrap();
    assert_eq!(out.records.len(), 1);
    assert_eq!(out.records[0].labels.get("service_name"), Some("api"));
}

#[test]
fn sample_attributes_decide_for_the_whole_profile() {
    // Only samples with a value for the type count: the "/health" sample
    // has one for both types, "/none" for none.
    let mut b = Builder::new(&[("samples", "count"), ("cpu", "nanoseconds")]);
    b.sample(&["a"], &[("handler", "/health")], &[1, 10])
        .sample(&["b"], &[("handler", "/none")], &[0, 0])
        .sample(&["c"], &[], &[2, 20]);
    let f = processor(r#"profile_conditions: ['HasAttrOnSample("handler", "/health")']"#);
    let out = f
        .apply(ProfileBatch::new(vec![record(&[], &b.build())]))
        .unwrap();
    assert!(out.records.is_empty());
    let f = processor(r#"profile_conditions: ['HasAttrOnSample("handler", "/none")']"#);
    let out = f
        .apply(ProfileBatch::new(vec![record(&[], &b.build())]))
        .unwrap();
    assert_eq!(out.records.len(), 1);
}

#[test]
fn otlp_requests_lose_matching_profiles_and_keep_their_conventions() {
    let f = processor(
        r#"profiles: { profile: ['sample_type.type == "samples"', 'sample_type.type == "goroutine"'] }"#,
    );
    let input = payload(&[
        record(&[("service_name", "a")], &cpu()),
        record(&[("service_name", "b")], &goroutine()),
    ]);
    let out = f.apply(ProfileBatch::from_otlp((*input).clone())).unwrap();
    assert_eq!(out.otlp.len(), 1);
    assert_eq!(out.len(), 1);
    let req = request(&out.otlp[0]);
    assert_eq!(
        req.resource_profiles.len(),
        1,
        "the goroutine resource is gone"
    );
    let sp = &req.resource_profiles[0].scope_profiles[0];
    let order = sp
        .scope
        .as_ref()
        .unwrap()
        .attributes
        .iter()
        .find(|kv| kv.key == ATTR_SCOPE_SAMPLE_TYPE_ORDER)
        .unwrap();
    assert_eq!(
        order.value,
        Some(AnyValue {
            value: Some(any_value::Value::ArrayValue(
                opentelemetry_proto::tonic::common::v1::ArrayValue {
                    values: vec![AnyValue {
                        value: Some(any_value::Value::IntValue(0))
                    }]
                }
            ))
        })
    );
    // Back to pprof: the CPU profile with its cpu type only.
    let (records, errors) = out.into_pprof_records();
    assert!(errors.is_empty());
    assert_eq!(types(&records[0]), ["cpu"]);

    // Nothing left: the request is dropped; nothing matched: it passes as is.
    let all = processor("profile_conditions: ['true']");
    assert!(all
        .apply(ProfileBatch::from_otlp((*input).clone()))
        .unwrap()
        .otlp
        .is_empty());
    let none = processor("profile_conditions: ['false']");
    let batch = ProfileBatch {
        records: vec![],
        otlp: vec![input.clone()],
    };
    assert!(Arc::ptr_eq(&none.apply(batch).unwrap().otlp[0], &input));
}

#[test]
fn dropped_profiles_are_counted_per_component() {
    let metrics = metrics::FilterMetrics::default();
    let f = processor(r#"profile_conditions: ['profile.sample_type.type == "samples"', 'profile.sample_type.type == "goroutine"']"#)
        .counted(&metrics);
    let records = || {
        vec![
            record(&[("service_name", "a")], &cpu()),
            record(&[("service_name", "b")], &goroutine()),
        ]
    };
    // pprof: the cpu record loses its samples type, the goroutine record goes.
    let out = f.apply(ProfileBatch::new(records())).unwrap();
    assert_eq!(out.records.len(), 1);
    // OTLP: the same three profiles, two of them dropped.
    let out = f
        .apply(ProfileBatch::from_otlp((*payload(&records())).clone()))
        .unwrap();
    assert_eq!(out.len(), 1);
    // Nothing dropped: nothing counted.
    f.apply(ProfileBatch::new(vec![record(&[], &cpu_only())]))
        .unwrap();

    let mut registry = prometheus_client::registry::Registry::default();
    profcol_runtime::MetricSet::register(&metrics, &mut registry);
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
    assert!(
        text.contains(r#"profcol_processor_filter_profiles_filtered_total{component="filter"} 4"#),
        "{text}"
    );
}

fn cpu_only() -> profcol_pdata::pprof::Profile {
    let mut b = Builder::new(&[("cpu", "nanoseconds")]);
    b.sample(&["main"], &[], &[10]);
    b.build()
}

#[test]
fn error_modes() {
    let cond = r#"IsMatch(instrumentation_scope.attributes["pprof.scope.sample_type_order"], "0")"#;
    let propagate = processor(&format!("profile_conditions: ['{cond}']"));
    let err = propagate
        .apply(ProfileBatch::new(vec![record(&[], &cpu())]))
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("processor filter: condition `IsMatch"),
        "{err}"
    );
    for mode in ["ignore", "silent"] {
        let f = processor(&format!(
            "error_mode: {mode}\nprofile_conditions: ['{cond}']"
        ));
        let out = f
            .apply(ProfileBatch::new(vec![record(&[], &cpu())]))
            .unwrap();
        assert_eq!(out.records.len(), 1, "{mode}");
    }
    // A group's own error mode wins.
    let f = processor(&format!(
        "profile_conditions: [{{conditions: ['{cond}'], error_mode: ignore}}]"
    ));
    assert!(f
        .apply(ProfileBatch::new(vec![record(&[], &cpu())]))
        .is_ok());
}

#[test]
fn config_problems_name_their_key_path_and_column() {
    let p = problems(
        r#"profiles: { profile: ['sample_type.type == "x"', 'sample_type.kind == "x"'] }"#,
    );
    assert_eq!(p.len(), 1);
    assert!(
        p[0].starts_with(
            "processors::filter/f::profiles::profile::1: column 1: unknown path `sample_type.kind`"
        ),
        "{p:?}"
    );
    assert!(p[0].ends_with("in `sample_type.kind == \"x\"`"), "{p:?}");
    let p = problems(r#"profile_conditions: ['sample_type.type == "x"']"#);
    assert!(p[0].starts_with("processors::filter/f::profile_conditions::0: column 1: path `sample_type.type` must start with its context"), "{p:?}");
    let p = problems(r#"profile_conditions: ['true', {conditions: ['true']}]"#);
    assert!(
        p[0].starts_with("processors::filter/f::profile_conditions: mixes plain conditions"),
        "{p:?}"
    );
    let p = problems(r#"profile_conditions: [{context: span, conditions: ['true']}]"#);
    assert!(p[0].starts_with("processors::filter/f::profile_conditions::0::context: \"span\" is not a context of profiles"), "{p:?}");
    let p = problems("profiles: {profile: ['true']}\nprofile_conditions: ['true']");
    assert!(
        p[0].starts_with("processors::filter/f::profile_conditions: cannot be used together"),
        "{p:?}"
    );
    let p = problems("error_mode: loud");
    assert_eq!(p, ["processors::filter/f::error_mode: \"loud\" is not an error mode: propagate, ignore or silent"]);
    let p = problems("traces: {span: ['true']}");
    assert!(
        p[0].starts_with(
            "processors::filter/f::traces: filters traces; profcol's pipelines carry profiles only"
        ),
        "{p:?}"
    );
    let p = problems("profiles: {sample: ['true']}");
    assert!(
        p[0].starts_with("processors::filter/f::profiles::sample: unknown key `sample` (valid keys: resource, profile)"),
        "{p:?}"
    );
}
