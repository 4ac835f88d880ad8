//! Each processor's typed config serializes to a block its own decoder
//! (its factory's) takes back unchanged, every key the decoder
//! accepts written out; attribute values that look like credentials do not
//! appear.

use crate::registry::{ProcessorConfig, PROCESSORS};
use profcol_config::keys::struct_fields;
use profcol_config::yaml::{self, Value};
use std::collections::BTreeSet;

fn decode(kind: &str, body: &profcol_config::Body) -> ProcessorConfig {
    let id = format!("{kind}/x").parse().unwrap();
    match PROCESSORS.decode(&id, body, "processors::x") {
        Ok(c) => c,
        Err(p) => panic!("{kind}: {p:?}\n{}", yaml::to_string(body).unwrap()),
    }
}

/// Decodes `body`, serializes the config, decodes that and checks it is
/// the same config; returns the serialized form.
fn round_trip(kind: &str, body: &str) -> Value {
    let first = decode(kind, &yaml::from_str(body).unwrap());
    let shown = yaml::to_value(&first).unwrap();
    let again = decode(kind, &yaml::from_value(shown.clone()).unwrap());
    assert!(
        first == again,
        "{kind}: the serialized config decodes to another config\n{}",
        yaml::to_string(&shown).unwrap()
    );
    // Through text too, as print-config shows it.
    let text = yaml::to_string(&first).unwrap();
    assert!(
        first == decode(kind, &yaml::from_str(&text).unwrap()),
        "{kind}: {text}"
    );
    shown
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_mapping()
        .unwrap_or_else(|| panic!("not a mapping: {v:?}"))
        .keys()
        .map(|k| k.as_str().unwrap().to_string())
        .collect()
}

fn set(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|k| k.to_string()).collect()
}

fn assert_all_set(kind: &str, full: &Value, default: &Value) {
    for key in keys(full) {
        assert_ne!(
            full.get(&key),
            default.get(&key),
            "{kind}: {key} is at its default"
        );
    }
}

#[test]
fn batch_round_trips_with_every_key_and_with_defaults() {
    let full = round_trip(
        "batch",
        "{send_batch_size: 10, send_batch_max_size: 20, timeout: 3s, metadata_keys: [tenant, env], metadata_cardinality_limit: 5}",
    );
    let default = round_trip("batch", "{}");
    let all = struct_fields::<crate::batch::BatchConfig>();
    assert_eq!(keys(&full), set(all));
    assert_eq!(keys(&default), set(all), "defaults are written out");
    assert_all_set("batch", &full, &default);
    assert_eq!(default["timeout"], "200ms");
    assert_eq!(default["send_batch_size"], 8192);
}

#[test]
fn memory_limiter_round_trips_with_every_key_and_with_defaults() {
    let full = round_trip(
        "memory_limiter",
        r#"{check_interval: 2s, limit_mib: 1000, spike_limit_mib: 100, limit_percentage: 80,
            spike_limit_percentage: 10, min_gc_interval_when_soft_limited: 20s,
            min_gc_interval_when_hard_limited: 5s, max_gc_interval_when_soft_limited: 1m,
            max_gc_interval_when_hard_limited: 40s}"#,
    );
    let minimal = round_trip("memory_limiter", "{check_interval: 1s, limit_mib: 100}");
    let all = struct_fields::<crate::memory_limiter::MemoryLimiterConfig>();
    assert_eq!(keys(&full), set(all));
    let unset_gc: BTreeSet<String> = all
        .iter()
        .filter(|k| !k.contains("gc_interval"))
        .map(|k| k.to_string())
        .collect();
    assert_eq!(
        keys(&minimal),
        unset_gc,
        "None is left out, the rest written"
    );
    assert_all_set("memory_limiter", &full, &minimal);
}

/// Every action, every key an action may carry, values of every type.
const ACTIONS: &str = r#"
  - {key: s, value: text, action: INSERT}
  - {key: i, value: 7, action: update}
  - {key: d, value: 2.5, action: upsert}
  - {key: d2, value: 2.0, action: upsert}
  - {key: b, value: true, action: insert}
  - {key: l, value: [1, a, [x], {k: v}], action: insert}
  - {key: m, value: {a: 1, b: [true]}, action: upsert}
  - {key: c, from_attribute: a, default_value: fallback, action: update}
  - {key: c2, from_attribute: a, action: insert}
  - {key: e, default_value: 3, action: upsert}
  - {pattern: "^tmp_", action: delete}
  - {key: k, pattern: "x+", action: Hash}
  - {key: email, action: hash}
  - {key: url, pattern: "^(?P<scheme>\\w+)://(?P<host>[^/]+)", action: extract}
  - {key: n, converted_type: double, action: convert}
"#;

#[test]
fn resource_and_attributes_actions_round_trip_as_written() {
    let full = round_trip("resource", &format!("attributes:{ACTIONS}"));
    let list = full["attributes"].as_sequence().unwrap();
    assert_eq!(list.len(), 15);
    assert_eq!(list[0]["action"], "insert", "lower case");
    assert_eq!(list[11]["action"], "hash");
    assert_eq!(list[11]["pattern"], "x+", "the pattern's source text");
    assert_eq!(list[13]["pattern"], "^(?P<scheme>\\w+)://(?P<host>[^/]+)");
    assert!(list[3]["value"].is_f64(), "a double stays one");
    assert!(list[1]["value"].is_i64());
    let written: BTreeSet<String> = list.iter().flat_map(keys).collect();
    let accepted = set(struct_fields::<crate::actions::ActionConfig>());
    // from_context is refused by every action (profcol has no client
    // metadata), so no valid config has it.
    let missing: Vec<&String> = accepted
        .difference(&written)
        .filter(|k| *k != "from_context")
        .collect();
    assert!(missing.is_empty(), "action keys never written: {missing:?}");
    assert_eq!(keys(&full), set(&["attributes"]));

    let attrs = round_trip(
        "attributes",
        &format!(
            r#"
include:
  match_type: strict
  services: [checkout, cart]
  resources: [{{key: env, value: prod}}, {{key: zone}}, {{key: n, value: 3}}]
  attributes: [{{key: user}}]
  libraries: [{{name: profcol, version: "1.0"}}, {{name: other}}]
exclude:
  match_type: regexp
  regexp: {{cacheenabled: true}}
  services: ["^canary-"]
  resources: [{{key: env, value: "^dev"}}]
  attributes: [{{key: handler, value: "/health$"}}]
  libraries: [{{name: "prof.*", version: "^0\\."}}]
actions:{ACTIONS}"#
        ),
    );
    assert_eq!(keys(&attrs), set(&["actions", "include", "exclude"]));
    // The other signals' properties are refused; regexp's cache options
    // have no effect and are not kept.
    let refused = set(&[
        "regexp",
        "span_names",
        "span_kinds",
        "log_bodies",
        "log_severity_texts",
        "log_severity_number",
        "metric_names",
    ]);
    let profile_keys: BTreeSet<String> =
        set(struct_fields::<crate::attributes::matching::MatchConfig>())
            .difference(&refused)
            .cloned()
            .collect();
    assert_eq!(keys(&attrs["include"]), profile_keys);
    assert_eq!(keys(&attrs["exclude"]), profile_keys);
    assert_eq!(attrs["exclude"]["match_type"], "regexp");
    assert_eq!(attrs["exclude"]["services"][0], "^canary-");
    let minimal = round_trip("attributes", "{actions: [{key: a, action: delete}]}");
    assert_eq!(keys(&minimal), set(&["actions"]), "no include / exclude");
    round_trip(
        "resource",
        "{attributes: [{key: a, value: 1, action: insert}]}",
    );
}

#[test]
fn a_regexp_block_without_patterns_keeps_its_match_type() {
    let shown = round_trip(
        "attributes",
        "{include: {match_type: regexp, attributes: [{key: a}]}, actions: [{key: a, action: delete}]}",
    );
    assert_eq!(shown["include"]["match_type"], "regexp");
}

#[test]
fn filter_round_trips_from_each_style_into_the_group_style() {
    let profiles = round_trip(
        "filter",
        r#"{error_mode: ignore, profiles: {resource: ['attributes["service.name"] == "canary"'], profile: ['sample_type.type == "goroutine"']}}"#,
    );
    assert_eq!(keys(&profiles), set(&["error_mode", "profile_conditions"]));
    assert_eq!(profiles["error_mode"], "ignore");
    let groups = profiles["profile_conditions"].as_sequence().unwrap();
    assert_eq!(groups[0]["context"], "resource");
    assert_eq!(groups[1]["context"], "profile");
    assert_eq!(
        groups[1]["conditions"][0],
        r#"sample_type.type == "goroutine""#
    );
    assert!(groups[0].get("error_mode").is_none(), "the common mode");

    let plain = round_trip(
        "filter",
        r#"{profile_conditions: ['profile.sample_type.type == "samples"', 'resource.attributes["a"] == "b"']}"#,
    );
    assert_eq!(plain["error_mode"], "propagate", "the default, written out");
    assert!(plain["profile_conditions"][0].get("context").is_none());

    let grouped = round_trip(
        "filter",
        r#"
error_mode: silent
profile_conditions:
  - {context: scope, conditions: ['name == "profcol"'], error_mode: ignore}
  - {context: instrumentation_scope, conditions: ['version == "1"']}
  - {context: Profile, conditions: []}
  - {conditions: ['HasAttrOnSample("handler", "/health")'], error_mode: propagate}
"#,
    );
    let groups = grouped["profile_conditions"].as_sequence().unwrap();
    assert_eq!(grouped["error_mode"], "propagate", "modes differ");
    assert_eq!(groups[0]["error_mode"], "ignore");
    assert_eq!(groups[1]["error_mode"], "silent");
    assert_eq!(groups[1]["context"], "scope", "the canonical name");
    assert_eq!(groups[2]["context"], "profile");
    assert!(groups[3].get("error_mode").is_none());

    let empty = round_trip("filter", "{}");
    assert_eq!(empty["error_mode"], "propagate");
    assert_eq!(empty["profile_conditions"].as_sequence().unwrap().len(), 0);
}

#[test]
fn values_set_on_credential_looking_attributes_are_not_shown() {
    let body = r#"
actions:
  - {key: api_token, value: PLANTED-TOKEN, action: upsert}
  - {key: db.password, from_attribute: x, default_value: PLANTED-PASSWORD, action: insert}
  - {key: auth, value: {user: PLANTED-MAP}, action: insert}
  - {key: env, value: prod, action: insert}
"#;
    let mut shown = String::new();
    for kind in ["attributes", "resource"] {
        let body = body.replace(
            "actions:",
            if kind == "resource" {
                "attributes:"
            } else {
                "actions:"
            },
        );
        let config = decode(kind, &yaml::from_str(&body).unwrap());
        shown.push_str(&yaml::to_string(&config).unwrap());
    }
    for planted in ["PLANTED-TOKEN", "PLANTED-PASSWORD", "PLANTED-MAP"] {
        assert!(body.contains(planted));
        assert!(!shown.contains(planted), "{planted} shown:\n{shown}");
    }
    assert!(
        shown.contains("api_token") && shown.contains("prod"),
        "{shown}"
    );
    assert_eq!(shown.matches("<secret>").count(), 6, "{shown}");
}
