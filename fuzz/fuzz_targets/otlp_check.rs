//! Any bytes as a received OTLP request, checked the way the `otlp`
//! receiver checks it (`OtlpPayload::from_bytes`: the one-pass check over
//! the wire bytes, prost where that pass cannot vouch) and by prost alone:
//! the same verdict, the same counts, the same refusal text (but for the
//! two refusals the one-pass check makes itself: deep nesting and
//! protobuf groups). The first byte
//! picks small limits (so the count checks fire) or the defaults; the rest
//! is the request.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use profcol_pdata::otlp::{OtlpLimits, OtlpPayload};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let limits = if selector & 1 == 0 {
        OtlpLimits::default()
    } else {
        OtlpLimits {
            max_profiles: usize::from(selector >> 4),
            max_samples: usize::from(selector >> 1),
        }
    };
    let bytes = Bytes::copy_from_slice(rest);
    let checked = OtlpPayload::from_bytes(bytes.clone(), &limits);
    let oracle = OtlpPayload::from_bytes_via_prost(bytes, &limits);
    // Refused before prost on purpose (prost would recurse through them):
    // no verdict of prost's to compare with.
    if let Err(e) = &checked {
        let text = e.to_string();
        if text.contains("nested more than 64 levels") || text.contains("protobuf groups") {
            return;
        }
    }
    match (checked, oracle) {
        (Ok(a), Ok(b)) => assert_eq!(
            [a.profile_count(), a.sample_count(), a.resource_count()],
            [b.profile_count(), b.sample_count(), b.resource_count()]
        ),
        (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
        (a, b) => panic!(
            "verdicts differ: {:?} against prost's {:?}",
            a.err(),
            b.err()
        ),
    }
});
