//! Any bytes through the `pyroscope` receiver's parsers (never a panic):
//! `/ingest`'s `name` (what parses formats back to itself), the
//! folded and lines text (what parses builds a valid pprof), the multipart
//! form (parts are slices of the body) and the push API's protobuf and JSON.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use profcol_pdata::PprofData;
use profcol_pdata::ingest::folded::{self, Shape, TextFormat};
use profcol_pdata::ingest::{multipart, name, push_proto};

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(n) = name::parse(text) {
            assert!(!n.app.is_empty());
            let mut again = n.app.clone();
            if !n.labels.is_empty() {
                let pairs: Vec<String> = n.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
                again = format!("{again}{{{}}}", pairs.join(","));
            }
            assert_eq!(name::parse(&again).as_ref(), Ok(&n), "{again:?}");
        }
    }
    for format in [TextFormat::Folded, TextFormat::Lines] {
        if let Ok(stacks) = folded::parse(data, format) {
            let shape = Shape {
                sample_type: "cpu".into(),
                unit: "nanoseconds".into(),
                scale: 10_000_000,
                period: Some(("cpu".into(), "nanoseconds".into(), 10_000_000)),
                time_nanos: 1,
                duration_nanos: 1,
            };
            let p = folded::to_profile(&stacks, &shape);
            assert_eq!(p.sample.len(), stacks.stacks.len());
            PprofData::from_profile(&p).expect("a profile built from stacks is valid");
        }
    }
    let body = Bytes::copy_from_slice(data);
    if let Ok(parts) = multipart::parse("multipart/form-data; boundary=B", &body) {
        let total: usize = parts.iter().map(|p| p.body.len()).sum();
        assert!(total <= data.len());
    }
    for series in push_proto::SeriesIter::new(body, 30) {
        if series.is_err() {
            break;
        }
    }
    let _ = push_proto::decode_json(data);
});
