//! `OtlpWriter`: pprof profiles → the protobuf bytes of one
//! `ExportProfilesServiceRequest`, written directly: no OTLP structs are
//! built for the samples (prost's would cost two `Vec`s per sample per
//! sample type). [`to_otlp_bytes`] / [`to_otlp_bytes_with`] convert
//! records (what the exporters send); [`views_to_otlp_bytes`] converts
//! views; `profcol convert --to otlp` feeds bodies one at a time to
//! [`OtlpWriter::add_pprof`] and streams [`OtlpWriter::write`].
//!
//! [`OtlpWriter::add`] interns a profile's stacks and labels through the
//! [`Converter`] into the request's one dictionary and keeps, per sample,
//! only the encoded OTLP fields every sample type shares (stack, attribute
//! and link indexes) and its values: after `add` the pprof body is no longer
//! needed. [`OtlpWriter::write`] then writes every sample type's profile,
//! every length computed before its message (`layout.rs`), a chunk at a
//! time, and the dictionary last.
//!
//! The bytes are exactly those the test oracle's prost structs encode to
//! (`oracle::to_otlp(records).encode_to_vec()`), which the tests check on
//! the whole corpus and the fuzz targets on anything.

mod layout;

use crate::error::Error;
use crate::labels::Labels;
use crate::otlp::conventions::{resource, scope};
use crate::otlp::convert::{attribute_key_bytes, Converter, ProfileHead};
use crate::otlp::dict::{Capacity, DictBuilder, STACK_BATCH};
use crate::otlp::fields::{
    PROFILE_SAMPLE_TYPE, REQUEST_DICTIONARY, REQUEST_RESOURCE_PROFILES, RESOURCE_PROFILES_RESOURCE,
    RESOURCE_PROFILES_SCOPE_PROFILES, SCOPE_PROFILES_PROFILES, SCOPE_PROFILES_SCOPE,
};
use crate::otlp::label_cache::LabelCache;
use crate::otlp::location_codes::LocationCodes;
use crate::otlp::sample_batch::{Batch, SampleSource};
use crate::otlp::sample_columns::SampleColumns;
use crate::otlp::sink::{Chunked, Sink};
use crate::pprof::data::{Overlay, PprofData};
use crate::pprof::tables::Tables;
use crate::pprof::validate::SampleChecker;
use crate::pprof::view::PprofView;
use crate::pprof::DecodeLimits;
use crate::wire::{len_field_size, put_key, put_len_field, put_varint, LEN};
use crate::ProfileRecord;
use bytes::Bytes;
use layout::{plan, profile_trailer, resource_groups, value_type};
use prost::Message;
use std::io::{self, Write};

/// One profile to convert, with its labels (as in [`crate::ProfileRecord`]).
pub struct ViewRecord<'v> {
    pub labels: Labels,
    pub view: &'v PprofView,
}

/// Converts the records to the protobuf bytes of one
/// `ExportProfilesServiceRequest`.
pub fn views_to_otlp_bytes(records: &[ViewRecord<'_>]) -> Vec<u8> {
    let mut w = OtlpWriter::for_views(records.iter().map(|r| r.view));
    for r in records {
        w.add(r.labels.clone(), r.view);
    }
    w.into_bytes()
}

/// Converts profile records to the protobuf bytes of one
/// `ExportProfilesServiceRequest` (what the exporters send).
pub fn to_otlp_bytes(records: &[ProfileRecord]) -> Vec<u8> {
    to_otlp_bytes_with(records, &OtlpOptions::default())
}

/// Choices an exporter makes about what its OTLP requests carry.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OtlpOptions {
    /// Leave out numeric pprof labels (Go heap's per-sample `bytes`): Grafana
    /// Pyroscope's OTLP ingest turns each into a string label, one series per
    /// value.
    pub drop_numeric_labels: bool,
}

/// [`to_otlp_bytes`] with the exporter's [`OtlpOptions`].
pub fn to_otlp_bytes_with(records: &[ProfileRecord], options: &OtlpOptions) -> Vec<u8> {
    let mut w = OtlpWriter::for_views(records.iter().map(|r| r.pprof.view()));
    w.options = *options;
    for r in records {
        w.add_data(r.labels.clone(), &r.pprof);
    }
    w.into_bytes()
}

/// Builds one `ExportProfilesServiceRequest` from pprof views (or decoded
/// profiles) added one at a time.
pub struct OtlpWriter {
    options: OtlpOptions,
    dict: Option<DictBuilder>,
    records: Vec<Converted>,
    batch: Batch,
    codes: LocationCodes,
    /// Set when an `add` failed part-way.
    failed: bool,
}

/// A converted record, waiting to be written.
struct Converted {
    labels: Labels,
    head: ProfileHead,
    /// Its `InstrumentationScope`, encoded.
    scope: Vec<u8>,
    /// What follows the samples in each of its profiles.
    trailer: Vec<u8>,
    samples: SampleColumns,
}

impl Default for OtlpWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl OtlpWriter {
    /// A writer whose dictionary is sized from the first profile added.
    pub fn new() -> Self {
        OtlpWriter {
            options: OtlpOptions::default(),
            dict: None,
            records: Vec::new(),
            batch: Batch::default(),
            codes: LocationCodes::new(),
            failed: false,
        }
    }

    /// A writer whose dictionary is sized for these profiles.
    pub fn for_views<'v>(views: impl IntoIterator<Item = &'v PprofView>) -> Self {
        let mut cap = Capacity::default();
        for v in views {
            add_capacity(&mut cap, v);
        }
        OtlpWriter {
            dict: Some(DictBuilder::new(cap)),
            ..Self::new()
        }
    }

    /// Converts one profile (its samples are kept in OTLP form; `view` and
    /// its body may be dropped afterwards).
    pub fn add(&mut self, labels: Labels, view: &PprofView) {
        // A view is validated: reading its samples cannot fail.
        if self.convert(labels, view, None, None).is_err() {
            self.failed = true;
        }
    }

    /// Converts one profile record's data, its delta values included.
    pub fn add_data(&mut self, labels: Labels, data: &PprofData) {
        if self
            .convert(labels, data.view(), None, data.overlay())
            .is_err()
        {
            self.failed = true;
        }
    }

    /// Decodes an uncompressed pprof body as [`PprofView::decode`] does and
    /// adds it, checking each sample as it is converted: one pass over the
    /// samples instead of two. After an error the dictionary may hold part
    /// of the profile's tables: the writer refuses to write, drop it.
    pub fn add_pprof(
        &mut self,
        labels: Labels,
        data: &Bytes,
        limits: &DecodeLimits,
    ) -> Result<(), Error> {
        let result = PprofView::decode_unchecked(data.clone(), limits)
            .and_then(|(view, checker)| self.convert(labels, &view, Some(&checker), None));
        if result.is_err() {
            self.failed = true;
        }
        result
    }

    fn convert(
        &mut self,
        labels: Labels,
        view: &PprofView,
        checker: Option<&SampleChecker>,
        overlay: Option<&Overlay>,
    ) -> Result<(), Error> {
        let dict = self.dict.get_or_insert_with(|| {
            let mut cap = Capacity::default();
            add_capacity(&mut cap, view);
            DictBuilder::new(cap)
        });
        // The codes keep every location's index once seen (ids dense,
        // indexes small): the Converter then needs no cache of them.
        let bound = view.location_ids().dense_bound();
        let max_index = dict.location_count() + view.location_count();
        let cache = !LocationCodes::keeps_all(bound, max_index);
        let mut c = Converter::with_location_cache(view, view, dict, cache);
        let head = c.head();
        let types = head.sample_types.len();
        let src = SampleSource {
            view,
            checker,
            types,
            overlay,
            drop_numeric_labels: self.options.drop_numeric_labels,
        };
        let n = src.count();
        let mut out = Converted {
            labels,
            trailer: profile_trailer(view.header(), &head),
            scope: scope(&head).encode_to_vec(),
            head,
            samples: SampleColumns::new(n, types),
        };
        let (batch, codes) = (&mut self.batch, &mut self.codes);
        codes.reset(bound);
        let mut labels = LabelCache::default();
        for first in (0..n).step_by(STACK_BATCH) {
            batch.clear();
            for i in first..n.min(first + STACK_BATCH) {
                batch.read(&src, i, &mut c, codes, &mut labels)?;
            }
            c.dict
                .stacks(&batch.stacks, &batch.ends, &mut batch.indexes);
            out.push_batch(batch, types);
        }
        out.samples.seal();
        if self.records.capacity() == 0 {
            // Most writers convert one profile.
            self.records.reserve_exact(1);
        }
        self.records.push(out);
        Ok(())
    }

    /// The request's protobuf bytes.
    pub fn into_bytes(self) -> Vec<u8> {
        let mut out = Vec::new();
        // Writing into a Vec cannot fail.
        let _ = self.write_to(&mut out);
        out
    }

    /// Writes the request to `out` a chunk at a time: memory stays the
    /// conversion's working set, not the output. Returns the first write
    /// error.
    pub fn write<W: Write>(self, out: W) -> io::Result<()> {
        self.write_to(&mut Chunked::new(out))
    }

    fn write_to(self, sink: &mut impl Sink) -> io::Result<()> {
        if self.failed {
            return Err(io::Error::other(
                "a profile failed to convert: the request would be incomplete",
            ));
        }
        let mut dict = self
            .dict
            .unwrap_or_else(|| DictBuilder::new(Capacity::default()));
        dict.seal();
        let groups = resource_groups(&self.records);
        let plan = plan(&self.records, &groups, &dict);
        let dict_field = len_field_size(dict.encoded_len());
        sink.reserve(plan.total - dict_field, plan.total);
        let mut profile_lens = plan.profile_lens.iter();
        let mut scope_lens = plan.scope_lens.iter();
        for ((labels, members), rp_len) in groups.iter().zip(&plan.group_lens) {
            let buf = sink.buf();
            put_key(buf, REQUEST_RESOURCE_PROFILES, LEN);
            put_varint(buf, *rp_len as u64);
            put_len_field(
                buf,
                RESOURCE_PROFILES_RESOURCE,
                &resource(labels).encode_to_vec(),
            );
            for c in members.iter().filter_map(|&i| self.records.get(i)) {
                let buf = sink.buf();
                put_key(buf, RESOURCE_PROFILES_SCOPE_PROFILES, LEN);
                put_varint(buf, scope_lens.next().copied().unwrap_or(0) as u64);
                put_len_field(buf, SCOPE_PROFILES_SCOPE, &c.scope);
                for (t, vt) in c.head.sample_types.iter().enumerate() {
                    let buf = sink.buf();
                    put_key(buf, SCOPE_PROFILES_PROFILES, LEN);
                    put_varint(buf, profile_lens.next().copied().unwrap_or(0) as u64);
                    value_type(buf, PROFILE_SAMPLE_TYPE, vt);
                    c.samples.write(sink, t)?;
                    sink.buf().extend_from_slice(&c.trailer);
                }
            }
            sink.spill()?;
        }
        drop(self.records);
        // The profiles go out before the dictionary's buffer is sized.
        sink.finish()?;
        sink.reserve(dict_field, dict_field);
        let buf = sink.buf();
        put_key(buf, REQUEST_DICTIONARY, LEN);
        put_varint(buf, dict.encoded_len() as u64);
        dict.encode_into(sink)?;
        sink.finish()
    }
}

/// Adds a profile's table sizes to a dictionary capacity. Stacks: the
/// biggest profile's, a byte per location index: the stack table is the
/// dictionary's biggest part, a batch often repeats stacks, and the table
/// grows when the guess is short.
fn add_capacity(cap: &mut Capacity, view: &PprofView) {
    let h = view.header();
    cap.strings += view.string_count();
    cap.string_bytes += view.string_bytes_len();
    cap.string_bytes += attribute_key_bytes(h);
    // Their pprof messages but the ids: the same fields, whose indexes
    // may take a little more than the pprof ids did.
    let (functions, locations) = view.table_data_len();
    cap.function_bytes += functions + functions / 32 + 16;
    cap.location_bytes += locations + locations / 32 + 16;
    cap.functions += view.function_count();
    cap.mappings += h.mapping.len();
    cap.locations += view.location_count();
    cap.stacks = cap.stacks.max(view.sample_count());
    // Unknown (0) for an unchecked view: the samples' ids (a little more,
    // as above; dedup makes it an upper bound mostly), else a guess from
    // the body's size, at most the samples' (on small profiles the tables
    // are most of it).
    let refs = match (view.location_refs(), view.sample_ids_len()) {
        (0, 0) => (view.data_len() / 2).min(view.sample_data_len()),
        (0, ids) => ids + ids / 32 + 16,
        (n, _) => n,
    };
    cap.stack_bytes = cap.stack_bytes.max(refs);
}

impl Converted {
    /// Adds the batch's samples once their stacks are interned.
    fn push_batch(&mut self, batch: &Batch, types: usize) {
        let mut attr_start = 0;
        for (k, ((&stack, &attr_end), &link)) in batch
            .indexes
            .iter()
            .zip(&batch.attr_ends)
            .zip(&batch.links)
            .enumerate()
        {
            let attrs = batch.attrs.get(attr_start..attr_end).unwrap_or(&[]);
            attr_start = attr_end;
            let values = batch.values.get(k * types..).unwrap_or(&[]);
            self.samples.push_shared(stack, attrs, link, values);
        }
        self.samples.push_value_rows(&batch.values);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oracle::to_otlp;
    use crate::pprof::DecodeLimits;
    use crate::ProfileRecord;

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
        let views: Vec<PprofView> = files
            .iter()
            .map(|(_, raw)| PprofView::decode(Bytes::from(raw.clone()), &l).unwrap())
            .collect();
        let records: Vec<ViewRecord<'_>> = views
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
            .map(|r| ProfileRecord::from_profile(r.labels.clone(), &r.view.to_profile()).unwrap())
            .collect();
        let from_profiles = to_otlp_bytes(&want);
        let want = to_otlp(&want).encode_to_vec();
        let got = views_to_otlp_bytes(&records);
        assert_eq!(got.len(), want.len());
        assert!(got == want, "bytes differ");
        // Streamed through chunks (the dictionary's part after a flush).
        let mut w = OtlpWriter::for_views(records.iter().map(|r| r.view));
        for r in &records {
            w.add(r.labels.clone(), r.view);
        }
        let mut streamed = Vec::new();
        w.write(&mut streamed).unwrap();
        assert!(streamed == want, "streamed bytes differ");
        assert!(from_profiles == want, "to_otlp_bytes differs");
    }

    #[test]
    fn no_records_encode_as_to_otlp_does() {
        assert_eq!(to_otlp_bytes(&[]), to_otlp(&[]).encode_to_vec());
        assert_eq!(OtlpWriter::new().into_bytes(), to_otlp(&[]).encode_to_vec());
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

    /// `add_pprof` (checking while converting) accepts exactly what
    /// `PprofView::decode` accepts, on every corpus file and on truncated
    /// and corrupted copies, and then writes the same bytes as `add`.
    #[test]
    fn add_pprof_agrees_with_decode_then_add() {
        let l = DecodeLimits::default();
        for (name, raw) in corpus().into_iter().filter(|(_, r)| r.len() < 12_000) {
            let step = (raw.len() / 60).max(1);
            let mut cases = vec![raw.clone()];
            for (k, at) in (0..raw.len()).step_by(step).enumerate() {
                cases.push(raw[..at].to_vec());
                let mut c = raw.clone();
                c[at] = c[at].wrapping_add(1 + (k as u8 % 200));
                cases.push(c);
            }
            for c in cases {
                let mut fused = OtlpWriter::new();
                let c = Bytes::from(c);
                let got = fused.add_pprof(Labels::new(), &c, &l);
                match PprofView::decode(c.clone(), &l) {
                    Ok(view) => {
                        assert!(got.is_ok(), "{name}: {got:?}");
                        let mut two_pass = OtlpWriter::new();
                        two_pass.add(Labels::new(), &view);
                        assert!(fused.into_bytes() == two_pass.into_bytes(), "{name}");
                    }
                    Err(_) => {
                        assert!(got.is_err(), "{name}: accepted what decode refuses");
                        assert!(fused.write(std::io::sink()).is_err(), "{name}");
                    }
                }
            }
        }
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
        let raw = crate::pprof::encode_pprof(&p);
        same_bytes(&[("x".into(), raw)], |_, _| {
            Labels::from_pairs([("a", "b")])
        });
    }
}
