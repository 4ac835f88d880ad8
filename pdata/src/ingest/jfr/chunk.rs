//! One chunk of a recording: its header, its metadata, every constant pool
//! it carries, and its events. A recording is one or more chunks back to
//! back; each is read on its own (ids in one chunk mean nothing in the next).

use super::cursor::{Cursor, JfrString};
use super::metadata::{self, Types};
use super::value::{self, Decoder, Value};
use super::{JfrError, EVENT_CONSTANT_POOL};
use std::cell::Cell;
use std::collections::HashMap;

/// `FLR\0`.
pub const MAGIC: [u8; 4] = *b"FLR\0";
/// Magic, version, then eight 8-byte numbers and 4 bytes of features.
pub const HEADER_BYTES: usize = 68;
/// What one indexed constant costs in memory, about: its key and offset in
/// a hash map.
pub const INDEX_ENTRY_BYTES: usize = 32;
/// The format versions read: JFR 1.x (JDK 9, 10) and 2.x (JDK 11 on,
/// async-profiler).
const MAJOR_VERSIONS: [u16; 2] = [1, 2];

#[derive(Debug, Clone, Copy)]
pub struct Header {
    pub size: usize,
    pub metadata_offset: usize,
    pub start_nanos: i64,
    pub duration_nanos: i64,
    pub ticks_per_second: i64,
}

/// A chunk read: where its events are, its types and an index of its
/// constants (each decoded only when looked up, so a recording costs an
/// index entry per constant, not a tree of values).
pub struct Chunk<'a> {
    pub header: Header,
    pub types: Types,
    /// Class id → constant key → where its value starts.
    pools: HashMap<u64, HashMap<u64, usize>>,
    /// The chunk's bytes (header included).
    bytes: &'a [u8],
    /// Values left to read from this chunk (see [`value::budget`]).
    budget: Cell<usize>,
}

fn offset(v: u64, what: &str, at: usize) -> Result<usize, JfrError> {
    usize::try_from(v).map_err(|_| JfrError::at(at, format!("{what} {v} is out of range")))
}

fn read_header(c: &mut Cursor) -> Result<Header, JfrError> {
    let at = c.pos();
    if c.take(4, "the chunk magic")? != MAGIC {
        return Err(JfrError::at(at, "not a JFR chunk (no FLR magic)"));
    }
    let major = c.be_u16()?;
    let _minor = c.be_u16()?;
    if !MAJOR_VERSIONS.contains(&major) {
        return Err(JfrError::at(
            at,
            format!("JFR format version {major} is not supported"),
        ));
    }
    let size = offset(c.be_u64()?, "chunk size", at)?;
    let constant_pool_offset = offset(c.be_u64()?, "constant pool offset", at)?;
    let metadata_offset = offset(c.be_u64()?, "metadata offset", at)?;
    let start_nanos = c.be_u64()? as i64;
    let duration_nanos = c.be_u64()? as i64;
    let _start_ticks = c.be_u64()?;
    let ticks_per_second = c.be_u64()? as i64;
    let _features = c.be_u32()?;
    if size < HEADER_BYTES || metadata_offset >= size || constant_pool_offset >= size {
        return Err(JfrError::at(
            at,
            format!("chunk header is inconsistent (size {size}, metadata at {metadata_offset}, constant pool at {constant_pool_offset})"),
        ));
    }
    Ok(Header {
        size,
        metadata_offset,
        start_nanos,
        duration_nanos,
        ticks_per_second,
    })
}

/// One event's position: its type and where its fields start and end.
#[derive(Debug, Clone, Copy)]
pub struct EventAt {
    pub type_id: u64,
    pub fields: usize,
    pub end: usize,
}

impl<'a> Chunk<'a> {
    /// Reads the chunk at the start of `buf`, its constant index taking at
    /// most `index_limit` bytes (see [`INDEX_ENTRY_BYTES`]).
    pub fn read(buf: &'a [u8], index_limit: usize) -> Result<Self, JfrError> {
        let mut c = Cursor::new(buf, 0);
        let header = read_header(&mut c)?;
        if header.size > buf.len() {
            return Err(JfrError::at(
                0,
                format!("chunk of {} bytes is cut off at {}", header.size, buf.len()),
            ));
        }
        let bytes = &buf[..header.size];
        let types = metadata::read(bytes, header.metadata_offset)?;
        let mut chunk = Chunk {
            header,
            types,
            pools: HashMap::new(),
            bytes,
            budget: value::budget(bytes.len()),
        };
        let pool_events: Vec<EventAt> = chunk
            .events()
            .filter(|e| {
                e.as_ref()
                    .map_or(true, |e| e.type_id == EVENT_CONSTANT_POOL)
            })
            .collect::<Result<_, _>>()?;
        let mut pools = HashMap::new();
        let mut entries_left = index_limit / INDEX_ENTRY_BYTES;
        for e in pool_events {
            index_pools(bytes, e, &chunk.decoder(), &mut pools, &mut entries_left)?;
        }
        chunk.pools = pools;
        Ok(chunk)
    }

    /// A decoder spending this chunk's budget.
    pub fn decoder(&self) -> Decoder<'_> {
        Decoder::new(&self.types, &self.budget)
    }

    /// Every event of the chunk in order, metadata and pools included.
    pub fn events(&self) -> impl Iterator<Item = Result<EventAt, JfrError>> + '_ {
        let mut pos = HEADER_BYTES;
        let end = self.bytes.len();
        std::iter::from_fn(move || {
            if pos >= end {
                return None;
            }
            let mut c = Cursor::new(self.bytes, pos);
            let read = (|| {
                let size = offset(c.varint()?, "event size", pos)?;
                let type_id = c.varint()?;
                let event_end = pos
                    .checked_add(size)
                    .filter(|&e| size > 0 && e <= end && e >= c.pos())
                    .ok_or_else(|| {
                        JfrError::at(pos, format!("event of {size} bytes does not fit the chunk"))
                    })?;
                Ok(EventAt {
                    type_id,
                    fields: c.pos(),
                    end: event_end,
                })
            })();
            match read {
                Ok(e) => {
                    pos = e.end;
                    Some(Ok(e))
                }
                Err(err) => {
                    pos = end;
                    Some(Err(err))
                }
            }
        })
    }

    /// Reads the fields of event `e` (of a class the metadata declares).
    pub fn event_value(&self, e: EventAt) -> Result<Value, JfrError> {
        let mut c = Cursor::new(&self.bytes[..e.end], e.fields);
        self.decoder().read(&mut c, e.type_id)
    }

    pub fn bytes(&self) -> usize {
        self.bytes.len()
    }

    /// The constant `key` of the pool of class `class`, decoded.
    pub fn constant(&self, class: u64, key: u64) -> Result<Option<Value>, JfrError> {
        let Some(&at) = self.pools.get(&class).and_then(|p| p.get(&key)) else {
            return Ok(None);
        };
        let mut c = Cursor::new(self.bytes, at);
        self.decoder().read(&mut c, class).map(Some)
    }

    /// A string value, looked up in the string pool when pooled.
    pub fn text(&self, v: &Value) -> Result<Option<String>, JfrError> {
        Ok(match v {
            Value::Str(JfrString::Text(s)) => Some(s.clone()),
            Value::Str(JfrString::Pooled(k)) => {
                let Some(id) = self.types.id_of("java.lang.String") else {
                    return Ok(None);
                };
                match self.constant(id, *k)? {
                    Some(Value::Str(JfrString::Text(s))) => Some(s),
                    _ => None,
                }
            }
            _ => None,
        })
    }
}

/// Indexes a constant pool event's constants into `pools`: where each
/// value starts (a later pool's constant replaces an earlier one's).
fn index_pools(
    bytes: &[u8],
    e: EventAt,
    decoder: &Decoder,
    pools: &mut HashMap<u64, HashMap<u64, usize>>,
    entries_left: &mut usize,
) -> Result<(), JfrError> {
    let mut c = Cursor::new(&bytes[..e.end], e.fields);
    let _start = c.varint()?;
    let _duration = c.varint()?;
    let _delta = c.varint()?;
    let _flush = c.varint()?;
    let n = c.count("constant pool")?;
    for _ in 0..n {
        let class = c.varint()?;
        if !decoder.types.by_id.contains_key(&class) {
            return Err(JfrError::at(
                c.pos(),
                format!("a constant pool of unknown class {class}"),
            ));
        }
        let count = c.count("constant")?;
        let pool = pools.entry(class).or_default();
        for _ in 0..count {
            *entries_left = entries_left.checked_sub(1).ok_or_else(|| {
                JfrError::over_limit(
                    c.pos(),
                    "the constant pools hold more constants than the memory limit allows",
                )
            })?;
            let key = c.varint()?;
            pool.insert(key, c.pos());
            decoder.skip(&mut c, class)?;
        }
    }
    Ok(())
}
