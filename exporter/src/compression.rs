//! Request compression of the OTLP exporters: `compression` (gzip, zstd,
//! none) with `compression_params.level`, resolved into a [`Codec`] that
//! compresses a whole encoded request once (retries resend the bytes).
//! gRPC names it in `grpc-encoding`, HTTP in `Content-Encoding`; both use
//! the same names (`gzip`, `zstd`).

use crate::config::Compression;
use profcol_config::{join_path, Problem};
use serde::{Deserialize, Serialize};
use std::io::Write;

/// `compression_params` (the OpenTelemetry Collector's key): the level of
/// `compression`. Defaults: gzip 1, zstd 3. gzip's usual level 6 costs ~4×
/// the CPU of level 1 for ~15 % smaller requests (measured on OTLP profiles
/// in integration/scale/RESULTS.md), and compression is the largest CPU item
/// of a busy collector.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct CompressionParams {
    pub level: i32,
}

/// gzip level when `compression_params` is not given.
pub const DEFAULT_GZIP_LEVEL: i32 = 1;
/// zstd level when `compression_params` is not given (the library's default).
pub const DEFAULT_ZSTD_LEVEL: i32 = 3;
/// The levels each compression accepts.
const GZIP_LEVELS: std::ops::RangeInclusive<i32> = 1..=9;
const ZSTD_LEVELS: std::ops::RangeInclusive<i32> = 1..=22;

/// A compression with its level, ready to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    None,
    Gzip { level: u32 },
    Zstd { level: i32 },
}

impl Codec {
    /// `compression` at `params.level`, or at its default level.
    pub fn new(compression: Compression, params: Option<CompressionParams>) -> Self {
        let level = params.map(|p| p.level);
        match compression {
            Compression::Gzip => Self::Gzip {
                level: level
                    .unwrap_or(DEFAULT_GZIP_LEVEL)
                    .clamp(*GZIP_LEVELS.start(), *GZIP_LEVELS.end())
                    .unsigned_abs(),
            },
            Compression::Zstd => Self::Zstd {
                level: level
                    .unwrap_or(DEFAULT_ZSTD_LEVEL)
                    .clamp(*ZSTD_LEVELS.start(), *ZSTD_LEVELS.end()),
            },
            Compression::None => Self::None,
        }
    }

    /// The `grpc-encoding` / `Content-Encoding` value, if any.
    pub fn encoding(self) -> Option<&'static str> {
        match self {
            Self::None => None,
            Self::Gzip { .. } => Some("gzip"),
            Self::Zstd { .. } => Some("zstd"),
        }
    }

    /// Appends `data`, compressed, to `out` (and returns it). Fails only on
    /// allocation or a compressor error.
    pub fn compress_into<W: Write>(self, data: &[u8], mut out: W) -> std::io::Result<W> {
        match self {
            Self::None => {
                out.write_all(data)?;
                Ok(out)
            }
            Self::Gzip { level } => {
                let mut w = flate2::write::GzEncoder::new(out, flate2::Compression::new(level));
                w.write_all(data)?;
                w.finish()
            }
            Self::Zstd { level } => {
                let mut w = zstd::stream::write::Encoder::new(out, level)?;
                w.write_all(data)?;
                w.finish()
            }
        }
    }

    /// `data` compressed into a new buffer (`data` itself for `None`).
    pub fn compress_bytes(self, data: bytes::Bytes) -> std::io::Result<bytes::Bytes> {
        match self {
            Self::None => Ok(data),
            _ => self
                .compress_into(&data, Vec::with_capacity(data.len() / 4))
                .map(bytes::Bytes::from),
        }
    }
}

/// Checks `compression_params.level` against `compression`; `path` is the
/// exporter's.
pub fn validate_params(
    compression: Compression,
    params: Option<CompressionParams>,
    path: &str,
    problems: &mut Vec<Problem>,
) {
    let Some(p) = params else { return };
    let (range, name) = match compression {
        Compression::Gzip => (GZIP_LEVELS, "gzip"),
        Compression::Zstd => (ZSTD_LEVELS, "zstd"),
        Compression::None => (0..=0, "none"),
    };
    if !range.contains(&p.level) {
        problems.push(Problem::new(
            join_path(&join_path(path, "compression_params"), "level"),
            format!(
                "level {} is out of range for compression {name} ({}..={})",
                p.level,
                range.start(),
                range.end()
            ),
        ));
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::io::Read;

    #[test]
    fn every_codec_round_trips() {
        let data = bytes::Bytes::from(b"profile profile profile profile".repeat(50));
        let gz = Codec::new(Compression::Gzip, None)
            .compress_bytes(data.clone())
            .unwrap();
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, data);
        for level in [1, 3, 19] {
            let c = Codec::new(Compression::Zstd, Some(CompressionParams { level }));
            let zs = c.compress_bytes(data.clone()).unwrap();
            assert_eq!(zstd::decode_all(&zs[..]).unwrap(), data);
            assert!(zs.len() < data.len());
        }
        assert_eq!(
            Codec::new(Compression::None, None)
                .compress_bytes(data.clone())
                .unwrap(),
            data
        );
    }

    #[test]
    fn defaults_and_ranges() {
        assert_eq!(
            Codec::new(Compression::Gzip, None),
            Codec::Gzip { level: 1 }
        );
        assert_eq!(
            Codec::new(Compression::Zstd, None),
            Codec::Zstd { level: 3 }
        );
        assert_eq!(Codec::new(Compression::Zstd, None).encoding(), Some("zstd"));
        let mut p = Vec::new();
        validate_params(
            Compression::Gzip,
            Some(CompressionParams { level: 10 }),
            "e",
            &mut p,
        );
        validate_params(
            Compression::Zstd,
            Some(CompressionParams { level: 22 }),
            "e",
            &mut p,
        );
        validate_params(
            Compression::None,
            Some(CompressionParams { level: 1 }),
            "e",
            &mut p,
        );
        let got: Vec<String> = p.iter().map(|p| p.to_string()).collect();
        assert_eq!(
            got,
            [
                "e::compression_params::level: level 10 is out of range for compression gzip (1..=9)",
                "e::compression_params::level: level 1 is out of range for compression none (0..=0)",
            ]
        );
    }
}
