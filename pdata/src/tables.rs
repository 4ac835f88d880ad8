//! `Tables`: a pprof profile's function and location tables as the
//! validation and the converter read them, entry by entry: from a decoded
//! [`pprof::Profile`], or from a [`crate::PprofView`], which keeps each
//! entry as its id and the byte range of its message in the body (16 bytes
//! instead of a 40-byte function, or a 56-byte location and a `Vec` of
//! lines) and decodes it again when asked: on small profiles those tables
//! are most of the conversion's memory.

use crate::pprof;

pub(crate) trait Tables {
    /// Everything else (sample types, mappings, ...): its `function` and
    /// `location` may be empty.
    fn profile(&self) -> &pprof::Profile;
    fn function_count(&self) -> usize;
    fn location_count(&self) -> usize;
    fn function_id(&self, pos: usize) -> u64;
    fn location_id(&self, pos: usize) -> u64;
    fn function(&self, pos: usize) -> Option<pprof::Function>;
    /// Location `pos`, its lines put in `lines` (cleared first) rather than
    /// in its own `line`, which is empty.
    fn location(&self, pos: usize, lines: &mut Vec<pprof::Line>) -> Option<pprof::Location>;
}

impl Tables for pprof::Profile {
    fn profile(&self) -> &pprof::Profile {
        self
    }
    fn function_count(&self) -> usize {
        self.function.len()
    }
    fn location_count(&self) -> usize {
        self.location.len()
    }
    fn function_id(&self, pos: usize) -> u64 {
        self.function.get(pos).map_or(0, |f| f.id)
    }
    fn location_id(&self, pos: usize) -> u64 {
        self.location.get(pos).map_or(0, |l| l.id)
    }
    fn function(&self, pos: usize) -> Option<pprof::Function> {
        self.function.get(pos).cloned()
    }
    fn location(&self, pos: usize, lines: &mut Vec<pprof::Line>) -> Option<pprof::Location> {
        let l = self.location.get(pos)?;
        lines.clear();
        lines.extend_from_slice(&l.line);
        Some(pprof::Location {
            id: l.id,
            mapping_id: l.mapping_id,
            address: l.address,
            line: Vec::new(),
            is_folded: l.is_folded,
        })
    }
}
