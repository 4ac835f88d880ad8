//! The payload's checks: the one-pass check against prost's verdict.

use super::*;

/// Both checks on `bytes`: the one-pass check's `[profiles, samples,
/// resources]` (`None`: it cannot vouch) and prost's.
fn check_both_ways(
    bytes: &Bytes,
    limits: &OtlpLimits,
) -> (Option<[usize; 3]>, Result<[usize; 3], Error>) {
    let triple = |(c, r): (checks::Counts, usize)| [c.profiles, c.samples, r];
    let wire = match wire_check::check(bytes, limits) {
        wire_check::Verdict::Vouched(c, r) => Some(triple((c, r))),
        _ => None,
    };
    (wire, OtlpPayload::check_decoded(bytes, limits).map(triple))
}
use crate::{Labels, ProfileRecord};

fn request() -> ExportProfilesServiceRequest {
    let record = ProfileRecord::from_profile(
        Labels::from_pairs([("service_name", "api")]),
        &crate::testutil::Builder::new(&[("samples", "count"), ("cpu", "nanoseconds")])
            .sample(&["main", "work"], &[("thread", "t1")], &[3, 30])
            .sample(&["main", "idle"], &[], &[1, 10])
            .build(),
    )
    .unwrap();
    let bytes = crate::otlp::to_otlp_bytes(&[record]);
    ExportProfilesServiceRequest::decode(bytes.as_slice()).unwrap()
}

#[test]
fn keeps_the_bytes_it_was_given() {
    let bytes = Bytes::from(request().encode_to_vec());
    let p = OtlpPayload::from_bytes(bytes.clone(), &OtlpLimits::default()).unwrap();
    assert_eq!(p.bytes(), &bytes);
    assert!(p.profile_count() >= 1);
    assert!(p.sample_count() >= 1);
    assert_eq!(p.resource_count(), 1);
    let records = p.to_records().unwrap();
    assert_eq!(records[0].labels.get("service_name"), Some("api"));
}

#[test]
fn refuses_what_does_not_decode() {
    let bytes = request().encode_to_vec();
    let cut = Bytes::from(bytes[..bytes.len() - 3].to_vec());
    let err = OtlpPayload::from_bytes(cut, &OtlpLimits::default()).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("body is not an OTLP ExportProfilesServiceRequest"),
        "{err}"
    );
}

#[test]
fn refuses_indexes_out_of_range() {
    let mut req = request();
    let dict = req.dictionary.as_mut().unwrap();
    let n = dict.stack_table.len() as i32;
    req.resource_profiles[0].scope_profiles[0].profiles[0].samples[0].stack_index = n + 5;
    let err = OtlpPayload::from_request(&req, &OtlpLimits::default()).unwrap_err();
    assert!(err.to_string().contains("stack_table index"), "{err}");

    let mut req = request();
    req.dictionary.as_mut().unwrap().function_table[0].name_strindex = -1;
    let err = OtlpPayload::from_request(&req, &OtlpLimits::default()).unwrap_err();
    assert!(err.to_string().contains("string_table index -1"), "{err}");

    let mut req = request();
    req.dictionary = None;
    let err = OtlpPayload::from_request(&req, &OtlpLimits::default()).unwrap_err();
    assert!(err.to_string().contains("no dictionary"), "{err}");
}

#[test]
fn refuses_requests_over_the_limits() {
    let req = request();
    let limits = OtlpLimits {
        max_profiles: 100,
        max_samples: 0,
    };
    let err = OtlpPayload::from_request(&req, &limits).unwrap_err();
    assert!(
        err.to_string().contains("more than the limit of 0"),
        "{err}"
    );
    let empty = ExportProfilesServiceRequest::default();
    let p = OtlpPayload::from_request(&empty, &limits).unwrap();
    assert_eq!(p.profile_count(), 0);
}

use crate::otlp::proto::*;
use opentelemetry_proto::tonic::common::v1::{
    any_value::Value, AnyValue, ArrayValue, EntityRef, InstrumentationScope, KeyValue, KeyValueList,
};
use opentelemetry_proto::tonic::resource::v1::Resource;

fn any(v: Value) -> Option<AnyValue> {
    Some(AnyValue { value: Some(v) })
}

fn kv(key: &str, v: Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: any(v),
        key_strindex: 0,
    }
}

/// A request with every field of every message set (and an attribute value
/// nested a few levels deep).
fn every_field() -> ExportProfilesServiceRequest {
    let nested = Value::KvlistValue(KeyValueList {
        values: vec![
            kv("d", Value::DoubleValue(1.5)),
            kv("b", Value::BytesValue(vec![0, 0xff])),
            kv(
                "a",
                Value::ArrayValue(ArrayValue {
                    values: vec![
                        AnyValue {
                            value: Some(Value::BoolValue(true)),
                        },
                        AnyValue {
                            value: Some(Value::StringValueStrindex(1)),
                        },
                    ],
                }),
            ),
        ],
    });
    let dictionary = ProfilesDictionary {
        mapping_table: vec![
            Mapping::default(),
            Mapping {
                memory_start: 0x1000,
                memory_limit: 0x2000,
                file_offset: 16,
                filename_strindex: 3,
                attribute_indices: vec![1],
            },
        ],
        location_table: vec![
            Location::default(),
            Location {
                mapping_index: 1,
                address: 0x1234,
                lines: vec![
                    Line {
                        function_index: 1,
                        line: 12,
                        column: 3,
                    },
                    Line::default(),
                ],
                attribute_indices: vec![0],
            },
        ],
        function_table: vec![
            Function::default(),
            Function {
                name_strindex: 4,
                system_name_strindex: 4,
                filename_strindex: 3,
                start_line: 10,
            },
        ],
        link_table: vec![
            Link::default(),
            Link {
                trace_id: vec![1; 16],
                span_id: vec![2; 8],
            },
        ],
        string_table: ["", "cpu", "nanoseconds", "/bin/app", "main", "thread", "é"]
            .map(String::from)
            .to_vec(),
        attribute_table: vec![
            KeyValueAndUnit::default(),
            KeyValueAndUnit {
                key_strindex: 5,
                value: any(nested.clone()),
                unit_strindex: 2,
            },
        ],
        stack_table: vec![
            Stack::default(),
            Stack {
                location_indices: vec![1, 0, 1],
            },
        ],
    };
    let profile = Profile {
        sample_type: Some(ValueType {
            type_strindex: 1,
            unit_strindex: 2,
        }),
        samples: vec![
            Sample {
                stack_index: 1,
                attribute_indices: vec![1],
                link_index: 1,
                values: vec![5, -3, i64::MAX],
                timestamps_unix_nano: vec![1, u64::MAX],
            },
            Sample::default(),
        ],
        time_unix_nano: 1_700_000_000_000_000_000,
        duration_nano: 10_000_000_000,
        period_type: Some(ValueType {
            type_strindex: 1,
            unit_strindex: 2,
        }),
        period: 10_000_000,
        profile_id: vec![7; 16],
        dropped_attributes_count: 2,
        original_payload_format: "pprof".into(),
        original_payload: vec![1, 2, 3],
        attribute_indices: vec![1, 0],
    };
    ExportProfilesServiceRequest {
        resource_profiles: vec![ResourceProfiles {
            resource: Some(Resource {
                attributes: vec![
                    kv("service.name", Value::StringValue("api".into())),
                    kv("n", nested),
                ],
                dropped_attributes_count: 1,
                entity_refs: vec![EntityRef {
                    schema_url: "s".into(),
                    r#type: "service".into(),
                    id_keys: vec!["service.name".into()],
                    description_keys: vec!["n".into()],
                }],
            }),
            scope_profiles: vec![ScopeProfiles {
                scope: Some(InstrumentationScope {
                    name: "profcol".into(),
                    version: "1".into(),
                    attributes: vec![kv("i", Value::IntValue(-1))],
                    dropped_attributes_count: 1,
                }),
                profiles: vec![profile.clone(), profile],
                schema_url: "https://opentelemetry.io/schemas/1.30.0".into(),
            }],
            schema_url: "u".into(),
        }],
        dictionary: Some(dictionary),
    }
}

/// The corpus's profiles as the writer sends them, one request each, and
/// all of them in one request.
fn written_requests() -> Vec<Vec<u8>> {
    let records: Vec<_> = crate::testutil::corpus()
        .iter()
        .map(|(_, body)| {
            let p = crate::pprof::decode_pprof(body, &Default::default()).unwrap();
            ProfileRecord::from_profile(Labels::from_pairs([("service_name", "svc")]), &p).unwrap()
        })
        .collect();
    let mut out: Vec<_> = records
        .iter()
        .map(|r| crate::otlp::to_otlp_bytes(std::slice::from_ref(r)))
        .collect();
    out.push(crate::otlp::to_otlp_bytes(&records));
    out
}

/// Both checks on `bytes`: the one-pass check vouches only for what prost
/// accepts, with the same counts. Returns (vouched, prost accepted).
fn agree(bytes: &[u8], limits: &OtlpLimits) -> (bool, bool) {
    let (wire, prost) = check_both_ways(&Bytes::copy_from_slice(bytes), limits);
    if let Some(counts) = wire {
        assert_eq!(
            prost.as_ref().ok(),
            Some(&counts),
            "vouched for {bytes:02x?}"
        );
    }
    (wire.is_some(), prost.is_ok())
}

#[test]
fn the_one_pass_check_vouches_for_valid_requests() {
    let limits = OtlpLimits::default();
    let mut requests = written_requests();
    requests.push(every_field().encode_to_vec());
    requests.push(request().encode_to_vec());
    requests.push(ExportProfilesServiceRequest::default().encode_to_vec());
    for bytes in &requests {
        assert_eq!(agree(bytes, &limits), (true, true));
    }
    let (wire, _) = check_both_ways(&Bytes::from(every_field().encode_to_vec()), &limits);
    assert_eq!(wire, Some([2, 4, 1]));
}

/// Every byte of a small request and a sample of a corpus request's,
/// changed, cut or dropped: whatever the one-pass check vouches for, prost
/// accepts with the same counts, and it vouches for most of what prost
/// accepts (only repeated fields and such fall back).
#[test]
fn damaged_requests_are_never_vouched_for_when_prost_refuses() {
    let limits = OtlpLimits {
        max_profiles: 3,
        max_samples: 5_000,
    };
    let small = every_field().encode_to_vec();
    let written = written_requests().swap_remove(0);
    let (mut vouched, mut accepted) = (0, 0);
    for (bytes, step) in [(&small, 1), (&written, written.len() / 400 + 1)] {
        for at in (0..bytes.len()).step_by(step) {
            let mut variants = Vec::new();
            for replace in [
                0x00,
                0x01,
                0x7f,
                0x80,
                0xff,
                bytes[at] ^ 0x08,
                bytes[at].wrapping_add(1),
            ] {
                let mut b = bytes.clone();
                b[at] = replace;
                variants.push(b);
            }
            let mut dropped = bytes.clone();
            dropped.remove(at);
            variants.push(dropped);
            variants.push(bytes[..at].to_vec());
            for v in &variants {
                let (w, p) = agree(v, &limits);
                vouched += usize::from(w);
                accepted += usize::from(p);
            }
        }
    }
    assert!(accepted > 1_000, "{accepted}");
    assert!(
        vouched * 10 >= accepted * 9,
        "vouched for {vouched} of {accepted}"
    );
}

#[test]
fn what_the_one_pass_check_leaves_to_prost_is_still_accepted() {
    let limits = OtlpLimits::default();
    let accepted = |bytes: Vec<u8>| {
        let (wire, prost) = check_both_ways(&Bytes::from(bytes.clone()), &limits);
        assert_eq!(wire, None);
        assert!(prost.is_ok());
        OtlpPayload::from_bytes(bytes.into(), &limits).unwrap()
    };
    let base = request().encode_to_vec();

    // A field given twice: prost keeps the last, in range; the first is not.
    use crate::otlp::fields::*;
    use crate::wire::{i32_varint, put_key, put_len_field, put_varint, VARINT};
    let mut sample = Vec::new();
    for index in [99_i32, 0] {
        put_key(&mut sample, SAMPLE_STACK_INDEX, VARINT);
        put_varint(&mut sample, i32_varint(index));
    }
    let mut profile = Vec::new();
    put_len_field(&mut profile, PROFILE_SAMPLES, &sample);
    let mut scope = Vec::new();
    put_len_field(&mut scope, SCOPE_PROFILES_PROFILES, &profile);
    let mut resource = Vec::new();
    put_len_field(&mut resource, RESOURCE_PROFILES_SCOPE_PROFILES, &scope);
    let mut twice = base.clone();
    put_len_field(&mut twice, REQUEST_RESOURCE_PROFILES, &resource);
    let before = OtlpPayload::from_bytes(base.clone().into(), &limits).unwrap();
    let after = accepted(twice);
    assert_eq!(after.sample_count(), before.sample_count() + 1);
    assert_eq!(after.resource_count(), 2);

    // Values nested as deep as the walk goes are still vouched for.
    let deep = nested(MAX_NESTED_ARRAYS);
    let (wire, prost) = check_both_ways(&Bytes::from(deep.encode_to_vec()), &limits);
    assert!(wire.is_some() && prost.is_ok());
}

/// The deepest array nesting the walk vouches for: the resource's
/// attribute values start at depth 4, and each array adds two levels.
const MAX_NESTED_ARRAYS: usize = (wire_check::MAX_DEPTH as usize - 4) / 2;

/// The request with a resource attribute whose value is `levels` arrays
/// deep.
fn nested(levels: usize) -> ExportProfilesServiceRequest {
    let mut value = AnyValue {
        value: Some(Value::IntValue(1)),
    };
    for _ in 0..levels {
        value = AnyValue {
            value: Some(Value::ArrayValue(ArrayValue {
                values: vec![value],
            })),
        };
    }
    let mut req = request();
    req.resource_profiles[0]
        .resource
        .get_or_insert_with(Default::default)
        .attributes
        .push(KeyValue {
            key: "deep".into(),
            value: Some(value),
            key_strindex: 0,
        });
    req
}

/// Nesting past the walk's depth and protobuf groups are refused before
/// prost sees them (prost, without its recursion limit in the binary's
/// build, would recurse until the stack overflows), however deep.
#[test]
fn deep_nesting_and_groups_are_refused_before_prost() {
    let limits = OtlpLimits::default();
    // 100,000 levels written by hand: prost would not even encode them.
    use crate::otlp::fields::*;
    use crate::wire::put_len_field;
    let mut value = vec![(ANY_VALUE_INT_VALUE << 3) as u8, 1];
    for _ in 0..100_000 {
        let mut array = Vec::new();
        put_len_field(&mut array, ARRAY_VALUE_VALUES, &value);
        value.clear();
        put_len_field(&mut value, ANY_VALUE_ARRAY_VALUE, &array);
    }
    let mut key_value = Vec::new();
    put_len_field(&mut key_value, KEY_VALUE_KEY, b"deep");
    put_len_field(&mut key_value, KEY_VALUE_VALUE, &value);
    let mut resource = Vec::new();
    put_len_field(&mut resource, RESOURCE_ATTRIBUTES, &key_value);
    let mut resource_profiles = Vec::new();
    put_len_field(
        &mut resource_profiles,
        RESOURCE_PROFILES_RESOURCE,
        &resource,
    );
    let mut very_deep = Vec::new();
    put_len_field(
        &mut very_deep,
        REQUEST_RESOURCE_PROFILES,
        &resource_profiles,
    );
    let mut requests: Vec<Vec<u8>> = [MAX_NESTED_ARRAYS + 1, 50]
        .iter()
        .map(|&levels| nested(levels).encode_to_vec())
        .collect();
    requests.push(very_deep);
    for bytes in requests {
        let err = OtlpPayload::from_bytes(bytes.into(), &limits).unwrap_err();
        assert!(
            err.to_string().contains("nested more than 64 levels"),
            "{err}"
        );
    }
    // An unknown field sent as a group (start, a varint inside, end), and
    // groups nested in groups.
    let mut group = request().encode_to_vec();
    group.extend_from_slice(&[(9 << 3) | 3, 8, 1, (9 << 3) | 4]);
    let mut nested_groups = request().encode_to_vec();
    nested_groups.extend(std::iter::repeat_n((9 << 3) | 3, 1_000_000));
    for bytes in [group, nested_groups] {
        let err = OtlpPayload::from_bytes(bytes.into(), &limits).unwrap_err();
        assert!(err.to_string().contains("protobuf groups"), "{err}");
    }
}

#[test]
fn refusals_are_worded_as_prost_and_the_checks_word_them() {
    let limits = OtlpLimits::default();
    let refusal = |req: &ExportProfilesServiceRequest| {
        let from_bytes = OtlpPayload::from_bytes(req.encode_to_vec().into(), &limits).unwrap_err();
        let from_request = OtlpPayload::from_request(req, &limits).unwrap_err();
        assert_eq!(from_bytes.to_string(), from_request.to_string());
        from_bytes.to_string()
    };
    let mut req = request();
    let n = req.dictionary.as_ref().unwrap().stack_table.len() as i32;
    req.resource_profiles[0].scope_profiles[0].profiles[0].samples[0].stack_index = n;
    assert!(refusal(&req).contains("stack_table index"));

    // A line without a function index points at function 0: none here.
    let mut req = request();
    let dict = req.dictionary.as_mut().unwrap();
    dict.function_table.clear();
    for l in &mut dict.location_table {
        for line in &mut l.lines {
            line.function_index = 0;
        }
    }
    assert!(refusal(&req).contains("function_table index 0"));

    let mut req = request();
    req.dictionary.as_mut().unwrap().attribute_table[0].unit_strindex = -2;
    assert!(refusal(&req).contains("string_table index -2"));

    // Not UTF-8 where a string is: prost's own words.
    let mut bytes = request().encode_to_vec();
    let at = bytes.windows(4).position(|w| w == b"main").unwrap();
    bytes[at] = 0xff;
    let err = OtlpPayload::from_bytes(bytes.into(), &limits).unwrap_err();
    assert!(err.to_string().contains("UTF-8"), "{err}");
}
