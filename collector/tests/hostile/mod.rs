//! Hostile pprof bodies, written at the protobuf wire level straight into a
//! gzip encoder: tens of megabytes inflated, tens of kilobytes held by the
//! test. A protobuf message may be split into any number of concatenated
//! pieces (repeated fields append), so each body is a small, normal profile
//! (`tables()`) followed by one field repeated millions of times.

use flate2::write::GzEncoder;
use profcol_pdata::pprof::{Function, Line, Location, Profile, ValueType};
use std::io::Write;

/// `profile.sample` and `profile.string_table`, and `sample.location_id`.
const PROFILE_SAMPLE: u64 = 2;
const PROFILE_STRING_TABLE: u64 = 6;
const SAMPLE_LOCATION_ID: u64 = 1;
const SAMPLE_VALUE: u64 = 2;

/// Depth of the stack in [`deep_stack`].
pub const DEEP: u64 = 60_000_000;
/// Entries of the string table in [`empty_strings`].
pub const STRINGS: u64 = 30_000_000;
/// Samples in [`many_samples`].
pub const SAMPLES: u64 = 3_900_000;

/// The function names of location 1 (every frame of the deep stack but the
/// last) and location 2 (its root frame).
pub const LEAF_FUNCTION: &str = "main.work";
pub const ROOT_FUNCTION: &str = "main.main";

/// One goroutine sample type, locations 1 (`main.work`) and 2
/// (`main.main`), six strings, no sample.
fn tables() -> Profile {
    let strings = [
        "",
        "goroutine",
        "count",
        LEAF_FUNCTION,
        "main.go",
        ROOT_FUNCTION,
    ];
    let location = |id: u64| Location {
        id,
        line: vec![Line {
            function_id: id,
            line: 10,
            column: 0,
        }],
        ..Default::default()
    };
    let function = |id: u64, name: i64| Function {
        id,
        name,
        system_name: name,
        filename: 4,
        start_line: 1,
    };
    Profile {
        sample_type: vec![ValueType { r#type: 1, unit: 2 }],
        location: vec![location(1), location(2)],
        function: vec![function(1, 3), function(2, 5)],
        string_table: strings.iter().map(|s| s.to_string()).collect(),
        time_nanos: 1,
        ..Default::default()
    }
}

fn varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// The key and length of a length-delimited field.
fn field(number: u64, len: u64) -> Vec<u8> {
    let mut out = Vec::new();
    varint(number << 3 | 2, &mut out);
    varint(len, &mut out);
    out
}

/// A gzip stream written piece by piece.
struct Gz {
    enc: GzEncoder<Vec<u8>>,
    inflated: u64,
}

impl Gz {
    fn new() -> Self {
        let mut gz = Self {
            enc: GzEncoder::new(Vec::new(), flate2::Compression::best()),
            inflated: 0,
        };
        gz.put(&profcol_pdata::pprof::encode_pprof(&tables()));
        gz
    }

    fn put(&mut self, bytes: &[u8]) {
        self.enc.write_all(bytes).unwrap();
        self.inflated += bytes.len() as u64;
    }

    /// Writes `unit` `times` times, through a 64 KiB buffer.
    fn repeat(&mut self, unit: &[u8], times: u64) {
        let per_buf = ((64 << 10) / unit.len()).max(1) as u64;
        let buf = unit.repeat(per_buf as usize);
        let mut left = times;
        while left > 0 {
            let n = left.min(per_buf);
            self.put(&buf[..n as usize * unit.len()]);
            left -= n;
        }
    }

    /// The gzipped body and its inflated size.
    fn finish(self) -> (Vec<u8>, u64) {
        (self.enc.finish().unwrap(), self.inflated)
    }
}

/// One sample whose stack is [`DEEP`] frames: location 1 repeated, then
/// location 2 at the root. About 60 MB inflated, under 64 MiB.
pub fn deep_stack() -> (Vec<u8>, u64) {
    let value = [0x12, 0x01, 0x01]; // value: [1]
    let ids = field(SAMPLE_LOCATION_ID, DEEP);
    let sample_len = ids.len() as u64 + DEEP + value.len() as u64;
    let mut gz = Gz::new();
    gz.put(&field(PROFILE_SAMPLE, sample_len));
    gz.put(&ids);
    gz.repeat(&[1], DEEP - 1);
    gz.put(&[2]);
    gz.put(&value);
    gz.finish()
}

/// A string table of [`STRINGS`] entries: the six of `tables()` and then
/// empty strings, 2 bytes each. One ordinary sample.
pub fn empty_strings() -> (Vec<u8>, u64) {
    let mut gz = Gz::new();
    gz.put(&one_frame_sample());
    let have = tables().string_table.len() as u64;
    gz.repeat(&field(PROFILE_STRING_TABLE, 0), STRINGS - have);
    gz.finish()
}

/// [`SAMPLES`] identical samples of one frame, under the 4M sample cap.
pub fn many_samples() -> (Vec<u8>, u64) {
    let mut gz = Gz::new();
    gz.repeat(&one_frame_sample(), SAMPLES);
    gz.finish()
}

/// `sample { location_id: [1], value: [1] }` as a field of the profile.
fn one_frame_sample() -> Vec<u8> {
    let mut sample = field(SAMPLE_LOCATION_ID, 1);
    sample.push(1);
    sample.extend(field(SAMPLE_VALUE, 1));
    sample.push(1);
    let mut out = field(PROFILE_SAMPLE, sample.len() as u64);
    out.extend(sample);
    out
}
