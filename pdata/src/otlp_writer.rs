//! pprof views → OTLP protobuf bytes, directly: the fast path of
//! [`crate::to_otlp`] + `encode_to_vec` for profiles read with
//! [`PprofView`]. No OTLP structs are built for the samples (prost's would
//! cost two `Vec`s per sample per sample type); each sample's stack and
//! labels are interned once through the same [`Converter`] and dictionary
//! as `to_otlp`, then every sample type's profile is written straight into
//! the output, re-reading only the values from the pprof body.
//!
//! The bytes are exactly those `to_otlp(records).encode_to_vec()` gives for
//! the same profiles and labels (tests check it on the whole corpus).

use crate::dict::{Capacity, DictBuilder};
use crate::labels::Labels;
use crate::otlp;
use crate::to_otlp::{resource_profiles, Converter, ProfileHead};
use crate::view::{PprofView, SampleBuf};
use crate::wire::{
    close_len_field, i32_varint, put_key, put_len_field, put_varint, put_varint_field, varint_len,
    FIXED64, LEN,
};
use prost::Message;
use std::collections::HashMap;

/// One profile to convert, with its labels (as in [`crate::ProfileRecord`]).
pub struct ViewRecord<'v, 'a> {
    pub labels: Labels,
    pub view: &'v PprofView<'a>,
}

/// A converted record, waiting to be written.
struct Converted {
    head: ProfileHead,
    /// Per sample: its stack index.
    stacks: Vec<i32>,
    /// Per sample: where its attribute indexes end in `attrs`.
    attr_ends: Vec<u32>,
    attrs: Vec<i32>,
    /// Encoded size of all samples, per sample type.
    sample_bytes: Vec<usize>,
}

/// Converts the records to the protobuf bytes of one
/// `ExportProfilesServiceRequest`, as [`crate::to_otlp`] would.
pub fn views_to_otlp_bytes(records: &[ViewRecord<'_, '_>]) -> Vec<u8> {
    let mut cap = Capacity::default();
    for r in records {
        let h = r.view.header();
        cap.strings += r.view.strings().len();
        cap.functions += h.function.len();
        cap.mappings += h.mapping.len();
        cap.locations += h.location.len();
        cap.stacks += r.view.sample_count();
        // Dictionary location indexes are below the sum of the location
        // tables' sizes: that bounds each one's varint.
        cap.stack_bytes += r.view.location_refs();
    }
    cap.stack_bytes *= crate::wire::varint_len(cap.locations as u64 + 1);
    let mut dict = DictBuilder::new(cap);

    // Pass 1, in record order (the dictionary's order): intern everything.
    let mut converted = Vec::with_capacity(records.len());
    let mut buf = SampleBuf::default();
    let mut stack = Vec::with_capacity(64);
    let mut attrs = Vec::new();
    for r in records {
        let view = r.view;
        let mut c = Converter::new(view.header(), view.strings(), &mut dict);
        let head = c.head();
        let n = view.sample_count();
        let mut out = Converted {
            sample_bytes: vec![0; head.sample_types.len()],
            head,
            stacks: Vec::with_capacity(n),
            attr_ends: Vec::with_capacity(n),
            attrs: Vec::new(),
        };
        for i in 0..n {
            // Validated when the view was made: reading cannot fail.
            if view.read_sample(i, &mut buf).is_err() {
                buf = SampleBuf::default();
            }
            let stack_index = c.sample(&buf.location_ids, &buf.labels, &mut stack, &mut attrs);
            out.stacks.push(stack_index);
            for (t, size) in out.sample_bytes.iter_mut().enumerate() {
                let v = buf.values.get(t).copied().unwrap_or(0);
                let len = sample_len(stack_index, &attrs, v).0;
                *size += 1 + varint_len(len as u64) + len;
            }
            out.attrs.extend_from_slice(&attrs);
            out.attr_ends
                .push(u32::try_from(out.attrs.len()).unwrap_or(u32::MAX));
        }
        converted.push(out);
    }

    // Resources by public labels, in order of first appearance.
    let mut groups: Vec<(Labels, Vec<usize>)> = Vec::new();
    let mut by_labels: HashMap<Labels, usize> = HashMap::new();
    for (i, r) in records.iter().enumerate() {
        let public = r.labels.public();
        match by_labels.get(&public) {
            Some(&g) => {
                if let Some(group) = groups.get_mut(g) {
                    group.1.push(i);
                }
            }
            None => {
                by_labels.insert(public.clone(), groups.len());
                groups.push((public, vec![i]));
            }
        }
    }

    dict.seal();
    // Reserve the whole output up front (samples and dictionary exactly,
    // generous room for the rest), so the buffer is never copied to grow.
    let samples: usize = converted.iter().flat_map(|c| &c.sample_bytes).sum();
    let profiles: usize = converted.iter().map(|c| c.sample_bytes.len()).sum();
    let labels: usize = groups
        .iter()
        .flat_map(|(l, _)| l.iter())
        .map(|(k, v)| k.len() + v.len() + 32)
        .sum();
    let mut out = Vec::with_capacity(
        samples + dict.encoded_len() + labels + 256 * (profiles + groups.len() + 1),
    );
    let mut values = Vec::new();
    for (labels, members) in &groups {
        let rp_start = out.len();
        let rp = resource_profiles(labels);
        if let Some(resource) = &rp.resource {
            put_len_field(&mut out, 1, &resource.encode_to_vec());
        }
        let sp_start = out.len();
        if let Some(scope) = rp.scope_profiles.first().and_then(|s| s.scope.as_ref()) {
            put_len_field(&mut out, 1, &scope.encode_to_vec());
        }
        for &i in members {
            let (Some(r), Some(c)) = (records.get(i), converted.get(i)) else {
                continue;
            };
            for (t, vt) in c.head.sample_types.iter().enumerate() {
                let p_start = out.len();
                write_profile(&mut out, r.view, c, t, vt, &mut values);
                close_len_field(&mut out, p_start, 2);
            }
        }
        close_len_field(&mut out, sp_start, 2);
        close_len_field(&mut out, rp_start, 1);
    }
    drop(converted);
    let d_start = out.len();
    dict.encode_into(&mut out);
    close_len_field(&mut out, d_start, 2);
    out
}

fn value_type(out: &mut Vec<u8>, field: u32, vt: &otlp::ValueType) {
    let (t, u) = (i32_varint(vt.type_strindex), i32_varint(vt.unit_strindex));
    let len =
        if t != 0 { 1 + varint_len(t) } else { 0 } + if u != 0 { 1 + varint_len(u) } else { 0 };
    put_key(out, field, LEN);
    put_varint(out, len as u64);
    put_varint_field(out, 1, t);
    put_varint_field(out, 2, u);
}

fn packed_i32s(out: &mut Vec<u8>, field: u32, xs: &[i32]) {
    if xs.is_empty() {
        return;
    }
    let len: usize = xs.iter().map(|&x| varint_len(i32_varint(x))).sum();
    put_key(out, field, LEN);
    put_varint(out, len as u64);
    for &x in xs {
        put_varint(out, i32_varint(x));
    }
}

/// The encoded size of an OTLP sample's body, and of its packed attribute
/// indexes.
#[inline]
fn sample_len(stack: i32, attrs: &[i32], value: i64) -> (usize, usize) {
    let stack = i32_varint(stack);
    let attrs_len: usize = attrs.iter().map(|&x| varint_len(i32_varint(x))).sum();
    let mut len = 2 + varint_len(value as u64);
    if stack != 0 {
        len += 1 + varint_len(stack);
    }
    if attrs_len != 0 {
        len += 1 + varint_len(attrs_len as u64) + attrs_len;
    }
    (len, attrs_len)
}

/// Writes the body of the OTLP profile of sample type `t` (field by field
/// in tag order, defaults left out, as prost does).
fn write_profile(
    out: &mut Vec<u8>,
    view: &PprofView<'_>,
    c: &Converted,
    t: usize,
    vt: &otlp::ValueType,
    values: &mut Vec<i64>,
) {
    let h = view.header();
    value_type(out, 1, vt);
    let mut attr_start = 0usize;
    for (i, (&stack, &attr_end)) in c.stacks.iter().zip(&c.attr_ends).enumerate() {
        let attrs = c.attrs.get(attr_start..attr_end as usize).unwrap_or(&[]);
        attr_start = attr_end as usize;
        view.read_values(i, values);
        let v = values.get(t).copied().unwrap_or(0);
        let (len, attrs_len) = sample_len(stack, attrs, v);
        put_key(out, 2, LEN);
        put_varint(out, len as u64);
        put_varint_field(out, 1, i32_varint(stack));
        if attrs_len != 0 {
            put_key(out, 2, LEN);
            put_varint(out, attrs_len as u64);
            for &x in attrs {
                put_varint(out, i32_varint(x));
            }
        }
        put_key(out, 4, LEN);
        put_varint(out, varint_len(v as u64) as u64);
        put_varint(out, v as u64);
    }
    let time = u64::try_from(h.time_nanos).unwrap_or(0);
    if time != 0 {
        put_key(out, 3, FIXED64);
        out.extend_from_slice(&time.to_le_bytes());
    }
    put_varint_field(out, 4, u64::try_from(h.duration_nanos).unwrap_or(0));
    if let Some(pt) = &c.head.period_type {
        value_type(out, 5, pt);
    }
    put_varint_field(out, 6, h.period as u64);
    packed_i32s(out, 11, &c.head.attributes);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::DecodeLimits;
    use crate::{to_otlp, ProfileRecord};

    fn corpus() -> Vec<(String, Vec<u8>)> {
        crate::testutil::corpus()
            .into_iter()
            .map(|(path, body)| {
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                let raw = PprofView::decompress(&body, &DecodeLimits::default())
                    .unwrap()
                    .into_owned();
                (name, raw)
            })
            .collect()
    }

    fn same_bytes(files: &[(String, Vec<u8>)], labels: impl Fn(usize, &str) -> Labels) {
        let l = DecodeLimits::default();
        let views: Vec<PprofView<'_>> = files
            .iter()
            .map(|(_, raw)| PprofView::decode(raw, &l).unwrap())
            .collect();
        let records: Vec<ViewRecord<'_, '_>> = views
            .iter()
            .zip(files)
            .enumerate()
            .map(|(i, (view, (name, _)))| ViewRecord {
                labels: labels(i, name),
                view,
            })
            .collect();
        let want: Vec<ProfileRecord> = records
            .iter()
            .map(|r| ProfileRecord::new(r.labels.clone(), r.view.to_profile()))
            .collect();
        let want = to_otlp(&want).encode_to_vec();
        let got = views_to_otlp_bytes(&records);
        assert_eq!(got.len(), want.len());
        assert!(got == want, "bytes differ");
    }

    #[test]
    fn each_corpus_file_encodes_as_to_otlp_does() {
        for f in corpus() {
            same_bytes(std::slice::from_ref(&f), |_, _| Labels::new());
        }
    }

    #[test]
    fn many_records_and_resources_encode_as_to_otlp_does() {
        let files = corpus();
        // Repeats share the dictionary; resources interleave.
        let mut all = files.clone();
        all.extend(files.iter().take(3).cloned());
        same_bytes(&all, |i, name| {
            Labels::from_pairs([
                ("service_name", if i % 2 == 0 { "even" } else { "odd" }),
                ("__name__", name),
                ("__meta_hidden", "x"),
            ])
        });
    }

    #[test]
    fn labels_negatives_and_odd_fields_encode_as_to_otlp_does() {
        use crate::testutil::Builder;
        let mut b = Builder::new(&[("alloc_objects", "count"), ("delay", "nanoseconds")]);
        b.sample(&["a", "b"], &[("bytes", "64"), ("thread", "t1")], &[-3, 0])
            .sample(&["b"], &[], &[i64::MIN, i64::MAX])
            .sample(&[], &[("k", "v")], &[1, 2]);
        let mut p = b.build();
        p.time_nanos = -5;
        p.duration_nanos = 7;
        p.period = -1;
        p.comment = vec![1, 2];
        p.drop_frames = 1;
        p.location[0].is_folded = true;
        let raw = crate::encode_pprof(&p);
        same_bytes(&[("x".into(), raw)], |_, _| {
            Labels::from_pairs([("a", "b")])
        });
    }
}
