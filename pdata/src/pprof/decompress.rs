//! Decompression with a hard size cap: gzip, zstd or raw bodies, told apart
//! by their magic bytes, inflated without ever holding more than the cap.
//!
//! ```
//! use profcol_pdata::pprof::{decompress, gzip};
//! let body = gzip(b"a pprof body");
//! assert_eq!(&*decompress(&body, 1 << 20).unwrap(), b"a pprof body");
//! assert!(decompress(&body, 4).is_err()); // inflates past the cap
//! ```

use crate::Error;
use std::borrow::Cow;
use std::io::Read;

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// The compression a body uses, told by its magic bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    Gzip,
    Zstd,
    None,
}

impl Compression {
    /// Detects gzip (`1f 8b`) and zstd (`28 b5 2f fd`); anything else is raw.
    pub fn detect(body: &[u8]) -> Self {
        if body.starts_with(&GZIP_MAGIC) {
            Compression::Gzip
        } else if body.starts_with(&ZSTD_MAGIC) {
            Compression::Zstd
        } else {
            Compression::None
        }
    }
}

/// Decompresses `body` (gzip, zstd, or raw passed through) without ever
/// holding more than `max` bytes of output: a body that inflates past `max`
/// fails with [`Error::TooLarge`].
pub fn decompress(body: &[u8], max: usize) -> Result<Cow<'_, [u8]>, Error> {
    if Compression::detect(body) == Compression::None {
        if body.len() > max {
            return Err(Error::TooLarge { limit: max });
        }
        return Ok(Cow::Borrowed(body));
    }
    let mut buf = Vec::new();
    decompress_into(body, max, &mut buf)?;
    Ok(Cow::Owned(buf))
}

/// [`decompress`] into `buf`, replacing its content (an uncompressed body
/// is copied).
pub fn decompress_into(body: &[u8], max: usize, buf: &mut Vec<u8>) -> Result<(), Error> {
    buf.clear();
    match Compression::detect(body) {
        Compression::Gzip => {
            // ISIZE, the last 4 bytes, is the uncompressed size mod 2^32 of the
            // last member: a good first capacity for single-member bodies.
            let hint = body
                .len()
                .checked_sub(4)
                .and_then(|at| body.get(at..))
                .and_then(|b| <[u8; 4]>::try_from(b).ok())
                .map_or(0, |b| u32::from_le_bytes(b) as usize)
                // Deflate cannot expand more than ~1032:1; never trust a lie.
                .min(body.len().saturating_mul(1032));
            if crate::pprof::gunzip::inflate_one_shot(body, hint, max, buf) {
                return Ok(());
            }
            let reader = flate2::bufread::MultiGzDecoder::new(body);
            read_capped(reader, max, hint, "gzip", buf)
        }
        Compression::Zstd => {
            let hint = zstd::zstd_safe::get_frame_content_size(body)
                .ok()
                .flatten()
                .map_or(0, |n| usize::try_from(n).unwrap_or(usize::MAX));
            let reader = zstd::stream::read::Decoder::with_buffer(body).map_err(|source| {
                Error::Decompress {
                    format: "zstd",
                    source,
                }
            })?;
            read_capped(reader, max, hint, "zstd", buf)
        }
        Compression::None => {
            if body.len() > max {
                return Err(Error::TooLarge { limit: max });
            }
            buf.extend_from_slice(body);
            Ok(())
        }
    }
}

/// Reads `r` to its end into `buf` (empty), which never grows past
/// `max + 1` bytes.
fn read_capped(
    mut r: impl Read,
    max: usize,
    hint: usize,
    format: &'static str,
    buf: &mut Vec<u8>,
) -> Result<(), Error> {
    let cap = max.saturating_add(1);
    // A known size is allocated as is (plus the byte that shows the end),
    // an unknown one from 8 KiB.
    let first = if hint == 0 {
        8 << 10
    } else {
        hint.saturating_add(1)
    };
    buf.resize(first.min(cap), 0);
    let mut len = 0;
    loop {
        if len == buf.len() {
            if buf.len() >= cap {
                return Err(Error::TooLarge { limit: max });
            }
            let grown = buf.len().saturating_mul(2).min(cap);
            buf.resize(grown, 0);
        }
        let Some(spare) = buf.get_mut(len..) else {
            return Err(Error::TooLarge { limit: max });
        };
        match r.read(spare) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(source) => return Err(Error::Decompress { format, source }),
        }
    }
    if len > max {
        return Err(Error::TooLarge { limit: max });
    }
    buf.truncate(len);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pprof::gzip;

    #[test]
    fn gzip_bomb_stops_at_the_cap() {
        let zeros = vec![0u8; 8 << 20];
        let bomb = gzip(&zeros);
        assert!(bomb.len() < zeros.len() / 100);
        let err = decompress(&bomb, 1 << 20).unwrap_err();
        assert!(matches!(err, Error::TooLarge { limit } if limit == 1 << 20));
        assert!(err.to_string().contains("1048576"), "{err}");
        // Exactly at the cap is fine.
        assert_eq!(decompress(&bomb, 8 << 20).unwrap().len(), 8 << 20);
        let zs = zstd::encode_all(zeros.as_slice(), 3).unwrap();
        assert!(matches!(
            decompress(&zs, 1000),
            Err(Error::TooLarge { limit: 1000 })
        ));
        assert!(matches!(
            decompress(&zeros, 1000),
            Err(Error::TooLarge { limit: 1000 })
        ));
    }
}
