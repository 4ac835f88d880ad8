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
//!
//! What is read back is checked like what a receiver takes in: a file on
//! disk may have been damaged in ways its checksum does not catch or
//! written by another program. [`read_batch`] decodes each pprof profile
//! under the caps it is given — the collector passes the widest caps of the
//! configured receivers (`ComponentContext::read_back_limits`), so nothing
//! a receiver accepted is refused here and nothing bigger is inflated —,
//! checks each label set (UTF-8, no empty name; the receivers' count and
//! length caps are not applied again, since processors such as `resource`
//! add labels after them, and a label set costs no more memory than the
//! record that holds it) and each OTLP request with
//! [`OtlpPayload::from_bytes`] under the `otlp` receiver's
//! [`OtlpLimits::default`]. A profile or request that fails is left out of
//! the batch and listed in [`ReadBack::refused`] with its reason; the rest
//! of the batch is kept. Only a record whose layout is broken is refused
//! whole.

use profcol_pdata::otlp::{OtlpLimits, OtlpPayload};
use profcol_pdata::pprof::DecodeLimits;
use profcol_pdata::{Labels, PprofData, ProfileBatch, ProfileRecord};
use std::sync::Arc;

const VERSION: u8 = 2;
const VERSION_PPROF_ONLY: u8 = 1;
const KIND_RAW: u8 = 0;
const KIND_ENCODED: u8 = 1;
/// Label pairs preallocated for one profile, whatever count a record claims.
const LABELS_PREALLOCATED: usize = 128;

/// A batch read back, without what failed the checks.
#[derive(Debug)]
pub struct ReadBack {
    pub batch: ProfileBatch,
    /// Profiles and OTLP requests left out, in the order they were stored.
    pub refused: Vec<Refused>,
}

/// One profile or OTLP request of a stored batch that failed the checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// Which one: `profile 3`, `OTLP request 0`.
    pub item: String,
    /// Short and fixed, for the metric label: `pprof` (does not decode or
    /// is over a cap), `labels` (over a label cap or not UTF-8), `otlp`.
    pub reason: &'static str,
    /// What was wrong, for the log.
    pub detail: String,
}

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

/// Decodes what [`encode_batch`] wrote, leaving out what fails the checks
/// under the decoder's default caps (see [`read_batch`]).
pub fn decode_batch(data: &[u8]) -> Result<ProfileBatch, String> {
    read_batch(data, &DecodeLimits::default()).map(|r| r.batch)
}

/// Decodes what [`encode_batch`] wrote and checks every profile and OTLP
/// request as a receiver would (see the module's documentation). An error
/// means the record's layout is broken: nothing of it can be trusted.
pub fn read_batch(data: &[u8], limits: &DecodeLimits) -> Result<ReadBack, String> {
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
    let mut refused = Vec::new();
    for i in 0..n {
        let truncated = || format!("profile {i}: truncated");
        let labels_n = r.len().ok_or_else(truncated)?;
        let mut pairs = Vec::with_capacity(labels_n.min(LABELS_PREALLOCATED));
        for _ in 0..labels_n {
            let k = r.bytes().ok_or_else(truncated)?;
            let v = r.bytes().ok_or_else(truncated)?;
            pairs.push((k, v));
        }
        let kind = r.u8().ok_or_else(truncated)?;
        let bytes = r.bytes().ok_or_else(truncated)?;
        if kind != KIND_RAW && kind != KIND_ENCODED {
            return Err(format!("profile {i}: unknown kind {kind}"));
        }
        let item = || format!("profile {i}");
        let labels = match check_labels(&pairs) {
            Ok(labels) => labels,
            Err(detail) => {
                refused.push(Refused {
                    item: item(),
                    reason: "labels",
                    detail,
                });
                continue;
            }
        };
        let bytes = bytes::Bytes::copy_from_slice(bytes);
        let data = if kind == KIND_RAW {
            PprofData::from_served(bytes, limits)
        } else {
            PprofData::from_pprof(bytes, limits)
        };
        match data {
            Ok(data) => records.push(ProfileRecord::new(labels, data)),
            Err(e) => refused.push(Refused {
                item: item(),
                reason: "pprof",
                detail: e.to_string(),
            }),
        }
    }
    let mut batch = ProfileBatch::new(records);
    if version == VERSION {
        let n = r.len().ok_or("truncated OTLP count")?;
        for i in 0..n {
            let bytes = r
                .bytes()
                .ok_or_else(|| format!("OTLP request {i}: truncated"))?;
            let bytes = bytes::Bytes::copy_from_slice(bytes);
            match OtlpPayload::from_bytes(bytes, &OtlpLimits::default()) {
                Ok(payload) => batch.otlp.push(Arc::new(payload)),
                Err(e) => refused.push(Refused {
                    item: format!("OTLP request {i}"),
                    reason: "otlp",
                    detail: e.to_string(),
                }),
            }
        }
    }
    if r.pos != data.len() {
        return Err("trailing bytes after the last profile".to_string());
    }
    Ok(ReadBack { batch, refused })
}

/// The label set of one stored profile, if its names and values are UTF-8
/// and no name is empty.
fn check_labels(pairs: &[(&[u8], &[u8])]) -> Result<Labels, String> {
    let mut out = Vec::with_capacity(pairs.len());
    for (k, v) in pairs {
        let name = std::str::from_utf8(k).map_err(|_| "a label name is not UTF-8".to_string())?;
        let value = std::str::from_utf8(v)
            .map_err(|_| format!("the value of label {name} is not UTF-8"))?;
        if name.is_empty() {
            return Err("an empty label name".to_string());
        }
        out.push((name, value));
    }
    Ok(Labels::from_pairs(out))
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

    /// A stored batch written field by field, as a damaged or foreign file
    /// may hold it.
    #[derive(Default)]
    struct Stored {
        records: Vec<u8>,
        count: usize,
        otlp: Vec<Vec<u8>>,
    }

    impl Stored {
        fn profile(mut self, labels: &[(&[u8], &[u8])], kind: u8, bytes: &[u8]) -> Self {
            put_len(&mut self.records, labels.len());
            for (k, v) in labels {
                put_bytes(&mut self.records, k);
                put_bytes(&mut self.records, v);
            }
            self.records.push(kind);
            put_bytes(&mut self.records, bytes);
            self.count += 1;
            self
        }
        fn bytes(&self) -> Vec<u8> {
            let mut out = vec![VERSION];
            put_len(&mut out, self.count + self.otlp.len());
            put_len(&mut out, self.count);
            out.extend_from_slice(&self.records);
            put_len(&mut out, self.otlp.len());
            for o in &self.otlp {
                put_bytes(&mut out, o);
            }
            out
        }
    }

    /// A pprof body that inflates to 80 MiB: one string of zeros.
    fn inflates_to_80_mib() -> Vec<u8> {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        // string_table (field 6), length-delimited: tag, varint length, bytes.
        let len: u64 = 80 << 20;
        let mut head = vec![(6 << 3) | 2];
        let mut n = len;
        while n >= 0x80 {
            head.push((n as u8) | 0x80);
            n >>= 7;
        }
        head.push(n as u8);
        enc.write_all(&head).unwrap();
        let zeros = vec![b'a'; 1 << 20];
        for _ in 0..80 {
            enc.write_all(&zeros).unwrap();
        }
        enc.finish().unwrap()
    }

    #[test]
    fn what_fails_the_checks_is_left_out_and_the_rest_kept() {
        let good = encode_pprof_gzip(&profile(5));
        let many: Vec<(Vec<u8>, Vec<u8>)> = std::iter::once((b"seq".to_vec(), b"1".to_vec()))
            .chain((0..150).map(|i| (format!("l{i}").into_bytes(), b"v".to_vec())))
            .collect();
        let many: Vec<(&[u8], &[u8])> = many.iter().map(|(k, v)| (&k[..], &v[..])).collect();
        let long_value = vec![b'x'; 10_000];
        let bomb = inflates_to_80_mib();
        let mut stored = Stored::default()
            .profile(&[(b"seq", b"0")], KIND_RAW, &good)
            .profile(&many, KIND_RAW, &good)
            .profile(&[(b"seq", b"\xff\xfe")], KIND_RAW, &good)
            .profile(&[(b"seq", b"3"), (b"big", &long_value)], KIND_RAW, &good)
            .profile(&[(b"seq", b"4")], KIND_RAW, &bomb)
            .profile(&[(b"seq", b"5")], KIND_ENCODED, b"\x0a\xff\xff\xff")
            .profile(&[(b"seq", b"6")], KIND_RAW, &good)
            .profile(&[(b"", b"7")], KIND_RAW, &good);
        stored.otlp.push(b"\x0a\x05not a request".to_vec());
        let read = read_batch(&stored.bytes(), &DecodeLimits::default()).unwrap();

        let seqs: Vec<&str> = read
            .batch
            .records
            .iter()
            .map(|r| r.labels.get("seq").unwrap())
            .collect();
        // Many labels and long values pass: receivers' label caps are not
        // applied again (processors add labels after them).
        assert_eq!(seqs, ["0", "1", "3", "6"]);
        assert_eq!(read.batch.records[1].labels.len(), 151);
        assert_eq!(read.batch.records[3].profile(), profile(5));
        assert!(read.batch.otlp.is_empty());
        let refused: Vec<(&str, &str)> = read
            .refused
            .iter()
            .map(|r| (r.item.as_str(), r.reason))
            .collect();
        assert_eq!(
            refused,
            [
                ("profile 2", "labels"),
                ("profile 4", "pprof"),
                ("profile 5", "pprof"),
                ("profile 7", "labels"),
                ("OTLP request 0", "otlp"),
            ]
        );
        assert!(
            read.refused[0].detail.contains("not UTF-8"),
            "{:?}",
            read.refused[0]
        );
        // The bomb is stopped at the cap given, not inflated whole.
        assert!(
            read.refused[1].detail.contains("64"),
            "{:?}",
            read.refused[1]
        );
        assert!(
            read.refused[3].detail.contains("empty label name"),
            "{:?}",
            read.refused[3]
        );
        // Under the caps of a receiver that accepts 128 MiB inflated (what
        // the collector passes when one is configured so), the size is no
        // reason to refuse.
        let wide = DecodeLimits {
            max_decompressed_bytes: 128 << 20,
            ..DecodeLimits::default()
        };
        let read = read_batch(&stored.bytes(), &wide).unwrap();
        let seqs: Vec<&str> = read
            .batch
            .records
            .iter()
            .map(|r| r.labels.get("seq").unwrap())
            .collect();
        assert_eq!(seqs, ["0", "1", "3", "6"]);
        // The 80 MiB body is inflated whole now and refused for what it is
        // (a string table and nothing else), not for its size.
        assert_eq!(read.refused[1].item, "profile 4");
        assert!(
            read.refused[1].detail.contains("no sample types"),
            "{:?}",
            read.refused[1]
        );
    }

    /// Random bytes, and a good record with random bytes changed, cut or
    /// grown, through the read-back path: never a panic, and whatever is
    /// read back is within the caps and encodes to a record that reads back
    /// the same.
    #[test]
    fn random_bytes_never_panic_and_what_is_read_is_within_the_caps() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(21);
        let record = ProfileRecord::new(
            Labels::from_pairs([("service_name", "a"), ("seq", "1")]),
            PprofData::from_served(
                encode_pprof_gzip(&profile(3)).into(),
                &DecodeLimits::default(),
            )
            .unwrap(),
        );
        let decoded =
            ProfileRecord::from_profile(Labels::from_pairs([("x", "y")]), &profile(4)).unwrap();
        let good = encode_batch(&ProfileBatch::new(vec![record, decoded]));
        let mut read_ok = 0;
        for round in 0..20_000 {
            let input: Vec<u8> = if round % 2 == 0 {
                let n = rng.random_range(0..256);
                let mut b = vec![0u8; n];
                rng.fill(&mut b[..]);
                // Often a valid version byte, so the parser gets further.
                if let Some(first) = b.first_mut() {
                    *first = if rng.random_bool(0.8) {
                        VERSION
                    } else {
                        *first
                    };
                }
                b
            } else {
                let mut b = good.clone();
                for _ in 0..rng.random_range(1..4) {
                    match rng.random_range(0..3) {
                        0 => {
                            let i = rng.random_range(0..b.len());
                            b[i] = rng.random();
                        }
                        1 => b.truncate(rng.random_range(0..b.len())),
                        _ => {
                            let i = rng.random_range(0..=b.len());
                            b.insert(i, rng.random());
                        }
                    }
                    if b.is_empty() {
                        break;
                    }
                }
                b
            };
            let Ok(read) = read_batch(&input, &DecodeLimits::default()) else {
                continue;
            };
            read_ok += 1;
            for r in &read.batch.records {
                for (k, _) in r.labels.iter() {
                    assert!(!k.is_empty());
                }
            }
            let again = read_batch(&encode_batch(&read.batch), &DecodeLimits::default()).unwrap();
            assert!(again.refused.is_empty());
            assert_eq!(again.batch.len(), read.batch.len());
        }
        assert!(read_ok > 100, "only {read_ok} inputs read back");
    }
}
