//! Any bytes: the zero-copy view (`PprofView`) and the writer `profcol
//! convert --to otlp` runs (`OtlpWriter::add_pprof`, which checks samples
//! while converting them) never panic, accept only what prost + validation
//! accept, decode to the same profile, and write the same OTLP bytes as
//! `to_otlp` + prost.
#![no_main]

use libfuzzer_sys::fuzz_target;
use profcol_pdata::oracle::{decode_pprof, to_otlp};
use profcol_pdata::otlp::{views_to_otlp_bytes, OtlpWriter, ViewRecord};
use profcol_pdata::pprof::{DecodeLimits, PprofView};
use profcol_pdata::{Labels, ProfileRecord};
use prost::Message;

fuzz_target!(|data: &[u8]| {
    let limits = DecodeLimits {
        max_decompressed_bytes: 4 << 20,
        ..Default::default()
    };
    let Ok(raw) = PprofView::decompress(data, &limits) else {
        return;
    };
    let labels = Labels::from_pairs([("service_name", "fuzz")]);
    let mut fused = OtlpWriter::new();
    let raw = bytes::Bytes::from(raw.into_owned());
    let fused_ok = fused.add_pprof(labels.clone(), &raw, &limits).is_ok();
    let Ok(view) = PprofView::decode(raw, &limits) else {
        assert!(!fused_ok, "add_pprof accepted what decode refuses");
        return;
    };
    assert!(fused_ok, "add_pprof refused what decode accepts");
    let p = decode_pprof(data, &limits).expect("the view accepted what prost refuses");
    assert_eq!(view.to_profile(), p);
    let ours = views_to_otlp_bytes(&[ViewRecord {
        labels: labels.clone(),
        view: &view,
    }]);
    let record = ProfileRecord::from_profile(labels, &p).expect("a valid profile re-encodes valid");
    let theirs = to_otlp(&[record]).encode_to_vec();
    assert!(ours == theirs, "OTLP bytes differ");
    assert!(fused.into_bytes() == ours, "add_pprof's bytes differ");
});
