//! `PprofData`: one profile as it travels from a receiver to the exporters —
//! the decompressed pprof body with its validated [`PprofView`], the bytes
//! as the target served them while nothing changed them, and, for a delta
//! of a cumulative profile, the [`Overlay`] that replaces the body's values
//! and drops its unchanged samples. No prost tree is built: the OTLP writer
//! reads the view (through the overlay), the Pyroscope exporter forwards
//! [`served`](PprofData::served) or a re-encoding ([`PprofData::pprof_bytes`]).
//!
//! ```
//! use bytes::Bytes;
//! use profcol_pdata::pprof::{encode_pprof_gzip, DecodeLimits, Profile};
//! use profcol_pdata::PprofData;
//! let served = Bytes::from(encode_pprof_gzip(&Profile::empty("samples", "count")));
//! let data = PprofData::from_served(served.clone(), &DecodeLimits::default())?;
//! assert_eq!(data.served(), Some(&served)); // forwarded byte for byte
//! # Ok::<(), profcol_pdata::Error>(())
//! ```

use crate::pprof;
use crate::pprof::model::{
    PROFILE_DURATION_NANOS, PROFILE_SAMPLE, PROFILE_TIME_NANOS, SAMPLE_LABEL, SAMPLE_LOCATION_ID,
    SAMPLE_VALUE,
};
use crate::pprof::{gzip, Compression, DecodeLimits};
use crate::pprof::{PprofView, SampleBuf};
use crate::wire::{put_key, put_varint, varint_len, Reader, LEN, VARINT};
use crate::Error;
use bytes::Bytes;
use prost::Message;

/// A validated pprof profile: the decompressed body and its view, plus what
/// changed since it was served.
#[derive(Clone, Debug)]
pub struct PprofData {
    view: PprofView,
    /// The bytes as served (compressed or not), while the body is their
    /// unaltered decompression. Kept only when compressed: a raw body is
    /// the view's own data.
    served: Option<Bytes>,
    /// Whether `served` is the body itself (served uncompressed).
    served_raw: bool,
    overlay: Option<Overlay>,
    /// The header's time or duration differs from the body's.
    retimed: bool,
}

/// Values that replace the body's: a delta of a cumulative profile. Only
/// the samples in `keep` remain, in body order, with `types` values each.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Overlay {
    /// Sample positions in the body.
    pub(crate) keep: Vec<u32>,
    /// Their values, `types` per sample.
    pub(crate) values: Vec<i64>,
}

impl Overlay {
    /// The value row of kept sample `k`.
    #[inline]
    pub(crate) fn values(&self, k: usize, types: usize) -> &[i64] {
        self.values.get(k * types..(k + 1) * types).unwrap_or(&[])
    }
}

impl PprofData {
    /// Decompresses and validates a body as a target served it.
    pub fn from_served(served: Bytes, limits: &DecodeLimits) -> Result<Self, Error> {
        let compressed = Compression::detect(&served) != Compression::None;
        let raw = if compressed {
            Bytes::from(PprofView::decompress(&served, limits)?.into_owned())
        } else {
            if served.is_empty() {
                return Err(Error::EmptyBody);
            }
            served.clone()
        };
        let view = PprofView::decode(raw, limits)?;
        let unaltered = view.truncated_stacks() == 0;
        Ok(Self {
            view,
            served: (compressed && unaltered).then_some(served),
            served_raw: !compressed && unaltered,
            overlay: None,
            retimed: false,
        })
    }

    /// Validates an uncompressed pprof body that was not served by a
    /// target (read back from storage, or encoded here).
    pub fn from_pprof(raw: Bytes, limits: &DecodeLimits) -> Result<Self, Error> {
        Ok(Self::from_view(PprofView::decode(raw, limits)?))
    }

    /// Encodes a decoded profile (one built here, e.g. from OTLP).
    pub fn from_profile(p: &pprof::Profile) -> Result<Self, Error> {
        Self::from_pprof(Bytes::from(p.encode_to_vec()), &DecodeLimits::unlimited())
    }

    pub(crate) fn from_view(view: PprofView) -> Self {
        Self {
            view,
            served: None,
            served_raw: false,
            overlay: None,
            retimed: false,
        }
    }

    /// The profile's body and tables, as served (see [`overlay`]).
    ///
    /// [`overlay`]: Self::overlay
    pub fn view(&self) -> &PprofView {
        &self.view
    }

    /// Everything but the samples and the big tables, with the window this
    /// profile covers.
    pub fn header(&self) -> &pprof::Profile {
        self.view.header()
    }

    /// The delta values that replace the body's, if any.
    pub fn overlay(&self) -> Option<&Overlay> {
        self.overlay.as_ref()
    }

    /// The bytes exactly as the target served them, while nothing changed
    /// the profile (a delta, a truncated stack); a forwarder sends these.
    /// One liberty: [`header`](Self::header)'s `time_nanos` may be the start
    /// of the window where the target stamped its end ([`window_start`](crate::pprof::window_start)).
    pub fn served(&self) -> Option<&Bytes> {
        if self.overlay.is_some() {
            None
        } else if self.served_raw {
            Some(self.view.data())
        } else {
            self.served.as_ref()
        }
    }

    /// Samples in the profile (after the overlay).
    pub fn sample_count(&self) -> usize {
        self.overlay
            .as_ref()
            .map_or(self.view.sample_count(), |o| o.keep.len())
    }

    /// Sets the window's start (the target stamped its end).
    pub fn set_time_nanos(&mut self, t: i64) {
        if self.view.header().time_nanos != t {
            self.view.header_mut().time_nanos = t;
            self.retimed = true;
        }
    }

    /// Sets the window's length (a pushed profile that did not say it, from
    /// the request's `from`/`until`).
    pub fn set_duration_nanos(&mut self, d: i64) {
        if self.view.header().duration_nanos != d {
            self.view.header_mut().duration_nanos = d;
            self.retimed = true;
        }
    }

    /// Replaces the values and the window: the profile is a delta.
    pub(crate) fn with_overlay(mut self, overlay: Overlay, time: i64, duration: i64) -> Self {
        let h = self.view.header_mut();
        h.time_nanos = time;
        h.duration_nanos = duration;
        self.overlay = Some(overlay);
        self.retimed = true;
        self.served = None;
        self.served_raw = false;
        self
    }

    /// Reads kept sample `k` (values through the overlay) into `buf`.
    pub fn read_sample(&self, k: usize, buf: &mut SampleBuf) -> Result<(), Error> {
        match &self.overlay {
            None => self.view.read_sample(k, buf),
            Some(o) => {
                let i = o.keep.get(k).copied().unwrap_or(u32::MAX) as usize;
                self.view.read_sample(i, buf)?;
                buf.values.clear();
                buf.values
                    .extend_from_slice(o.values(k, self.view.header().sample_type.len()));
                Ok(())
            }
        }
    }

    /// Memory the profile holds: its body, the view's indexes, the served
    /// bytes when kept apart, the overlay.
    pub fn memory_bytes(&self) -> usize {
        self.view.memory_bytes()
            + self.served.as_ref().map_or(0, Bytes::len)
            + self
                .overlay
                .as_ref()
                .map_or(0, |o| 4 * o.keep.capacity() + 8 * o.values.capacity())
    }

    /// The size of what a forwarder sends: the served bytes, else the body.
    pub fn wire_bytes(&self) -> usize {
        self.served().map_or(self.view.data_len(), Bytes::len)
    }

    /// The profile as uncompressed pprof protobuf: the body itself when
    /// nothing changed it, else the body with the overlay's samples and
    /// values, the truncated stacks and the header's window written in.
    pub fn pprof_bytes(&self) -> Bytes {
        if self.overlay.is_none() && !self.retimed && self.view.truncated_stacks() == 0 {
            return self.view.data().clone();
        }
        Bytes::from(self.rewrite())
    }

    /// Gzipped pprof: the served bytes when they are gzip and unaltered.
    pub fn pprof_gzip(&self) -> Bytes {
        match self.served() {
            Some(b) if Compression::detect(b) == Compression::Gzip => b.clone(),
            _ => Bytes::from(gzip(&self.pprof_bytes())),
        }
    }

    /// The same profile decoded into prost structs (overlay applied): for
    /// the debug exporter, folded stacks and tests, not the data path.
    pub fn to_profile(&self) -> pprof::Profile {
        let mut p = self.view.to_profile();
        if self.overlay.is_some() || self.view.truncated_stacks() > 0 {
            p.sample.clear();
            let mut buf = SampleBuf::default();
            for k in 0..self.sample_count() {
                if self.read_sample(k, &mut buf).is_ok() {
                    p.sample.push(pprof::Sample {
                        location_id: buf.location_ids.clone(),
                        value: buf.values.clone(),
                        label: buf.labels.clone(),
                    });
                }
            }
        }
        p
    }

    /// Copies every top-level field of the body but the samples and the
    /// window, then writes the kept samples and the header's window.
    fn rewrite(&self) -> Vec<u8> {
        let data = self.view.data();
        let mut out = Vec::with_capacity(data.len());
        let mut r = Reader::new(data);
        while !r.is_empty() {
            let start = r.pos();
            let Ok((field, wt)) = r.key() else { break };
            if r.skip(wt).is_err() {
                break;
            }
            if !matches!(
                field,
                PROFILE_SAMPLE | PROFILE_TIME_NANOS | PROFILE_DURATION_NANOS
            ) {
                out.extend_from_slice(data.get(start..r.pos()).unwrap_or(&[]));
            }
        }
        let mut sample = Vec::new();
        let mut stack = Vec::new();
        let types = self.view.header().sample_type.len();
        for k in 0..self.sample_count() {
            let (i, values) = match &self.overlay {
                Some(o) => (
                    o.keep.get(k).copied().unwrap_or(u32::MAX) as usize,
                    Some(o.values(k, types)),
                ),
                None => (k, None),
            };
            sample.clear();
            self.rewrite_sample(i, values, &mut stack, &mut sample);
            put_key(&mut out, PROFILE_SAMPLE, LEN);
            put_varint(&mut out, sample.len() as u64);
            out.extend_from_slice(&sample);
        }
        let h = self.view.header();
        if h.time_nanos != 0 {
            put_key(&mut out, PROFILE_TIME_NANOS, VARINT);
            put_varint(&mut out, h.time_nanos as u64);
        }
        if h.duration_nanos != 0 {
            put_key(&mut out, PROFILE_DURATION_NANOS, VARINT);
            put_varint(&mut out, h.duration_nanos as u64);
        }
        out
    }

    /// Sample `i` of the body with `values` (when given) and its stack
    /// truncated (when deep); labels and unknown fields copied as they are.
    fn rewrite_sample(
        &self,
        i: usize,
        values: Option<&[i64]>,
        stack: &mut Vec<u64>,
        out: &mut Vec<u8>,
    ) {
        let body = self.view.sample_bytes(i);
        let deep = self.view.may_be_deep(i);
        if deep && self.view.read_stack(i, stack).is_ok() {
            packed(out, SAMPLE_LOCATION_ID, stack.iter().copied());
        }
        let mut r = Reader::new(body);
        while !r.is_empty() {
            let start = r.pos();
            let Ok((field, wt)) = r.key() else { break };
            if r.skip(wt).is_err() {
                break;
            }
            let keep = match field {
                SAMPLE_LOCATION_ID => !deep,
                SAMPLE_VALUE => values.is_none(),
                SAMPLE_LABEL => true,
                _ => true,
            };
            if keep {
                out.extend_from_slice(body.get(start..r.pos()).unwrap_or(&[]));
            }
        }
        if let Some(values) = values {
            packed(out, SAMPLE_VALUE, values.iter().map(|&v| v as u64));
        }
    }
}

/// A packed repeated varint field (nothing for no values).
fn packed(out: &mut Vec<u8>, field: u32, values: impl Iterator<Item = u64> + Clone) {
    let len: usize = values.clone().map(varint_len).sum();
    if len == 0 {
        return;
    }
    put_key(out, field, LEN);
    put_varint(out, len as u64);
    for v in values {
        put_varint(out, v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::Builder;

    fn limits() -> DecodeLimits {
        DecodeLimits::default()
    }

    #[test]
    fn served_bytes_are_kept_while_unaltered() {
        let mut b = Builder::new(&[("samples", "count")]);
        b.sample(&["a", "main"], &[("k", "v")], &[3]);
        let p = b.build();
        let raw = Bytes::from(p.encode_to_vec());
        let gz = Bytes::from(gzip(&raw));
        let d = PprofData::from_served(gz.clone(), &limits()).unwrap();
        assert_eq!(d.served(), Some(&gz));
        assert_eq!(d.pprof_gzip(), gz);
        assert_eq!(d.pprof_bytes(), raw);
        assert_eq!(d.to_profile(), p);
        let d = PprofData::from_served(raw.clone(), &limits()).unwrap();
        assert_eq!(d.served(), Some(&raw));
        // A new window start keeps the served bytes (the one liberty) but
        // a re-encoding carries it.
        let mut d = d;
        d.set_time_nanos(77);
        assert_eq!(d.served(), Some(&raw));
        let again = PprofData::from_pprof(d.pprof_bytes(), &limits()).unwrap();
        assert_eq!(again.header().time_nanos, 77);
        let mut want = p.clone();
        want.time_nanos = 77;
        assert_eq!(again.to_profile(), want);
    }

    #[test]
    fn an_overlay_rewrites_values_and_drops_samples() {
        let types = [("contentions", "count"), ("delay", "nanoseconds")];
        let mut b = Builder::new(&types);
        b.sample(&["a"], &[("t", "x")], &[1, 10])
            .sample(&["b"], &[], &[2, 20])
            .sample(&["c"], &[], &[3, 30]);
        let p = b.build();
        let d = PprofData::from_pprof(Bytes::from(p.encode_to_vec()), &limits()).unwrap();
        let overlay = Overlay {
            keep: vec![0, 2],
            values: vec![5, 50, 7, 70],
        };
        let d = d.with_overlay(overlay, 100, 15);
        assert!(d.served().is_none());
        assert_eq!(d.sample_count(), 2);
        let mut want = p.clone();
        want.sample.remove(1);
        want.sample[0].value = vec![5, 50];
        want.sample[1].value = vec![7, 70];
        want.time_nanos = 100;
        want.duration_nanos = 15;
        assert_eq!(d.to_profile(), want);
        let back = PprofData::from_pprof(d.pprof_bytes(), &limits()).unwrap();
        assert_eq!(back.to_profile(), want);
    }

    #[test]
    fn deep_stacks_are_truncated_to_their_root_most_frames() {
        let mut b = Builder::new(&[("samples", "count")]);
        let frames: Vec<String> = (0..10).map(|i| format!("f{i}")).collect();
        let stack: Vec<&str> = frames.iter().map(String::as_str).collect();
        b.sample(&stack, &[], &[1]).sample(&["f8", "f9"], &[], &[2]);
        let p = b.build();
        let tight = DecodeLimits {
            max_stack_depth: 4,
            ..limits()
        };
        let gz = Bytes::from(gzip(&p.encode_to_vec()));
        let d = PprofData::from_served(gz, &tight).unwrap();
        assert_eq!(d.view().truncated_stacks(), 1);
        assert!(
            d.served().is_none(),
            "a truncated profile is not forwarded as served"
        );
        let got = d.to_profile();
        assert_eq!(got.sample[0].location_id, p.sample[0].location_id[6..]);
        assert_eq!(got.sample[1], p.sample[1]);
        let back = PprofData::from_pprof(d.pprof_bytes(), &limits()).unwrap();
        assert_eq!(back.to_profile().sample, got.sample);
    }
}
