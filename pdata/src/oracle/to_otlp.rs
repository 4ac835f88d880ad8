//! pprof → OTLP built as prost messages: the reference the writer's bytes
//! are checked against (`to_otlp(records).encode_to_vec()` equals
//! [`crate::otlp::to_otlp_bytes`]), through the same [`Converter`] and
//! dictionary, then decoded back ([`super::dict::finish`]). Its tests check
//! the structure the `otlp` module doc describes (DESIGN.md §5).

use crate::labels::Labels;
use crate::otlp::collector::ExportProfilesServiceRequest;
use crate::otlp::conventions::{resource, resource_labels, scope};
use crate::otlp::convert::{attribute_key_bytes, Converter};
use crate::otlp::dict::{Capacity, DictBuilder};
use crate::otlp::proto;
use crate::pprof;
use crate::ProfileRecord;
use std::collections::HashMap;

/// Converts profile records to one OTLP request.
pub fn to_otlp(records: &[ProfileRecord]) -> ExportProfilesServiceRequest {
    let profiles: Vec<(Labels, pprof::Profile)> = records
        .iter()
        .map(|r| (r.labels.clone(), r.pprof.to_profile()))
        .collect();
    profiles_to_otlp(&profiles)
}

/// Converts decoded profiles with their labels to one OTLP request.
pub fn profiles_to_otlp(records: &[(Labels, pprof::Profile)]) -> ExportProfilesServiceRequest {
    let mut cap = Capacity::default();
    for (_, p) in records {
        add_capacity(&mut cap, p);
    }
    let mut dict = DictBuilder::new(cap);
    let mut resources: Vec<proto::ResourceProfiles> = Vec::new();
    let mut by_attributes: HashMap<Labels, usize> = HashMap::new();
    for (labels, profile) in records {
        let attributes = resource_labels(labels);
        let at = match by_attributes.get(&attributes) {
            Some(&i) => i,
            None => {
                resources.push(proto::ResourceProfiles {
                    resource: Some(resource(&attributes)),
                    scope_profiles: Vec::new(),
                    schema_url: String::new(),
                });
                by_attributes.insert(attributes, resources.len() - 1);
                resources.len() - 1
            }
        };
        let scope = scope_profiles(
            Converter::new(profile, profile.string_table.as_slice(), &mut dict),
            profile,
        );
        if let Some(rp) = resources.get_mut(at) {
            rp.scope_profiles.push(scope);
        }
    }
    ExportProfilesServiceRequest {
        resource_profiles: resources,
        dictionary: Some(super::dict::finish(dict)),
    }
}

/// Adds what the dictionary will hold for `p` to `cap`.
pub(crate) fn add_capacity(cap: &mut Capacity, p: &pprof::Profile) {
    cap.strings += p.string_table.len();
    cap.string_bytes += p.string_table.iter().map(String::len).sum::<usize>();
    cap.string_bytes += attribute_key_bytes(p);
    // About eight bytes a function, a dozen a location.
    cap.function_bytes += p.function.len() * 8;
    cap.location_bytes += p.location.len() * 12;
    cap.functions += p.function.len();
    cap.mappings += p.mapping.len();
    cap.locations += p.location.len();
    cap.stacks += p.sample.len();
    cap.stack_bytes += p.sample.len() * 16;
}

/// Converts one pprof profile with no labels (a file on disk, a test).
pub fn profile_to_otlp(profile: &pprof::Profile) -> ExportProfilesServiceRequest {
    profiles_to_otlp(&[(Labels::new(), profile.clone())])
}

/// The pprof profile as one `ScopeProfiles`: each distinct sample identity
/// (stack, attributes, link) once, in order of first appearance, its
/// values summed; one OTLP profile per sample type, its zero values left
/// out.
fn scope_profiles<S: crate::pprof::tables::StringTable + ?Sized>(
    mut c: Converter<'_, S>,
    p: &pprof::Profile,
) -> proto::ScopeProfiles {
    let head = c.head();
    let n_types = head.sample_types.len();
    // Distinct identities in order of first appearance, values summed.
    let mut rows: Vec<(i32, Vec<i32>, i32, Vec<i64>)> = Vec::with_capacity(p.sample.len());
    let mut row_of: HashMap<(i32, Vec<i32>, i32), usize> = HashMap::new();
    // Attribute code per distinct label (key, str, num, num_unit): most
    // profiles repeat a few labels on every sample.
    let mut labels: HashMap<[i64; 4], i32> = HashMap::new();
    let mut stack: Vec<i32> = Vec::with_capacity(64);
    let mut attrs: Vec<i32> = Vec::new();
    for s in &p.sample {
        stack.clear();
        for &id in &s.location_id {
            if let Some(l) = c.location(id) {
                stack.push(l);
            }
        }
        let stack_index = c.dict.stack(&stack);
        attrs.clear();
        for l in &s.label {
            let code = *labels
                .entry([l.key, l.str, l.num, l.num_unit])
                .or_insert_with(|| c.label(l));
            attrs.push(code);
        }
        let link = c.sample_attributes(&mut attrs, 0);
        let values = (0..n_types).map(|t| s.value.get(t).copied().unwrap_or(0));
        match row_of.entry((stack_index, attrs.clone(), link)) {
            std::collections::hash_map::Entry::Occupied(e) => {
                if let Some(row) = rows.get_mut(*e.get()) {
                    for (sum, v) in row.3.iter_mut().zip(values) {
                        *sum = sum.wrapping_add(v);
                    }
                }
            }
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(rows.len());
                rows.push((stack_index, attrs.clone(), link, values.collect()));
            }
        }
    }
    let profiles = head
        .sample_types
        .iter()
        .enumerate()
        .map(|(t, vt)| proto::Profile {
            sample_type: Some(*vt),
            samples: rows
                .iter()
                .filter(|row| row.3.get(t).is_some_and(|&v| v != 0))
                .map(|(stack_index, attrs, link, values)| proto::Sample {
                    stack_index: *stack_index,
                    attribute_indices: attrs.clone(),
                    link_index: *link,
                    values: vec![values.get(t).copied().unwrap_or(0)],
                    timestamps_unix_nano: Vec::new(),
                })
                .collect(),
            time_unix_nano: u64::try_from(p.time_nanos).unwrap_or(0),
            duration_nano: u64::try_from(p.duration_nanos).unwrap_or(0),
            period_type: head.period_type,
            period: p.period,
            attribute_indices: head.attributes.clone(),
            ..Default::default()
        })
        .collect();
    proto::ScopeProfiles {
        scope: Some(scope(&head)),
        profiles,
        schema_url: String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::otlp::conventions::{
        ATTR_BUILD_ID, ATTR_HAS_FUNCTIONS, ATTR_SCOPE_DEFAULT_SAMPLE_TYPE,
        ATTR_SCOPE_SAMPLE_TYPE_ORDER,
    };
    use crate::testutil::Builder;
    use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue};

    fn record(labels: &[(&str, &str)], p: pprof::Profile) -> ProfileRecord {
        ProfileRecord::from_profile(Labels::from_pairs(labels.iter().copied()), &p).unwrap()
    }

    fn heap() -> pprof::Profile {
        let mut b = Builder::new(&[("alloc_objects", "count"), ("inuse_space", "bytes")]);
        b.sample(
            &["malloc+inl", "main"],
            &[("bytes", "64"), ("thread", "t1")],
            &[3, 0],
        )
        .sample(&["main"], &[], &[1, 128]);
        let mut p = b.build();
        p.time_nanos = 1_000;
        p.duration_nanos = 2_000;
        p.period = 512;
        let (t, u) = (b.s("space"), b.s("bytes"));
        p.period_type = Some(pprof::ValueType { r#type: t, unit: u });
        p.string_table = b.p.string_table.clone();
        p
    }

    #[test]
    fn structure_follows_the_design() {
        let labels = [
            ("service_name", "api"),
            ("__name__", "memory"),
            ("job", "j"),
            ("__meta_x", "drop"),
        ];
        let req = to_otlp(&[
            record(&labels, heap()),
            record(&labels, heap()),
            record(&[("job", "k")], heap()),
        ]);
        let d = req.dictionary.as_ref().unwrap();
        let s = |i: i32| d.string_table[i as usize].as_str();
        assert_eq!(d.string_table[0], "");
        assert_eq!(d.mapping_table[0], proto::Mapping::default());
        assert_eq!(d.location_table[0], proto::Location::default());
        assert_eq!(d.function_table[0], proto::Function::default());
        assert_eq!(d.link_table[0], proto::Link::default());
        assert_eq!(d.attribute_table[0], proto::KeyValueAndUnit::default());
        assert_eq!(d.stack_table[0], proto::Stack::default());
        // No duplicates anywhere.
        let mut strings = d.string_table.clone();
        strings.sort();
        strings.dedup();
        assert_eq!(strings.len(), d.string_table.len());
        assert_eq!(d.function_table.len(), 4, "zero, malloc, inl, main");
        assert_eq!(d.location_table.len(), 3);
        assert_eq!(d.stack_table.len(), 3);

        assert_eq!(req.resource_profiles.len(), 2);
        let rp = &req.resource_profiles[0];
        let attrs: Vec<(String, String)> = rp
            .resource
            .as_ref()
            .unwrap()
            .attributes
            .iter()
            .map(
                |kv| match kv.value.as_ref().unwrap().value.as_ref().unwrap() {
                    any_value::Value::StringValue(v) => (kv.key.clone(), v.clone()),
                    other => panic!("{other:?}"),
                },
            )
            .collect();
        assert_eq!(
            attrs,
            vec![
                ("job".to_string(), "j".to_string()),
                ("service.name".into(), "api".into())
            ],
            "no __-prefixed key"
        );
        assert_eq!(rp.scope_profiles.len(), 2, "one scope per pprof");
        let scope = &rp.scope_profiles[0];
        let sc = scope.scope.as_ref().unwrap();
        assert_eq!(sc.name, "profcol");
        assert_eq!(sc.version, env!("CARGO_PKG_VERSION"));
        assert_eq!(
            sc.attributes.len(),
            1,
            "no default sample type: the order only"
        );
        assert_eq!(sc.attributes[0].key, ATTR_SCOPE_SAMPLE_TYPE_ORDER);
        let order = match sc.attributes[0]
            .value
            .as_ref()
            .unwrap()
            .value
            .as_ref()
            .unwrap()
        {
            any_value::Value::ArrayValue(a) => a.values.clone(),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            order,
            vec![
                AnyValue {
                    value: Some(any_value::Value::IntValue(0))
                },
                AnyValue {
                    value: Some(any_value::Value::IntValue(1))
                }
            ]
        );
        assert_eq!(scope.profiles.len(), 2, "two sample types");
        let prof = &scope.profiles[0];
        let st = prof.sample_type.unwrap();
        assert_eq!(
            (s(st.type_strindex), s(st.unit_strindex)),
            ("alloc_objects", "count")
        );
        let pt = prof.period_type.unwrap();
        assert_eq!(
            (s(pt.type_strindex), s(pt.unit_strindex)),
            ("space", "bytes")
        );
        assert_eq!(
            (prof.time_unix_nano, prof.duration_nano, prof.period),
            (1_000, 2_000, 512)
        );
        assert_eq!(prof.samples.len(), 2);
        assert_eq!(prof.samples[0].values, vec![3]);
        // The first sample's inuse_space is 0: left out of that profile.
        assert_eq!(scope.profiles[1].samples.len(), 1);
        assert_eq!(scope.profiles[1].samples[0].values, vec![128]);

        // Leaf first; the inlined frame keeps its line order.
        let stack = &d.stack_table[prof.samples[0].stack_index as usize];
        let leaf = &d.location_table[stack.location_indices[0] as usize];
        let names: Vec<&str> = leaf
            .lines
            .iter()
            .map(|l| s(d.function_table[l.function_index as usize].name_strindex))
            .collect();
        assert_eq!(names, vec!["malloc", "inl"]);
        let mapping = &d.mapping_table[leaf.mapping_index as usize];
        assert_eq!(s(mapping.filename_strindex), "/bin/app");
        let mkeys: Vec<&str> = mapping
            .attribute_indices
            .iter()
            .map(|&i| s(d.attribute_table[i as usize].key_strindex))
            .collect();
        assert!(
            mkeys.contains(&ATTR_BUILD_ID) && mkeys.contains(&ATTR_HAS_FUNCTIONS),
            "{mkeys:?}"
        );

        // Labels: numeric with unit, string without.
        let la: Vec<_> = prof.samples[0]
            .attribute_indices
            .iter()
            .map(|&i| &d.attribute_table[i as usize])
            .collect();
        assert_eq!(s(la[0].key_strindex), "bytes");
        assert_eq!(
            la[0].value.as_ref().unwrap().value,
            Some(any_value::Value::IntValue(64))
        );
        assert_eq!(s(la[0].unit_strindex), "bytes");
        assert_eq!(
            la[1].value.as_ref().unwrap().value,
            Some(any_value::Value::StringValue("t1".into()))
        );
        assert_eq!(la[1].unit_strindex, 0);
    }

    #[test]
    fn tolerates_dangling_references() {
        let mut p = heap();
        p.sample[0].location_id.push(999);
        p.location[0].mapping_id = 77;
        p.location[0].line[0].function_id = 55;
        p.sample[1].value.clear();
        p.sample[0].label[0].key = 10_000;
        let req = profile_to_otlp(&p);
        let prof = &req.resource_profiles[0].scope_profiles[0].profiles[0];
        assert_eq!(
            prof.samples.len(),
            1,
            "the sample without values is left out"
        );
        assert_eq!(prof.samples[0].values, vec![3]);
    }

    #[test]
    fn default_sample_type_is_a_scope_attribute() {
        let mut p = heap();
        p.default_sample_type = p.sample_type[1].r#type;
        let req = profile_to_otlp(&p);
        let sp = &req.resource_profiles[0].scope_profiles[0];
        let kv = &sp.scope.as_ref().unwrap().attributes[0];
        assert_eq!(kv.key, ATTR_SCOPE_DEFAULT_SAMPLE_TYPE);
        assert_eq!(
            kv.value.as_ref().unwrap().value,
            Some(any_value::Value::StringValue("inuse_space".into()))
        );
        let d = req.dictionary.as_ref().unwrap();
        for prof in &sp.profiles {
            for &i in &prof.attribute_indices {
                let key = &d.string_table[d.attribute_table[i as usize].key_strindex as usize];
                assert!(!key.contains("default_sample_type"), "{key}");
            }
        }
    }

    #[test]
    fn samples_of_one_identity_are_combined_and_keys_stay_unique() {
        let mut b = Builder::new(&[("samples", "count"), ("cpu", "nanoseconds")]);
        b.sample(&["f", "main"], &[("k", "1"), ("k", "2")], &[1, 10])
            .sample(&["g", "main"], &[], &[0, 0])
            .sample(&["f", "main"], &[("k", "1"), ("k", "2")], &[2, 20]);
        let req = profile_to_otlp(&b.build());
        let d = req.dictionary.as_ref().unwrap();
        let profiles = &req.resource_profiles[0].scope_profiles[0].profiles;
        for (prof, want) in profiles.iter().zip([3, 30]) {
            assert_eq!(prof.samples.len(), 1, "combined; the all-zero one left out");
            assert_eq!(prof.samples[0].values, vec![want]);
            let attrs = &prof.samples[0].attribute_indices;
            assert_eq!(attrs.len(), 1, "one attribute per key");
            let a = &d.attribute_table[attrs[0] as usize];
            let Some(any_value::Value::ArrayValue(arr)) = &a.value.as_ref().unwrap().value else {
                panic!("{a:?}")
            };
            assert_eq!(arr.values.len(), 2);
        }
    }
}
