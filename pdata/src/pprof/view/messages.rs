//! The sub-messages of a pprof body, decoded field by field as prost
//! decodes them (later fields win, unknown fields skipped, groups refused).

use crate::pprof;
use crate::pprof::model::{
    FUNCTION_FILENAME, FUNCTION_ID, FUNCTION_NAME, FUNCTION_START_LINE, FUNCTION_SYSTEM_NAME,
    LABEL_KEY, LABEL_NUM, LABEL_NUM_UNIT, LABEL_STR, LINE_COLUMN, LINE_FUNCTION_ID, LINE_LINE,
    LOCATION_ADDRESS, LOCATION_ID, LOCATION_IS_FOLDED, LOCATION_LINE, LOCATION_MAPPING_ID,
    MAPPING_BUILD_ID, MAPPING_FILENAME, MAPPING_FILE_OFFSET, MAPPING_HAS_FILENAMES,
    MAPPING_HAS_FUNCTIONS, MAPPING_HAS_INLINE_FRAMES, MAPPING_HAS_LINE_NUMBERS, MAPPING_ID,
    MAPPING_MEMORY_LIMIT, MAPPING_MEMORY_START, VALUE_TYPE_TYPE, VALUE_TYPE_UNIT,
};
use crate::wire::Reader;
use crate::Error;

pub(super) fn value_type(b: &[u8], mut vt: pprof::ValueType) -> Result<pprof::ValueType, Error> {
    let mut r = Reader::new(b);
    while !r.is_empty() {
        let (field, wt) = r.key()?;
        match field {
            VALUE_TYPE_TYPE => vt.r#type = r.scalar(wt)? as i64,
            VALUE_TYPE_UNIT => vt.unit = r.scalar(wt)? as i64,
            _ => r.skip(wt)?,
        }
    }
    Ok(vt)
}

pub(crate) fn label(b: &[u8]) -> Result<pprof::Label, Error> {
    let mut l = pprof::Label::default();
    let mut r = Reader::new(b);
    while !r.is_empty() {
        let (field, wt) = r.key()?;
        match field {
            LABEL_KEY => l.key = r.scalar(wt)? as i64,
            LABEL_STR => l.str = r.scalar(wt)? as i64,
            LABEL_NUM => l.num = r.scalar(wt)? as i64,
            LABEL_NUM_UNIT => l.num_unit = r.scalar(wt)? as i64,
            _ => r.skip(wt)?,
        }
    }
    Ok(l)
}

pub(super) fn mapping(b: &[u8]) -> Result<pprof::Mapping, Error> {
    let mut m = pprof::Mapping::default();
    let mut r = Reader::new(b);
    while !r.is_empty() {
        let (field, wt) = r.key()?;
        match field {
            MAPPING_ID => m.id = r.scalar(wt)?,
            MAPPING_MEMORY_START => m.memory_start = r.scalar(wt)?,
            MAPPING_MEMORY_LIMIT => m.memory_limit = r.scalar(wt)?,
            MAPPING_FILE_OFFSET => m.file_offset = r.scalar(wt)?,
            MAPPING_FILENAME => m.filename = r.scalar(wt)? as i64,
            MAPPING_BUILD_ID => m.build_id = r.scalar(wt)? as i64,
            MAPPING_HAS_FUNCTIONS => m.has_functions = r.scalar(wt)? != 0,
            MAPPING_HAS_FILENAMES => m.has_filenames = r.scalar(wt)? != 0,
            MAPPING_HAS_LINE_NUMBERS => m.has_line_numbers = r.scalar(wt)? != 0,
            MAPPING_HAS_INLINE_FRAMES => m.has_inline_frames = r.scalar(wt)? != 0,
            _ => r.skip(wt)?,
        }
    }
    Ok(m)
}

/// A location, its lines in `lines` (cleared first).
pub(super) fn location(b: &[u8], lines: &mut Vec<pprof::Line>) -> Result<pprof::Location, Error> {
    let mut l = pprof::Location::default();
    lines.clear();
    let mut r = Reader::new(b);
    while !r.is_empty() {
        let (field, wt) = r.key()?;
        match field {
            LOCATION_ID => l.id = r.scalar(wt)?,
            LOCATION_MAPPING_ID => l.mapping_id = r.scalar(wt)?,
            LOCATION_ADDRESS => l.address = r.scalar(wt)?,
            LOCATION_LINE => lines.push(line(r.message(wt)?)?),
            LOCATION_IS_FOLDED => l.is_folded = r.scalar(wt)? != 0,
            _ => r.skip(wt)?,
        }
    }
    Ok(l)
}

/// The length-delimited bytes whose length varint is at `at` in `data`
/// (None when they do not fit: never for an offset the view kept). Lengths
/// below 2^14 (two bytes) are read inline.
#[inline(always)]
pub(super) fn len_prefixed(data: &[u8], at: u32) -> Option<&[u8]> {
    let at = at as usize;
    let (len, start) = match data.get(at..at + 2) {
        Some(&[b0, _]) if b0 < 0x80 => (usize::from(b0), at + 1),
        Some(&[b0, b1]) if b1 < 0x80 => (usize::from(b0 & 0x7f) | usize::from(b1) << 7, at + 2),
        _ => return Reader::new(data.get(at..)?).bytes().ok(),
    };
    data.get(start..start.checked_add(len)?)
}

pub(super) fn line(b: &[u8]) -> Result<pprof::Line, Error> {
    let mut l = pprof::Line::default();
    let mut r = Reader::new(b);
    while !r.is_empty() {
        let (field, wt) = r.key()?;
        match field {
            LINE_FUNCTION_ID => l.function_id = r.scalar(wt)?,
            LINE_LINE => l.line = r.scalar(wt)? as i64,
            LINE_COLUMN => l.column = r.scalar(wt)? as i64,
            _ => r.skip(wt)?,
        }
    }
    Ok(l)
}

pub(super) fn function(b: &[u8]) -> Result<pprof::Function, Error> {
    let mut f = pprof::Function::default();
    let mut r = Reader::new(b);
    while !r.is_empty() {
        let (field, wt) = r.key()?;
        match field {
            FUNCTION_ID => f.id = r.scalar(wt)?,
            FUNCTION_NAME => f.name = r.scalar(wt)? as i64,
            FUNCTION_SYSTEM_NAME => f.system_name = r.scalar(wt)? as i64,
            FUNCTION_FILENAME => f.filename = r.scalar(wt)? as i64,
            FUNCTION_START_LINE => f.start_line = r.scalar(wt)? as i64,
            _ => r.skip(wt)?,
        }
    }
    Ok(f)
}
