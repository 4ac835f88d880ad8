//! `Tables`: a pprof profile's function and location tables as the
//! validation and the converter read them, entry by entry: from a
//! [`PprofView`](crate::pprof::PprofView), which keeps each entry as the
//! offset of its message in the body (instead of a struct, and a `Vec` of
//! lines per location) with the maps from ids to positions built once, and
//! decodes an entry again when asked (on small profiles those tables are
//! most of the conversion's memory); or, for the test oracle, from a decoded
//! [`pprof::Profile`].

use crate::pprof;
use crate::pprof::ids::IdMap;
use std::borrow::Cow;

/// A pprof string table, read by index: owned strings, or a
/// [`PprofView`](crate::pprof::PprofView), which keeps each string as the offset of its
/// length in the body (4 bytes instead of a 16-byte `&str`).
pub(crate) trait StringTable {
    fn count(&self) -> usize;
    /// String `i`'s bytes (valid UTF-8), if in range.
    fn bytes(&self, i: usize) -> Option<&[u8]>;
}

/// A decoded profile's string table (the oracle's).
#[cfg(any(test, feature = "oracle"))]
impl<S: AsRef<str>> StringTable for [S] {
    fn count(&self) -> usize {
        self.len()
    }
    fn bytes(&self, i: usize) -> Option<&[u8]> {
        self.get(i).map(|s| s.as_ref().as_bytes())
    }
}

pub(crate) trait Tables {
    /// Everything else (sample types, mappings, ...): its `function` and
    /// `location` may be empty.
    fn profile(&self) -> &pprof::Profile;
    fn function_count(&self) -> usize;
    fn location_count(&self) -> usize;
    /// Function id -> position (built here, or kept by the tables).
    fn function_ids(&self) -> Cow<'_, IdMap>;
    /// Location id -> position.
    fn location_ids(&self) -> Cow<'_, IdMap>;
    fn function(&self, pos: usize) -> Option<pprof::Function>;
    /// Location `pos`, its lines put in `lines` (cleared first) rather than
    /// in its own `line`, which is empty.
    fn location(&self, pos: usize, lines: &mut Vec<pprof::Line>) -> Option<pprof::Location>;
}

/// A decoded profile (the oracle's).
#[cfg(any(test, feature = "oracle"))]
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
    fn function_ids(&self) -> Cow<'_, IdMap> {
        Cow::Owned(IdMap::build(self.function.iter().map(|f| f.id)))
    }
    fn location_ids(&self) -> Cow<'_, IdMap> {
        Cow::Owned(IdMap::build(self.location.iter().map(|l| l.id)))
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
