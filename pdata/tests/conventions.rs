//! The OTLP requests profcol sends follow the profiles spec (opentelemetry-proto
//! v1.10.0) and the pprof semantic conventions, checked on the bytes the
//! exporters write (`to_otlp_bytes`) for the whole corpus plus profiles made
//! to hit every rule: no `__`-prefixed resource key, one `ScopeProfiles` per
//! pprof carrying `pprof.scope.*`, keys unique within a sample, no all-zero
//! or duplicate-identity sample, trace ids as links.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use opentelemetry_proto::tonic::common::v1::any_value as otlp_any;
use profcol_pdata::otlp::collector::ExportProfilesServiceRequest;
use profcol_pdata::otlp::proto;
use profcol_pdata::otlp::to_otlp_bytes;
use profcol_pdata::pprof::{decode_pprof, DecodeLimits};
use profcol_pdata::{pprof, Labels, ProfileRecord};
use prost::Message;
use std::collections::HashSet;
use std::path::Path;

fn corpus() -> Vec<pprof::Profile> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".pb.gz"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|f| decode_pprof(&std::fs::read(f).unwrap(), &DecodeLimits::default()).unwrap())
        .collect()
}

/// A pprof profile with duplicate identities, all-zero samples, a repeated
/// key, span and trace ids, and a default sample type.
fn crafted() -> pprof::Profile {
    let mut p = pprof::Profile {
        string_table: [
            "",
            "samples",
            "count",
            "cpu",
            "nanoseconds",
            "main",
            "f",
            "thread",
            "a",
            "b",
            "span_id",
            "00f067aa0ba902b7",
            "trace_id",
            "4bf92f3577b34da6a3ce929d0e0e4736",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect(),
        ..Default::default()
    };
    p.sample_type = vec![
        pprof::ValueType { r#type: 1, unit: 2 },
        pprof::ValueType { r#type: 3, unit: 4 },
    ];
    p.default_sample_type = 3;
    p.function = vec![
        pprof::Function {
            id: 1,
            name: 5,
            ..Default::default()
        },
        pprof::Function {
            id: 2,
            name: 6,
            ..Default::default()
        },
    ];
    // Two locations with the same function and line: one OTLP location.
    p.location = (1..=3)
        .map(|id| pprof::Location {
            id,
            line: vec![pprof::Line {
                function_id: if id == 3 { 1 } else { 2 },
                line: 7,
                column: 0,
            }],
            ..Default::default()
        })
        .collect();
    let label = |key, str| pprof::Label {
        key,
        str,
        num: 0,
        num_unit: 0,
    };
    p.sample = vec![
        pprof::Sample {
            location_id: vec![1, 3],
            value: vec![1, 10],
            label: vec![label(7, 8), label(7, 9), label(10, 11), label(12, 13)],
        },
        pprof::Sample {
            location_id: vec![2, 3],
            value: vec![2, 20],
            label: vec![label(7, 8), label(7, 9), label(10, 11), label(12, 13)],
        },
        pprof::Sample {
            location_id: vec![3],
            value: vec![0, 0],
            label: vec![],
        },
        pprof::Sample {
            location_id: vec![3],
            value: vec![0, 5],
            label: vec![],
        },
    ];
    p
}

fn labels() -> Labels {
    Labels::from_pairs([
        ("service_name", "svc"),
        ("__name__", "process_cpu"),
        ("__delta__", "false"),
        ("job", "j"),
    ])
}

/// Every rule, on one request; returns the number of ScopeProfiles.
fn check(req: &ExportProfilesServiceRequest) -> usize {
    let d = req.dictionary.as_ref().expect("a dictionary");
    let key_of = |a: i32| d.attribute_table[a as usize].key_strindex;
    let mut scopes = 0;
    for rp in &req.resource_profiles {
        for kv in &rp.resource.as_ref().unwrap().attributes {
            assert!(!kv.key.starts_with("__"), "resource key {}", kv.key);
        }
        for sp in &rp.scope_profiles {
            scopes += 1;
            let scope = sp.scope.as_ref().unwrap();
            let order = scope
                .attributes
                .iter()
                .find(|kv| kv.key == "pprof.scope.sample_type_order")
                .expect("pprof.scope.sample_type_order");
            let Some(otlp_any::Value::ArrayValue(a)) =
                order.value.as_ref().and_then(|v| v.value.as_ref())
            else {
                panic!("an int array")
            };
            assert_eq!(a.values.len(), sp.profiles.len());
            for prof in &sp.profiles {
                for &i in &prof.attribute_indices {
                    let key = &d.string_table[key_of(i) as usize];
                    assert!(key != "pprof.profile.default_sample_type", "{key}");
                }
                let mut identities = HashSet::new();
                for s in &prof.samples {
                    assert!(s.values.iter().any(|&v| v != 0), "an all-zero sample");
                    let keys: HashSet<i32> =
                        s.attribute_indices.iter().map(|&a| key_of(a)).collect();
                    assert_eq!(keys.len(), s.attribute_indices.len(), "a repeated key");
                    for &a in &s.attribute_indices {
                        let key = &d.string_table[key_of(a) as usize];
                        assert!(key != "span_id" && key != "trace_id", "{key} is a link");
                    }
                    assert!(
                        identities.insert((
                            s.stack_index,
                            s.attribute_indices.clone(),
                            s.link_index
                        )),
                        "two samples of one identity"
                    );
                }
            }
        }
    }
    scopes
}

#[test]
fn the_writers_bytes_follow_the_conventions() {
    let mut profiles = corpus();
    profiles.push(crafted());
    // Records of one series in one request (as the sending queue merges
    // batches): each keeps its own scope.
    let records: Vec<ProfileRecord> = profiles
        .iter()
        .chain(profiles.iter())
        .map(|p| ProfileRecord::from_profile(labels(), p).unwrap())
        .collect();
    let req = ExportProfilesServiceRequest::decode(to_otlp_bytes(&records).as_slice()).unwrap();
    assert_eq!(
        req.resource_profiles.len(),
        1,
        "one resource: job, service.name"
    );
    assert_eq!(check(&req), records.len(), "one scope per pprof");
}

#[test]
fn the_crafted_profile_becomes_what_the_conventions_say() {
    let req = ExportProfilesServiceRequest::decode(
        to_otlp_bytes(&[ProfileRecord::from_profile(labels(), &crafted()).unwrap()]).as_slice(),
    )
    .unwrap();
    check(&req);
    let d = req.dictionary.as_ref().unwrap();
    let sp = &req.resource_profiles[0].scope_profiles[0];
    let default = sp
        .scope
        .as_ref()
        .unwrap()
        .attributes
        .iter()
        .find(|kv| kv.key == "pprof.scope.default_sample_type")
        .unwrap();
    assert_eq!(
        default.value.as_ref().unwrap().value,
        Some(otlp_any::Value::StringValue("cpu".into()))
    );
    let [samples, cpu]: [&proto::Profile; 2] = [&sp.profiles[0], &sp.profiles[1]];
    // The first two samples share a stack once locations are deduplicated.
    assert_eq!(samples.samples.len(), 1);
    assert_eq!(samples.samples[0].values, vec![3]);
    assert_eq!(cpu.samples.len(), 2);
    assert_eq!(cpu.samples[0].values, vec![30]);
    assert_eq!(cpu.samples[1].values, vec![5]);
    let link = &d.link_table[samples.samples[0].link_index as usize];
    assert_eq!(
        link.span_id,
        vec![0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7]
    );
    assert_eq!(link.trace_id[..2], [0x4b, 0xf9]);
}
