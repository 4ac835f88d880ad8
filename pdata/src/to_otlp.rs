//! pprof → OTLP profiles (DESIGN.md §5). One `ExportProfilesServiceRequest`
//! per call with one shared, deduplicated `ProfilesDictionary`.
//!
//! - One `ResourceProfiles` per distinct `labels.public()` set, in order of
//!   first appearance: `service_name` becomes `service.name`, every other
//!   public label (`__name__`, `__delta__` included) keeps its name. One
//!   `ScopeProfiles` each, scope `profcol` at the crate version.
//! - One OTLP `Profile` per pprof sample type, in sample-type order. Every
//!   pprof sample gives one OTLP sample with a single value in each of them —
//!   zeros included, so the profiles of one pprof align sample by sample and
//!   [`crate::from_otlp`] can merge them back.
//! - Stacks are leaf first and locations keep their line order (lines[0] is
//!   the innermost inlined frame), as in pprof.
//! - Sample labels become attributes: string labels as strings, numeric
//!   labels (`str` unset) as ints with `num_unit` as the unit.
//! - Mapping build id → `process.executable.build_id.gnu` and the `has_*`
//!   flags → `pprof.mapping.has_*` (when true); `is_folded` →
//!   `pprof.location.is_folded`; comments, drop/keep frames, doc url and the
//!   default sample type → `pprof.profile.*` profile attributes.
//! - `original_payload` stays empty; `profile_id` is not set.

use crate::dict::{AttrValue, Capacity, DictBuilder};
use crate::hash::IdentityHasher;
use crate::ids::IdMap;
use crate::index_cache::IndexCache;
use crate::labels::{Labels, SERVICE_NAME};
use crate::otlp;
use crate::otlp_collector::ExportProfilesServiceRequest;
use crate::pprof;
use crate::tables::{StringTable, Tables};
use crate::ProfileRecord;
use opentelemetry_proto::tonic::common::v1::{
    any_value, AnyValue, ArrayValue, InstrumentationScope, KeyValue,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use std::borrow::Cow;
use std::collections::HashMap;
use std::hash::BuildHasherDefault;

/// The scope name on every `ScopeProfiles` profcol produces.
pub const SCOPE_NAME: &str = "profcol";
/// The resource attribute `service_name` maps to.
pub const SERVICE_NAME_ATTRIBUTE: &str = "service.name";

pub(crate) const ATTR_BUILD_ID: &str = "process.executable.build_id.gnu";
pub(crate) const ATTR_HAS_FUNCTIONS: &str = "pprof.mapping.has_functions";
pub(crate) const ATTR_HAS_FILENAMES: &str = "pprof.mapping.has_filenames";
pub(crate) const ATTR_HAS_LINE_NUMBERS: &str = "pprof.mapping.has_line_numbers";
pub(crate) const ATTR_HAS_INLINE_FRAMES: &str = "pprof.mapping.has_inline_frames";
pub(crate) const ATTR_IS_FOLDED: &str = "pprof.location.is_folded";
pub(crate) const ATTR_COMMENT: &str = "pprof.profile.comment";
pub(crate) const ATTR_DROP_FRAMES: &str = "pprof.profile.drop_frames";
pub(crate) const ATTR_KEEP_FRAMES: &str = "pprof.profile.keep_frames";
pub(crate) const ATTR_DOC_URL: &str = "pprof.profile.doc_url";
pub(crate) const ATTR_DEFAULT_SAMPLE_TYPE: &str = "pprof.profile.default_sample_type";

/// Converts profile records to one OTLP request.
pub fn to_otlp(records: &[ProfileRecord]) -> ExportProfilesServiceRequest {
    let mut cap = Capacity::default();
    for r in records {
        add_capacity(&mut cap, &r.profile);
    }
    let mut dict = DictBuilder::new(cap);
    let mut resources: Vec<otlp::ResourceProfiles> = Vec::new();
    let mut by_labels: HashMap<Labels, usize> = HashMap::new();
    for r in records {
        let public = r.labels.public();
        let at = match by_labels.get(&public) {
            Some(&i) => i,
            None => {
                resources.push(resource_profiles(&public));
                by_labels.insert(public, resources.len() - 1);
                resources.len() - 1
            }
        };
        if let Some(scope) = resources
            .get_mut(at)
            .and_then(|rp| rp.scope_profiles.first_mut())
        {
            Converter::new(&*r.profile, r.profile.string_table.as_slice(), &mut dict)
                .convert_into(&mut scope.profiles);
        }
    }
    ExportProfilesServiceRequest {
        resource_profiles: resources,
        dictionary: Some(dict.finish()),
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

/// Bytes of the attribute keys converting `p`'s header may add to the
/// string table (mapping flags and build ids, profile attributes), to size
/// it up front.
pub(crate) fn attribute_key_bytes(p: &pprof::Profile) -> usize {
    let any = |f: &dyn Fn(&pprof::Mapping) -> bool| p.mapping.iter().any(f);
    [
        (any(&|m| m.build_id != 0), ATTR_BUILD_ID),
        (any(&|m| m.has_functions), ATTR_HAS_FUNCTIONS),
        (any(&|m| m.has_filenames), ATTR_HAS_FILENAMES),
        (any(&|m| m.has_line_numbers), ATTR_HAS_LINE_NUMBERS),
        (any(&|m| m.has_inline_frames), ATTR_HAS_INLINE_FRAMES),
        (!p.comment.is_empty(), ATTR_COMMENT),
        (p.drop_frames != 0, ATTR_DROP_FRAMES),
        (p.keep_frames != 0, ATTR_KEEP_FRAMES),
        (p.doc_url != 0, ATTR_DOC_URL),
        (p.default_sample_type != 0, ATTR_DEFAULT_SAMPLE_TYPE),
    ]
    .iter()
    .filter(|(used, _)| *used)
    .map(|(_, key)| key.len())
    .sum()
}

/// Converts one pprof profile with no labels (a file on disk, a test).
pub fn profile_to_otlp(profile: &pprof::Profile) -> ExportProfilesServiceRequest {
    to_otlp(&[ProfileRecord::new(Labels::new(), profile.clone())])
}

fn string_kv(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.to_string())),
        }),
        ..Default::default()
    }
}

pub(crate) fn resource_profiles(labels: &Labels) -> otlp::ResourceProfiles {
    let attributes = labels
        .iter()
        .map(|(k, v)| {
            string_kv(
                if k == SERVICE_NAME {
                    SERVICE_NAME_ATTRIBUTE
                } else {
                    k
                },
                v,
            )
        })
        .collect();
    otlp::ResourceProfiles {
        resource: Some(Resource {
            attributes,
            ..Default::default()
        }),
        scope_profiles: vec![otlp::ScopeProfiles {
            scope: Some(InstrumentationScope {
                name: SCOPE_NAME.to_string(),
                version: env!("CARGO_PKG_VERSION").to_string(),
                ..Default::default()
            }),
            profiles: Vec::new(),
            schema_url: String::new(),
        }],
        schema_url: String::new(),
    }
}

const UNSET: i32 = -1;

/// Per-profile state: lazily filled maps from pprof table positions to
/// dictionary indexes, so each pprof entry is hashed at most once. The
/// string table is given apart from the profile so that the zero-copy view
/// ([`crate::view`]) shares this code, and so the dictionary order; the
/// functions and locations are read through [`Tables`].
pub(crate) struct Converter<'a, S: ?Sized, T: ?Sized = pprof::Profile> {
    p: &'a T,
    strs: &'a S,
    pub(crate) dict: &'a mut DictBuilder,
    strings: IndexCache,
    functions: IndexCache,
    mappings: Vec<i32>,
    locations: IndexCache,
    function_ids: Cow<'a, IdMap>,
    mapping_ids: IdMap,
    location_ids: Cow<'a, IdMap>,
    lines: Vec<otlp::Line>,
    /// Attribute index per distinct label (key, str, num, num_unit): most
    /// profiles repeat a few labels on every sample. Filled by the general
    /// path only ([`Converter::labels`]).
    labels: HashMap<[i64; 4], i32, BuildHasherDefault<IdentityHasher>>,
    /// The pprof lines of the location being converted.
    pprof_lines: Vec<pprof::Line>,
}

/// What every OTLP profile made from one pprof profile shares.
pub(crate) struct ProfileHead {
    pub(crate) attributes: Vec<i32>,
    pub(crate) period_type: Option<otlp::ValueType>,
    /// One per pprof sample type, in order.
    pub(crate) sample_types: Vec<otlp::ValueType>,
}

impl<'a, S: StringTable + ?Sized, T: Tables> Converter<'a, S, T> {
    pub(crate) fn new(p: &'a T, strs: &'a S, dict: &'a mut DictBuilder) -> Self {
        Self::with_location_cache(p, strs, dict, true)
    }

    /// [`new`](Self::new), but without a cache of the locations' indexes
    /// when `cache` is false, for a caller that keeps them itself (then
    /// each call of [`location`](Self::location) interns the location).
    pub(crate) fn with_location_cache(
        p: &'a T,
        strs: &'a S,
        dict: &'a mut DictBuilder,
        cache: bool,
    ) -> Self {
        let mapping = &p.profile().mapping;
        Converter {
            p,
            strs,
            dict,
            strings: IndexCache::new(strs.count()),
            functions: IndexCache::new(p.function_count()),
            mappings: vec![UNSET; mapping.len()],
            locations: IndexCache::new(if cache { p.location_count() } else { 0 }),
            function_ids: p.function_ids(),
            mapping_ids: IdMap::build(mapping.iter().map(|m| m.id)),
            location_ids: p.location_ids(),
            lines: Vec::new(),
            pprof_lines: Vec::new(),
            labels: HashMap::default(),
        }
    }

    /// The bytes of the pprof string at `idx`, empty when out of range.
    #[inline]
    fn s_bytes(&self, idx: i64) -> &'a [u8] {
        let strs: &'a S = self.strs;
        usize::try_from(idx)
            .ok()
            .and_then(|i| strs.bytes(i))
            .unwrap_or(&[])
    }

    /// The pprof string at `idx`, or "" when out of range.
    fn s(&self, idx: i64) -> &'a str {
        // Checked when decoded: never "" for a string in range.
        std::str::from_utf8(self.s_bytes(idx)).unwrap_or("")
    }

    #[inline]
    fn string(&mut self, idx: i64) -> i32 {
        let Some(slot) = usize::try_from(idx)
            .ok()
            .filter(|&i| i < self.strings.len())
        else {
            return 0;
        };
        match self.strings.get(slot) {
            Some(s) => s,
            None => {
                let s = self.dict.string_bytes(self.s_bytes(idx));
                self.strings.set(slot, s);
                s
            }
        }
    }

    fn value_type(&mut self, vt: &pprof::ValueType) -> otlp::ValueType {
        otlp::ValueType {
            type_strindex: self.string(vt.r#type),
            unit_strindex: self.string(vt.unit),
        }
    }

    fn function(&mut self, id: u64) -> i32 {
        let Some(pos) = self.function_ids.get(id) else {
            return 0;
        };
        if let Some(f) = self.functions.get(pos) {
            return f;
        }
        let Some(f) = self.p.function(pos) else {
            return 0;
        };
        let f = otlp::Function {
            name_strindex: self.string(f.name),
            system_name_strindex: self.string(f.system_name),
            filename_strindex: self.string(f.filename),
            start_line: f.start_line,
        };
        let i = self.dict.function(f);
        self.functions.set(pos, i);
        i
    }

    fn mapping(&mut self, id: u64) -> i32 {
        let Some(pos) = self.mapping_ids.get(id) else {
            return 0;
        };
        if let Some(&m) = self.mappings.get(pos).filter(|&&m| m != UNSET) {
            return m;
        }
        let p: &'a pprof::Profile = self.p.profile();
        let Some(m) = p.mapping.get(pos) else {
            return 0;
        };
        let mut attrs = Vec::new();
        if m.build_id != 0 {
            let v = self.s(m.build_id);
            attrs.push(self.dict.attribute_named(ATTR_BUILD_ID, AttrValue::Str(v)));
        }
        for (flag, key) in [
            (m.has_functions, ATTR_HAS_FUNCTIONS),
            (m.has_filenames, ATTR_HAS_FILENAMES),
            (m.has_line_numbers, ATTR_HAS_LINE_NUMBERS),
            (m.has_inline_frames, ATTR_HAS_INLINE_FRAMES),
        ] {
            if flag {
                attrs.push(self.dict.attribute_named(key, AttrValue::Bool(true)));
            }
        }
        let om = otlp::Mapping {
            memory_start: m.memory_start,
            memory_limit: m.memory_limit,
            file_offset: m.file_offset,
            filename_strindex: self.string(m.filename),
            attribute_indices: attrs,
        };
        let i = self.dict.mapping(om);
        if let Some(c) = self.mappings.get_mut(pos) {
            *c = i;
        }
        i
    }

    /// The dictionary index of the location with pprof id `id`, or None when
    /// no such location exists.
    #[inline]
    pub(crate) fn location(&mut self, id: u64) -> Option<i32> {
        let pos = self.location_ids.get(id)?;
        if let Some(l) = self.locations.get(pos) {
            return Some(l);
        }
        let p = self.p;
        let mut plines = std::mem::take(&mut self.pprof_lines);
        let l = p.location(pos, &mut plines)?;
        let mapping = if l.mapping_id == 0 {
            0
        } else {
            self.mapping(l.mapping_id)
        };
        let mut lines = std::mem::take(&mut self.lines);
        lines.clear();
        for line in &plines {
            lines.push(otlp::Line {
                function_index: if line.function_id == 0 {
                    0
                } else {
                    self.function(line.function_id)
                },
                line: line.line,
                column: line.column,
            });
        }
        let folded;
        let attrs: &[i32] = if l.is_folded {
            folded = [self
                .dict
                .attribute_named(ATTR_IS_FOLDED, AttrValue::Bool(true))];
            &folded
        } else {
            &[]
        };
        let i = self.dict.location(mapping, l.address, &lines, attrs);
        self.lines = lines;
        self.pprof_lines = plines;
        self.locations.set(pos, i);
        Some(i)
    }

    fn profile_attributes(&mut self) -> Vec<i32> {
        let p: &'a pprof::Profile = self.p.profile();
        let mut attrs = Vec::new();
        if !p.comment.is_empty() {
            let values = p
                .comment
                .iter()
                .map(|&c| AnyValue {
                    value: Some(any_value::Value::StringValue(self.s(c).to_string())),
                })
                .collect();
            attrs.push(self.dict.attribute_any(
                ATTR_COMMENT,
                AnyValue {
                    value: Some(any_value::Value::ArrayValue(ArrayValue { values })),
                },
            ));
        }
        for (idx, key) in [
            (p.drop_frames, ATTR_DROP_FRAMES),
            (p.keep_frames, ATTR_KEEP_FRAMES),
            (p.doc_url, ATTR_DOC_URL),
            (p.default_sample_type, ATTR_DEFAULT_SAMPLE_TYPE),
        ] {
            if idx != 0 {
                let v = self.s(idx);
                attrs.push(self.dict.attribute_named(key, AttrValue::Str(v)));
            }
        }
        attrs
    }

    /// The label's attribute index, looked up in the per-profile cache
    /// first (the general path's samples carry their labels decoded).
    fn cached_label(&mut self, l: &pprof::Label) -> i32 {
        let k = [l.key, l.str, l.num, l.num_unit];
        if let Some(&i) = self.labels.get(&k) {
            return i;
        }
        let i = self.label(l);
        self.labels.insert(k, i);
        i
    }

    /// The label's attribute index, interned in the dictionary (which
    /// dedups it): for callers that cache labels themselves (the writer,
    /// by their encoded bytes), so the cache above stays unallocated.
    pub(crate) fn label(&mut self, l: &pprof::Label) -> i32 {
        let key = self.string(l.key);
        if l.str != 0 {
            let v = self.s(l.str);
            self.dict.attribute(key, AttrValue::Str(v), 0)
        } else {
            let unit = self.string(l.num_unit);
            self.dict.attribute(key, AttrValue::Int(l.num), unit)
        }
    }

    /// Interns the profile-wide parts, in the order the dictionary gets them.
    pub(crate) fn head(&mut self) -> ProfileHead {
        let p: &'a pprof::Profile = self.p.profile();
        let attributes = self.profile_attributes();
        let period_type = p.period_type.as_ref().map(|vt| self.value_type(vt));
        let sample_types = p.sample_type.iter().map(|vt| self.value_type(vt)).collect();
        ProfileHead {
            attributes,
            period_type,
            sample_types,
        }
    }

    /// Interns one sample's stack and labels: returns the stack index and
    /// fills `attrs` with the label attribute indexes.
    #[inline]
    pub(crate) fn sample(
        &mut self,
        location_ids: &[u64],
        labels: &[pprof::Label],
        stack: &mut Vec<i32>,
        attrs: &mut Vec<i32>,
    ) -> i32 {
        stack.clear();
        for &id in location_ids {
            if let Some(l) = self.location(id) {
                stack.push(l);
            }
        }
        let stack_index = self.dict.stack(stack);
        self.labels(labels, attrs);
        stack_index
    }

    /// Interns one sample's labels into `attrs` (cleared first).
    #[inline]
    pub(crate) fn labels(&mut self, labels: &[pprof::Label], attrs: &mut Vec<i32>) {
        attrs.clear();
        for l in labels {
            attrs.push(self.cached_label(l));
        }
    }
}

impl<S: StringTable + ?Sized> Converter<'_, S> {
    fn convert_into(mut self, out: &mut Vec<otlp::Profile>) {
        let p = self.p;
        let head = self.head();
        let n_types = head.sample_types.len();
        let first = out.len();
        for vt in &head.sample_types {
            out.push(otlp::Profile {
                sample_type: Some(*vt),
                samples: Vec::with_capacity(p.sample.len()),
                time_unix_nano: u64::try_from(p.time_nanos).unwrap_or(0),
                duration_nano: u64::try_from(p.duration_nanos).unwrap_or(0),
                period_type: head.period_type,
                period: p.period,
                attribute_indices: head.attributes.clone(),
                ..Default::default()
            });
        }
        let mut stack: Vec<i32> = Vec::with_capacity(64);
        let mut sample_attrs: Vec<i32> = Vec::new();
        for s in &p.sample {
            let stack_index = self.sample(&s.location_id, &s.label, &mut stack, &mut sample_attrs);
            for (t, prof) in out.iter_mut().skip(first).take(n_types).enumerate() {
                prof.samples.push(otlp::Sample {
                    stack_index,
                    attribute_indices: sample_attrs.clone(),
                    link_index: 0,
                    values: vec![s.value.get(t).copied().unwrap_or(0)],
                    timestamps_unix_nano: Vec::new(),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::Builder;

    fn record(labels: &[(&str, &str)], p: pprof::Profile) -> ProfileRecord {
        ProfileRecord::new(Labels::from_pairs(labels.iter().copied()), p)
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
        assert_eq!(d.mapping_table[0], otlp::Mapping::default());
        assert_eq!(d.location_table[0], otlp::Location::default());
        assert_eq!(d.function_table[0], otlp::Function::default());
        assert_eq!(d.link_table[0], otlp::Link::default());
        assert_eq!(d.attribute_table[0], otlp::KeyValueAndUnit::default());
        assert_eq!(d.stack_table[0], otlp::Stack::default());
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
                ("__name__".to_string(), "memory".to_string()),
                ("job".into(), "j".into()),
                ("service.name".into(), "api".into())
            ]
        );
        let scope = &rp.scope_profiles[0];
        assert_eq!(scope.scope.as_ref().unwrap().name, "profcol");
        assert_eq!(
            scope.scope.as_ref().unwrap().version,
            env!("CARGO_PKG_VERSION")
        );
        assert_eq!(scope.profiles.len(), 4, "two records x two sample types");
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
        assert_eq!(scope.profiles[1].samples[1].values, vec![128]);

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
        assert_eq!(prof.samples.len(), 2);
        assert_eq!(prof.samples[1].values, vec![0]);
    }
}
