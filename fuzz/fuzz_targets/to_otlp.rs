//! Any bytes that decode as pprof convert to OTLP without panicking, the
//! exporters' byte writer (`to_otlp_bytes`) gives exactly the request's
//! encoding, the result converts back, and folded stacks agree on both
//! sides.
#![no_main]

use libfuzzer_sys::fuzz_target;
use profcol_pdata::oracle::to_otlp;
use profcol_pdata::otlp::{folded_otlp, from_otlp, to_otlp_bytes};
use profcol_pdata::pprof::{decode_pprof, folded_pprof, DecodeLimits};
use profcol_pdata::{Labels, ProfileRecord};
use prost::Message;

fuzz_target!(|data: &[u8]| {
    let limits = DecodeLimits {
        max_decompressed_bytes: 4 << 20,
        ..Default::default()
    };
    let Ok(p) = decode_pprof(data, &limits) else { return };
    let small = p.sample.iter().flat_map(|s| &s.value).all(|v| v.unsigned_abs() < 1 << 40);
    let records = [ProfileRecord::from_profile(Labels::from_pairs([("service_name", "fuzz")]), &p)
        .expect("a profile that decoded re-encodes valid")];
    let req = to_otlp(&records);
    assert!(to_otlp_bytes(&records) == req.encode_to_vec(), "to_otlp_bytes differs");
    if small {
        assert_eq!(folded_otlp(&req), folded_pprof(&p));
    }
    let back = from_otlp(&req).expect("to_otlp output must convert back");
    if small {
        let mut folded: Vec<String> = Vec::new();
        for r in &back {
            folded.extend(folded_pprof(&r.profile()));
        }
        folded.sort();
        // Splitting a profile by repeated sample types may split a stack's
        // line in two; compare sums per key.
        let sum = |lines: &[String]| {
            let mut m = std::collections::BTreeMap::<String, i64>::new();
            for l in lines {
                let (k, v) = l.rsplit_once(' ').expect("folded line");
                *m.entry(k.to_string()).or_default() += v.parse::<i64>().expect("value");
            }
            m.retain(|_, v| *v != 0);
            m
        };
        assert_eq!(sum(&folded), sum(&folded_pprof(&p)));
    }
});
