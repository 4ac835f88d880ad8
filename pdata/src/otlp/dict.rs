//! `DictBuilder`: builds one OTLP `ProfilesDictionary` with exact dedup; the
//! [`Converter`](crate::otlp::convert::Converter) interns entries into it,
//! the writer writes it last ([`DictBuilder::encode_into`]).
//!
//! Every table starts with its zero value at index 0 and holds no duplicate
//! entries. Keys are xxh3 hashes of an entry's content; a hash hit is
//! confirmed by comparing the entry, and a collision probes the next key, so
//! dedup never merges different entries. Strings, attributes, functions,
//! locations and stacks are kept as their protobuf encoding, back to back
//! (equal encodings mean equal entries): a few bytes each instead of a
//! struct, and often a `Vec` or a `String`, per entry.

use crate::otlp::dict_table::Table;
use crate::otlp::fields::{
    ANY_VALUE_BOOL_VALUE, ANY_VALUE_INT_VALUE, ANY_VALUE_STRING_VALUE, DICTIONARY_ATTRIBUTE_TABLE,
    DICTIONARY_FUNCTION_TABLE, DICTIONARY_LINK_TABLE, DICTIONARY_LOCATION_TABLE,
    DICTIONARY_MAPPING_TABLE, DICTIONARY_STACK_TABLE, DICTIONARY_STRING_TABLE,
    FUNCTION_FILENAME_STRINDEX, FUNCTION_NAME_STRINDEX, FUNCTION_START_LINE,
    FUNCTION_SYSTEM_NAME_STRINDEX, KEY_VALUE_AND_UNIT_KEY_STRINDEX,
    KEY_VALUE_AND_UNIT_UNIT_STRINDEX, KEY_VALUE_AND_UNIT_VALUE, LINE_COLUMN, LINE_FUNCTION_INDEX,
    LINE_LINE, LOCATION_ADDRESS, LOCATION_ATTRIBUTE_INDICES, LOCATION_LINES,
    LOCATION_MAPPING_INDEX, STACK_LOCATION_INDICES,
};
use crate::otlp::proto;
use crate::otlp::sink::Sink;
use crate::otlp::stack_table::{hash, StackTable};
use crate::wire::{
    i32_varint, key_byte, len_field_size, put_key, put_varint, put_varint_field, varint_len, LEN,
    VARINT,
};
use opentelemetry_proto::tonic::common::v1::AnyValue;
use prost::Message;
use xxhash_rust::xxh3::{xxh3_64, xxh3_64_with_seed};

/// An attribute value as the converters produce them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum AttrValue<'a> {
    Str(&'a str),
    Int(i64),
    Bool(bool),
}

/// Appends the protobuf body of a `KeyValueAndUnit` to `out`, as prost
/// writes it (its `AnyValue` always present, its one-of variant always
/// written, the indexes left out when 0).
fn encode_attribute(key: i32, value: AttrValue<'_>, unit: i32, out: &mut Vec<u8>) {
    put_varint_field(out, KEY_VALUE_AND_UNIT_KEY_STRINDEX, i32_varint(key));
    put_key(out, KEY_VALUE_AND_UNIT_VALUE, LEN);
    match value {
        AttrValue::Str(s) => {
            put_varint(out, len_field_size(s.len()) as u64);
            put_key(out, ANY_VALUE_STRING_VALUE, LEN);
            put_varint(out, s.len() as u64);
            out.extend_from_slice(s.as_bytes());
        }
        AttrValue::Int(i) => {
            put_varint(out, 1 + varint_len(i as u64) as u64);
            put_key(out, ANY_VALUE_INT_VALUE, VARINT);
            put_varint(out, i as u64);
        }
        AttrValue::Bool(b) => {
            put_varint(out, 2);
            put_key(out, ANY_VALUE_BOOL_VALUE, VARINT);
            put_varint(out, u64::from(b));
        }
    }
    put_varint_field(out, KEY_VALUE_AND_UNIT_UNIT_STRINDEX, i32_varint(unit));
}

/// The key an encoded attribute starts with when its key index is set.
const KEY_STRINDEX_KEY: u8 = key_byte(KEY_VALUE_AND_UNIT_KEY_STRINDEX, VARINT);

/// Builds a `ProfilesDictionary`.
pub(crate) struct DictBuilder {
    /// The strings' bytes.
    strings: StackTable,
    /// Encoded `KeyValueAndUnit` bodies.
    attributes: StackTable,
    /// Encoded `Function` bodies.
    functions: StackTable,
    mappings: Table<proto::Mapping>,
    links: Table<proto::Link>,
    /// Encoded `Location` bodies.
    locations: StackTable,
    stacks: StackTable,
    scratch: Vec<u8>,
}

/// A sealed dictionary's tables: entries encoded as the writer writes
/// them, mappings and links as structs.
#[cfg(any(test, feature = "oracle"))]
pub(crate) struct Sealed {
    pub(crate) strings: StackTable,
    pub(crate) attributes: StackTable,
    pub(crate) functions: StackTable,
    pub(crate) mappings: Vec<proto::Mapping>,
    pub(crate) links: Vec<proto::Link>,
    pub(crate) locations: StackTable,
    pub(crate) stacks: StackTable,
}

/// Stacks looked up together by [`DictBuilder::stacks`].
pub(crate) const STACK_BATCH: usize = 16;

/// Rough table sizes, to preallocate.
#[derive(Default, Clone, Copy)]
pub(crate) struct Capacity {
    pub strings: usize,
    /// Bytes of the strings, of the encoded functions and of the encoded
    /// locations, in all (upper bounds, roughly).
    pub string_bytes: usize,
    pub function_bytes: usize,
    pub location_bytes: usize,
    pub functions: usize,
    pub mappings: usize,
    pub locations: usize,
    pub stacks: usize,
    /// Bytes of the packed location indexes of all stacks (an upper bound).
    pub stack_bytes: usize,
}

fn hash_words(words: &[u64]) -> u64 {
    let mut bytes = [0u8; 64];
    let n = words.len().min(8);
    for (chunk, w) in bytes.chunks_exact_mut(8).zip(words) {
        chunk.copy_from_slice(&w.to_le_bytes());
    }
    xxh3_64(bytes.get(..n * 8).unwrap_or(&[]))
}

fn hash_i32s(seed: u64, xs: &[i32], scratch: &mut Vec<u8>) -> u64 {
    scratch.clear();
    for x in xs {
        scratch.extend_from_slice(&x.to_le_bytes());
    }
    xxh3_64_with_seed(scratch, seed)
}

fn hash_link(trace_id: &[u8], span_id: &[u8]) -> u64 {
    xxh3_64_with_seed(span_id, xxh3_64(trace_id))
}

fn hash_mapping(m: &proto::Mapping, scratch: &mut Vec<u8>) -> u64 {
    let seed = hash_words(&[
        m.memory_start,
        m.memory_limit,
        m.file_offset,
        m.filename_strindex as u64,
    ]);
    hash_i32s(seed, &m.attribute_indices, scratch)
}

/// Appends the protobuf body of an `proto::Location` to `out`, as prost
/// writes it (fields in tag order, defaults left out, indexes packed).
fn encode_location(
    mapping: i32,
    address: u64,
    lines: &[proto::Line],
    attrs: &[i32],
    out: &mut Vec<u8>,
) {
    put_varint_field(out, LOCATION_MAPPING_INDEX, i32_varint(mapping));
    put_varint_field(out, LOCATION_ADDRESS, address);
    for l in lines {
        let (f, line, column) = (i32_varint(l.function_index), l.line as u64, l.column as u64);
        let field = |v: u64| if v == 0 { 0 } else { 1 + varint_len(v) };
        put_key(out, LOCATION_LINES, LEN);
        put_varint(out, (field(f) + field(line) + field(column)) as u64);
        put_varint_field(out, LINE_FUNCTION_INDEX, f);
        put_varint_field(out, LINE_LINE, line);
        put_varint_field(out, LINE_COLUMN, column);
    }
    if !attrs.is_empty() {
        let len: usize = attrs.iter().map(|&a| varint_len(i32_varint(a))).sum();
        put_key(out, LOCATION_ATTRIBUTE_INDICES, LEN);
        put_varint(out, len as u64);
        for &a in attrs {
            put_varint(out, i32_varint(a));
        }
    }
}

impl DictBuilder {
    pub(crate) fn new(cap: Capacity) -> Self {
        let mut scratch = Vec::new();
        let mappings = Table::new(
            hash_mapping(&proto::Mapping::default(), &mut scratch),
            cap.mappings,
        );
        let locations = StackTable::new(cap.locations, cap.location_bytes);
        let stacks = StackTable::new(cap.stacks, cap.stack_bytes);
        DictBuilder {
            strings: StackTable::new(cap.strings, cap.string_bytes),
            attributes: StackTable::new(0, 0),
            functions: StackTable::new(cap.functions, cap.function_bytes),
            mappings,
            links: Table::new(hash_link(&[], &[]), 0),
            locations,
            stacks,
            scratch,
        }
    }

    #[inline]
    pub(crate) fn string(&mut self, s: &str) -> i32 {
        self.string_bytes(s.as_bytes())
    }

    /// [`string`](Self::string) given the string's bytes, which are UTF-8.
    #[inline]
    pub(crate) fn string_bytes(&mut self, s: &[u8]) -> i32 {
        self.strings.intern(s, hash(s))
    }

    pub(crate) fn attribute(&mut self, key: i32, value: AttrValue<'_>, unit: i32) -> i32 {
        self.scratch.clear();
        encode_attribute(key, value, unit, &mut self.scratch);
        let h = hash(&self.scratch);
        self.attributes.intern(&self.scratch, h)
    }

    /// The key (string index) of attribute `i`, 0 when out of range.
    #[inline]
    pub(crate) fn attribute_key(&self, i: i32) -> i32 {
        let bytes = usize::try_from(i).map_or(&[][..], |i| self.attributes.get(i));
        // `encode_attribute` writes the key first, when set.
        match bytes {
            [KEY_STRINDEX_KEY, rest @ ..] => {
                let mut r = crate::wire::Reader::new(rest);
                r.varint().map_or(0, |k| k as i32)
            }
            _ => 0,
        }
    }

    /// Attribute `i` decoded (the slow path of samples whose labels need
    /// merging).
    pub(crate) fn attribute_at(&self, i: i32) -> proto::KeyValueAndUnit {
        let bytes = usize::try_from(i).map_or(&[][..], |i| self.attributes.get(i));
        proto::KeyValueAndUnit::decode(bytes).unwrap_or_default()
    }

    /// Interns an attribute given whole (values the converters do not
    /// make themselves: arrays).
    pub(crate) fn attribute_kv(&mut self, a: &proto::KeyValueAndUnit) -> i32 {
        self.scratch.clear();
        a.encode_raw(&mut self.scratch);
        let h = hash(&self.scratch);
        self.attributes.intern(&self.scratch, h)
    }

    /// The index of the link with these ids (`trace_id` empty when the
    /// producer gave only a span).
    pub(crate) fn link(&mut self, trace_id: &[u8], span_id: &[u8]) -> i32 {
        let link = proto::Link {
            trace_id: trace_id.to_vec(),
            span_id: span_id.to_vec(),
        };
        self.links.intern_owned(hash_link(trace_id, span_id), link)
    }

    /// An attribute whose key is a literal.
    pub(crate) fn attribute_named(&mut self, key: &str, value: AttrValue<'_>) -> i32 {
        let k = self.string(key);
        self.attribute(k, value, 0)
    }

    /// An attribute whose value is not one the converters make (arrays of
    /// strings: their encodings are equal exactly when they are).
    pub(crate) fn attribute_any(&mut self, key: &str, value: AnyValue) -> i32 {
        let k = self.string(key);
        self.attribute_kv(&proto::KeyValueAndUnit {
            key_strindex: k,
            value: Some(value),
            unit_strindex: 0,
        })
    }

    pub(crate) fn function(&mut self, f: proto::Function) -> i32 {
        self.scratch.clear();
        let out = &mut self.scratch;
        put_varint_field(out, FUNCTION_NAME_STRINDEX, i32_varint(f.name_strindex));
        put_varint_field(
            out,
            FUNCTION_SYSTEM_NAME_STRINDEX,
            i32_varint(f.system_name_strindex),
        );
        put_varint_field(
            out,
            FUNCTION_FILENAME_STRINDEX,
            i32_varint(f.filename_strindex),
        );
        put_varint_field(out, FUNCTION_START_LINE, f.start_line as u64);
        let h = hash(&self.scratch);
        self.functions.intern(&self.scratch, h)
    }

    pub(crate) fn mapping(&mut self, m: proto::Mapping) -> i32 {
        let h = hash_mapping(&m, &mut self.scratch);
        self.mappings.intern_owned(h, m)
    }

    /// The number of locations interned so far.
    pub(crate) fn location_count(&self) -> usize {
        self.locations.len()
    }

    pub(crate) fn location(
        &mut self,
        mapping: i32,
        address: u64,
        lines: &[proto::Line],
        attrs: &[i32],
    ) -> i32 {
        self.scratch.clear();
        encode_location(mapping, address, lines, attrs, &mut self.scratch);
        let h = hash(&self.scratch);
        self.locations.intern(&self.scratch, h)
    }

    /// Interns one stack (the writer interns them in batches: [`stacks`]).
    ///
    /// [`stacks`]: Self::stacks
    #[cfg(any(test, feature = "oracle"))]
    pub(crate) fn stack(&mut self, locations: &[i32]) -> i32 {
        self.scratch.clear();
        for &l in locations {
            put_varint(&mut self.scratch, i32_varint(l));
        }
        let h = hash(&self.scratch);
        self.stacks.intern(&self.scratch, h)
    }

    /// Interns a batch of stacks given as their packed location indexes,
    /// back to back in `encoded`, stack `i` ending at `ends[i]`; appends
    /// their indexes to `out`. All lookups are made once up front, so their
    /// cache misses (the index and the stack bytes are far bigger than the
    /// CPU caches on big profiles) overlap instead of waiting one by one.
    pub(crate) fn stacks(&mut self, encoded: &[u8], ends: &[u32], out: &mut Vec<i32>) {
        let mut hashes = [0u32; STACK_BATCH];
        let mut start = 0usize;
        for chunk in ends.chunks(STACK_BATCH) {
            let chunk_start = start;
            for (h, &end) in hashes.iter_mut().zip(chunk) {
                *h = hash(encoded.get(start..end as usize).unwrap_or(&[]));
                start = end as usize;
            }
            for depth in 0..2 {
                let mut loaded = 0u32;
                for &h in hashes.iter().take(chunk.len()) {
                    loaded ^= self.stacks.warm(h, depth);
                }
                std::hint::black_box(loaded);
            }
            start = chunk_start;
            for (&h, &end) in hashes.iter().zip(chunk) {
                out.push(
                    self.stacks
                        .intern(encoded.get(start..end as usize).unwrap_or(&[]), h),
                );
                start = end as usize;
            }
        }
    }

    /// Seals the dictionary and gives its tables, for the test oracle,
    /// which decodes them back into prost structs ([`crate::oracle`]).
    #[cfg(any(test, feature = "oracle"))]
    pub(crate) fn into_tables(mut self) -> Sealed {
        self.seal();
        Sealed {
            strings: self.strings,
            attributes: self.attributes,
            functions: self.functions,
            mappings: self.mappings.items,
            links: self.links.items,
            locations: self.locations,
            stacks: self.stacks,
        }
    }

    /// Frees the dedup indexes once nothing more will be added (before the
    /// output is allocated, to lower the peak); adding after this still
    /// works but no longer dedups.
    pub(crate) fn seal(&mut self) {
        self.stacks.seal();
        self.strings.seal();
        self.attributes.seal();
        self.functions.seal();
        self.mappings.seal();
        self.links.seal();
        self.locations.seal();
    }

    /// The size of what [`encode_into`] appends.
    ///
    /// [`encode_into`]: DictBuilder::encode_into
    pub(crate) fn encoded_len(&self) -> usize {
        use prost::encoding::message;
        let stacks: usize = (0..self.stacks.len())
            .map(|i| {
                let n = self.stacks.get(i).len();
                let body = if n == 0 { 0 } else { len_field_size(n) };
                len_field_size(body)
            })
            .sum();
        message::encoded_len_repeated(DICTIONARY_MAPPING_TABLE, &self.mappings.items)
            + encoded_len(&self.locations)
            + encoded_len(&self.functions)
            + message::encoded_len_repeated(DICTIONARY_LINK_TABLE, &self.links.items)
            + encoded_len(&self.strings)
            + encoded_len(&self.attributes)
            + stacks
    }

    /// Writes the protobuf encoding of the dictionary (the message body,
    /// without key or length) to `sink`, field by field as prost would
    /// write the `ProfilesDictionary` of these tables.
    pub(crate) fn encode_into(self, sink: &mut impl Sink) -> std::io::Result<()> {
        use prost::encoding::message;
        message::encode_repeated(DICTIONARY_MAPPING_TABLE, &self.mappings.items, sink.buf());
        drop(self.mappings);
        encode_entries(DICTIONARY_LOCATION_TABLE, self.locations, sink)?;
        encode_entries(DICTIONARY_FUNCTION_TABLE, self.functions, sink)?;
        message::encode_repeated(DICTIONARY_LINK_TABLE, &self.links.items, sink.buf());
        drop(self.links);
        encode_entries(DICTIONARY_STRING_TABLE, self.strings, sink)?;
        encode_entries(DICTIONARY_ATTRIBUTE_TABLE, self.attributes, sink)?;
        sink.spill()?;
        let stacks = self.stacks;
        for i in 0..stacks.len() {
            let packed = stacks.get(i);
            let out = sink.buf();
            put_key(out, DICTIONARY_STACK_TABLE, LEN);
            if packed.is_empty() {
                put_varint(out, 0);
            } else {
                let n = packed.len() as u64;
                put_varint(out, 1 + crate::wire::varint_len(n) as u64 + n);
                put_key(out, STACK_LOCATION_INDICES, LEN);
                put_varint(out, n);
                out.extend_from_slice(packed);
            }
            if i % 1024 == 1023 {
                sink.spill()?;
            }
        }
        Ok(())
    }
}

/// The encoded size of a table of encoded entries, each a field with a
/// one-byte key.
fn encoded_len(t: &StackTable) -> usize {
    (0..t.len()).map(|i| len_field_size(t.get(i).len())).sum()
}

/// Writes each entry of `t` as a length-delimited field `field`, freeing
/// the table.
fn encode_entries(field: u32, t: StackTable, sink: &mut impl Sink) -> std::io::Result<()> {
    for i in 0..t.len() {
        let body = t.get(i);
        let out = sink.buf();
        put_key(out, field, LEN);
        put_varint(out, body.len() as u64);
        out.extend_from_slice(body);
        if i % 1024 == 1023 {
            sink.spill()?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::common::v1::any_value;

    #[test]
    fn attributes_encode_as_prost_does() {
        let values = [
            AttrValue::Str(""),
            AttrValue::Str("thread"),
            AttrValue::Int(0),
            AttrValue::Int(-1),
            AttrValue::Int(i64::MAX),
            AttrValue::Bool(false),
            AttrValue::Bool(true),
        ];
        for value in values {
            for (key, unit) in [(0, 0), (3, 0), (300, -2), (-1, 70_000)] {
                let mut ours = Vec::new();
                encode_attribute(key, value, unit, &mut ours);
                let any = match value {
                    AttrValue::Str(s) => any_value::Value::StringValue(s.into()),
                    AttrValue::Int(i) => any_value::Value::IntValue(i),
                    AttrValue::Bool(b) => any_value::Value::BoolValue(b),
                };
                let prost = proto::KeyValueAndUnit {
                    key_strindex: key,
                    value: Some(AnyValue { value: Some(any) }),
                    unit_strindex: unit,
                };
                assert_eq!(ours, prost.encode_to_vec(), "{value:?} {key} {unit}");
            }
        }
    }

    #[test]
    fn zero_values_and_dedup() {
        let mut d = DictBuilder::new(Capacity::default());
        assert_eq!(d.string(""), 0);
        let a = d.string("a");
        assert_eq!(d.string("a"), a);
        assert_ne!(d.string("b"), a);
        assert_eq!(d.function(proto::Function::default()), 0);
        let f = proto::Function {
            name_strindex: a,
            ..Default::default()
        };
        assert_eq!(d.function(f), d.function(f));
        assert_eq!(d.stack(&[]), 0);
        assert_eq!(d.stack(&[1, 2]), d.stack(&[1, 2]));
        assert_ne!(d.stack(&[1, 2]), d.stack(&[2, 1]));
        assert_eq!(d.location(0, 0, &[], &[]), 0);
        let x = d.attribute(a, AttrValue::Int(3), 0);
        assert_eq!(d.attribute(a, AttrValue::Int(3), 0), x);
        assert_ne!(d.attribute(a, AttrValue::Str("3"), 0), x);
        assert_ne!(x, 0);
        let dict = crate::oracle::dict::finish(d);
        assert_eq!(dict.string_table, vec!["", "a", "b"]);
        assert_eq!(dict.attribute_table[0], proto::KeyValueAndUnit::default());
        assert_eq!(dict.stack_table.len(), 3);
    }
}
