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

use crate::dict::{Capacity, DictBuilder, STACK_BATCH};
use crate::labels::Labels;
use crate::otlp;
use crate::sink::{Chunked, Sink};
use crate::to_otlp::{resource_profiles, Converter, ProfileHead};
use crate::view::{PprofView, SampleBuf};
use crate::wire::{
    i32_varint, put_key, put_len_field, put_varint, put_varint_field, varint_len, FIXED64, LEN,
};
use prost::Message;
use std::collections::HashMap;
use std::io::{self, Write};

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
    /// Per sample: where its packed values start in the body, or
    /// `u32::MAX` when they are not one packed field.
    values_at: Vec<u32>,
    /// Encoded size of all samples, per sample type.
    sample_bytes: Vec<usize>,
}

/// The attribute indexes of sample `k`, out of all samples' `attrs`
/// (sample `k`'s end at `attr_ends[k]`).
fn sample_attrs<'x>(attr_ends: &[u32], attrs: &'x [i32], k: usize) -> &'x [i32] {
    let start = match k.checked_sub(1) {
        Some(p) => attr_ends.get(p).copied().unwrap_or(0) as usize,
        None => 0,
    };
    let end = attr_ends.get(k).copied().unwrap_or(0) as usize;
    attrs.get(start..end).unwrap_or(&[])
}

/// Stacks and values of up to [`STACK_BATCH`] samples.
#[derive(Default)]
struct Batch {
    /// The stacks' packed dictionary location indexes, back to back.
    stacks: Vec<u8>,
    ends: Vec<u32>,
    /// Every sample type's value, sample after sample.
    values: Vec<i64>,
}

impl Batch {
    fn clear(&mut self) {
        self.stacks.clear();
        self.ends.clear();
        self.values.clear();
    }
}

/// Converts the records to the protobuf bytes of one
/// `ExportProfilesServiceRequest`, as [`crate::to_otlp`] would.
pub fn views_to_otlp_bytes(records: &[ViewRecord<'_, '_>]) -> Vec<u8> {
    let mut out = Vec::new();
    // Writing into a Vec cannot fail.
    let _ = convert(records, &mut out);
    out
}

/// Writes what [`views_to_otlp_bytes`] returns to `out`, a chunk at a
/// time: memory stays the working set of the conversion, not the output.
/// Every message's length is computed before it is written. Returns the
/// first write error.
pub fn views_to_otlp_write<W: Write>(records: &[ViewRecord<'_, '_>], out: W) -> io::Result<()> {
    convert(records, &mut Chunked::new(out))
}

fn convert(records: &[ViewRecord<'_, '_>], sink: &mut impl Sink) -> io::Result<()> {
    let mut cap = Capacity::default();
    for r in records {
        let h = r.view.header();
        cap.strings += r.view.strings().len();
        cap.functions += h.function.len();
        cap.mappings += h.mapping.len();
        cap.locations += h.location.len();
        // Stacks: the biggest record's, a byte per location index. The
        // stack table is the biggest part of the dictionary; a batch often
        // repeats stacks, and the table grows when the guess is short.
        cap.stacks = cap.stacks.max(r.view.sample_count());
        cap.stack_bytes = cap.stack_bytes.max(r.view.location_refs());
    }
    let mut dict = DictBuilder::new(cap);

    // Pass 1, in record order (the dictionary's order): intern everything,
    // the stacks a batch at a time (see `DictBuilder::stacks`).
    let mut converted = Vec::with_capacity(records.len());
    let mut buf = SampleBuf::default();
    let mut batch = Batch::default();
    let mut attrs = Vec::new();
    for r in records {
        let view = r.view;
        let mut c = Converter::new(view.header(), view.strings(), &mut dict);
        let head = c.head();
        let n = view.sample_count();
        let types = head.sample_types.len();
        let mut out = Converted {
            sample_bytes: vec![0; types],
            head,
            stacks: Vec::with_capacity(n),
            attr_ends: Vec::with_capacity(n),
            attrs: Vec::new(),
            values_at: Vec::with_capacity(n),
        };
        for first in (0..n).step_by(STACK_BATCH) {
            batch.clear();
            for i in first..n.min(first + STACK_BATCH) {
                // Validated when the view was made: reading cannot fail.
                if view.read_sample(i, &mut buf).is_err() {
                    buf = SampleBuf::default();
                }
                c.encode_stack(&buf.location_ids, &mut batch.stacks);
                batch.ends.push(batch.stacks.len() as u32);
                batch
                    .values
                    .extend((0..types).map(|t| buf.values.get(t).copied().unwrap_or(0)));
                out.values_at.push(buf.values_at.unwrap_or(u32::MAX));
                c.labels(&buf.labels, &mut attrs);
                out.attrs.extend_from_slice(&attrs);
                out.attr_ends
                    .push(u32::try_from(out.attrs.len()).unwrap_or(u32::MAX));
            }
            let done = out.stacks.len();
            c.dict.stacks(&batch.stacks, &batch.ends, &mut out.stacks);
            for (k, &stack_index) in out.stacks.iter().enumerate().skip(done) {
                let attrs = sample_attrs(&out.attr_ends, &out.attrs, k);
                let values = batch.values.get((k - done) * types..).unwrap_or(&[]);
                for (size, &v) in out.sample_bytes.iter_mut().zip(values) {
                    let len = sample_len(stack_index, attrs, v).0;
                    *size += 1 + varint_len(len as u64) + len;
                }
            }
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
    let plan = plan(records, &converted, &groups, &dict);
    sink.reserve(plan.total);
    let mut values = Vec::new();
    let mut profile_lens = plan.profile_lens.iter();
    for ((labels, members), (rp_len, sp_len)) in groups.iter().zip(&plan.group_lens) {
        let rp = resource_profiles(labels);
        let buf = sink.buf();
        put_key(buf, 1, LEN);
        put_varint(buf, *rp_len as u64);
        if let Some(resource) = &rp.resource {
            put_len_field(buf, 1, &resource.encode_to_vec());
        }
        put_key(buf, 2, LEN);
        put_varint(buf, *sp_len as u64);
        if let Some(scope) = rp.scope_profiles.first().and_then(|s| s.scope.as_ref()) {
            put_len_field(buf, 1, &scope.encode_to_vec());
        }
        for &i in members {
            let (Some(r), Some(c)) = (records.get(i), converted.get(i)) else {
                continue;
            };
            let trailer = profile_trailer(r.view, c);
            for (t, vt) in c.head.sample_types.iter().enumerate() {
                let buf = sink.buf();
                put_key(buf, 2, LEN);
                put_varint(buf, profile_lens.next().copied().unwrap_or(0) as u64);
                value_type(buf, 1, vt);
                write_samples(sink, r.view, c, t, &mut values)?;
                sink.buf().extend_from_slice(&trailer);
            }
        }
        sink.spill()?;
    }
    drop(converted);
    let buf = sink.buf();
    put_key(buf, 2, LEN);
    put_varint(buf, dict.encoded_len() as u64);
    dict.encode_into(sink)?;
    sink.finish()
}

/// The lengths of every message that is written before its body.
struct Plan {
    /// Per resource group: the `ResourceProfiles` and `ScopeProfiles` bodies.
    group_lens: Vec<(usize, usize)>,
    /// Every profile body, in output order.
    profile_lens: Vec<usize>,
    /// The whole request.
    total: usize,
}

fn len_field(body: usize) -> usize {
    1 + varint_len(body as u64) + body
}

fn plan(
    records: &[ViewRecord<'_, '_>],
    converted: &[Converted],
    groups: &[(Labels, Vec<usize>)],
    dict: &DictBuilder,
) -> Plan {
    let mut plan = Plan {
        group_lens: Vec::with_capacity(groups.len()),
        profile_lens: Vec::new(),
        total: len_field(dict.encoded_len()),
    };
    for (labels, members) in groups {
        let rp = resource_profiles(labels);
        let mut sp = rp
            .scope_profiles
            .first()
            .and_then(|s| s.scope.as_ref())
            .map_or(0, |scope| len_field(scope.encoded_len()));
        for &i in members {
            let (Some(r), Some(c)) = (records.get(i), converted.get(i)) else {
                continue;
            };
            let trailer = profile_trailer(r.view, c).len();
            for (vt, samples) in c.head.sample_types.iter().zip(&c.sample_bytes) {
                let len = value_type_len(vt) + samples + trailer;
                plan.profile_lens.push(len);
                sp += len_field(len);
            }
        }
        let resource = rp
            .resource
            .as_ref()
            .map_or(0, |r| len_field(r.encoded_len()));
        let rp_len = resource + len_field(sp);
        plan.group_lens.push((rp_len, sp));
        plan.total += len_field(rp_len);
    }
    plan
}

/// The encoded size of a `ValueType` body.
fn value_type_body_len(vt: &otlp::ValueType) -> usize {
    let (t, u) = (i32_varint(vt.type_strindex), i32_varint(vt.unit_strindex));
    (if t != 0 { 1 + varint_len(t) } else { 0 }) + if u != 0 { 1 + varint_len(u) } else { 0 }
}

/// The encoded size of a `ValueType` field (one-byte key).
fn value_type_len(vt: &otlp::ValueType) -> usize {
    len_field(value_type_body_len(vt))
}

fn value_type(out: &mut Vec<u8>, field: u32, vt: &otlp::ValueType) {
    let (t, u) = (i32_varint(vt.type_strindex), i32_varint(vt.unit_strindex));
    let len = value_type_body_len(vt);
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

/// Writes the samples of the OTLP profile of sample type `t`.
fn write_samples(
    sink: &mut impl Sink,
    view: &PprofView<'_>,
    c: &Converted,
    t: usize,
    values: &mut Vec<i64>,
) -> io::Result<()> {
    let mut attr_start = 0usize;
    for (i, (&stack, &attr_end)) in c.stacks.iter().zip(&c.attr_ends).enumerate() {
        let attrs = c.attrs.get(attr_start..attr_end as usize).unwrap_or(&[]);
        attr_start = attr_end as usize;
        let v = match c.values_at.get(i) {
            Some(&at) if at != u32::MAX => view.packed_value(at, t),
            _ => {
                view.read_values(i, values);
                values.get(t).copied().unwrap_or(0)
            }
        };
        let (len, attrs_len) = sample_len(stack, attrs, v);
        let out = sink.buf();
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
        if i % 256 == 255 {
            sink.spill()?;
        }
    }
    Ok(())
}

/// What follows the samples in each of a record's profiles (the same for
/// every sample type), field by field in tag order, defaults left out, as
/// prost writes them.
fn profile_trailer(view: &PprofView<'_>, c: &Converted) -> Vec<u8> {
    let h = view.header();
    let mut out = Vec::with_capacity(64);
    let time = u64::try_from(h.time_nanos).unwrap_or(0);
    if time != 0 {
        put_key(&mut out, 3, FIXED64);
        out.extend_from_slice(&time.to_le_bytes());
    }
    put_varint_field(&mut out, 4, u64::try_from(h.duration_nanos).unwrap_or(0));
    if let Some(pt) = &c.head.period_type {
        value_type(&mut out, 5, pt);
    }
    put_varint_field(&mut out, 6, h.period as u64);
    packed_i32s(&mut out, 11, &c.head.attributes);
    out
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
