//! OTLP/JSON for profiles requests: [`to_otlp_json`] and
//! [`to_otlp_json_string`] write a request in the OTLP JSON encoding,
//! [`from_otlp_json`] reads what any OTLP/JSON producer writes.
//!
//! ```
//! use profcol_pdata::otlp::collector::ExportProfilesServiceRequest;
//! use profcol_pdata::otlp::json::{from_otlp_json, to_otlp_json_string};
//! let req = ExportProfilesServiceRequest::default();
//! let text = to_otlp_json_string(&req, false)?;
//! assert_eq!(from_otlp_json(text.as_bytes())?, req);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Writing follows the OTLP JSON encoding (proto3 JSON mapping with OTLP's
//! exceptions):
//! - 64-bit integers (`int64`, `uint64`, `fixed64`) are decimal strings
//!   (`"timeUnixNano": "1795000000000000000"`), so that readers whose numbers
//!   are doubles (JavaScript) do not round them;
//! - trace, span and profile ids are hex strings, every other bytes field
//!   base64; field names lowerCamelCase; zero values are left out.
//!
//! Reading accepts what any OTLP/JSON producer may write (the OpenTelemetry
//! Collector leaves zero values out, others write them; integers as strings
//! or numbers; snake_case or lowerCamelCase names; unknown fields skipped).
//!
//! Both directions go through the protobuf encoding and a table of the
//! messages (`schema.rs`), not through the `opentelemetry-proto` crate's
//! serde derives, which write 64-bit integers as numbers and require every
//! field to be present when reading.

mod from_json;
mod schema;
mod to_json;

use crate::otlp::collector::ExportProfilesServiceRequest;
use prost::Message;
use serde_json::Value;

/// The request as an OTLP/JSON value.
pub fn to_otlp_json(req: &ExportProfilesServiceRequest) -> Result<Value, serde_json::Error> {
    let bytes = req.encode_to_vec();
    to_json::message(&bytes, &schema::EXPORT_REQUEST)
        .map_err(|e| serde_json::Error::io(std::io::Error::other(e.to_string())))
}

/// The request as OTLP/JSON text.
pub fn to_otlp_json_string(
    req: &ExportProfilesServiceRequest,
    pretty: bool,
) -> Result<String, serde_json::Error> {
    let v = to_otlp_json(req)?;
    if pretty {
        serde_json::to_string_pretty(&v)
    } else {
        serde_json::to_string(&v)
    }
}

/// Reads OTLP/JSON (as written by [`to_otlp_json`] or any OTLP/JSON
/// producer). Errors name the field: `resourceProfiles[0].scopeProfiles[0]
/// .profiles[0].timeUnixNano: "soon" is not a valid fixed64`.
pub fn from_otlp_json(text: &[u8]) -> Result<ExportProfilesServiceRequest, String> {
    let v: Value = serde_json::from_slice(text).map_err(|e| e.to_string())?;
    let mut wire = Vec::new();
    from_json::message(&v, &schema::EXPORT_REQUEST, &mut wire).map_err(|e| e.to_string())?;
    ExportProfilesServiceRequest::decode(wire.as_slice()).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::otlp::proto::{
        Function, Line, Link, Location, Mapping, Profile, ProfilesDictionary, ResourceProfiles,
        Sample, ScopeProfiles,
    };
    use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
    use opentelemetry_proto::tonic::resource::v1::Resource;

    /// 2^53 + 1: the first integer a double cannot hold.
    const BIG: u64 = (1 << 53) + 1;

    fn big_request() -> ExportProfilesServiceRequest {
        ExportProfilesServiceRequest {
            resource_profiles: vec![ResourceProfiles {
                resource: Some(Resource {
                    attributes: vec![KeyValue {
                        key: "pid".into(),
                        value: Some(AnyValue {
                            value: Some(any_value::Value::IntValue(i64::MIN)),
                        }),
                        ..Default::default()
                    }],
                    ..Default::default()
                }),
                scope_profiles: vec![ScopeProfiles {
                    profiles: vec![Profile {
                        time_unix_nano: BIG,
                        duration_nano: u64::MAX,
                        period: i64::MAX,
                        samples: vec![Sample {
                            values: vec![BIG as i64, -5, i64::MIN],
                            timestamps_unix_nano: vec![BIG, u64::MAX],
                            ..Default::default()
                        }],
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }],
            dictionary: Some(ProfilesDictionary {
                mapping_table: vec![Mapping {
                    memory_start: u64::MAX - 1,
                    memory_limit: u64::MAX,
                    file_offset: BIG,
                    ..Default::default()
                }],
                location_table: vec![Location {
                    address: 0xffff_ffff_ffff_f000,
                    lines: vec![Line {
                        line: i64::MAX,
                        column: BIG as i64,
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                function_table: vec![Function {
                    start_line: -(BIG as i64),
                    ..Default::default()
                }],
                ..Default::default()
            }),
        }
    }

    #[test]
    fn int64_fields_are_strings_and_survive_a_round_trip() {
        let req = big_request();
        let text = to_otlp_json_string(&req, false).unwrap();
        for want in [
            r#""timeUnixNano":"9007199254740993""#,
            r#""durationNano":"18446744073709551615""#,
            r#""period":"9223372036854775807""#,
            r#""values":["9007199254740993","-5","-9223372036854775808"]"#,
            r#""timestampsUnixNano":["9007199254740993","18446744073709551615"]"#,
            r#""memoryStart":"18446744073709551614""#,
            r#""fileOffset":"9007199254740993""#,
            r#""address":"18446744073709547520""#,
            r#""line":"9223372036854775807""#,
            r#""column":"9007199254740993""#,
            r#""startLine":"-9007199254740993""#,
            r#""intValue":"-9223372036854775808""#,
        ] {
            assert!(text.contains(want), "{want} missing in {text}");
        }
        // No 64-bit field is left a number (int32 indices may be).
        let v: Value = serde_json::from_str(&text).unwrap();
        const INT64_FIELDS: [&str; 13] = [
            "timeUnixNano",
            "durationNano",
            "period",
            "values",
            "timestampsUnixNano",
            "memoryStart",
            "memoryLimit",
            "fileOffset",
            "address",
            "line",
            "column",
            "startLine",
            "intValue",
        ];
        fn no_numbers_under(v: &Value) -> bool {
            match v {
                Value::Object(m) => m.iter().all(|(k, c)| {
                    if INT64_FIELDS.contains(&k.as_str()) {
                        !c.is_number()
                            && c.as_array().is_none_or(|a| a.iter().all(Value::is_string))
                    } else {
                        no_numbers_under(c)
                    }
                }),
                Value::Array(a) => a.iter().all(no_numbers_under),
                _ => true,
            }
        }
        assert!(no_numbers_under(&v), "{text}");
        assert_eq!(from_otlp_json(text.as_bytes()).unwrap(), req);
        let pretty = to_otlp_json_string(&req, true).unwrap();
        assert_eq!(from_otlp_json(pretty.as_bytes()).unwrap(), req);
    }

    #[test]
    fn readers_accept_numbers_strings_and_snake_case_names() {
        let text = br#"{"resource_profiles":[{"scopeProfiles":[{"profiles":[{
            "time_unix_nano": 9007199254740993, "durationNano": "10",
            "samples": [{"values": [1, "9007199254740993"], "timestamps_unix_nano": [5]}]}]}]}],
            "dictionary": {"locationTable": [{"address": "4096", "lines": [{"line": 7}]}],
                           "linkTable": [{"trace_id": "0102", "spanId": "ff"}]}}"#;
        let req = from_otlp_json(text).unwrap();
        let p = &req.resource_profiles[0].scope_profiles[0].profiles[0];
        assert_eq!((p.time_unix_nano, p.duration_nano), (BIG, 10));
        assert_eq!(p.samples[0].values, [1, BIG as i64]);
        assert_eq!(p.samples[0].timestamps_unix_nano, [5]);
        let d = req.dictionary.unwrap();
        assert_eq!(d.location_table[0].address, 4096);
        assert_eq!(d.location_table[0].lines[0].line, 7);
        assert_eq!(d.link_table[0].trace_id, [1, 2]);
        assert_eq!(d.link_table[0].span_id, [0xff]);
        let bad =
            br#"{"resourceProfiles":[{"scopeProfiles":[{"profiles":[{"timeUnixNano":"soon"}]}]}]}"#;
        assert_eq!(
            from_otlp_json(bad).unwrap_err(),
            r#"resourceProfiles[0].scopeProfiles[0].profiles[0].timeUnixNano: "soon" is not a valid fixed64"#
        );
    }

    #[test]
    fn bytes_fields_become_strings() {
        let req = ExportProfilesServiceRequest {
            resource_profiles: vec![ResourceProfiles {
                scope_profiles: vec![ScopeProfiles {
                    profiles: vec![Profile {
                        original_payload: vec![1, 2, 255],
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }],
            dictionary: Some(ProfilesDictionary {
                link_table: vec![
                    Link::default(),
                    Link {
                        trace_id: vec![0xab; 16],
                        span_id: vec![0x01; 8],
                    },
                ],
                ..Default::default()
            }),
        };
        let v = to_otlp_json(&req).unwrap();
        let p = &v["resourceProfiles"][0]["scopeProfiles"][0]["profiles"][0];
        assert_eq!(p["originalPayload"], "AQL/");
        let links = &v["dictionary"]["linkTable"];
        assert_eq!(links[0], serde_json::json!({}), "zero values are left out");
        assert_eq!(links[1]["traceId"], "ab".repeat(16));
        assert_eq!(links[1]["spanId"], "0101010101010101");
        let text = serde_json::to_vec(&v).unwrap();
        assert_eq!(from_otlp_json(&text).unwrap(), req, "reads back");
        assert_eq!(
            from_otlp_json(br#"{"dictionary":{"linkTable":[{},{"traceId":"zz"}]}}"#).unwrap_err(),
            r#"dictionary.linkTable[1].traceId: "zz" is neither hex nor base64"#
        );
    }

    /// The OpenTelemetry Collector's pdata leaves zero values out; that
    /// reads, and every AnyValue member (including the profiles-only
    /// `stringValueStrindex` and a zero `intValue`) survives a round trip.
    #[test]
    fn sparse_json_and_every_any_value_member() {
        let text = br#"{"resourceProfiles":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"svc"}}]},
            "scopeProfiles":[{"scope":{"name":"profcol"},"profiles":[{"sampleType":{},"samples":[{"values":["3"]}],
            "periodType":{"typeStrindex":1},"profileId":"0102030405060708090a0b0c0d0e0f10"}]}]}],
            "dictionary":{"stringTable":["","cpu"],"attributeTable":[{},
                {"keyStrindex":1,"value":{"intValue":"0"}},
                {"value":{"stringValueStrindex":1}},
                {"value":{"bytesValue":"AQL/"}},
                {"value":{"doubleValue":"NaN"}},
                {"value":{"boolValue":false}},
                {"value":{"arrayValue":{"values":[{"stringValue":"a"},{"intValue":7}]}}},
                {"value":{"kvlistValue":{"values":[{"key":"k","value":{"doubleValue":1.5}}]}}}]}}"#;
        let req = from_otlp_json(text).unwrap();
        let p = &req.resource_profiles[0].scope_profiles[0].profiles[0];
        assert_eq!(p.samples[0].values, [3]);
        assert_eq!(p.period_type.unwrap().type_strindex, 1);
        assert_eq!(p.profile_id, (1..=16).collect::<Vec<u8>>());
        let attrs = &req.dictionary.as_ref().unwrap().attribute_table;
        use any_value::Value as V;
        let v = |i: usize| attrs[i].value.as_ref().unwrap().value.clone().unwrap();
        assert_eq!(v(1), V::IntValue(0));
        assert_eq!(v(2), V::StringValueStrindex(1));
        assert_eq!(v(3), V::BytesValue(vec![1, 2, 255]));
        assert!(matches!(v(4), V::DoubleValue(d) if d.is_nan()));
        assert_eq!(v(5), V::BoolValue(false));
        let V::ArrayValue(a) = v(6) else { panic!() };
        assert_eq!(a.values[1].value, Some(V::IntValue(7)));
        let V::KvlistValue(kv) = v(7) else { panic!() };
        assert_eq!(
            kv.values[0].value.as_ref().unwrap().value,
            Some(V::DoubleValue(1.5))
        );

        let out = to_otlp_json_string(&req, false).unwrap();
        for want in [
            r#"{"intValue":"0"}"#,
            r#"{"stringValueStrindex":1}"#,
            r#"{"bytesValue":"AQL/"}"#,
            r#"{"doubleValue":"NaN"}"#,
            r#"{"boolValue":false}"#,
            r#""profileId":"0102030405060708090a0b0c0d0e0f10""#,
            r#""sampleType":{}"#,
        ] {
            assert!(out.contains(want), "{want} missing in {out}");
        }
        let again = from_otlp_json(out.as_bytes()).unwrap();
        // NaN != NaN: compare the encodings.
        assert_eq!(again.encode_to_vec(), req.encode_to_vec());
    }

    /// Every field of every message set to something other than its zero
    /// value survives JSON and back: the schema's numbers, names and types
    /// match the crate's messages.
    #[test]
    fn every_field_round_trips() {
        use opentelemetry_proto::tonic::common::v1::{
            ArrayValue, EntityRef, InstrumentationScope, KeyValueList,
        };
        let kv = |k: &str, v: any_value::Value| KeyValue {
            key: k.into(),
            value: Some(AnyValue { value: Some(v) }),
            key_strindex: 3,
        };
        let req = ExportProfilesServiceRequest {
            resource_profiles: vec![ResourceProfiles {
                resource: Some(Resource {
                    attributes: vec![kv("a", any_value::Value::BoolValue(true))],
                    dropped_attributes_count: 1,
                    entity_refs: vec![EntityRef {
                        schema_url: "s".into(),
                        r#type: "service".into(),
                        id_keys: vec!["service.name".into()],
                        description_keys: vec!["d".into()],
                    }],
                }),
                scope_profiles: vec![ScopeProfiles {
                    scope: Some(InstrumentationScope {
                        name: "n".into(),
                        version: "v".into(),
                        attributes: vec![kv(
                            "arr",
                            any_value::Value::ArrayValue(ArrayValue {
                                values: vec![AnyValue {
                                    value: Some(any_value::Value::KvlistValue(KeyValueList {
                                        values: vec![kv("d", any_value::Value::DoubleValue(-0.5))],
                                    })),
                                }],
                            }),
                        )],
                        dropped_attributes_count: 2,
                    }),
                    profiles: vec![Profile {
                        sample_type: Some(crate::otlp::proto::ValueType {
                            type_strindex: 1,
                            unit_strindex: 2,
                        }),
                        samples: vec![Sample {
                            stack_index: 1,
                            attribute_indices: vec![1, 2],
                            link_index: 1,
                            values: vec![-1, 2],
                            timestamps_unix_nano: vec![BIG],
                        }],
                        time_unix_nano: BIG,
                        duration_nano: 5,
                        period_type: Some(crate::otlp::proto::ValueType {
                            type_strindex: 3,
                            unit_strindex: 4,
                        }),
                        period: -7,
                        profile_id: vec![9; 16],
                        dropped_attributes_count: 3,
                        original_payload_format: "pprof".into(),
                        original_payload: vec![0, 255],
                        attribute_indices: vec![4],
                    }],
                    schema_url: "scope-schema".into(),
                }],
                schema_url: "resource-schema".into(),
            }],
            dictionary: Some(ProfilesDictionary {
                mapping_table: vec![Mapping {
                    memory_start: 1,
                    memory_limit: 2,
                    file_offset: 3,
                    filename_strindex: 4,
                    attribute_indices: vec![5],
                }],
                location_table: vec![Location {
                    mapping_index: 1,
                    address: 2,
                    lines: vec![Line {
                        function_index: 1,
                        line: 2,
                        column: 3,
                    }],
                    attribute_indices: vec![-1],
                }],
                function_table: vec![Function {
                    name_strindex: 1,
                    system_name_strindex: 2,
                    filename_strindex: 3,
                    start_line: 4,
                }],
                link_table: vec![Link {
                    trace_id: vec![0xab; 16],
                    span_id: vec![0xcd; 8],
                }],
                string_table: vec!["".into(), "ü".into()],
                attribute_table: vec![crate::otlp::proto::KeyValueAndUnit {
                    key_strindex: 1,
                    value: Some(AnyValue {
                        value: Some(any_value::Value::StringValue("x".into())),
                    }),
                    unit_strindex: 2,
                }],
                stack_table: vec![crate::otlp::proto::Stack {
                    location_indices: vec![1, 2, 3],
                }],
            }),
        };
        let text = to_otlp_json_string(&req, true).unwrap();
        assert_eq!(from_otlp_json(text.as_bytes()).unwrap(), req, "{text}");
    }

    /// The corpus, converted, reads back equal.
    #[test]
    fn corpus_requests_round_trip() {
        for (path, bytes) in crate::testutil::corpus() {
            let p = crate::pprof::decode_pprof(&bytes, &Default::default()).unwrap();
            let req = crate::oracle::to_otlp(&[crate::ProfileRecord::from_profile(
                crate::Labels::new(),
                &p,
            )
            .unwrap()]);
            let text = to_otlp_json_string(&req, false).unwrap();
            assert_eq!(
                from_otlp_json(text.as_bytes()).unwrap(),
                req,
                "{}",
                path.display()
            );
        }
    }

    #[test]
    fn wrong_shapes_are_errors_with_paths() {
        for (text, want) in [
            (&b"[]"[..], "expected an object, found an array"),
            (
                br#"{"resourceProfiles":{}}"#,
                "resourceProfiles: expected an array, found an object",
            ),
            (
                br#"{"dictionary":{"stringTable":[1]}}"#,
                "dictionary.stringTable[0]: expected a string, found a number",
            ),
            (
                br#"{"dictionary":{"stackTable":[{"locationIndices":["x"]}]}}"#,
                r#"dictionary.stackTable[0].locationIndices[0]: "x" is not a valid int32"#,
            ),
            (
                br#"{"dictionary":{"functionTable":[{"nameStrindex":4294967296}]}}"#,
                "dictionary.functionTable[0].nameStrindex: 4294967296 is not a valid int32",
            ),
        ] {
            assert_eq!(from_otlp_json(text).unwrap_err(), want);
        }
        // Unknown keys and nulls are skipped.
        let req = from_otlp_json(br#"{"future":1,"dictionary":null}"#).unwrap();
        assert_eq!(req, ExportProfilesServiceRequest::default());
    }

    proptest::proptest! {
        /// Arbitrary JSON text never panics the reader; whatever it reads
        /// writes and reads back to the same message.
        #[test]
        fn arbitrary_json_reads_or_fails_cleanly(
            text in r#"\{("(resourceProfiles|dictionary|stringTable|linkTable|traceId|values|timeUnixNano|scopeProfiles|profiles|samples|x)":(\[|\{|"[0-9a-f]{0,4}"|-?[0-9]{1,20}|null|true|,|\]|\})*){0,6}\}"#,
        ) {
            if let Ok(req) = from_otlp_json(text.as_bytes()) {
                let out = to_otlp_json_string(&req, false).unwrap();
                let again = from_otlp_json(out.as_bytes()).unwrap();
                proptest::prop_assert_eq!(again.encode_to_vec(), req.encode_to_vec());
            }
        }
    }
}
