//! Any bytes: the zero-copy view (`PprofView`, the `convert --to otlp` path)
//! never panics, accepts only what prost + validation accept, decodes to the
//! same profile, and writes the same OTLP bytes as `to_otlp` + prost.
#![no_main]

use libfuzzer_sys::fuzz_target;
use profcol_pdata::{
    decode_pprof, to_otlp, views_to_otlp_bytes, DecodeLimits, Labels, PprofView, ProfileRecord,
    ViewRecord,
};
use prost::Message;

fuzz_target!(|data: &[u8]| {
    let limits = DecodeLimits {
        max_decompressed_bytes: 4 << 20,
        ..Default::default()
    };
    let Ok(raw) = PprofView::decompress(data, &limits) else {
        return;
    };
    let Ok(view) = PprofView::decode(&raw, &limits) else {
        return;
    };
    let p = decode_pprof(data, &limits).expect("the view accepted what prost refuses");
    assert_eq!(view.to_profile(), p);
    let labels = Labels::from_pairs([("service_name", "fuzz")]);
    let ours = views_to_otlp_bytes(&[ViewRecord {
        labels: labels.clone(),
        view: &view,
    }]);
    let theirs = to_otlp(&[ProfileRecord::new(labels, p)]).encode_to_vec();
    assert!(ours == theirs, "OTLP bytes differ");
});
