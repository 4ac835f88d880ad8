//! pprof → OTLP profiles (DESIGN.md §5), built as prost messages: the
//! reference the direct writer ([`crate::otlp_writer`]) is checked against,
//! and what `convert --to otlp-json` prints. One `ExportProfilesServiceRequest`
//! per call with one shared, deduplicated `ProfilesDictionary`.
//!
//! - One `ResourceProfiles` per distinct set of resource attributes, in
//!   order of first appearance: the record's public labels without any
//!   `__`-prefixed one (`__name__` and `__delta__` are Pyroscope push
//!   labels), `service_name` as `service.name`.
//! - One `ScopeProfiles` per pprof profile, scope `profcol` at the crate
//!   version, carrying the pprof semantic conventions as scope attributes:
//!   `pprof.scope.default_sample_type` (when the pprof names one) and
//!   `pprof.scope.sample_type_order` (the pprof index of each profile, in
//!   order: `[0, 1, …]`).
//! - One OTLP `Profile` per pprof sample type, in sample-type order. Each
//!   distinct sample identity (stack, attributes, link) gives one OTLP
//!   sample with a single value, the sum of the pprof samples that share
//!   it; a sample whose value for the profile's type is zero is left out.
//! - Stacks are leaf first and locations keep their line order (lines[0] is
//!   the innermost inlined frame), as in pprof.
//! - Sample labels become attributes: string labels as strings, numeric
//!   labels (`str` unset) as ints with `num_unit` as the unit. Keys are
//!   unique within a sample: labels repeating a key become one attribute
//!   whose value is the array of their values. A `span_id` label that holds
//!   16 lowercase hex digits (with a `trace_id` of 32, when present) is the
//!   sample's link in `link_table`, not an attribute.
//! - Mapping build id → `process.executable.build_id.gnu` and the `has_*`
//!   flags → `pprof.mapping.has_*` (when true); `is_folded` →
//!   `pprof.location.is_folded`; comments, drop/keep frames and doc url →
//!   `pprof.profile.*` profile attributes.
//! - `time_unix_nano`/`duration_nano` are the pprof's `time_nanos` and
//!   `duration_nanos`: the window `[time, time + duration)`.
//! - `original_payload` stays empty; `profile_id` is not set.

use crate::dict::{AttrValue, Capacity, DictBuilder};
use crate::hash::IdentityHasher;
use crate::ids::IdMap;
use crate::index_cache::IndexCache;
use crate::labels::{Labels, RESERVED_PREFIX, SERVICE_NAME};
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
/// Scope attributes (semantic conventions, `model/pprof`).
pub const ATTR_SCOPE_DEFAULT_SAMPLE_TYPE: &str = "pprof.scope.default_sample_type";
pub const ATTR_SCOPE_SAMPLE_TYPE_ORDER: &str = "pprof.scope.sample_type_order";
/// What earlier profcol versions wrote as a profile attribute; still read.
pub(crate) const ATTR_LEGACY_DEFAULT_SAMPLE_TYPE: &str = "pprof.profile.default_sample_type";

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
    let mut resources: Vec<otlp::ResourceProfiles> = Vec::new();
    let mut by_attributes: HashMap<Labels, usize> = HashMap::new();
    for (labels, profile) in records {
        let attributes = resource_labels(labels);
        let at = match by_attributes.get(&attributes) {
            Some(&i) => i,
            None => {
                resources.push(otlp::ResourceProfiles {
                    resource: Some(resource(&attributes)),
                    scope_profiles: Vec::new(),
                    schema_url: String::new(),
                });
                by_attributes.insert(attributes, resources.len() - 1);
                resources.len() - 1
            }
        };
        let scope = Converter::new(profile, profile.string_table.as_slice(), &mut dict).convert();
        if let Some(rp) = resources.get_mut(at) {
            rp.scope_profiles.push(scope);
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
    ]
    .iter()
    .filter(|(used, _)| *used)
    .map(|(_, key)| key.len())
    .sum()
}

/// Converts one pprof profile with no labels (a file on disk, a test).
pub fn profile_to_otlp(profile: &pprof::Profile) -> ExportProfilesServiceRequest {
    profiles_to_otlp(&[(Labels::new(), profile.clone())])
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

/// The labels that become a record's resource attributes: its public
/// labels without the `__`-prefixed ones.
pub(crate) fn resource_labels(labels: &Labels) -> Labels {
    let mut public = labels.public();
    public.retain(|k, _| !k.starts_with(RESERVED_PREFIX));
    public
}

/// The resource of a set of [`resource_labels`].
pub(crate) fn resource(labels: &Labels) -> Resource {
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
    Resource {
        attributes,
        ..Default::default()
    }
}

/// The scope of one pprof profile's `ScopeProfiles`.
pub(crate) fn scope(head: &ProfileHead) -> InstrumentationScope {
    let mut attributes = Vec::with_capacity(2);
    if let Some(t) = &head.default_sample_type {
        attributes.push(string_kv(ATTR_SCOPE_DEFAULT_SAMPLE_TYPE, t));
    }
    if !head.sample_types.is_empty() {
        let values = (0..head.sample_types.len())
            .map(|i| AnyValue {
                value: Some(any_value::Value::IntValue(i as i64)),
            })
            .collect();
        attributes.push(KeyValue {
            key: ATTR_SCOPE_SAMPLE_TYPE_ORDER.to_string(),
            value: Some(AnyValue {
                value: Some(any_value::Value::ArrayValue(ArrayValue { values })),
            }),
            ..Default::default()
        });
    }
    InstrumentationScope {
        name: SCOPE_NAME.to_string(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        attributes,
        ..Default::default()
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
    /// Span and trace id labels seen, which [`label`](Self::label) gives
    /// as negative codes (`-1 - position`): they become the sample's link.
    link_ids: Vec<LinkId>,
}

/// A `span_id` or `trace_id` label that parsed as a lowercase hex id.
struct LinkId {
    trace: bool,
    bytes: [u8; 16],
    label: pprof::Label,
}

/// The pprof label keys that are trace links (as Grafana Pyroscope and the
/// Go SDKs write them).
pub(crate) const SPAN_ID_LABEL: &str = "span_id";
pub(crate) const TRACE_ID_LABEL: &str = "trace_id";

/// `s` as the `N` bytes it spells in lowercase hex, or None (also for
/// all zeros, which W3C trace context calls invalid).
fn hex_id<const N: usize>(s: &[u8]) -> Option<[u8; 16]> {
    if s.len() != 2 * N || N > 16 {
        return None;
    }
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    let mut out = [0u8; 16];
    for (o, pair) in out.iter_mut().zip(s.chunks_exact(2)) {
        *o = nibble(*pair.first()?)? << 4 | nibble(*pair.get(1)?)?;
    }
    out.iter().any(|&b| b != 0).then_some(out)
}

/// What every OTLP profile made from one pprof profile shares.
pub(crate) struct ProfileHead {
    pub(crate) attributes: Vec<i32>,
    /// The pprof's default sample type, for the scope.
    pub(crate) default_sample_type: Option<String>,
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
            link_ids: Vec::new(),
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
    /// by their encoded bytes), so the cache above stays unallocated. A
    /// `span_id`/`trace_id` label holding a lowercase hex id gives a
    /// negative code instead, which [`sample_attributes`] turns into the
    /// sample's link.
    ///
    /// [`sample_attributes`]: Self::sample_attributes
    pub(crate) fn label(&mut self, l: &pprof::Label) -> i32 {
        if l.str != 0 {
            let key = self.s_bytes(l.key);
            let id = match key {
                k if k == SPAN_ID_LABEL.as_bytes() => hex_id::<8>(self.s_bytes(l.str)),
                k if k == TRACE_ID_LABEL.as_bytes() => hex_id::<16>(self.s_bytes(l.str)),
                _ => None,
            };
            if let Some(bytes) = id {
                self.link_ids.push(LinkId {
                    trace: key == TRACE_ID_LABEL.as_bytes(),
                    bytes,
                    label: *l,
                });
                return -(self.link_ids.len() as i32);
            }
        }
        self.attribute(l)
    }

    /// The label as an attribute, whatever its key.
    fn attribute(&mut self, l: &pprof::Label) -> i32 {
        let key = self.string(l.key);
        if l.str != 0 {
            let v = self.s(l.str);
            self.dict.attribute(key, AttrValue::Str(v), 0)
        } else {
            let unit = self.string(l.num_unit);
            self.dict.attribute(key, AttrValue::Int(l.num), unit)
        }
    }

    /// Finishes the attributes of the sample whose label codes are
    /// `attrs[from..]`, as DESIGN.md §5 says: its first span id (with its
    /// first trace id, if any) becomes its link, whose index is returned;
    /// labels that repeat a key become one attribute whose value is the
    /// array of their values (in order; the unit of the first that has
    /// one: numbers of one key in different units lose theirs). Samples
    /// with at most one plain label, nearly all, are left as they are.
    #[inline]
    pub(crate) fn sample_attributes(&mut self, attrs: &mut Vec<i32>, from: usize) -> i32 {
        let codes = attrs.get(from..).unwrap_or(&[]);
        let linked = codes.iter().any(|&a| a < 0);
        if !linked && (codes.len() < 2 || !self.repeats_a_key(codes)) {
            return 0;
        }
        self.sample_attributes_slow(attrs, from)
    }

    fn repeats_a_key(&self, codes: &[i32]) -> bool {
        let key = |a: i32| self.dict.attribute_key(a);
        if codes.len() <= 16 {
            codes
                .iter()
                .enumerate()
                .any(|(i, &a)| codes.iter().take(i).any(|&b| key(b) == key(a)))
        } else {
            let mut seen = std::collections::HashSet::with_capacity(codes.len());
            codes.iter().any(|&a| !seen.insert(key(a)))
        }
    }

    #[cold]
    fn sample_attributes_slow(&mut self, attrs: &mut Vec<i32>, from: usize) -> i32 {
        let codes: Vec<i32> = attrs.drain(from..).collect();
        let (mut span, mut trace): (Option<[u8; 16]>, Option<[u8; 16]>) = (None, None);
        let mut plain: Vec<i32> = Vec::with_capacity(codes.len());
        for &code in &codes {
            let Some(id) = usize::try_from(-1 - i64::from(code))
                .ok()
                .and_then(|i| self.link_ids.get(i))
            else {
                plain.push(code);
                continue;
            };
            let slot = if id.trace { &mut trace } else { &mut span };
            match slot {
                None => *slot = Some(id.bytes),
                Some(_) => {
                    let l = id.label;
                    plain.push(self.attribute(&l));
                }
            }
        }
        // A trace id without a span id is no link: it stays a label.
        if let (None, Some(_)) = (span, trace) {
            if let Some(l) = self
                .link_ids
                .iter()
                .find(|id| id.trace && Some(id.bytes) == trace)
                .map(|id| id.label)
            {
                plain.push(self.attribute(&l));
            }
            trace = None;
        }
        let link = match span {
            Some(s) => {
                let t = trace.as_ref().map_or(&[][..], |t| &t[..]);
                self.dict.link(t, s.get(..8).unwrap_or(&[]))
            }
            None => 0,
        };
        if plain.len() >= 2 && self.repeats_a_key(&plain) {
            self.merge_repeated_keys(&plain, attrs);
        } else {
            attrs.extend_from_slice(&plain);
        }
        link
    }

    /// Appends `plain`'s attributes to `attrs`, those sharing a key merged
    /// into one array-valued attribute at the first one's place.
    fn merge_repeated_keys(&mut self, plain: &[i32], attrs: &mut Vec<i32>) {
        let keys: Vec<i32> = plain.iter().map(|&a| self.dict.attribute_key(a)).collect();
        for (i, (&a, &k)) in plain.iter().zip(&keys).enumerate() {
            if keys.iter().take(i).any(|&earlier| earlier == k) {
                continue;
            }
            let same: Vec<i32> = plain
                .iter()
                .zip(&keys)
                .filter(|(_, &kk)| kk == k)
                .map(|(&b, _)| b)
                .collect();
            if same.len() == 1 {
                attrs.push(a);
                continue;
            }
            let parts: Vec<otlp::KeyValueAndUnit> =
                same.iter().map(|&b| self.dict.attribute_at(b)).collect();
            let unit = parts.iter().map(|p| p.unit_strindex).find(|&u| u != 0);
            let values = parts.into_iter().filter_map(|p| p.value).collect();
            let merged = otlp::KeyValueAndUnit {
                key_strindex: k,
                value: Some(AnyValue {
                    value: Some(any_value::Value::ArrayValue(ArrayValue { values })),
                }),
                unit_strindex: unit.unwrap_or(0),
            };
            attrs.push(self.dict.attribute_kv(&merged));
        }
    }

    /// Interns the profile-wide parts, in the order the dictionary gets them.
    pub(crate) fn head(&mut self) -> ProfileHead {
        let p: &'a pprof::Profile = self.p.profile();
        let attributes = self.profile_attributes();
        let period_type = p.period_type.as_ref().map(|vt| self.value_type(vt));
        let sample_types = p.sample_type.iter().map(|vt| self.value_type(vt)).collect();
        let default_sample_type =
            (p.default_sample_type != 0).then(|| self.s(p.default_sample_type).to_string());
        ProfileHead {
            attributes,
            default_sample_type,
            period_type,
            sample_types,
        }
    }

    /// Interns one sample's stack and labels: returns the stack and link
    /// indexes and fills `attrs` with the attribute indexes.
    #[inline]
    pub(crate) fn sample(
        &mut self,
        location_ids: &[u64],
        labels: &[pprof::Label],
        stack: &mut Vec<i32>,
        attrs: &mut Vec<i32>,
    ) -> (i32, i32) {
        stack.clear();
        for &id in location_ids {
            if let Some(l) = self.location(id) {
                stack.push(l);
            }
        }
        let stack_index = self.dict.stack(stack);
        attrs.clear();
        for l in labels {
            let code = self.cached_label(l);
            attrs.push(code);
        }
        let link = self.sample_attributes(attrs, 0);
        (stack_index, link)
    }
}

impl<S: StringTable + ?Sized> Converter<'_, S> {
    /// The pprof profile as one `ScopeProfiles`.
    fn convert(mut self) -> otlp::ScopeProfiles {
        let p = self.p;
        let head = self.head();
        let n_types = head.sample_types.len();
        // Distinct identities in order of first appearance, values summed.
        let mut rows: Vec<(i32, Vec<i32>, i32, Vec<i64>)> = Vec::with_capacity(p.sample.len());
        let mut row_of: HashMap<(i32, Vec<i32>, i32), usize> = HashMap::new();
        let mut stack: Vec<i32> = Vec::with_capacity(64);
        let mut attrs: Vec<i32> = Vec::new();
        for s in &p.sample {
            let (stack_index, link) = self.sample(&s.location_id, &s.label, &mut stack, &mut attrs);
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
            .map(|(t, vt)| otlp::Profile {
                sample_type: Some(*vt),
                samples: rows
                    .iter()
                    .filter(|row| row.3.get(t).is_some_and(|&v| v != 0))
                    .map(|(stack_index, attrs, link, values)| otlp::Sample {
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
        otlp::ScopeProfiles {
            scope: Some(scope(&head)),
            profiles,
            schema_url: String::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::Builder;

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
