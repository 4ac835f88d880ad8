//! Any bytes: decoding either fails with an error or yields a profile that
//! re-encodes and decodes to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use profcol_pdata::pprof::{decode_pprof, encode_pprof, DecodeLimits};

fuzz_target!(|data: &[u8]| {
    let limits = DecodeLimits {
        max_decompressed_bytes: 4 << 20,
        ..Default::default()
    };
    if let Ok(p) = decode_pprof(data, &limits) {
        let again = decode_pprof(&encode_pprof(&p), &limits);
        assert_eq!(again.ok().as_ref(), Some(&p));
    }
});
