//! Content hashes of pprof stacks and label sets that stay stable across
//! scrapes of one process (ids renumbered, tables reordered): what the delta
//! state keys its series by.

use crate::pprof;
use crate::pprof::tables::Tables;
use crate::pprof::PprofView;
use xxhash_rust::xxh3::xxh3_64;

/// Appends `v` to a hash input buffer.
#[inline]
pub(crate) fn put(buf: &mut Vec<u8>, v: u64) {
    buf.extend_from_slice(&v.to_le_bytes());
}

/// Appends a string (length-prefixed, so "ab"+"c" differs from "a"+"bc").
#[inline]
pub(crate) fn put_str(buf: &mut Vec<u8>, s: &str) {
    put(buf, s.len() as u64);
    buf.extend_from_slice(s.as_bytes());
}

/// One hash per location (by table position) that is stable across scrapes
/// of the same process even when ids are renumbered: the function names,
/// files and line numbers of its lines, or its address when it has none.
pub(crate) fn location_hashes(view: &PprofView) -> Vec<u64> {
    // Each function's name and file, hashed once.
    let mut buf = Vec::with_capacity(128);
    let functions: Vec<u64> = (0..view.function_count())
        .map(|pos| {
            buf.clear();
            match Tables::function(view, pos) {
                Some(f) => {
                    put_str(&mut buf, view.str(f.name));
                    put_str(&mut buf, view.str(f.filename));
                }
                None => put(&mut buf, u64::MAX),
            }
            xxh3_64(&buf)
        })
        .collect();
    let function_ids = view.function_ids();
    let mut lines = Vec::new();
    (0..view.location_count())
        .map(|pos| {
            buf.clear();
            let Some(l) = Tables::location(view, pos, &mut lines) else {
                return 0;
            };
            if lines.is_empty() {
                put(&mut buf, 1);
                put(&mut buf, l.address);
            } else {
                for line in &lines {
                    let f = function_ids
                        .get(line.function_id)
                        .and_then(|i| functions.get(i))
                        .copied()
                        .unwrap_or(u64::MAX);
                    put(&mut buf, f);
                    put(&mut buf, line.line as u64);
                }
            }
            xxh3_64(&buf)
        })
        .collect()
}

/// An order-independent hash of a sample's labels.
pub(crate) fn labels_hash(view: &PprofView, labels: &[pprof::Label], buf: &mut Vec<u8>) -> u64 {
    let mut acc = 0u64;
    for l in labels {
        buf.clear();
        put_str(buf, view.str(l.key));
        put_str(buf, view.str(l.str));
        put(buf, l.num as u64);
        put_str(buf, view.str(l.num_unit));
        acc = acc.wrapping_add(xxh3_64(buf));
    }
    acc
}
