//! Attributes that name their strings by index into the request's
//! `ProfilesDictionary.string_table` instead of carrying them:
//! `KeyValue.key_strindex` and `AnyValue.string_value_strindex`
//! (opentelemetry-proto v1.10.0, profiles only). The OpenTelemetry
//! Collector's pdata writes resource, scope and dictionary attributes this
//! way. [`resolved`] gives the request with every such reference replaced
//! by its string, so readers need only look at `key` and `string_value`.

use crate::otlp::collector::ExportProfilesServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use std::borrow::Cow;

/// `req` with its string references resolved; borrowed when it has none.
/// A reference out of range becomes the empty string.
pub fn resolved(req: &ExportProfilesServiceRequest) -> Cow<'_, ExportProfilesServiceRequest> {
    if !has_refs(req) {
        return Cow::Borrowed(req);
    }
    let mut out = req.clone();
    let strings = out
        .dictionary
        .as_ref()
        .map(|d| d.string_table.clone())
        .unwrap_or_default();
    let s = |i: i32| {
        usize::try_from(i)
            .ok()
            .and_then(|i| strings.get(i))
            .cloned()
            .unwrap_or_default()
    };
    for rp in &mut out.resource_profiles {
        for kv in rp.resource.iter_mut().flat_map(|r| &mut r.attributes) {
            resolve_kv(kv, &s);
        }
        for sp in &mut rp.scope_profiles {
            for kv in sp.scope.iter_mut().flat_map(|sc| &mut sc.attributes) {
                resolve_kv(kv, &s);
            }
        }
    }
    for a in out
        .dictionary
        .iter_mut()
        .flat_map(|d| &mut d.attribute_table)
    {
        if let Some(v) = &mut a.value {
            resolve_value(v, &s);
        }
    }
    Cow::Owned(out)
}

fn has_refs(req: &ExportProfilesServiceRequest) -> bool {
    let kv_refs = |kv: &KeyValue| kv.key_strindex != 0 || kv.value.as_ref().is_some_and(value_refs);
    req.resource_profiles.iter().any(|rp| {
        rp.resource.iter().flat_map(|r| &r.attributes).any(kv_refs)
            || rp
                .scope_profiles
                .iter()
                .flat_map(|sp| sp.scope.iter().flat_map(|s| &s.attributes))
                .any(kv_refs)
    }) || req
        .dictionary
        .iter()
        .flat_map(|d| &d.attribute_table)
        .any(|a| a.value.as_ref().is_some_and(value_refs))
}

fn value_refs(v: &AnyValue) -> bool {
    match &v.value {
        Some(any_value::Value::StringValueStrindex(_)) => true,
        Some(any_value::Value::ArrayValue(a)) => a.values.iter().any(value_refs),
        Some(any_value::Value::KvlistValue(l)) => l
            .values
            .iter()
            .any(|kv| kv.key_strindex != 0 || kv.value.as_ref().is_some_and(value_refs)),
        _ => false,
    }
}

fn resolve_kv(kv: &mut KeyValue, s: &impl Fn(i32) -> String) {
    if kv.key.is_empty() && kv.key_strindex != 0 {
        kv.key = s(kv.key_strindex);
    }
    kv.key_strindex = 0;
    if let Some(v) = &mut kv.value {
        resolve_value(v, s);
    }
}

fn resolve_value(v: &mut AnyValue, s: &impl Fn(i32) -> String) {
    match &mut v.value {
        Some(any_value::Value::StringValueStrindex(i)) => {
            v.value = Some(any_value::Value::StringValue(s(*i)));
        }
        Some(any_value::Value::ArrayValue(a)) => {
            for x in &mut a.values {
                resolve_value(x, s);
            }
        }
        Some(any_value::Value::KvlistValue(l)) => {
            for kv in &mut l.values {
                resolve_kv(kv, s);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::otlp::proto;
    use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
    use opentelemetry_proto::tonic::resource::v1::Resource;

    #[test]
    fn references_become_strings() {
        let by_ref = |key: i32, value: i32| KeyValue {
            key_strindex: key,
            value: Some(AnyValue {
                value: Some(any_value::Value::StringValueStrindex(value)),
            }),
            ..Default::default()
        };
        let req = ExportProfilesServiceRequest {
            resource_profiles: vec![proto::ResourceProfiles {
                resource: Some(Resource {
                    attributes: vec![by_ref(1, 2), by_ref(1, 99)],
                    ..Default::default()
                }),
                scope_profiles: vec![proto::ScopeProfiles {
                    scope: Some(InstrumentationScope {
                        attributes: vec![by_ref(3, 2)],
                        ..Default::default()
                    }),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            dictionary: Some(proto::ProfilesDictionary {
                string_table: vec!["".into(), "service.name".into(), "api".into(), "k".into()],
                ..Default::default()
            }),
        };
        let out = resolved(&req);
        let attrs = &out.resource_profiles[0]
            .resource
            .as_ref()
            .unwrap()
            .attributes;
        assert_eq!(attrs[0].key, "service.name");
        assert_eq!(
            attrs[0].value.as_ref().unwrap().value,
            Some(any_value::Value::StringValue("api".into()))
        );
        assert_eq!(
            attrs[1].value.as_ref().unwrap().value,
            Some(any_value::Value::StringValue(String::new())),
            "out of range: empty"
        );
        let scope = out.resource_profiles[0].scope_profiles[0].scope.as_ref();
        assert_eq!(scope.unwrap().attributes[0].key, "k");
        // A request without references is not copied.
        assert!(matches!(resolved(&out), Cow::Borrowed(_)));
    }
}
