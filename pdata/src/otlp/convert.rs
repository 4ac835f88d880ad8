//! `Converter`: interns one pprof profile's tables into the request's
//! [`DictBuilder`] as OTLP entries, each pprof entry at most once (lazily
//! filled maps from table positions to dictionary indexes), and turns its
//! labels into attributes and links as DESIGN.md §5 says. The writer
//! ([`crate::otlp::OtlpWriter`]) drives it sample by sample over a
//! [`PprofView`](crate::pprof::PprofView); the test oracle
//! ([`crate::oracle`]) over a decoded profile.

use crate::otlp::conventions::{
    ATTR_BUILD_ID, ATTR_COMMENT, ATTR_DOC_URL, ATTR_DROP_FRAMES, ATTR_HAS_FILENAMES,
    ATTR_HAS_FUNCTIONS, ATTR_HAS_INLINE_FRAMES, ATTR_HAS_LINE_NUMBERS, ATTR_IS_FOLDED,
    ATTR_KEEP_FRAMES, SPAN_ID_LABEL, TRACE_ID_LABEL,
};
use crate::otlp::dict::{AttrValue, DictBuilder};
use crate::otlp::index_cache::IndexCache;
use crate::otlp::proto;
use crate::pprof;
use crate::pprof::ids::IdMap;
use crate::pprof::tables::{StringTable, Tables};
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, ArrayValue};
use std::borrow::Cow;

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

const UNSET: i32 = -1;

/// Per-profile state: lazily filled maps from pprof table positions to
/// dictionary indexes, so each pprof entry is hashed at most once. The
/// string table is given apart from the profile so that the zero-copy view
/// ([`crate::pprof::PprofView`]) shares this code, and so the dictionary order; the
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
    lines: Vec<proto::Line>,
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
    pub(crate) period_type: Option<proto::ValueType>,
    /// One per pprof sample type, in order.
    pub(crate) sample_types: Vec<proto::ValueType>,
}

impl<'a, S: StringTable + ?Sized, T: Tables> Converter<'a, S, T> {
    /// A converter that caches every location's index (the oracle's).
    #[cfg(any(test, feature = "oracle"))]
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

    fn value_type(&mut self, vt: &pprof::ValueType) -> proto::ValueType {
        proto::ValueType {
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
        let f = proto::Function {
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
        let om = proto::Mapping {
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
            lines.push(proto::Line {
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

    /// The label's attribute index, interned in the dictionary (which
    /// dedups it): for callers that cache labels themselves (the writer,
    /// by their encoded bytes; the oracle by their values). A
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
            let parts: Vec<proto::KeyValueAndUnit> =
                same.iter().map(|&b| self.dict.attribute_at(b)).collect();
            let unit = parts.iter().map(|p| p.unit_strindex).find(|&u| u != 0);
            let values = parts.into_iter().filter_map(|p| p.value).collect();
            let merged = proto::KeyValueAndUnit {
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
}
