//! Any bytes through what the `otlp` receiver does with a request body
//! before it reaches the pipeline: as a gRPC request (the length-prefixed
//! frame parser, each message encoding, the payload checks) or as an
//! OTLP/HTTP body (each content encoding, protobuf or JSON). The first byte
//! picks the path; the rest is the body. Every input is refused with a
//! reason that encodes as a `google.rpc.Status`, or accepted; an accepted
//! uncompressed protobuf keeps exactly the bytes of the message.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use profcol_pdata::otlp::OtlpLimits;
use profcol_receiver::push::otlp::answer::{self, Format};
use profcol_receiver::push::otlp::decompress::Encoding;
use profcol_receiver::push::otlp::{grpc, http};

const ENCODINGS: [Encoding; 4] = [
    Encoding::Identity,
    Encoding::Gzip,
    Encoding::Zstd,
    Encoding::Zlib,
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let encoding = ENCODINGS[usize::from(selector & 3)];
    let body = Bytes::copy_from_slice(rest);
    let limits = OtlpLimits {
        max_profiles: 1_000,
        max_samples: 100_000,
    };
    let max = 1 << 20;
    let outcome = if selector & 4 == 0 {
        grpc::decode_request(&body, encoding, max, &limits).inspect(|p| {
            if rest.first() == Some(&0) {
                assert_eq!(p.bytes().as_ref(), &rest[5..]);
            }
        })
    } else {
        let format = if selector & 8 == 0 {
            Format::Protobuf
        } else {
            Format::Json
        };
        http::decode_body(body, format, encoding, max, &limits).inspect(|p| {
            if format == Format::Protobuf && encoding == Encoding::Identity {
                assert_eq!(p.bytes().as_ref(), rest);
            }
        })
    };
    match outcome {
        Ok(payload) => {
            assert!(payload.profile_count() <= limits.max_profiles);
            assert!(payload.request().is_ok(), "a checked payload decodes");
        }
        Err(refusal) => {
            assert!(!refusal.describe().is_empty());
            let _ = refusal.status_protobuf();
            let _ = refusal.status_json();
            let _ = answer::grpc_error(&refusal);
        }
    }
});
