//! Any bytes that make a valid profile, scraped twice (the second time with
//! every value doubled), go through the scrape path's whole chain without
//! panicking: view → delta (an overlay on the same body) → OTLP writer, and
//! the pprof re-encoding the Pyroscope exporter sends. The writer's bytes
//! equal the prost oracle's on the delta, the re-encoding decodes to the
//! delta, and each delta value is the first scrape's (doubled − once).
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use profcol_pdata::delta::subtracts_any;
use profcol_pdata::delta::DeltaComputer;
use profcol_pdata::oracle::to_otlp;
use profcol_pdata::otlp::to_otlp_bytes;
use profcol_pdata::pprof::DecodeLimits;
use profcol_pdata::{Labels, PprofData, ProfileRecord};
use prost::Message;

fuzz_target!(|data: &[u8]| {
    let limits = DecodeLimits {
        max_decompressed_bytes: 4 << 20,
        max_stack_depth: 32,
        ..Default::default()
    };
    let Ok(first) = PprofData::from_served(Bytes::copy_from_slice(data), &limits) else {
        return;
    };
    let mut second = first.to_profile();
    for s in &mut second.sample {
        for v in &mut s.value {
            *v = v.saturating_mul(2);
        }
    }
    let second = PprofData::from_profile(&second).expect("a valid profile re-encodes valid");
    let mut d = DeltaComputer::new();
    let cumulative = subtracts_any(first.view());
    let baseline = d.apply(first.clone(), 1_000);
    assert_eq!(baseline.is_none(), cumulative, "only cumulative profiles set a baseline");
    let Some(delta) = d.apply(second, 2_000) else {
        // A total that went down (negative values doubled): a restart.
        return;
    };
    let record = ProfileRecord::new(Labels::from_pairs([("service_name", "fuzz")]), delta);
    let ours = to_otlp_bytes(std::slice::from_ref(&record));
    let theirs = to_otlp(std::slice::from_ref(&record)).encode_to_vec();
    assert!(ours == theirs, "the writer and the oracle differ on a delta");
    let again = PprofData::from_pprof(record.pprof.pprof_bytes(), &DecodeLimits::unlimited())
        .expect("the re-encoding is valid pprof");
    assert_eq!(again.to_profile(), record.profile(), "the re-encoding differs");
    if cumulative && record.pprof.overlay().is_some() {
        assert_eq!(record.profile().duration_nanos, 1_000, "the window between the scrapes");
    }
});
