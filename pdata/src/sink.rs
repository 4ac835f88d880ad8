//! Where the hand-written protobuf writers put their bytes: straight into a
//! `Vec`, or a chunk at a time into any [`Write`], so that converting a big
//! profile to a file never holds the whole output.

use std::io::{self, Write};

/// Where the writer puts its bytes: straight into a `Vec`, or through a
/// bounded buffer into any [`Write`].
pub(crate) trait Sink {
    /// The buffer to append to.
    fn buf(&mut self) -> &mut Vec<u8>;
    /// Passes the buffer on when it has grown past a chunk.
    fn spill(&mut self) -> io::Result<()>;
    /// Passes on the rest.
    fn finish(&mut self) -> io::Result<()>;
    /// The whole output will take `total` bytes.
    fn reserve(&mut self, _total: usize) {}
}

impl Sink for Vec<u8> {
    fn buf(&mut self) -> &mut Vec<u8> {
        self
    }
    fn spill(&mut self) -> io::Result<()> {
        Ok(())
    }
    fn finish(&mut self) -> io::Result<()> {
        Ok(())
    }
    fn reserve(&mut self, total: usize) {
        self.reserve_exact(total);
    }
}

/// Bytes buffered before they are written out.
const CHUNK: usize = 32 * 1024;

/// A [`Sink`] that writes to `out` whenever a chunk has been buffered.
pub(crate) struct Chunked<W> {
    buf: Vec<u8>,
    out: W,
}

impl<W> Chunked<W> {
    pub(crate) fn new(out: W) -> Self {
        Chunked {
            buf: Vec::new(),
            out,
        }
    }
}

impl<W: Write> Sink for Chunked<W> {
    fn buf(&mut self) -> &mut Vec<u8> {
        &mut self.buf
    }
    fn spill(&mut self) -> io::Result<()> {
        if self.buf.len() >= CHUNK {
            self.finish()?;
        }
        Ok(())
    }
    fn finish(&mut self) -> io::Result<()> {
        self.out.write_all(&self.buf)?;
        self.buf.clear();
        Ok(())
    }
}
