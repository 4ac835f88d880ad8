//! The push API's request, `push.v1.PushRequest`, read from protobuf (by
//! field number, no copy: raw profiles are slices of the body) or from
//! Connect's JSON mapping (field names in lowerCamelCase or as in the
//! `.proto`, bytes in base64, unknown fields ignored).
//!
//! ```text
//! PushRequest      { repeated RawProfileSeries series = 1; }
//! RawProfileSeries { repeated LabelPair labels = 1; repeated RawSample samples = 2;
//!                    repeated ProfileAnnotation annotations = 3; (dropped, as Pyroscope drops them) }
//! LabelPair        { string name = 1; string value = 2; }
//! RawSample        { bytes raw_profile = 1; string ID = 2; }
//! ```

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use bytes::Bytes;
use serde::Deserialize;
use std::fmt;

/// `PushRequest.series`.
pub const PUSH_REQUEST_SERIES: u32 = 1;
/// `RawProfileSeries.labels`.
pub const SERIES_LABELS: u32 = 1;
/// `RawProfileSeries.samples`.
pub const SERIES_SAMPLES: u32 = 2;
/// `RawProfileSeries.annotations` (skipped).
pub const SERIES_ANNOTATIONS: u32 = 3;
/// `LabelPair.name`.
pub const LABEL_PAIR_NAME: u32 = 1;
/// `LabelPair.value`.
pub const LABEL_PAIR_VALUE: u32 = 2;
/// `RawSample.raw_profile`.
pub const RAW_SAMPLE_RAW_PROFILE: u32 = 1;
/// `RawSample.ID`.
pub const RAW_SAMPLE_ID: u32 = 2;

const WIRE_VARINT: u8 = 0;
const WIRE_I64: u8 = 1;
const WIRE_LEN: u8 = 2;
const WIRE_I32: u8 = 5;

/// One series as sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Series {
    pub labels: Vec<(String, String)>,
    pub samples: Vec<Bytes>,
}

/// Why a body is not a `PushRequest`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError(pub String);

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DecodeError {}

fn err<T>(msg: impl Into<String>) -> Result<T, DecodeError> {
    Err(DecodeError(msg.into()))
}

/// A protobuf reader over one message's bytes.
struct Reader {
    data: Bytes,
    pos: usize,
}

impl Reader {
    fn new(data: Bytes) -> Self {
        Self { data, pos: 0 }
    }

    fn is_empty(&self) -> bool {
        self.pos >= self.data.len()
    }

    fn varint(&mut self) -> Result<u64, DecodeError> {
        let mut v: u64 = 0;
        for i in 0..10 {
            let Some(&b) = self.data.get(self.pos) else {
                return err("truncated protobuf: a varint runs past the end");
            };
            self.pos += 1;
            v |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        err("invalid protobuf: a varint is longer than 10 bytes")
    }

    /// The next key: field number and wire type.
    fn key(&mut self) -> Result<(u32, u8), DecodeError> {
        let k = self.varint()?;
        let field = u32::try_from(k >> 3).unwrap_or(0);
        if field == 0 {
            return err("invalid protobuf: field number 0");
        }
        Ok((field, (k & 7) as u8))
    }

    fn take(&mut self, n: usize) -> Result<Bytes, DecodeError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.data.len());
        let Some(end) = end else {
            return err(format!(
                "truncated protobuf: a field of {n} bytes runs past the end ({} left)",
                self.data.len() - self.pos.min(self.data.len())
            ));
        };
        let b = self.data.slice(self.pos..end);
        self.pos = end;
        Ok(b)
    }

    fn len_delimited(&mut self) -> Result<Bytes, DecodeError> {
        let n = self.varint()?;
        let n = usize::try_from(n).unwrap_or(usize::MAX);
        self.take(n)
    }

    fn skip(&mut self, wire: u8) -> Result<(), DecodeError> {
        match wire {
            WIRE_VARINT => self.varint().map(|_| ()),
            WIRE_I64 => self.take(8).map(|_| ()),
            WIRE_LEN => self.len_delimited().map(|_| ()),
            WIRE_I32 => self.take(4).map(|_| ()),
            other => err(format!("invalid protobuf: unsupported wire type {other}")),
        }
    }

    /// A length-delimited field `what`, which must have wire type LEN.
    fn bytes_field(&mut self, wire: u8, what: &str) -> Result<Bytes, DecodeError> {
        if wire != WIRE_LEN {
            return err(format!(
                "invalid protobuf: {what} has wire type {wire}, not 2 (length-delimited)"
            ));
        }
        self.len_delimited()
    }

    fn string_field(&mut self, wire: u8, what: &str) -> Result<String, DecodeError> {
        let b = self.bytes_field(wire, what)?;
        String::from_utf8(b.to_vec())
            .map_err(|_| DecodeError(format!("invalid protobuf: {what} is not UTF-8")))
    }
}

/// The series of a protobuf `PushRequest`, one at a time: a series is read
/// (its labels capped at `max_labels`, 0: no cap) only when asked for.
pub struct SeriesIter {
    reader: Reader,
    max_labels: usize,
    index: usize,
}

impl SeriesIter {
    pub fn new(body: Bytes, max_labels: usize) -> Self {
        Self {
            reader: Reader::new(body),
            max_labels,
            index: 0,
        }
    }

    fn next_series(&mut self) -> Result<Option<Series>, DecodeError> {
        while !self.reader.is_empty() {
            let (field, wire) = self.reader.key()?;
            if field != PUSH_REQUEST_SERIES {
                self.reader.skip(wire)?;
                continue;
            }
            let what = format!("series {}", self.index);
            let body = self.reader.bytes_field(wire, &what)?;
            self.index += 1;
            return series(body, &what, self.max_labels).map(Some);
        }
        Ok(None)
    }
}

impl Iterator for SeriesIter {
    type Item = Result<Series, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.next_series() {
            Ok(Some(s)) => Some(Ok(s)),
            Ok(None) => None,
            Err(e) => {
                // Stop after an error.
                self.reader.pos = self.reader.data.len();
                Some(Err(e))
            }
        }
    }
}

fn series(body: Bytes, what: &str, max_labels: usize) -> Result<Series, DecodeError> {
    let mut r = Reader::new(body);
    let mut out = Series::default();
    while !r.is_empty() {
        let (field, wire) = r.key()?;
        match field {
            SERIES_LABELS => {
                let b = r.bytes_field(wire, &format!("{what} label"))?;
                if max_labels > 0 && out.labels.len() == max_labels {
                    return err(format!(
                        "{what} has more than max_label_names_per_series ({max_labels}) labels"
                    ));
                }
                out.labels.push(label(b, what)?);
            }
            SERIES_SAMPLES => {
                let b = r.bytes_field(wire, &format!("{what} sample"))?;
                out.samples.push(sample(b, what)?);
            }
            _ => r.skip(wire)?,
        }
    }
    Ok(out)
}

fn label(body: Bytes, what: &str) -> Result<(String, String), DecodeError> {
    let mut r = Reader::new(body);
    let (mut name, mut value) = (String::new(), String::new());
    while !r.is_empty() {
        let (field, wire) = r.key()?;
        match field {
            LABEL_PAIR_NAME => name = r.string_field(wire, &format!("{what} label name"))?,
            LABEL_PAIR_VALUE => value = r.string_field(wire, &format!("{what} label value"))?,
            _ => r.skip(wire)?,
        }
    }
    Ok((name, value))
}

fn sample(body: Bytes, what: &str) -> Result<Bytes, DecodeError> {
    let mut r = Reader::new(body);
    let mut raw = Bytes::new();
    while !r.is_empty() {
        let (field, wire) = r.key()?;
        match field {
            RAW_SAMPLE_RAW_PROFILE => raw = r.bytes_field(wire, &format!("{what} raw_profile"))?,
            RAW_SAMPLE_ID => {
                r.string_field(wire, &format!("{what} sample ID"))?;
            }
            _ => r.skip(wire)?,
        }
    }
    Ok(raw)
}

#[derive(Deserialize)]
struct JsonRequest {
    #[serde(default)]
    series: Option<Vec<JsonSeries>>,
}

#[derive(Deserialize)]
struct JsonSeries {
    #[serde(default)]
    labels: Option<Vec<JsonLabel>>,
    #[serde(default)]
    samples: Option<Vec<JsonSample>>,
}

#[derive(Deserialize)]
struct JsonLabel {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    value: Option<String>,
}

#[derive(Deserialize)]
struct JsonSample {
    #[serde(default, rename = "rawProfile", alias = "raw_profile")]
    raw_profile: Option<String>,
}

/// protobuf's JSON mapping takes base64 with either alphabet, padded or not.
const PADDING_INDIFFERENT: GeneralPurposeConfig =
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
const STANDARD: GeneralPurpose =
    GeneralPurpose::new(&base64::alphabet::STANDARD, PADDING_INDIFFERENT);
const URL_SAFE: GeneralPurpose =
    GeneralPurpose::new(&base64::alphabet::URL_SAFE, PADDING_INDIFFERENT);

/// The series of a JSON `PushRequest`.
pub fn decode_json(body: &[u8]) -> Result<Vec<Series>, DecodeError> {
    let req: JsonRequest = serde_json::from_slice(body)
        .map_err(|e| DecodeError(format!("invalid JSON PushRequest: {e}")))?;
    let mut out = Vec::new();
    for (i, s) in req.series.unwrap_or_default().into_iter().enumerate() {
        let labels = s
            .labels
            .unwrap_or_default()
            .into_iter()
            .map(|l| (l.name.unwrap_or_default(), l.value.unwrap_or_default()))
            .collect();
        let mut samples = Vec::new();
        for (j, sample) in s.samples.unwrap_or_default().into_iter().enumerate() {
            let text = sample.raw_profile.unwrap_or_default();
            let raw = STANDARD
                .decode(text.as_bytes())
                .or_else(|_| URL_SAFE.decode(text.as_bytes()))
                .map_err(|e| {
                    DecodeError(format!(
                        "series {i} sample {j}: rawProfile is not base64: {e}"
                    ))
                })?;
            samples.push(Bytes::from(raw));
        }
        out.push(Series { labels, samples });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `key` then `len` then `body`.
    fn field(out: &mut Vec<u8>, number: u32, body: &[u8]) {
        out.push(((number << 3) | 2) as u8);
        out.push(body.len() as u8);
        out.extend_from_slice(body);
    }

    fn request() -> Vec<u8> {
        let mut label = Vec::new();
        field(&mut label, LABEL_PAIR_NAME, b"service_name");
        field(&mut label, LABEL_PAIR_VALUE, b"svc");
        let mut sample = Vec::new();
        field(&mut sample, RAW_SAMPLE_RAW_PROFILE, b"\x01\x02");
        field(&mut sample, RAW_SAMPLE_ID, b"id-1");
        let mut series = Vec::new();
        field(&mut series, SERIES_LABELS, &label);
        field(&mut series, SERIES_SAMPLES, &sample);
        field(&mut series, SERIES_ANNOTATIONS, b"\x0a\x01k");
        let mut req = Vec::new();
        field(&mut req, PUSH_REQUEST_SERIES, &series);
        req.extend_from_slice(&[0x10, 0x05]); // field 2, varint: unknown, skipped
        field(&mut req, PUSH_REQUEST_SERIES, &[]);
        req
    }

    #[test]
    fn reads_series_by_field_number() {
        let got: Vec<Series> = SeriesIter::new(Bytes::from(request()), 0)
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(
            got[0].labels,
            vec![("service_name".to_string(), "svc".to_string())]
        );
        assert_eq!(got[0].samples, vec![Bytes::from_static(b"\x01\x02")]);
        assert_eq!(got[1], Series::default());
        assert!(SeriesIter::new(Bytes::new(), 0).next().is_none());
    }

    #[test]
    fn truncation_and_bad_wire_types_are_errors() {
        let full = request();
        for cut in 1..full.len() - 2 {
            let got: Result<Vec<Series>, _> =
                SeriesIter::new(Bytes::copy_from_slice(&full[..cut]), 0).collect();
            if let Err(e) = got {
                assert!(
                    e.0.contains("truncated protobuf") || e.0.contains("invalid protobuf"),
                    "{e}"
                );
            }
        }
        let e = SeriesIter::new(Bytes::from_static(b"\x0a\x05\x0a"), 0)
            .next()
            .unwrap()
            .unwrap_err();
        assert_eq!(
            e.0,
            "truncated protobuf: a field of 5 bytes runs past the end (1 left)"
        );
        let e = SeriesIter::new(Bytes::from_static(b"\x08\x01"), 0)
            .next()
            .unwrap()
            .unwrap_err();
        assert_eq!(
            e.0,
            "invalid protobuf: series 0 has wire type 0, not 2 (length-delimited)"
        );
        let e = SeriesIter::new(Bytes::from_static(b"\x13"), 0)
            .next()
            .unwrap()
            .unwrap_err();
        assert_eq!(e.0, "invalid protobuf: unsupported wire type 3");
        let e = SeriesIter::new(Bytes::from_static(b"\x0a\x04\x0a\x02\x0a\xff"), 0)
            .next()
            .unwrap();
        assert!(e.is_err());
        // Labels over the cap stop the read.
        let mut series = Vec::new();
        for _ in 0..3 {
            field(&mut series, SERIES_LABELS, b"\x0a\x01a");
        }
        let mut req = Vec::new();
        field(&mut req, PUSH_REQUEST_SERIES, &series);
        let e = SeriesIter::new(Bytes::from(req), 2)
            .next()
            .unwrap()
            .unwrap_err();
        assert_eq!(
            e.0,
            "series 0 has more than max_label_names_per_series (2) labels"
        );
    }

    #[test]
    fn json_mapping() {
        let got = decode_json(
            br#"{"series":[{"labels":[{"name":"service_name","value":"svc"},{"name":"x"}],
                "samples":[{"rawProfile":"AQI=","ID":"1"},{"raw_profile":"AQI"},{"rawProfile":"_-8"}],
                "annotations":[]}, {"labels":null}], "extra": 1}"#,
        )
        .unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].labels[1], ("x".to_string(), String::new()));
        assert_eq!(got[0].samples[0], Bytes::from_static(b"\x01\x02"));
        assert_eq!(got[0].samples[1], Bytes::from_static(b"\x01\x02"));
        assert_eq!(got[0].samples[2], Bytes::from_static(b"\xff\xef"));
        assert!(decode_json(b"{}").unwrap().is_empty());
        let e = decode_json(br#"{"series":[{"samples":[{"rawProfile":"!!"}]}]}"#).unwrap_err();
        assert!(
            e.0.starts_with("series 0 sample 0: rawProfile is not base64"),
            "{e}"
        );
        assert!(decode_json(b"[")
            .unwrap_err()
            .0
            .starts_with("invalid JSON PushRequest"));
    }
}
