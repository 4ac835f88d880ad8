//! Builds one pprof profile from a group of OTLP profiles: every
//! dictionary entry they use becomes a pprof one (once per profile, through
//! memo tables shared by the request), bounds-checked.

use super::any_to_string;
use crate::otlp::conventions::{
    ATTR_BUILD_ID, ATTR_COMMENT, ATTR_DOC_URL, ATTR_DROP_FRAMES, ATTR_HAS_FILENAMES,
    ATTR_HAS_FUNCTIONS, ATTR_HAS_INLINE_FRAMES, ATTR_HAS_LINE_NUMBERS, ATTR_IS_FOLDED,
    ATTR_KEEP_FRAMES, ATTR_LEGACY_DEFAULT_SAMPLE_TYPE, SPAN_ID_LABEL, TRACE_ID_LABEL,
};
use crate::otlp::proto;
use crate::pprof;
use crate::Error;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue};
use std::collections::HashMap;

/// Build-id attribute keys read back, in order of preference.
const BUILD_ID_KEYS: [&str; 3] = [
    ATTR_BUILD_ID,
    "process.executable.build_id.go",
    "process.executable.build_id.htlhash",
];

fn index_err(table: &'static str, index: i32, len: usize) -> Error {
    Error::OtlpIndex {
        table,
        index: i64::from(index),
        len,
    }
}

/// `table[idx]`; `None` for index 0 of an empty table (the zero value).
fn at<'a, T>(table: &'a [T], idx: i32, name: &'static str) -> Result<Option<&'a T>, Error> {
    if idx == 0 && table.is_empty() {
        return Ok(None);
    }
    usize::try_from(idx)
        .ok()
        .and_then(|i| table.get(i))
        .map(Some)
        .ok_or_else(|| index_err(name, idx, table.len()))
}

/// Dictionary index → pprof id/index, valid for one pprof profile: entries
/// carry the generation that wrote them, so starting a new profile is O(1).
struct Memo {
    slots: Vec<(u32, u64)>,
}

impl Memo {
    fn new(len: usize) -> Self {
        Memo {
            slots: vec![(0, 0); len],
        }
    }
    #[inline]
    fn get(&self, gen: u32, i: usize) -> Option<u64> {
        self.slots.get(i).filter(|s| s.0 == gen).map(|s| s.1)
    }
    #[inline]
    fn set(&mut self, gen: u32, i: usize, v: u64) {
        if let Some(s) = self.slots.get_mut(i) {
            *s = (gen, v);
        }
    }
}

/// Memo tables shared by every profile of one request.
pub(super) struct Cache {
    gen: u32,
    strings: Memo,
    functions: Memo,
    mappings: Memo,
    locations: Memo,
}

impl Cache {
    pub(super) fn new(d: &proto::ProfilesDictionary) -> Self {
        Cache {
            gen: 0,
            strings: Memo::new(d.string_table.len()),
            functions: Memo::new(d.function_table.len()),
            mappings: Memo::new(d.mapping_table.len()),
            locations: Memo::new(d.location_table.len()),
        }
    }
}

/// Builds one pprof profile from a group of OTLP profiles.
pub(super) struct Builder<'a> {
    d: &'a proto::ProfilesDictionary,
    cache: &'a mut Cache,
    p: pprof::Profile,
    extra_strings: HashMap<String, i64>,
}

impl<'a> Builder<'a> {
    pub(super) fn new(d: &'a proto::ProfilesDictionary, cache: &'a mut Cache) -> Self {
        cache.gen = cache.gen.wrapping_add(1);
        if cache.gen == 0 {
            *cache = Cache::new(d);
            cache.gen = 1;
        }
        let p = pprof::Profile {
            string_table: vec![String::new()],
            ..Default::default()
        };
        Builder {
            d,
            cache,
            p,
            extra_strings: HashMap::new(),
        }
    }

    fn string(&mut self, idx: i32) -> Result<i64, Error> {
        if idx == 0 {
            return Ok(0);
        }
        let gen = self.cache.gen;
        let slot = usize::try_from(idx)
            .map_err(|_| index_err("string", idx, self.d.string_table.len()))?;
        if let Some(v) = self.cache.strings.get(gen, slot) {
            return Ok(v as i64);
        }
        let s = self
            .d
            .string_table
            .get(slot)
            .ok_or_else(|| index_err("string", idx, self.d.string_table.len()))?;
        if s.is_empty() {
            return Ok(0);
        }
        let v = self.p.string_table.len() as i64;
        self.p.string_table.push(s.clone());
        self.cache.strings.set(gen, slot, v as u64);
        Ok(v)
    }

    /// A string that is not in the dictionary (formatted values).
    fn literal(&mut self, s: &str) -> i64 {
        if s.is_empty() {
            return 0;
        }
        if let Some(&i) = self.extra_strings.get(s) {
            return i;
        }
        let i = self.p.string_table.len() as i64;
        self.p.string_table.push(s.to_string());
        self.extra_strings.insert(s.to_string(), i);
        i
    }

    fn value_type(&mut self, vt: &proto::ValueType) -> Result<pprof::ValueType, Error> {
        Ok(pprof::ValueType {
            r#type: self.string(vt.type_strindex)?,
            unit: self.string(vt.unit_strindex)?,
        })
    }

    fn attribute(&self, idx: i32) -> Result<Option<&'a proto::KeyValueAndUnit>, Error> {
        at(&self.d.attribute_table, idx, "attribute")
    }

    fn key_of(&self, a: &proto::KeyValueAndUnit) -> Result<&'a str, Error> {
        Ok(at(&self.d.string_table, a.key_strindex, "string")?.map_or("", String::as_str))
    }

    fn function(&mut self, idx: i32) -> Result<u64, Error> {
        if idx == 0 {
            return Ok(0);
        }
        let gen = self.cache.gen;
        if let Some(id) = usize::try_from(idx)
            .ok()
            .and_then(|i| self.cache.functions.get(gen, i))
        {
            return Ok(id);
        }
        let Some(f) = at(&self.d.function_table, idx, "function")? else {
            return Ok(0);
        };
        let id = self.p.function.len() as u64 + 1;
        let func = pprof::Function {
            id,
            name: self.string(f.name_strindex)?,
            system_name: self.string(f.system_name_strindex)?,
            filename: self.string(f.filename_strindex)?,
            start_line: f.start_line,
        };
        self.p.function.push(func);
        self.cache.functions.set(gen, idx as usize, id);
        Ok(id)
    }

    fn mapping(&mut self, idx: i32) -> Result<u64, Error> {
        if idx == 0 {
            return Ok(0);
        }
        let gen = self.cache.gen;
        if let Some(id) = usize::try_from(idx)
            .ok()
            .and_then(|i| self.cache.mappings.get(gen, i))
        {
            return Ok(id);
        }
        let Some(m) = at(&self.d.mapping_table, idx, "mapping")? else {
            return Ok(0);
        };
        let id = self.p.mapping.len() as u64 + 1;
        let mut pm = pprof::Mapping {
            id,
            memory_start: m.memory_start,
            memory_limit: m.memory_limit,
            file_offset: m.file_offset,
            filename: self.string(m.filename_strindex)?,
            ..Default::default()
        };
        let mut build_id: Option<(usize, &str)> = None;
        for &ai in &m.attribute_indices {
            let Some(a) = self.attribute(ai)? else {
                continue;
            };
            let key = self.key_of(a)?;
            let value = a.value.as_ref().and_then(|v| v.value.as_ref());
            let flag = matches!(value, Some(any_value::Value::BoolValue(true)));
            match key {
                ATTR_HAS_FUNCTIONS => pm.has_functions = flag,
                ATTR_HAS_FILENAMES => pm.has_filenames = flag,
                ATTR_HAS_LINE_NUMBERS => pm.has_line_numbers = flag,
                ATTR_HAS_INLINE_FRAMES => pm.has_inline_frames = flag,
                k => {
                    if let (Some(rank), Some(any_value::Value::StringValue(v))) =
                        (BUILD_ID_KEYS.iter().position(|b| *b == k), value)
                    {
                        if build_id.is_none_or(|(r, _)| rank < r) {
                            build_id = Some((rank, v.as_str()));
                        }
                    }
                }
            }
        }
        if let Some((_, b)) = build_id {
            pm.build_id = self.literal(b);
        }
        self.p.mapping.push(pm);
        self.cache.mappings.set(gen, idx as usize, id);
        Ok(id)
    }

    fn location(&mut self, idx: i32) -> Result<u64, Error> {
        let gen = self.cache.gen;
        if let Some(id) = usize::try_from(idx)
            .ok()
            .and_then(|i| self.cache.locations.get(gen, i))
        {
            return Ok(id);
        }
        let loc = at(&self.d.location_table, idx, "location")?;
        let id = self.p.location.len() as u64 + 1;
        let mut pl = pprof::Location {
            id,
            ..Default::default()
        };
        if let Some(l) = loc {
            pl.mapping_id = self.mapping(l.mapping_index)?;
            pl.address = l.address;
            pl.line.reserve_exact(l.lines.len());
            for line in &l.lines {
                pl.line.push(pprof::Line {
                    function_id: self.function(line.function_index)?,
                    line: line.line,
                    column: line.column,
                });
            }
            for &ai in &l.attribute_indices {
                if let Some(a) = self.attribute(ai)? {
                    if self.key_of(a)? == ATTR_IS_FOLDED {
                        pl.is_folded = matches!(
                            a.value.as_ref().and_then(|v| v.value.as_ref()),
                            Some(any_value::Value::BoolValue(true))
                        );
                    }
                }
            }
        }
        self.p.location.push(pl);
        if idx >= 0 {
            self.cache.locations.set(gen, idx as usize, id);
        }
        Ok(id)
    }

    /// Appends the labels attribute `idx` stands for (one per element of
    /// an array value) to `out`.
    fn labels(&mut self, idx: i32, out: &mut Vec<pprof::Label>) -> Result<(), Error> {
        let Some(a) = self.attribute(idx)? else {
            return Ok(());
        };
        let key = self.string(a.key_strindex)?;
        match a.value.as_ref().and_then(|v| v.value.as_ref()) {
            Some(any_value::Value::ArrayValue(arr)) => {
                for v in &arr.values {
                    if let Some(l) = self.label(key, a.unit_strindex, v)? {
                        out.push(l);
                    }
                }
            }
            Some(_) => {
                if let Some(v) = &a.value {
                    if let Some(l) = self.label(key, a.unit_strindex, v)? {
                        out.push(l);
                    }
                }
            }
            None => {}
        }
        Ok(())
    }

    fn label(&mut self, key: i64, unit: i32, v: &AnyValue) -> Result<Option<pprof::Label>, Error> {
        let str_label = |str| pprof::Label {
            key,
            str,
            num: 0,
            num_unit: 0,
        };
        Ok(Some(match v.value.as_ref() {
            Some(any_value::Value::IntValue(n)) => pprof::Label {
                key,
                str: 0,
                num: *n,
                num_unit: self.string(unit)?,
            },
            Some(any_value::Value::StringValue(s)) => str_label(self.literal(s)),
            Some(any_value::Value::BoolValue(b)) => {
                str_label(self.literal(if *b { "true" } else { "false" }))
            }
            Some(any_value::Value::DoubleValue(d)) => str_label(self.literal(&d.to_string())),
            _ => return Ok(None),
        }))
    }

    /// Appends the `span_id`/`trace_id` labels of link `idx` to `out`.
    fn link_labels(&mut self, idx: i32, out: &mut Vec<pprof::Label>) -> Result<(), Error> {
        let Some(link) = at(&self.d.link_table, idx, "link")? else {
            return Ok(());
        };
        for (key, id) in [
            (SPAN_ID_LABEL, &link.span_id),
            (TRACE_ID_LABEL, &link.trace_id),
        ] {
            if id.is_empty() || id.iter().all(|&b| b == 0) {
                continue;
            }
            let hex: String = id.iter().map(|b| format!("{b:02x}")).collect();
            let (key, str) = (self.literal(key), self.literal(&hex));
            out.push(pprof::Label {
                key,
                str,
                num: 0,
                num_unit: 0,
            });
        }
        Ok(())
    }

    fn profile_attributes(&mut self, indices: &[i32]) -> Result<(), Error> {
        for &ai in indices {
            let Some(a) = self.attribute(ai)? else {
                continue;
            };
            let key = self.key_of(a)?;
            let value = a.value.as_ref().and_then(|v| v.value.as_ref());
            match (key, value) {
                (ATTR_COMMENT, Some(any_value::Value::ArrayValue(arr))) => {
                    for v in &arr.values {
                        if let Some(s) = any_to_string(v) {
                            let c = self.literal(&s);
                            self.p.comment.push(c);
                        }
                    }
                }
                (ATTR_DROP_FRAMES, Some(any_value::Value::StringValue(s))) => {
                    self.p.drop_frames = self.literal(s)
                }
                (ATTR_KEEP_FRAMES, Some(any_value::Value::StringValue(s))) => {
                    self.p.keep_frames = self.literal(s)
                }
                (ATTR_DOC_URL, Some(any_value::Value::StringValue(s))) => {
                    self.p.doc_url = self.literal(s)
                }
                (ATTR_LEGACY_DEFAULT_SAMPLE_TYPE, Some(any_value::Value::StringValue(s))) => {
                    self.p.default_sample_type = self.literal(s)
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// The pprof profile of `group`: sample type `order[i]` (or `i`) from
    /// profile `i`.
    pub(super) fn build(
        mut self,
        group: &[proto::Profile],
        order: Option<&[usize]>,
        default_sample_type: Option<&str>,
    ) -> Result<pprof::Profile, Error> {
        let Some(first) = group.first() else {
            return Ok(self.p);
        };
        let n_types = group.len();
        let slot = |i: usize| order.and_then(|o| o.get(i).copied()).unwrap_or(i);
        self.p.sample_type = vec![pprof::ValueType::default(); n_types];
        for (i, prof) in group.iter().enumerate() {
            let vt = match &prof.sample_type {
                Some(vt) => self.value_type(vt)?,
                None => pprof::ValueType::default(),
            };
            if let Some(t) = self.p.sample_type.get_mut(slot(i)) {
                *t = vt;
            }
        }
        self.p.time_nanos = i64::try_from(first.time_unix_nano).unwrap_or(i64::MAX);
        self.p.duration_nanos = i64::try_from(first.duration_nano).unwrap_or(i64::MAX);
        self.p.period = first.period;
        if let Some(vt) = &first.period_type {
            self.p.period_type = Some(self.value_type(vt)?);
        }
        self.profile_attributes(&first.attribute_indices)?;
        if let Some(t) = default_sample_type {
            self.p.default_sample_type = self.literal(t);
        }

        // One pprof sample per identity, in order of first appearance.
        let mut by_identity: HashMap<(i32, &[i32], i32), usize> = HashMap::new();
        self.p.sample.reserve_exact(first.samples.len());
        for (i, prof) in group.iter().enumerate() {
            let t = slot(i);
            for s in &prof.samples {
                let key = (s.stack_index, s.attribute_indices.as_slice(), s.link_index);
                let at_sample = match by_identity.get(&key) {
                    Some(&k) => k,
                    None => {
                        let sample = self.sample(s, n_types)?;
                        self.p.sample.push(sample);
                        by_identity.insert(key, self.p.sample.len() - 1);
                        self.p.sample.len() - 1
                    }
                };
                if let Some(v) = self
                    .p
                    .sample
                    .get_mut(at_sample)
                    .and_then(|p| p.value.get_mut(t))
                {
                    *v = v.saturating_add(sample_value(s));
                }
            }
        }
        Ok(self.p)
    }

    /// A pprof sample with `s`'s stack and labels and `n_types` zeros.
    fn sample(&mut self, s: &proto::Sample, n_types: usize) -> Result<pprof::Sample, Error> {
        let stack = at(&self.d.stack_table, s.stack_index, "stack")?;
        let mut location_id = Vec::with_capacity(stack.map_or(0, |s| s.location_indices.len()));
        for &li in stack.iter().flat_map(|s| &s.location_indices) {
            location_id.push(self.location(li)?);
        }
        let mut label = Vec::with_capacity(s.attribute_indices.len());
        for &ai in &s.attribute_indices {
            self.labels(ai, &mut label)?;
        }
        if s.link_index != 0 {
            self.link_labels(s.link_index, &mut label)?;
        }
        Ok(pprof::Sample {
            location_id,
            value: vec![0; n_types],
            label,
        })
    }
}

fn sample_value(s: &proto::Sample) -> i64 {
    if s.values.is_empty() {
        i64::try_from(s.timestamps_unix_nano.len()).unwrap_or(i64::MAX)
    } else {
        s.values.iter().fold(0i64, |a, &v| a.saturating_add(v))
    }
}
