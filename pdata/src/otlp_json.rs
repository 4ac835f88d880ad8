//! OTLP/JSON for profiles requests. The `opentelemetry-proto` crate's serde
//! derives write bytes fields as arrays of numbers; OTLP/JSON wants trace and
//! span ids as hex strings and every other bytes field as base64, so those
//! fields are rewritten after serialization.

use crate::otlp_collector::ExportProfilesServiceRequest;
use base64::Engine;
use serde_json::Value;

/// Fields holding trace or span ids: hex strings in OTLP/JSON.
const HEX_FIELDS: &[&str] = &["traceId", "spanId"];
/// Other bytes fields: base64 strings (proto3 JSON mapping).
const BASE64_FIELDS: &[&str] = &["originalPayload", "bytesValue"];

/// The request as an OTLP/JSON value.
pub fn to_otlp_json(req: &ExportProfilesServiceRequest) -> Result<Value, serde_json::Error> {
    let mut v = serde_json::to_value(req)?;
    fix_bytes(&mut v);
    Ok(v)
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
/// producer; arrays of numbers for bytes are accepted too).
pub fn from_otlp_json(text: &[u8]) -> Result<ExportProfilesServiceRequest, String> {
    let mut v: Value = serde_json::from_slice(text).map_err(|e| e.to_string())?;
    unfix_bytes(&mut v)?;
    serde_json::from_value(v).map_err(|e| e.to_string())
}

fn unfix_bytes(v: &mut Value) -> Result<(), String> {
    match v {
        Value::Object(map) => {
            for (k, child) in map.iter_mut() {
                let decoded = match (child.as_str(), k.as_str()) {
                    (Some(s), key) if HEX_FIELDS.contains(&key) => {
                        Some(hex(s).ok_or_else(|| format!("{key}: {s:?} is not hex"))?)
                    }
                    (Some(s), key) if BASE64_FIELDS.contains(&key) => Some(
                        base64::engine::general_purpose::STANDARD
                            .decode(s)
                            .map_err(|e| format!("{key}: not base64: {e}"))?,
                    ),
                    _ => None,
                };
                match decoded {
                    Some(b) => *child = Value::Array(b.into_iter().map(Value::from).collect()),
                    None => unfix_bytes(child)?,
                }
            }
            Ok(())
        }
        Value::Array(items) => items.iter_mut().try_for_each(unfix_bytes),
        _ => Ok(()),
    }
}

fn hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| s.get(i..i + 2).and_then(|b| u8::from_str_radix(b, 16).ok()))
        .collect()
}

fn as_bytes(v: &Value) -> Option<Vec<u8>> {
    v.as_array()?
        .iter()
        .map(|n| n.as_u64().and_then(|n| u8::try_from(n).ok()))
        .collect()
}

fn fix_bytes(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for (k, child) in map.iter_mut() {
                if HEX_FIELDS.contains(&k.as_str()) {
                    if let Some(b) = as_bytes(child) {
                        *child = Value::String(b.iter().map(|x| format!("{x:02x}")).collect());
                        continue;
                    }
                }
                if BASE64_FIELDS.contains(&k.as_str()) {
                    if let Some(b) = as_bytes(child) {
                        *child = Value::String(base64::engine::general_purpose::STANDARD.encode(b));
                        continue;
                    }
                }
                fix_bytes(child);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(fix_bytes),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::otlp::{Link, Profile, ProfilesDictionary, ResourceProfiles, ScopeProfiles};

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
        assert_eq!(links[0]["traceId"], "");
        assert_eq!(links[1]["traceId"], "ab".repeat(16));
        assert_eq!(links[1]["spanId"], "0101010101010101");
        let text = serde_json::to_vec(&v).unwrap();
        assert_eq!(from_otlp_json(&text).unwrap(), req, "reads back");
        assert!(from_otlp_json(br#"{"dictionary":{"linkTable":[{"traceId":"zz"}]}}"#).is_err());
    }
}
