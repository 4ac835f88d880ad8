//! OTLP profiles → pprof: [`from_otlp`] reads a request back into one
//! [`ProfileRecord`] per pprof profile, the inverse of the writer
//! ([`crate::otlp::to_otlp_bytes`]).
//!
//! Grouping rule: a `ScopeProfiles` whose scope carries
//! `pprof.scope.sample_type_order` (a permutation of its profiles' indexes,
//! as profcol and other pprof converters write it: one scope per pprof)
//! becomes one pprof profile, sample type `order[i]` from profile `i`, its
//! default sample type from `pprof.scope.default_sample_type`. Without it,
//! consecutive OTLP profiles of a scope merge into one pprof with several
//! sample types when they share time, duration, period type, period and
//! profile attributes, and their samples align one to one (same count, and
//! at each position the same stack, attributes and link), and no sample
//! type repeats within the group; anything else gives one pprof per OTLP
//! profile.
//!
//! Within a group, samples of the same identity (stack, attributes, link)
//! in any of the profiles are one pprof sample, a value per sample type (0
//! where a profile left it out). So a round trip gives back each original
//! pprof as [`crate::pprof::canonical`] sees it once equal samples are
//! combined and all-zero ones dropped (`Canonical::normalized`).
//!
//! Each record's labels are its resource's attributes (`service.name` →
//! `service_name`). A sample's value is the sum of its `values`, or the
//! number of its timestamps when it has no values. Attribute values other
//! than strings and ints become string labels (bools, doubles), arrays one
//! label per element, others (maps, bytes) are skipped. A link becomes the
//! labels `span_id` (and `trace_id` when it has one), lowercase hex.
//! Attributes naming their strings by index (`key_strindex`,
//! `string_value_strindex`, as the OpenTelemetry Collector writes them) are
//! read like plain ones (`string_refs.rs`). Every
//! index is bounds-checked: a bad one is an [`Error::OtlpIndex`], never a
//! panic.

mod builder;

use crate::labels::Labels;
use crate::otlp::collector::ExportProfilesServiceRequest;
use crate::otlp::conventions::{
    ATTR_SCOPE_DEFAULT_SAMPLE_TYPE, ATTR_SCOPE_SAMPLE_TYPE_ORDER, SERVICE_NAME_ATTRIBUTE,
};
use crate::otlp::proto;
use crate::{Error, ProfileRecord};
use builder::{Builder, Cache};
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue};

/// Converts an OTLP request back to pprof profile records.
pub fn from_otlp(req: &ExportProfilesServiceRequest) -> Result<Vec<ProfileRecord>, Error> {
    let req = crate::otlp::string_refs::resolved(req);
    let empty = proto::ProfilesDictionary::default();
    let dict = req.dictionary.as_ref().unwrap_or(&empty);
    let mut cache = Cache::new(dict);
    let mut out = Vec::new();
    for rp in &req.resource_profiles {
        let labels = resource_labels(rp);
        for sp in &rp.scope_profiles {
            let conventions = ScopeConventions::read(sp);
            if let Some(order) = &conventions.order {
                let profile = Builder::new(dict, &mut cache).build(
                    &sp.profiles,
                    Some(order),
                    conventions.default_sample_type,
                )?;
                out.push(ProfileRecord::from_profile(labels.clone(), &profile)?);
                continue;
            }
            let mut i = 0;
            while i < sp.profiles.len() {
                let group_len = group_len(&sp.profiles[i..]);
                let group = sp.profiles.get(i..i + group_len).unwrap_or(&[]);
                let profile = Builder::new(dict, &mut cache).build(
                    group,
                    None,
                    conventions.default_sample_type,
                )?;
                out.push(ProfileRecord::from_profile(labels.clone(), &profile)?);
                i += group_len.max(1);
            }
        }
    }
    Ok(out)
}

/// The pprof semantic conventions a scope carries.
struct ScopeConventions<'a> {
    /// The pprof sample type index of each profile, when it is a
    /// permutation of the profiles' indexes.
    order: Option<Vec<usize>>,
    default_sample_type: Option<&'a str>,
}

impl<'a> ScopeConventions<'a> {
    fn read(sp: &'a proto::ScopeProfiles) -> Self {
        let mut c = ScopeConventions {
            order: None,
            default_sample_type: None,
        };
        for kv in sp.scope.iter().flat_map(|s| &s.attributes) {
            let value = kv.value.as_ref().and_then(|v| v.value.as_ref());
            match (kv.key.as_str(), value) {
                (ATTR_SCOPE_DEFAULT_SAMPLE_TYPE, Some(any_value::Value::StringValue(t))) => {
                    c.default_sample_type = Some(t.as_str());
                }
                (ATTR_SCOPE_SAMPLE_TYPE_ORDER, Some(any_value::Value::ArrayValue(a))) => {
                    let n = sp.profiles.len();
                    let order: Option<Vec<usize>> = a
                        .values
                        .iter()
                        .map(|v| match v.value {
                            Some(any_value::Value::IntValue(i)) => {
                                usize::try_from(i).ok().filter(|&i| i < n)
                            }
                            _ => None,
                        })
                        .collect();
                    c.order = order.filter(|o| {
                        let mut seen = vec![false; n];
                        o.len() == n
                            && o.iter().all(|&i| {
                                seen.get_mut(i).is_some_and(|s| !std::mem::replace(s, true))
                            })
                    });
                }
                _ => {}
            }
        }
        c
    }
}

fn any_to_string(v: &AnyValue) -> Option<String> {
    match v.value.as_ref()? {
        any_value::Value::StringValue(s) => Some(s.clone()),
        any_value::Value::BoolValue(b) => Some(b.to_string()),
        any_value::Value::IntValue(i) => Some(i.to_string()),
        any_value::Value::DoubleValue(d) => Some(d.to_string()),
        _ => None,
    }
}

fn resource_labels(rp: &proto::ResourceProfiles) -> Labels {
    let mut labels = Labels::new();
    for kv in rp.resource.iter().flat_map(|r| &r.attributes) {
        if let Some(v) = kv.value.as_ref().and_then(any_to_string) {
            let key = if kv.key == SERVICE_NAME_ATTRIBUTE {
                Labels::SERVICE_NAME
            } else {
                kv.key.as_str()
            };
            labels.set(key, v);
        }
    }
    labels
}

/// How many profiles from the start of `profiles` form one pprof profile.
fn group_len(profiles: &[proto::Profile]) -> usize {
    let Some(first) = profiles.first() else {
        return 0;
    };
    let same = |p: &proto::Profile| {
        p.time_unix_nano == first.time_unix_nano
            && p.duration_nano == first.duration_nano
            && p.period_type == first.period_type
            && p.period == first.period
            && p.attribute_indices == first.attribute_indices
            && p.samples.len() == first.samples.len()
            && p.samples.iter().zip(&first.samples).all(|(a, b)| {
                a.stack_index == b.stack_index
                    && a.attribute_indices == b.attribute_indices
                    && a.link_index == b.link_index
            })
    };
    let mut n = 1;
    for p in profiles.iter().skip(1) {
        let repeated = profiles
            .iter()
            .take(n)
            .any(|q| q.sample_type == p.sample_type);
        if repeated || !same(p) {
            break;
        }
        n += 1;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oracle::to_otlp;
    use crate::pprof;
    use crate::pprof::canonical;
    use crate::testutil::Builder;
    use proptest::prelude::*;

    fn cpu() -> pprof::Profile {
        let mut b = Builder::new(&[("samples", "count"), ("cpu", "nanoseconds")]);
        b.sample(&["f+g", "main"], &[("span", "42"), ("pool", "a")], &[1, 10])
            .sample(&["h", "main"], &[], &[2, 20])
            .sample(&["f+g", "main"], &[("span", "42"), ("pool", "a")], &[0, 0]);
        let mut p = b.build();
        p.time_nanos = 5;
        p.duration_nanos = 10_000;
        p.period = 10_000_000;
        let (c, d, url) = (b.s("a comment"), b.s("drop.*"), b.s("https://doc"));
        p.string_table = b.p.string_table.clone();
        p.period_type = Some(pprof::ValueType {
            r#type: p.sample_type[1].r#type,
            unit: p.sample_type[1].unit,
        });
        p.comment = vec![c];
        p.drop_frames = d;
        p.doc_url = url;
        p.default_sample_type = p.sample_type[1].r#type;
        p.location[0].is_folded = true;
        p
    }

    #[test]
    fn round_trip_preserves_meaning() {
        let labels = Labels::from_pairs([("service_name", "svc"), ("__name__", "process_cpu")]);
        let other = Labels::from_pairs([("service_name", "svc2")]);
        let mut heap = Builder::new(&[("inuse_space", "bytes")]);
        heap.sample(&["x"], &[], &[7]);
        let records = vec![
            ProfileRecord::from_profile(labels.clone(), &cpu()).unwrap(),
            ProfileRecord::from_profile(other.clone(), &heap.build()).unwrap(),
            ProfileRecord::from_profile(labels.clone(), &cpu()).unwrap(),
        ];
        let back = from_otlp(&to_otlp(&records)).unwrap();
        assert_eq!(back.len(), 3);
        // Resources come out grouped: both `labels` records, then `other`;
        // `__name__` is no resource attribute.
        let svc = Labels::from_pairs([("service_name", "svc")]);
        assert_eq!(back[0].labels, svc);
        assert_eq!(back[1].labels, svc);
        assert_eq!(back[2].labels, other);
        let normal = |p: &pprof::Profile| canonical(p).normalized();
        assert_eq!(normal(&back[0].profile()), normal(&cpu()));
        assert_eq!(normal(&back[1].profile()), normal(&cpu()));
        assert_eq!(normal(&back[2].profile()), normal(&heap.build()));
        // The scope's conventions come back: the default sample type.
        assert_eq!(canonical(&back[0].profile()).default_sample_type, "cpu");
        // And the result is valid pprof.
        for r in &back {
            crate::oracle::validate(&r.profile(), &Default::default()).unwrap();
        }
    }

    #[test]
    fn without_the_scope_conventions_unaligned_profiles_stay_apart() {
        let mut req = to_otlp(&[ProfileRecord::from_profile(Labels::new(), &cpu()).unwrap()]);
        let sp = &mut req.resource_profiles[0].scope_profiles[0];
        sp.scope.as_mut().unwrap().attributes.clear();
        let aligned = from_otlp(&req).unwrap();
        assert_eq!(aligned.len(), 1, "aligned profiles merge");
        let sp = &mut req.resource_profiles[0].scope_profiles[0];
        sp.profiles[1].samples.pop();
        let back = from_otlp(&req).unwrap();
        assert_eq!(back.len(), 2);
        assert_eq!(back[0].profile().sample.len(), 2);
        assert_eq!(back[1].profile().sample.len(), 1);
    }

    #[test]
    fn the_scope_order_places_each_profile() {
        let mut req = to_otlp(&[ProfileRecord::from_profile(Labels::new(), &cpu()).unwrap()]);
        let sp = &mut req.resource_profiles[0].scope_profiles[0];
        sp.profiles.swap(0, 1);
        let order = sp.scope.as_mut().unwrap().attributes.iter_mut();
        for kv in order.filter(|kv| kv.key == ATTR_SCOPE_SAMPLE_TYPE_ORDER) {
            let Some(any_value::Value::ArrayValue(a)) =
                kv.value.as_mut().and_then(|v| v.value.as_mut())
            else {
                panic!("an array")
            };
            a.values.reverse();
        }
        let back = from_otlp(&req).unwrap();
        assert_eq!(back.len(), 1);
        assert_eq!(
            canonical(&back[0].profile()).normalized(),
            canonical(&cpu()).normalized()
        );
    }

    #[test]
    fn links_and_repeated_keys_round_trip() {
        let mut b = Builder::new(&[("samples", "count")]);
        b.sample(
            &["f", "main"],
            &[
                ("thread", "a"),
                ("span_id", "00f067aa0ba902b7"),
                ("thread", "b"),
                ("trace_id", "4bf92f3577b34da6a3ce929d0e0e4736"),
            ],
            &[3],
        )
        .sample(&["f", "main"], &[("span_id", "NOT-HEX")], &[1])
        .sample(&["g"], &[("span_id", "0000000000000000")], &[1]);
        let p = b.build();
        let req = to_otlp(&[ProfileRecord::from_profile(Labels::new(), &p).unwrap()]);
        let d = req.dictionary.as_ref().unwrap();
        let samples = &req.resource_profiles[0].scope_profiles[0].profiles[0].samples;
        let link = &d.link_table[samples[0].link_index as usize];
        assert_eq!(
            link.span_id,
            vec![0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7]
        );
        assert_eq!(link.trace_id.len(), 16);
        assert_eq!(samples[0].attribute_indices.len(), 1, "one key: thread");
        assert_eq!(samples[1].link_index, 0, "not an id: an attribute");
        assert_eq!(samples[2].link_index, 0, "all zeros: no id");
        let back = from_otlp(&req).unwrap();
        assert_eq!(
            canonical(&back[0].profile()).normalized(),
            canonical(&p).normalized()
        );
    }

    #[test]
    fn attributes_by_string_index_read_like_plain_ones() {
        let labels = Labels::from_pairs([("service_name", "svc")]);
        let mut req = to_otlp(&[ProfileRecord::from_profile(labels.clone(), &cpu()).unwrap()]);
        let d = req.dictionary.as_mut().unwrap();
        d.string_table.push("service.name".into());
        d.string_table.push("svc".into());
        let (k, v) = (
            d.string_table.len() as i32 - 2,
            d.string_table.len() as i32 - 1,
        );
        let kv = &mut req.resource_profiles[0]
            .resource
            .as_mut()
            .unwrap()
            .attributes[0];
        kv.key.clear();
        kv.key_strindex = k;
        kv.value = Some(AnyValue {
            value: Some(any_value::Value::StringValueStrindex(v)),
        });
        let back = from_otlp(&req).unwrap();
        assert_eq!(back[0].labels, labels);
    }

    #[test]
    fn bad_indexes_are_errors() {
        let base = to_otlp(&[ProfileRecord::from_profile(Labels::new(), &cpu()).unwrap()]);
        type Edit = Box<dyn Fn(&mut ExportProfilesServiceRequest)>;
        let cases: Vec<Edit> = vec![
            Box::new(|r| {
                r.resource_profiles[0].scope_profiles[0].profiles[0].samples[0].stack_index = 999
            }),
            Box::new(|r| {
                r.resource_profiles[0].scope_profiles[0].profiles[0].samples[0].stack_index = -1
            }),
            Box::new(|r| {
                r.dictionary.as_mut().unwrap().stack_table[1].location_indices[0] = 1 << 30
            }),
            Box::new(|r| {
                r.dictionary.as_mut().unwrap().location_table[1].lines[0].function_index = 77
            }),
            Box::new(|r| r.dictionary.as_mut().unwrap().location_table[1].mapping_index = -5),
            Box::new(|r| r.dictionary.as_mut().unwrap().function_table[1].name_strindex = 10_000),
            Box::new(|r| {
                r.resource_profiles[0].scope_profiles[0].profiles[0].samples[0].attribute_indices =
                    vec![500];
                r.resource_profiles[0].scope_profiles[0].profiles[1].samples[0].attribute_indices =
                    vec![500];
            }),
            Box::new(|r| {
                r.resource_profiles[0].scope_profiles[0].profiles[0]
                    .sample_type
                    .as_mut()
                    .unwrap()
                    .unit_strindex = 9999
            }),
            Box::new(|r| r.dictionary = None),
        ];
        for (i, f) in cases.iter().enumerate() {
            let mut r = base.clone();
            f(&mut r);
            let err = from_otlp(&r).unwrap_err();
            assert!(matches!(err, Error::OtlpIndex { .. }), "case {i}: {err}");
        }
    }

    fn arb_profile() -> impl Strategy<Value = pprof::Profile> {
        let frame = prop::sample::select(vec!["a", "b", "c", "d+e", "f+g+h", "main"]);
        let stack = prop::collection::vec(frame, 0..6);
        let label = (
            prop::sample::select(vec!["k1", "k2", "bytes"]),
            prop::sample::select(vec!["v1", "v2", "17", "-3"]),
        );
        let labels = prop::collection::vec(label, 0..3);
        let ntypes = 1usize..4;
        (
            ntypes,
            prop::collection::vec(
                (stack, labels, prop::collection::vec(-5i64..1_000_000, 3)),
                0..20,
            ),
            any::<i64>(),
            any::<u32>(),
        )
            .prop_map(|(nt, samples, time, dur)| {
                let types: Vec<(&str, &str)> = [
                    ("samples", "count"),
                    ("cpu", "nanoseconds"),
                    ("alloc_space", "bytes"),
                ][..nt]
                    .to_vec();
                let mut b = Builder::new(&types);
                for (stack, labels, values) in &samples {
                    b.sample(stack, labels, &values[..nt]);
                }
                let mut p = b.build();
                p.time_nanos = time.max(0);
                p.duration_nanos = i64::from(dur);
                p
            })
    }

    proptest! {
        #[test]
        fn round_trip_generated(profiles in prop::collection::vec(arb_profile(), 1..4)) {
            let records: Vec<ProfileRecord> = profiles
                .iter()
                .map(|p| ProfileRecord::from_profile(Labels::from_pairs([("service_name", "s")]), p).unwrap())
                .collect();
            let back = from_otlp(&to_otlp(&records)).unwrap();
            prop_assert_eq!(back.len(), profiles.len());
            for (b, p) in back.iter().zip(&profiles) {
                prop_assert_eq!(canonical(&b.profile()).normalized(), canonical(p).normalized());
            }
        }
    }
}
