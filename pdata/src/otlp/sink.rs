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
    /// Passes on what is buffered (also mid-way, before a part whose
    /// buffer should not add to what is held at that point).
    fn finish(&mut self) -> io::Result<()>;
    /// The next part of the output takes `next` bytes, and all that is
    /// still to come `rest`.
    fn reserve(&mut self, _next: usize, _rest: usize) {}
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
    fn reserve(&mut self, _next: usize, rest: usize) {
        self.reserve_exact(rest);
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
    /// A small part gets a buffer of exactly its size, a big one a
    /// chunk's: growing by doubling would hold up to twice either.
    fn reserve(&mut self, next: usize, _rest: usize) {
        self.buf.reserve_exact(next.min(CHUNK + CHUNK / 4));
    }
}
