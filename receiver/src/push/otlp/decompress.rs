//! Request bodies (`Content-Encoding`) and gRPC messages (`grpc-encoding`)
//! decompressed under a cap: the output never grows past the limit plus
//! one byte, so a small compressed bomb costs at most the limit.
//!
//! The encoding is the one the request declares, never guessed from the
//! bytes. `deflate` is read as zlib, as HTTP (RFC 9110) and the Collector
//! read it.

use super::answer::Refusal;
use bytes::Bytes;
use std::io::Read;

/// A compression a request may declare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Identity,
    Gzip,
    Zstd,
    Zlib,
}

impl Encoding {
    /// The encoding a `Content-Encoding` or `grpc-encoding` value names
    /// (any case; empty and `identity` mean none). `None` when profcol
    /// cannot decode it.
    pub fn parse(value: &str) -> Option<Self> {
        match value.trim().to_ascii_lowercase().as_str() {
            "" | "identity" => Some(Encoding::Identity),
            "gzip" | "x-gzip" => Some(Encoding::Gzip),
            "zstd" => Some(Encoding::Zstd),
            "zlib" | "deflate" => Some(Encoding::Zlib),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Encoding::Identity => "identity",
            Encoding::Gzip => "gzip",
            Encoding::Zstd => "zstd",
            Encoding::Zlib => "zlib",
        }
    }
}

/// `data` decompressed as `encoding`, refused when the result would be
/// larger than `max` bytes (`limit` names the setting in the message).
pub fn decompress(
    data: Bytes,
    encoding: Encoding,
    max: usize,
    limit: &str,
) -> Result<Bytes, Refusal> {
    let too_large = || {
        Refusal::TooLarge(format!(
            "the request is larger than {max} bytes after decompression ({limit})"
        ))
    };
    let reader: Box<dyn Read + '_> = match encoding {
        Encoding::Identity => {
            return if data.len() > max {
                Err(too_large())
            } else {
                Ok(data)
            };
        }
        Encoding::Gzip => Box::new(flate2::read::MultiGzDecoder::new(&data[..])),
        Encoding::Zlib => Box::new(flate2::read::ZlibDecoder::new(&data[..])),
        Encoding::Zstd => {
            let mut d =
                zstd::stream::read::Decoder::new(&data[..]).map_err(|e| corrupt(encoding, &e))?;
            // A frame may ask for a window of up to 2^27 bytes, allocated
            // before any output: allow what the cap can use (twice it,
            // at least zstd's default for its usual levels, 8 MiB).
            d.window_log_max(zstd_window_log(max))
                .map_err(|e| corrupt(encoding, &e))?;
            Box::new(d)
        }
    };
    let cap = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
    // Compression ratios of profiles are ~5-20x; start there, capped.
    let mut out = Vec::with_capacity(
        data.len()
            .saturating_mul(8)
            .clamp(1 << 10, max.max(1 << 10))
            .min(64 << 20),
    );
    reader
        .take(cap)
        .read_to_end(&mut out)
        .map_err(|e| corrupt(encoding, &e))?;
    if out.len() > max {
        return Err(too_large());
    }
    // The payload is held (queued) at its length: give back what the
    // buffer's growth left unused when that is a noticeable share.
    if out.capacity() - out.len() > out.len() / 8 {
        out.shrink_to_fit();
    }
    Ok(Bytes::from(out))
}

/// log2 of the largest zstd window accepted under a cap of `max` bytes.
fn zstd_window_log(max: usize) -> u32 {
    let bits = usize::BITS - max.saturating_sub(1).leading_zeros();
    bits.saturating_add(1).clamp(23, 27)
}

fn corrupt(encoding: Encoding, e: &std::io::Error) -> Refusal {
    Refusal::BadRequest(format!(
        "could not decompress the {} body: {e}",
        encoding.name()
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::io::Write;

    fn gzip(data: &[u8]) -> Bytes {
        let mut w = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        w.write_all(data).unwrap();
        Bytes::from(w.finish().unwrap())
    }

    #[test]
    fn each_encoding_round_trips() {
        let data: Vec<u8> = (0..50_000u32)
            .flat_map(|i| (i % 97).to_le_bytes())
            .collect();
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
        z.write_all(&data).unwrap();
        for (enc, body) in [
            (Encoding::Identity, Bytes::from(data.clone())),
            (Encoding::Gzip, gzip(&data)),
            (
                Encoding::Zstd,
                Bytes::from(zstd::encode_all(&data[..], 1).unwrap()),
            ),
            (Encoding::Zlib, Bytes::from(z.finish().unwrap())),
        ] {
            let out = decompress(body, enc, data.len(), "max").unwrap();
            assert_eq!(out, data, "{enc:?}");
        }
    }

    #[test]
    fn a_bomb_stops_at_the_cap() {
        let bomb = gzip(&vec![0u8; 64 << 20]);
        assert!(bomb.len() < 100 << 10);
        let err = decompress(bomb, Encoding::Gzip, 1 << 20, "max_request_body_size").unwrap_err();
        assert_eq!(
            err,
            Refusal::TooLarge(
                "the request is larger than 1048576 bytes after decompression (max_request_body_size)".into()
            )
        );
        let exact = gzip(&[7u8; 100]);
        assert_eq!(
            decompress(exact.clone(), Encoding::Gzip, 100, "m")
                .unwrap()
                .len(),
            100
        );
        assert!(decompress(exact, Encoding::Gzip, 99, "m").is_err());
        assert!(decompress(Bytes::from_static(b"abc"), Encoding::Identity, 2, "m").is_err());
    }

    #[test]
    fn corrupt_streams_are_bad_requests() {
        for enc in [Encoding::Gzip, Encoding::Zstd, Encoding::Zlib] {
            let err =
                decompress(Bytes::from_static(b"not compressed"), enc, 1 << 20, "m").unwrap_err();
            assert!(
                matches!(&err, Refusal::BadRequest(m) if m.starts_with(&format!("could not decompress the {} body", enc.name()))),
                "{err:?}"
            );
        }
        let mut cut = gzip(b"hello world, hello world").to_vec();
        cut.truncate(cut.len() - 6);
        assert!(decompress(Bytes::from(cut), Encoding::Gzip, 1 << 20, "m").is_err());
    }

    /// A gzip or zstd body is read to its end: several members or frames
    /// all count, and bytes after them are refused. (The `otlp` exporters
    /// forward such a body as it came, so what was checked must be all a
    /// backend's decompressor finds in it.)
    #[test]
    fn gzip_and_zstd_bodies_are_read_whole() {
        let two_gzip = [gzip(b"ab"), gzip(b"cd")].concat();
        let two_zstd = [
            zstd::encode_all(&b"ab"[..], 1).unwrap(),
            zstd::encode_all(&b"cd"[..], 1).unwrap(),
        ]
        .concat();
        for (enc, body) in [(Encoding::Gzip, two_gzip), (Encoding::Zstd, two_zstd)] {
            let out = decompress(Bytes::from(body.clone()), enc, 1 << 20, "m").unwrap();
            assert_eq!(&out[..], b"abcd", "{enc:?}");
            for tail in [&b"x"[..], &[0; 16], b"\x1f\x8b"] {
                let with_tail = [&body[..], tail].concat();
                assert!(
                    decompress(Bytes::from(with_tail), enc, 1 << 20, "m").is_err(),
                    "{enc:?} with {tail:?} after it"
                );
            }
        }
    }

    #[test]
    fn zstd_windows_follow_the_cap() {
        assert_eq!(zstd_window_log(4 << 20), 23);
        assert_eq!(zstd_window_log(20 << 20), 26);
        assert_eq!(zstd_window_log(usize::MAX), 27);
        // A frame whose window is larger than allowed is refused before
        // its buffer is allocated.
        let mut enc = zstd::stream::write::Encoder::new(Vec::new(), 3).unwrap();
        enc.set_parameter(zstd::zstd_safe::CParameter::WindowLog(27))
            .unwrap();
        enc.write_all(&vec![1u8; 1 << 20]).unwrap();
        let big_window = Bytes::from(enc.finish().unwrap());
        let err = decompress(big_window, Encoding::Zstd, 4 << 20, "m").unwrap_err();
        assert!(matches!(err, Refusal::BadRequest(_)), "{err:?}");
    }

    #[test]
    fn names() {
        assert_eq!(Encoding::parse(" GZIP "), Some(Encoding::Gzip));
        assert_eq!(Encoding::parse("deflate"), Some(Encoding::Zlib));
        assert_eq!(Encoding::parse(""), Some(Encoding::Identity));
        assert_eq!(Encoding::parse("snappy"), None);
        assert_eq!(Encoding::parse("gzip, zstd"), None);
    }
}
