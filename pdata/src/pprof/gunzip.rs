//! One-shot, windowless inflate of a small single-member gzip body whose
//! trailer tells its size ([`inflate_one_shot`], tried first by
//! decompression): the output buffer, allocated once at exactly that size,
//! is the only window the decompressor needs, so the window and state a
//! streaming inflater allocates (more than a small profile's whole body) are
//! never allocated. The decompressor's tables live on the stack.
//!
//! Only the regular case is handled here; anything else (multi-member
//! bodies, a size that lies, a corrupt stream, header flags we do not parse)
//! returns `false` and the caller falls back to the streaming decoder, which
//! gives the error messages.

use miniz_oxide::inflate::core::{decompress, inflate_flags, DecompressorOxide};
use miniz_oxide::inflate::TINFLStatus;

/// Bodies that inflate to more than this go to the streaming decoder
/// (zlib-rs, faster on big bodies, where its fixed state is small next to
/// the body).
pub(crate) const MAX_ONE_SHOT: usize = 256 << 10;

const FTEXT: u8 = 1;
const FEXTRA: u8 = 4;
const FNAME: u8 = 8;
const FCOMMENT: u8 = 16;

/// Where the deflate stream starts: after the 10-byte header and the
/// optional extra field, name and comment. None for what is left to the
/// streaming decoder (a header CRC (FHCRC), reserved flags, a method other than
/// deflate, a truncated header).
fn deflate_start(body: &[u8]) -> Option<usize> {
    let header = body.get(..10)?;
    let (cm, flg) = (*header.get(2)?, *header.get(3)?);
    if cm != 8 || flg & !(FTEXT | FEXTRA | FNAME | FCOMMENT) != 0 {
        return None;
    }
    let mut pos = 10usize;
    if flg & FEXTRA != 0 {
        let len = body.get(pos..pos + 2)?;
        pos += 2 + usize::from(u16::from_le_bytes([*len.first()?, *len.get(1)?]));
    }
    for flag in [FNAME, FCOMMENT] {
        if flg & flag != 0 {
            let rest = body.get(pos..)?;
            pos += rest.iter().position(|&b| b == 0)? + 1;
        }
    }
    (pos <= body.len()).then_some(pos)
}

/// Inflates `body` (a gzip body) into `buf` (emptied first) when it is a
/// single member whose ISIZE trailer, `size`, is exact, its CRC matches and
/// `size` is at most `max`. Returns whether it did; on `false`, `buf` is
/// empty.
pub(crate) fn inflate_one_shot(body: &[u8], size: usize, max: usize, buf: &mut Vec<u8>) -> bool {
    buf.clear();
    if size == 0 || size > max || size > MAX_ONE_SHOT {
        return false;
    }
    let Some(start) = deflate_start(body) else {
        return false;
    };
    let Some(stream) = body.get(start..) else {
        return false;
    };
    buf.reserve_exact(size);
    buf.resize(size, 0);
    let mut state = DecompressorOxide::new();
    let (status, read, written) = decompress(
        &mut state,
        stream,
        buf,
        0,
        inflate_flags::TINFL_FLAG_USING_NON_WRAPPING_OUTPUT_BUF,
    );
    // Exactly the trailer must follow the stream: more would be another
    // member.
    let ok = status == TINFLStatus::Done
        && written == size
        && stream.get(read..).is_some_and(|t| {
            t.len() == 8 && {
                let mut crc = flate2::Crc::new();
                crc.update(buf);
                t.get(..4) == Some(&crc.sum().to_le_bytes()[..])
                    && t.get(4..) == Some(&(size as u32).to_le_bytes()[..])
            }
        });
    if !ok {
        buf.clear();
    }
    ok
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gz(data: &[u8]) -> Vec<u8> {
        crate::pprof::gzip(data)
    }

    #[test]
    fn inflates_a_regular_member() {
        let data: Vec<u8> = (0..5000u32).flat_map(|i| (i % 251).to_le_bytes()).collect();
        let body = gz(&data);
        let mut buf = Vec::new();
        assert!(inflate_one_shot(&body, data.len(), usize::MAX, &mut buf));
        assert_eq!(buf, data);
        assert_eq!(buf.capacity(), data.len());
    }

    #[test]
    fn leaves_the_irregular_to_the_stream_decoder() {
        let data = b"hello hello hello hello".to_vec();
        let body = gz(&data);
        let mut buf = Vec::new();
        // A lying size, either way; over the cap.
        assert!(!inflate_one_shot(
            &body,
            data.len() - 1,
            usize::MAX,
            &mut buf
        ));
        assert!(buf.is_empty());
        assert!(!inflate_one_shot(
            &body,
            data.len() + 1,
            usize::MAX,
            &mut buf
        ));
        assert!(!inflate_one_shot(
            &body,
            data.len(),
            data.len() - 1,
            &mut buf
        ));
        // Two members; a bad CRC; a header CRC flag; truncated.
        let mut two = body.clone();
        two.extend_from_slice(&body);
        assert!(!inflate_one_shot(&two, data.len(), usize::MAX, &mut buf));
        let mut bad = body.clone();
        let at = bad.len() - 8;
        bad[at] ^= 1;
        assert!(!inflate_one_shot(&bad, data.len(), usize::MAX, &mut buf));
        let mut hcrc = body.clone();
        hcrc[3] |= 2; // FHCRC
        assert!(!inflate_one_shot(&hcrc, data.len(), usize::MAX, &mut buf));
        assert!(!inflate_one_shot(
            &body[..body.len() - 1],
            data.len(),
            usize::MAX,
            &mut buf
        ));
        assert!(buf.is_empty());
    }

    #[test]
    fn skips_name_comment_and_extra() {
        let data = b"profile bytes".to_vec();
        let plain = gz(&data);
        let mut body = plain[..10].to_vec();
        body[3] = FEXTRA | FNAME | FCOMMENT;
        body.extend_from_slice(&[3, 0, 1, 2, 3]);
        body.extend_from_slice(b"name\0comment\0");
        body.extend_from_slice(&plain[10..]);
        let mut buf = Vec::new();
        assert!(inflate_one_shot(&body, data.len(), usize::MAX, &mut buf));
        assert_eq!(buf, data);
    }
}
