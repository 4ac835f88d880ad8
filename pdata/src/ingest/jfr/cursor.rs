//! A bounds-checked reader over a JFR chunk: LEB128 integers (JFR's
//! "compressed integers"), fixed-width big-endian numbers and JFR's string
//! encodings. Every read past the end is an error, never a panic.

use super::JfrError;

/// How a `java.lang.String` value is written.
pub const STRING_NULL: u8 = 0;
pub const STRING_EMPTY: u8 = 1;
pub const STRING_CONSTANT: u8 = 2;
pub const STRING_UTF8: u8 = 3;
pub const STRING_CHARS: u8 = 4;
pub const STRING_LATIN1: u8 = 5;

/// A string as read: text, or a reference into the chunk's string pool.
#[derive(Debug, Clone, PartialEq)]
pub enum JfrString {
    Null,
    Text(String),
    Pooled(u64),
}

#[derive(Debug, Clone)]
pub struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub fn new(buf: &'a [u8], pos: usize) -> Self {
        Self { buf, pos }
    }

    pub fn pos(&self) -> usize {
        self.pos
    }

    pub fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    fn eof(&self, what: &str) -> JfrError {
        JfrError::at(self.pos, format!("truncated while reading {what}"))
    }

    pub fn u8(&mut self) -> Result<u8, JfrError> {
        let b = *self.buf.get(self.pos).ok_or_else(|| self.eof("a byte"))?;
        self.pos += 1;
        Ok(b)
    }

    pub fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], JfrError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .ok_or_else(|| self.eof(what))?;
        let out = &self.buf[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    pub fn be_u16(&mut self) -> Result<u16, JfrError> {
        let b = self.take(2, "a 2-byte number")?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    pub fn be_u32(&mut self) -> Result<u32, JfrError> {
        let b = self.take(4, "a 4-byte number")?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub fn be_u64(&mut self) -> Result<u64, JfrError> {
        let b = self.take(8, "an 8-byte number")?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_be_bytes(a))
    }

    /// A LEB128 integer of at most 9 bytes (JFR writes the ninth byte whole).
    pub fn varint(&mut self) -> Result<u64, JfrError> {
        let mut v: u64 = 0;
        for i in 0..9 {
            let b = self.u8()?;
            if i == 8 {
                return Ok(v | (u64::from(b) << 56));
            }
            v |= u64::from(b & 0x7f) << (7 * i);
            if b < 0x80 {
                return Ok(v);
            }
        }
        Ok(v)
    }

    /// A count of things each taking at least one byte: more than the
    /// bytes left is an error, so no count read from the data can make a
    /// large allocation.
    pub fn count(&mut self, what: &str) -> Result<usize, JfrError> {
        let at = self.pos;
        let n = self.varint()?;
        match usize::try_from(n) {
            Ok(n) if n <= self.remaining() => Ok(n),
            _ => Err(JfrError::at(
                at,
                format!("{what} count {n} is more than the bytes left"),
            )),
        }
    }

    pub fn string(&mut self) -> Result<JfrString, JfrError> {
        let at = self.pos;
        match self.u8()? {
            STRING_NULL => Ok(JfrString::Null),
            STRING_EMPTY => Ok(JfrString::Text(String::new())),
            STRING_CONSTANT => Ok(JfrString::Pooled(self.varint()?)),
            STRING_UTF8 => {
                let n = self.count("string byte")?;
                let b = self.take(n, "a string")?;
                Ok(JfrString::Text(String::from_utf8_lossy(b).into_owned()))
            }
            STRING_LATIN1 => {
                let n = self.count("string byte")?;
                let b = self.take(n, "a string")?;
                Ok(JfrString::Text(b.iter().map(|&c| char::from(c)).collect()))
            }
            STRING_CHARS => {
                let n = self.count("string char")?;
                let mut units = Vec::with_capacity(n);
                for _ in 0..n {
                    units.push(u16::try_from(self.varint()?).unwrap_or(0xfffd));
                }
                Ok(JfrString::Text(String::from_utf16_lossy(&units)))
            }
            other => Err(JfrError::at(at, format!("unknown string encoding {other}"))),
        }
    }

    /// Steps over a string without reading its text.
    pub fn skip_string(&mut self) -> Result<(), JfrError> {
        let at = self.pos;
        match self.u8()? {
            STRING_NULL | STRING_EMPTY => Ok(()),
            STRING_CONSTANT => self.varint().map(drop),
            STRING_UTF8 | STRING_LATIN1 => {
                let n = self.count("string byte")?;
                self.take(n, "a string").map(drop)
            }
            STRING_CHARS => {
                let n = self.count("string char")?;
                for _ in 0..n {
                    self.varint()?;
                }
                Ok(())
            }
            other => Err(JfrError::at(at, format!("unknown string encoding {other}"))),
        }
    }
}
