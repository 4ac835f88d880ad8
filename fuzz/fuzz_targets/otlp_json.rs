//! Any bytes: the OTLP/JSON reader (`profcol convert` of `.json` input)
//! never panics; what it reads writes back as OTLP/JSON that reads as the
//! same request.
#![no_main]

use libfuzzer_sys::fuzz_target;
use profcol_pdata::otlp::json::{from_otlp_json, to_otlp_json_string};

fuzz_target!(|data: &[u8]| {
    let Ok(req) = from_otlp_json(data) else { return };
    let text = to_otlp_json_string(&req, false).expect("a read request writes");
    let again = from_otlp_json(text.as_bytes()).expect("what profcol writes reads");
    assert!(again == req, "OTLP/JSON round trip differs");
});
