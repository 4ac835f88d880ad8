//! The dictionary as prost structs: each table the writer keeps encoded,
//! decoded entry by entry with prost.

use crate::otlp::dict::DictBuilder;
use crate::otlp::proto;
use crate::otlp::stack_table::StackTable;
use crate::wire::Reader;
use prost::Message;

/// The `ProfilesDictionary` `dict` holds, sealed and decoded.
pub(crate) fn finish(dict: DictBuilder) -> proto::ProfilesDictionary {
    // Each encoded table is freed once decoded.
    let t = dict.into_tables();
    let stack_table = decoded(t.stacks, to_stack);
    // Encoded by the dictionary: decoding cannot fail.
    let location_table = decoded(t.locations, |t, i| {
        let mut l = proto::Location::decode(t.get(i)).unwrap_or_default();
        // Decoding pushes the lines one by one: most would hold four.
        l.lines.shrink_to_fit();
        l.attribute_indices.shrink_to_fit();
        l
    });
    let function_table = decoded(t.functions, |t, i| {
        proto::Function::decode(t.get(i)).unwrap_or_default()
    });
    let attribute_table = decoded(t.attributes, |t, i| {
        proto::KeyValueAndUnit::decode(t.get(i)).unwrap_or_default()
    });
    // Interned from `&str`s: the bytes are UTF-8.
    let string_table = decoded(t.strings, |t, i| {
        String::from_utf8_lossy(t.get(i)).into_owned()
    });
    proto::ProfilesDictionary {
        mapping_table: t.mappings,
        location_table,
        function_table,
        link_table: t.links,
        string_table,
        attribute_table,
        stack_table,
    }
}

/// Every entry of `t` through `f`, `t` freed afterwards.
fn decoded<T>(t: StackTable, f: impl Fn(&StackTable, usize) -> T) -> Vec<T> {
    (0..t.len()).map(|i| f(&t, i)).collect()
}

/// Stack `i`: its packed location indexes, decoded.
fn to_stack(t: &StackTable, i: usize) -> proto::Stack {
    let mut r = Reader::new(t.get(i));
    let mut location_indices = Vec::new();
    while !r.is_empty() {
        match r.varint() {
            Ok(v) => location_indices.push(v as i32),
            Err(_) => break,
        }
    }
    proto::Stack { location_indices }
}
