//! The on-disk form of one queued batch: what the persistent sending queue
//! stores so that a batch read back goes through the exporters exactly as
//! the one that was queued.
//!
//! Layout (little-endian): version `u8` (2), profile count `u32` (what
//! [`ProfileBatch::len`] says), pprof record count `u32`, then per record:
//! label count `u32`, each label as name and value (`u32` length + UTF-8
//! bytes), a kind byte (0 = the bytes as the target served them, 1 = the
//! profile as uncompressed pprof, its delta values written in), and the
//! profile bytes (`u32` length + bytes); then the OTLP request count `u32`
//! and each received request's protobuf bytes (`u32` length + bytes).
//! Version 1 (written before OTLP requests could be queued) is the same
//! without the record count and the OTLP part; it is still read.

use profcol_pdata::otlp::{OtlpLimits, OtlpPayload};
use profcol_pdata::pprof::DecodeLimits;
use profcol_pdata::{Labels, PprofData, ProfileBatch, ProfileRecord};
use std::sync::Arc;

const VERSION: u8 = 2;
const VERSION_PPROF_ONLY: u8 = 1;
const KIND_RAW: u8 = 0;
const KIND_ENCODED: u8 = 1;
/// Raw payloads were accepted by the scraper under its own limits; reading
/// them back only guards against absurd sizes.
const MAX_DECOMPRESSED: usize = 1 << 31;

/// Encodes `batch`; the decoded profile is encoded only when the raw bytes
/// are not kept.
pub fn encode_batch(batch: &ProfileBatch) -> Vec<u8> {
    let mut out = Vec::with_capacity(batch.approx_bytes() + 64);
    out.push(VERSION);
    put_len(&mut out, batch.len());
    put_len(&mut out, batch.records.len());
    for r in &batch.records {
        put_len(&mut out, r.labels.len());
        for (k, v) in r.labels.iter() {
            put_bytes(&mut out, k.as_bytes());
            put_bytes(&mut out, v.as_bytes());
        }
        match r.pprof.served() {
            Some(served) => {
                out.push(KIND_RAW);
                put_bytes(&mut out, served);
            }
            None => {
                out.push(KIND_ENCODED);
                put_bytes(&mut out, &r.pprof.pprof_bytes());
            }
        }
    }
    put_len(&mut out, batch.otlp.len());
    for p in &batch.otlp {
        put_bytes(&mut out, p.bytes());
    }
    out
}

/// The profile count of an encoded batch, read from its header.
pub fn profile_count(data: &[u8]) -> Option<usize> {
    let mut r = Reader { data, pos: 0 };
    matches!(r.u8()?, VERSION | VERSION_PPROF_ONLY).then_some(())?;
    r.len()
}

/// Decodes what [`encode_batch`] wrote.
pub fn decode_batch(data: &[u8]) -> Result<ProfileBatch, String> {
    let mut r = Reader { data, pos: 0 };
    let version = r.u8().ok_or("empty record")?;
    if version != VERSION && version != VERSION_PPROF_ONLY {
        return Err(format!("unknown record version {version}"));
    }
    let mut n = r.len().ok_or("truncated header")?;
    if version == VERSION {
        n = r.len().ok_or("truncated header")?;
    }
    let mut records = Vec::with_capacity(n.min(1024));
    for i in 0..n {
        let labels_n = r.len().ok_or_else(|| format!("profile {i}: truncated"))?;
        let mut pairs = Vec::with_capacity(labels_n.min(256));
        for _ in 0..labels_n {
            let k = r
                .string()
                .ok_or_else(|| format!("profile {i}: bad label"))?;
            let v = r
                .string()
                .ok_or_else(|| format!("profile {i}: bad label"))?;
            pairs.push((k, v));
        }
        let kind = r.u8().ok_or_else(|| format!("profile {i}: truncated"))?;
        let bytes = r.bytes().ok_or_else(|| format!("profile {i}: truncated"))?;
        let labels = Labels::from_pairs(pairs);
        let limits = DecodeLimits {
            max_decompressed_bytes: MAX_DECOMPRESSED,
            ..DecodeLimits::unlimited()
        };
        let bytes = bytes::Bytes::copy_from_slice(bytes);
        let data = match kind {
            KIND_RAW => PprofData::from_served(bytes, &limits),
            KIND_ENCODED => PprofData::from_pprof(bytes, &limits),
            k => return Err(format!("profile {i}: unknown kind {k}")),
        };
        let data = data.map_err(|e| format!("profile {i}: {e}"))?;
        let record = ProfileRecord::new(labels, data);
        records.push(record);
    }
    let mut batch = ProfileBatch::new(records);
    if version == VERSION {
        let n = r.len().ok_or("truncated OTLP count")?;
        for i in 0..n {
            let bytes = r
                .bytes()
                .ok_or_else(|| format!("OTLP request {i}: truncated"))?;
            let payload = OtlpPayload::from_bytes(
                bytes::Bytes::copy_from_slice(bytes),
                &OtlpLimits::default(),
            )
            .map_err(|e| format!("OTLP request {i}: {e}"))?;
            batch.otlp.push(Arc::new(payload));
        }
    }
    if r.pos != data.len() {
        return Err("trailing bytes after the last profile".to_string());
    }
    Ok(batch)
}

fn put_len(out: &mut Vec<u8>, n: usize) {
    // Batches, label sets and profiles are far below 4 GiB; saturate rather
    // than wrap so that an impossible size fails to decode instead.
    out.extend_from_slice(&u32::try_from(n).unwrap_or(u32::MAX).to_le_bytes());
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_len(out, b.len());
    out.extend_from_slice(b);
}

struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let s = self.data.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    fn len(&mut self) -> Option<usize> {
        let b: [u8; 4] = self.take(4)?.try_into().ok()?;
        usize::try_from(u32::from_le_bytes(b)).ok()
    }
    fn bytes(&mut self) -> Option<&'a [u8]> {
        let n = self.len()?;
        self.take(n)
    }
    fn string(&mut self) -> Option<String> {
        std::str::from_utf8(self.bytes()?).ok().map(str::to_string)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use profcol_pdata::pprof;
    use profcol_pdata::pprof::encode_pprof_gzip;

    fn profile(v: i64) -> pprof::Profile {
        pprof::Profile {
            sample_type: vec![pprof::ValueType { r#type: 1, unit: 2 }],
            sample: vec![pprof::Sample {
                location_id: vec![],
                value: vec![v],
                label: vec![],
            }],
            string_table: vec![String::new(), "goroutine".into(), "count".into()],
            ..Default::default()
        }
    }

    #[test]
    fn raw_and_decoded_records_round_trip() {
        let served = bytes::Bytes::from(encode_pprof_gzip(&profile(7)));
        let raw = ProfileRecord::new(
            Labels::from_pairs([("__name__", "goroutine"), ("service_name", "a")]),
            PprofData::from_served(served.clone(), &DecodeLimits::default()).unwrap(),
        );
        let decoded =
            ProfileRecord::from_profile(Labels::from_pairs([("x", "ü")]), &profile(9)).unwrap();
        let data = encode_batch(&ProfileBatch::new(vec![raw, decoded]));
        assert_eq!(profile_count(&data), Some(2));
        let back = decode_batch(&data).unwrap();
        assert_eq!(back.len(), 2);
        assert_eq!(back.records[0].pprof.served(), Some(&served));
        assert_eq!(back.records[0].profile(), profile(7));
        assert_eq!(back.records[0].labels.get("service_name"), Some("a"));
        assert!(back.records[1].pprof.served().is_none());
        assert_eq!(back.records[1].profile(), profile(9));
        assert_eq!(back.records[1].labels.get("x"), Some("ü"));
    }

    #[test]
    fn truncated_or_altered_data_is_an_error() {
        let data = encode_batch(&ProfileBatch::new(vec![ProfileRecord::from_profile(
            Labels::from_pairs([("a", "b")]),
            &profile(1),
        )
        .unwrap()]));
        for cut in [0, 1, 5, data.len() - 1] {
            assert!(decode_batch(&data[..cut]).is_err(), "cut at {cut}");
        }
        let mut extra = data.clone();
        extra.push(0);
        assert!(decode_batch(&extra).is_err());
        let mut version = data;
        version[0] = 9;
        assert!(decode_batch(&version).is_err());
    }

    #[test]
    fn otlp_requests_round_trip_byte_for_byte() {
        let record =
            ProfileRecord::from_profile(Labels::from_pairs([("service_name", "s")]), &profile(4))
                .unwrap();
        let otlp = bytes::Bytes::from(profcol_pdata::otlp::to_otlp_bytes(std::slice::from_ref(
            &record,
        )));
        let payload = OtlpPayload::from_bytes(otlp.clone(), &OtlpLimits::default()).unwrap();
        let mut batch = ProfileBatch::from_otlp(payload);
        batch.records.push(record);
        let data = encode_batch(&batch);
        assert_eq!(profile_count(&data), Some(2));
        let back = decode_batch(&data).unwrap();
        assert_eq!(back.len(), 2);
        assert_eq!(back.records.len(), 1);
        assert_eq!(back.otlp.len(), 1);
        assert_eq!(back.otlp[0].bytes(), &otlp);
        let mut bad = data.clone();
        let last = bad.len() - 1;
        bad[last] ^= 0xff;
        bad.truncate(last - 2);
        assert!(decode_batch(&bad).is_err());
    }

    /// Queues written by a profcol before OTLP requests could be queued
    /// (version 1: no record count, no OTLP part) are still read.
    #[test]
    fn version_1_records_are_still_read() {
        let record =
            ProfileRecord::from_profile(Labels::from_pairs([("a", "b")]), &profile(3)).unwrap();
        let v2 = encode_batch(&ProfileBatch::new(vec![record]));
        // v1 = version byte 1, the count, the records; no OTLP count.
        let mut v1 = vec![VERSION_PPROF_ONLY];
        v1.extend_from_slice(&v2[1..5]);
        v1.extend_from_slice(&v2[9..v2.len() - 4]);
        assert_eq!(profile_count(&v1), Some(1));
        let back = decode_batch(&v1).unwrap();
        assert_eq!(back.records[0].profile(), profile(3));
        assert!(back.otlp.is_empty());
    }
}
