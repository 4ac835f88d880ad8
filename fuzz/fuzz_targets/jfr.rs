//! Any bytes as a JFR recording (with a fixed labels snapshot): the reader
//! never panics and never allocates past the input's own size class; what
//! converts encodes as a pprof.
#![no_main]

use libfuzzer_sys::fuzz_target;
use profcol_pdata::ingest::jfr::{to_pprof, JfrInput, LabelsSnapshot};
use profcol_pdata::pprof::encode_pprof;

fuzz_target!(|data: &[u8]| {
    let (labels, recording) = match data.split_first() {
        // A first byte of 1 reads the next bytes up to a 0 as a labels part.
        Some((1, rest)) => {
            let end = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
            let labels = LabelsSnapshot::decode_part(&rest[..end]).unwrap_or_default();
            (labels, &rest[end.saturating_add(1).min(rest.len())..])
        }
        _ => (LabelsSnapshot::default(), data),
    };
    let input = JfrInput {
        start_nanos: 1,
        end_nanos: 2,
        sample_rate: 100,
        memory_limit: 64 << 20,
    };
    if let Ok(out) = to_pprof(recording, &labels, &input) {
        for p in &out.profiles {
            let _ = encode_pprof(&p.profile);
        }
    }
});
