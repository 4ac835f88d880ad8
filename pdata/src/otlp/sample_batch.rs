//! The writer's sample loop: reads up to
//! [`STACK_BATCH`](crate::otlp::dict::STACK_BATCH) pprof samples of a
//! profile straight into a batch (stack encodings, values, attribute
//! indexes), checking them when asked, so their stacks can be interned
//! together. Labels are looked up by their encoded bytes: a profile repeats
//! a few labels on every sample, and a label seen before was parsed and
//! checked then (see [`crate::otlp::label_cache`]).

use crate::error::Error;
use crate::otlp::convert::Converter;
use crate::otlp::label_cache::LabelCache;
use crate::otlp::location_codes::LocationCodes;
use crate::pprof::data::Overlay;
use crate::pprof::model::{SAMPLE_LABEL, SAMPLE_LOCATION_ID, SAMPLE_VALUE};
use crate::pprof::tables::{StringTable, Tables};
use crate::pprof::validate::SampleChecker;
use crate::pprof::view::label;
use crate::pprof::PprofView;
use crate::wire::{Reader, Repeated};

/// Stacks, labels and values of up to
/// [`STACK_BATCH`](crate::otlp::dict::STACK_BATCH) samples.
#[derive(Default)]
pub(crate) struct Batch {
    /// The stacks' packed dictionary location indexes, back to back.
    pub(crate) stacks: Vec<u8>,
    pub(crate) ends: Vec<u32>,
    /// Their indexes once interned.
    pub(crate) indexes: Vec<i32>,
    /// Attribute indexes, sample after sample; `attr_ends[k]` ends sample k's.
    pub(crate) attrs: Vec<i32>,
    pub(crate) attr_ends: Vec<usize>,
    /// Link index per sample.
    pub(crate) links: Vec<i32>,
    /// Every sample type's value, sample after sample (`types` each).
    pub(crate) values: Vec<i64>,
    /// A deep sample's truncated stack.
    deep_stack: Vec<u64>,
}

/// What the label cache keeps for a label left out of the attributes (not
/// a code: attribute codes are positive, link codes -1 - their index).
const DROPPED: i32 = i32::MIN;

/// What reading a profile's samples needs besides the batch.
pub(crate) struct SampleSource<'v> {
    pub(crate) view: &'v PprofView,
    /// Checks each sample (None: the view was validated).
    pub(crate) checker: Option<&'v SampleChecker>,
    pub(crate) types: usize,
    /// Delta values replacing the body's, and the samples kept.
    pub(crate) overlay: Option<&'v Overlay>,
    /// Leave numeric labels (`str` unset) out of the attributes.
    pub(crate) drop_numeric_labels: bool,
}

impl SampleSource<'_> {
    /// Samples to read.
    pub(crate) fn count(&self) -> usize {
        self.overlay
            .map_or(self.view.sample_count(), |o| o.keep.len())
    }
}

impl Batch {
    pub(crate) fn clear(&mut self) {
        self.stacks.clear();
        self.ends.clear();
        self.indexes.clear();
        self.attrs.clear();
        self.attr_ends.clear();
        self.links.clear();
        self.values.clear();
        self.deep_stack.clear();
    }

    /// Reads sample `k` of the source into the batch: it accepts what
    /// [`PprofView::read_sample`] reads and the [`SampleChecker`] accepts, and gives each value type its value (0 when missing; the
    /// overlay's when there is one). A stack deeper than the view's limit
    /// is truncated to its root-most frames.
    #[inline]
    pub(crate) fn read<'a, S: StringTable + ?Sized, T: Tables>(
        &mut self,
        src: &SampleSource<'a>,
        k: usize,
        c: &mut Converter<'_, S, T>,
        codes: &mut LocationCodes,
        labels: &mut LabelCache<'a>,
    ) -> Result<(), Error> {
        let i = match src.overlay {
            Some(o) => o.keep.get(k).copied().unwrap_or(u32::MAX) as usize,
            None => k,
        };
        let first_value = self.values.len();
        let first_attr = self.attrs.len();
        self.values.resize(first_value + src.types, 0);
        let mut n_values = 0;
        let mut n_labels = 0;
        let deep = src.view.may_be_deep(i);
        if deep {
            self.read_deep_stack(src.view, i, c, codes)?;
        }
        let mut r = Reader::new(src.view.sample_bytes(i));
        while !r.is_empty() {
            let (field, wt) = r.key()?;
            match field {
                SAMPLE_LOCATION_ID if deep => r.skip(wt)?,
                SAMPLE_LOCATION_ID => {
                    codes.translate(r.repeated_raw(wt)?, &mut self.stacks, |id| c.location(id))?
                }
                SAMPLE_VALUE if src.overlay.is_some() => r.skip(wt)?,
                SAMPLE_VALUE => r.repeated(wt, |v| {
                    if n_values < src.types {
                        if let Some(slot) = self.values.get_mut(first_value + n_values) {
                            *slot = v as i64;
                        }
                    }
                    n_values += 1;
                })?,
                SAMPLE_LABEL => {
                    let bytes = r.message(wt)?;
                    n_labels += 1;
                    let attr = match labels.get(bytes) {
                        Some(attr) => attr,
                        None => {
                            let l = label(bytes)?;
                            if let Some(checker) = src.checker {
                                checker.check_label(&l)?;
                            }
                            let attr = if src.drop_numeric_labels && l.str == 0 {
                                DROPPED
                            } else {
                                c.label(&l)
                            };
                            labels.insert(bytes, attr);
                            attr
                        }
                    };
                    if attr != DROPPED {
                        self.attrs.push(attr);
                    }
                }
                _ => r.skip(wt)?,
            }
        }
        if let Some(o) = src.overlay {
            let row = o.values(k, src.types);
            if let Some(slots) = self.values.get_mut(first_value..first_value + row.len()) {
                slots.copy_from_slice(row);
            }
        }
        if let Some(checker) = src.checker {
            checker.check_values(i, n_values)?;
            checker.check_label_count(n_labels)?;
        }
        let link = c.sample_attributes(&mut self.attrs, first_attr);
        self.ends.push(self.stacks.len() as u32);
        self.attr_ends.push(self.attrs.len());
        self.links.push(link);
        Ok(())
    }

    /// Translates sample `i`'s stack, truncated to the view's depth limit.
    #[cold]
    fn read_deep_stack<S: StringTable + ?Sized, T: Tables>(
        &mut self,
        view: &PprofView,
        i: usize,
        c: &mut Converter<'_, S, T>,
        codes: &mut LocationCodes,
    ) -> Result<(), Error> {
        let mut stack = std::mem::take(&mut self.deep_stack);
        view.read_stack(i, &mut stack)?;
        for &id in &stack {
            codes.translate(Repeated::One(id), &mut self.stacks, |id| c.location(id))?;
        }
        self.deep_stack = stack;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::otlp::OtlpWriter;
    use crate::pprof::{encode_pprof, DecodeLimits, PprofView};
    use crate::testutil::Builder;
    use crate::Labels;

    /// add_pprof refuses `p` with the error `PprofView::decode` gives.
    fn refused_like_decode(p: &crate::pprof::Profile, limits: &DecodeLimits) -> String {
        let raw = bytes::Bytes::from(encode_pprof(p));
        let Err(want) = PprofView::decode(raw.clone(), limits) else {
            panic!("decode accepts")
        };
        let got = OtlpWriter::new()
            .add_pprof(Labels::new(), &raw, limits)
            .expect_err("add_pprof refuses");
        assert_eq!(got.to_string(), want.to_string());
        got.to_string()
    }

    fn two_samples_one_label() -> crate::pprof::Profile {
        let mut b = Builder::new(&[("alloc_objects", "count"), ("alloc_space", "bytes")]);
        b.sample(&["a"], &[("thread", "t1")], &[1, 2])
            .sample(&["b"], &[("thread", "t1")], &[3, 4]);
        b.build()
    }

    #[test]
    fn a_bad_label_is_refused_on_its_first_and_later_uses() {
        let mut p = two_samples_one_label();
        let bad = p.string_table.len() as i64 + 5;
        p.sample[1].label[0].str = bad;
        let err = refused_like_decode(&p, &DecodeLimits::default());
        assert!(err.contains("label.str"), "{err}");
        p.sample[0].label[0].str = bad;
        refused_like_decode(&p, &DecodeLimits::default());
    }

    #[test]
    fn label_and_value_counts_are_checked_on_every_sample() {
        let mut p = two_samples_one_label();
        let again = p.sample[1].label[0];
        p.sample[1].label.push(again);
        let limits = DecodeLimits {
            max_labels_per_sample: 1,
            ..DecodeLimits::default()
        };
        let err = refused_like_decode(&p, &limits);
        assert!(err.contains("labels on one sample"), "{err}");

        let mut p = two_samples_one_label();
        p.sample[1].value.push(9);
        let err = refused_like_decode(&p, &DecodeLimits::default());
        assert!(err.contains('3') && err.contains('2'), "{err}");
    }
}
