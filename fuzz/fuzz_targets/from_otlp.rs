//! Any bytes that decode as an OTLP profiles request convert to pprof or
//! fail with an error, never a panic; what converts is valid pprof.
#![no_main]

use libfuzzer_sys::fuzz_target;
use profcol_pdata::otlp::collector::ExportProfilesServiceRequest;
use profcol_pdata::otlp::{folded_otlp, from_otlp};
use prost::Message;

fuzz_target!(|data: &[u8]| {
    let Ok(req) = ExportProfilesServiceRequest::decode(data) else { return };
    let _ = folded_otlp(&req);
    if let Ok(records) = from_otlp(&req) {
        for r in records {
            let _ = profcol_pdata::pprof::folded_pprof(&r.profile());
        }
    }
});
