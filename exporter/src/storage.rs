//! The persistent sending queue's store (`sending_queue.storage`): batches
//! appended to segment files on disk, an in-memory index of those not yet
//! delivered, and per-segment ack files.
//!
//! Files in the exporter's directory:
//! - `<id>.seg` (`id` = 16 hex digits, increasing): records, each
//!   `"PQR1"`, payload length (`u32` LE), CRC-32 of the payload (`u32` LE),
//!   payload ([`crate::storage_codec`]). Only the newest segment is appended
//!   to; a new one is started once it reaches the segment size, and each run
//!   starts a new one.
//! - `<id>.ack`: the offsets (`u64` LE) of the segment's records that are
//!   done with (delivered or given up). A segment whose records are all done
//!   is deleted with its ack file, which is how disk space comes back.
//!
//! On open, segments are read oldest first and every record neither acked
//! nor damaged is queued again, in order. A damaged stretch (bad marker,
//! length or checksum, a tail cut short by a crash) is skipped up to the
//! next record that checks out, and reported once; an unreadable file is
//! skipped and reported. A record that checks out is still checked like a
//! receiver's input when it is taken ([`crate::storage_codec::read_batch`]).
//!
//! Durability: [`Store::append`] writes a record with one `write` and hands
//! back a handle the caller `fdatasync`s (outside the queue's lock) before
//! the batch counts as accepted; a new segment also syncs the directory.
//! Acks are written but not synced: after a machine crash a delivered
//! record may be sent again (at-least-once).

use crate::events::ExporterEvents;
use crate::storage_codec;
use std::collections::{BTreeMap, HashSet, VecDeque};
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Marks the start of every record.
pub const MAGIC: [u8; 4] = *b"PQR1";
/// Marker, length and checksum.
pub const HEADER_BYTES: u64 = 12;

/// The directory of one exporter instance under `directory`: its id with
/// every character other than ASCII letters, digits, `.`, `-` and `_`
/// replaced by `_` (`otlp_http/a` → `otlp_http_a`).
pub fn exporter_dir(directory: &Path, exporter_id: &str) -> PathBuf {
    let name: String = exporter_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    directory.join(name)
}

/// Which record a popped batch came from; handed back to [`Store::ack`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket {
    segment: u64,
    offset: u64,
}

/// Why an append was refused.
#[derive(Debug)]
pub enum AppendError {
    /// `max_bytes` would be exceeded.
    Full,
    /// The record alone is larger than `max_bytes`: it can never fit.
    TooLarge {
        record: u64,
        max_bytes: u64,
    },
    Io(std::io::Error),
}

struct Loc {
    segment: u64,
    offset: u64,
    len: u32,
    profiles: usize,
}

struct Segment {
    len: u64,
    /// Records neither acked nor skipped (queued or being sent).
    pending: usize,
    ack: Option<File>,
    ack_len: u64,
}

/// The store of one exporter instance. Not synchronised: the queue holds it
/// under its lock.
pub struct Store {
    dir: PathBuf,
    max_bytes: u64,
    segment_bytes: u64,
    segments: BTreeMap<u64, Segment>,
    index: VecDeque<Loc>,
    active: Option<(u64, File)>,
    reader: Option<(u64, File)>,
    next_segment: u64,
    disk_bytes: u64,
    events: Arc<ExporterEvents>,
}

/// What a valid record looks like at `pos`: its payload length.
fn check_at(data: &[u8], pos: usize) -> Result<u32, &'static str> {
    let rest = data.get(pos..).unwrap_or_default();
    if rest.len() < HEADER_BYTES as usize {
        return Err("truncated record header");
    }
    if rest[..4] != MAGIC {
        return Err("bad record marker");
    }
    let len = u32::from_le_bytes([rest[4], rest[5], rest[6], rest[7]]);
    let crc = u32::from_le_bytes([rest[8], rest[9], rest[10], rest[11]]);
    let payload = rest
        .get(HEADER_BYTES as usize..HEADER_BYTES as usize + len as usize)
        .ok_or("truncated record")?;
    if checksum(payload) != crc {
        return Err("checksum mismatch");
    }
    Ok(len)
}

fn checksum(data: &[u8]) -> u32 {
    let mut crc = flate2::Crc::new();
    crc.update(data);
    crc.sum()
}

/// A segment's valid records, as (offset, payload length).
pub type Records = Vec<(u64, u32)>;
/// A segment's damaged stretches, as (offset, reason), one per stretch.
pub type Damaged = Vec<(u64, &'static str)>;

/// The valid records and the damaged stretches of a segment's bytes.
pub fn scan(data: &[u8]) -> (Records, Damaged) {
    let (mut good, mut bad) = (Vec::new(), Vec::new());
    let mut pos = 0usize;
    let mut in_bad = false;
    while pos < data.len() {
        match check_at(data, pos) {
            Ok(len) => {
                good.push((pos as u64, len));
                pos += HEADER_BYTES as usize + len as usize;
                in_bad = false;
            }
            Err(reason) => {
                if !in_bad {
                    bad.push((pos as u64, reason));
                    in_bad = true;
                }
                let from = pos + 1;
                match data
                    .get(from..)
                    .and_then(|d| d.windows(MAGIC.len()).position(|w| w == MAGIC))
                {
                    Some(i) => pos = from + i,
                    None => break,
                }
            }
        }
    }
    (good, bad)
}

fn segment_ids(dir: &Path, ext: &str) -> std::io::Result<Vec<u64>> {
    let mut ids: Vec<u64> = fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().to_string();
            let stem = name.strip_suffix(ext)?;
            (stem.len() == 16)
                .then(|| u64::from_str_radix(stem, 16).ok())
                .flatten()
        })
        .collect();
    ids.sort_unstable();
    Ok(ids)
}

fn read_acks(path: &Path) -> std::io::Result<HashSet<u64>> {
    match fs::read(path) {
        Ok(data) => Ok(data
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
            .collect()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(HashSet::new()),
        Err(e) => Err(e),
    }
}

/// The batches still pending in an exporter directory, oldest first, and
/// how many damaged stretches were skipped; reads only (for tests and
/// tools — a running exporter uses [`Store::open`]).
pub fn read_pending(dir: &Path) -> std::io::Result<(Vec<profcol_pdata::ProfileBatch>, usize)> {
    let mut out = Vec::new();
    let mut corrupt = 0;
    for id in segment_ids(dir, ".seg")? {
        let data = fs::read(seg_path(dir, id))?;
        let acked = read_acks(&ack_path(dir, id))?;
        let (good, bad) = scan(&data);
        corrupt += bad.len();
        for (offset, len) in good {
            if acked.contains(&offset) {
                continue;
            }
            let start = (offset + HEADER_BYTES) as usize;
            match data
                .get(start..start + len as usize)
                .map(storage_codec::decode_batch)
            {
                Some(Ok(b)) => out.push(b),
                _ => corrupt += 1,
            }
        }
    }
    Ok((out, corrupt))
}

fn seg_path(dir: &Path, id: u64) -> PathBuf {
    dir.join(format!("{id:016x}.seg"))
}

fn ack_path(dir: &Path, id: u64) -> PathBuf {
    dir.join(format!("{id:016x}.ack"))
}

fn remove_if_present(path: &Path) -> std::io::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

impl Store {
    /// Opens (creating it if missing) the directory and queues again what
    /// a previous run left. Fails only when the directory cannot be created
    /// or written; damaged files are reported and skipped.
    pub fn open(
        dir: &Path,
        max_bytes: u64,
        segment_bytes: u64,
        events: Arc<ExporterEvents>,
    ) -> std::io::Result<Self> {
        fs::create_dir_all(dir)?;
        let probe = dir.join(".write-test");
        fs::write(&probe, b"profcol")?;
        fs::remove_file(&probe)?;
        let mut store = Self {
            dir: dir.to_path_buf(),
            max_bytes,
            segment_bytes: segment_bytes.max(1),
            segments: BTreeMap::new(),
            index: VecDeque::new(),
            active: None,
            reader: None,
            next_segment: 0,
            disk_bytes: 0,
            events,
        };
        let ids = segment_ids(dir, ".seg")?;
        for &id in &ids {
            store.load_segment(id);
        }
        store.next_segment = ids.last().map_or(0, |l| l + 1);
        for id in segment_ids(dir, ".ack")? {
            if !store.segments.contains_key(&id) {
                let path = ack_path(dir, id);
                if let Err(e) = remove_if_present(&path) {
                    store.events.storage_io_error("remove", &path, &e);
                }
            }
        }
        let profiles = store.index.iter().map(|l| l.profiles).sum();
        store
            .events
            .storage_loaded(store.index.len(), profiles, store.disk_bytes);
        Ok(store)
    }

    fn load_segment(&mut self, id: u64) {
        let path = seg_path(&self.dir, id);
        let data = match fs::read(&path) {
            Ok(d) => d,
            Err(e) => {
                // Left in place (it may become readable again) but skipped.
                self.events.storage_io_error("read", &path, &e);
                self.events
                    .storage_corrupt(&path, 0, &format!("cannot read the file: {e}"));
                return;
            }
        };
        let apath = ack_path(&self.dir, id);
        let acked = match read_acks(&apath) {
            Ok(a) => a,
            Err(e) => {
                self.events.storage_io_error("read", &apath, &e);
                HashSet::new()
            }
        };
        let (good, bad) = scan(&data);
        for (offset, reason) in &bad {
            self.events.storage_corrupt(&path, *offset, reason);
        }
        let mut pending = 0;
        for (offset, len) in good {
            if acked.contains(&offset) {
                continue;
            }
            let start = (offset + HEADER_BYTES) as usize;
            let Some(profiles) = data
                .get(start..start + len as usize)
                .and_then(storage_codec::profile_count)
            else {
                self.events
                    .storage_corrupt(&path, offset, "unreadable batch header");
                continue;
            };
            pending += 1;
            self.index.push_back(Loc {
                segment: id,
                offset,
                len,
                profiles,
            });
        }
        if pending == 0 {
            for p in [&path, &apath] {
                if let Err(e) = remove_if_present(p) {
                    self.events.storage_io_error("remove", p, &e);
                }
            }
            return;
        }
        let ack_len = fs::metadata(&apath).map(|m| m.len()).unwrap_or(0);
        // A crash may have cut an ack short; later acks must stay aligned.
        let aligned = ack_len - ack_len % 8;
        if aligned != ack_len {
            if let Err(e) = OpenOptions::new()
                .write(true)
                .open(&apath)
                .and_then(|f| f.set_len(aligned))
            {
                self.events.storage_io_error("truncate", &apath, &e);
            }
        }
        self.disk_bytes += data.len() as u64 + aligned;
        self.segments.insert(
            id,
            Segment {
                len: data.len() as u64,
                pending,
                ack: None,
                ack_len: aligned,
            },
        );
    }

    /// (batches waiting, bytes on disk).
    pub fn usage(&self) -> (usize, u64) {
        (self.index.len(), self.disk_bytes)
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// The profile count of the oldest waiting batch.
    pub fn front_profiles(&self) -> Option<usize> {
        self.index.front().map(|l| l.profiles)
    }

    /// The segment file and offset of a record.
    pub fn record_path(&self, ticket: &Ticket) -> (PathBuf, u64) {
        (seg_path(&self.dir, ticket.segment), ticket.offset)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Appends one encoded batch. On success returns a handle to make it
    /// durable with (`sync_data`), to be called without holding the
    /// queue's lock.
    pub fn append(&mut self, payload: &[u8], profiles: usize) -> Result<Option<File>, AppendError> {
        let len = u32::try_from(payload.len()).map_err(|_| AppendError::TooLarge {
            record: payload.len() as u64,
            max_bytes: self.max_bytes,
        })?;
        let rec = HEADER_BYTES + u64::from(len);
        if rec > self.max_bytes {
            return Err(AppendError::TooLarge {
                record: rec,
                max_bytes: self.max_bytes,
            });
        }
        if self.disk_bytes.saturating_add(rec) > self.max_bytes {
            return Err(AppendError::Full);
        }
        let rotate = match &self.active {
            None => true,
            Some((id, _)) => self
                .segments
                .get(id)
                .is_none_or(|s| s.len >= self.segment_bytes),
        };
        if rotate {
            self.rotate().map_err(AppendError::Io)?;
        }
        let Some((id, file)) = self.active.as_mut() else {
            return Err(AppendError::Io(std::io::Error::other("no active segment")));
        };
        let id = *id;
        let mut buf = Vec::with_capacity(rec as usize);
        buf.extend_from_slice(&MAGIC);
        buf.extend_from_slice(&len.to_le_bytes());
        buf.extend_from_slice(&checksum(payload).to_le_bytes());
        buf.extend_from_slice(payload);
        let written = file.write_all(&buf);
        let handle = file.try_clone().ok();
        let actual_len = file.metadata().map(|m| m.len());
        let Some(seg) = self.segments.get_mut(&id) else {
            return Err(AppendError::Io(std::io::Error::other("segment vanished")));
        };
        if let Err(e) = written {
            // The segment may now end in a partial record, which a restart
            // skips; nothing more goes into it.
            let now = actual_len.unwrap_or(seg.len + rec);
            self.disk_bytes = self.disk_bytes - seg.len + now;
            seg.len = now;
            let empty = seg.pending == 0;
            self.active = None;
            if empty {
                self.remove_segment(id);
            }
            return Err(AppendError::Io(e));
        }
        let offset = seg.len;
        seg.len += rec;
        seg.pending += 1;
        self.disk_bytes += rec;
        self.index.push_back(Loc {
            segment: id,
            offset,
            len,
            profiles,
        });
        Ok(handle)
    }

    fn rotate(&mut self) -> std::io::Result<()> {
        if let Some((old, _)) = self.active.take() {
            if self.segments.get(&old).is_some_and(|s| s.pending == 0) {
                self.remove_segment(old);
            }
        }
        let id = self.next_segment;
        let file = OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(seg_path(&self.dir, id))?;
        self.next_segment += 1;
        // Make the new file's name durable too.
        if let Err(e) = File::open(&self.dir).and_then(|d| d.sync_all()) {
            self.events.storage_io_error("sync", &self.dir, &e);
        }
        self.segments.insert(
            id,
            Segment {
                len: 0,
                pending: 0,
                ack: None,
                ack_len: 0,
            },
        );
        self.active = Some((id, file));
        Ok(())
    }

    /// Takes the oldest batch's payload if it holds at most `max_profiles`
    /// profiles (or `max_profiles` is `None`). A record that no longer
    /// checks out is reported, counted as done and skipped.
    pub fn pop(&mut self, max_profiles: Option<usize>) -> Option<(Vec<u8>, Ticket)> {
        loop {
            let front = self.index.front()?;
            if max_profiles.is_some_and(|m| front.profiles > m) {
                return None;
            }
            let loc = self.index.pop_front()?;
            let ticket = Ticket {
                segment: loc.segment,
                offset: loc.offset,
            };
            match self.read(&loc) {
                Ok(payload) => return Some((payload, ticket)),
                Err(reason) => {
                    let path = seg_path(&self.dir, loc.segment);
                    self.events.storage_corrupt(&path, loc.offset, &reason);
                    self.ack(ticket);
                }
            }
        }
    }

    fn read(&mut self, loc: &Loc) -> Result<Vec<u8>, String> {
        if self
            .reader
            .as_ref()
            .is_none_or(|(id, _)| *id != loc.segment)
        {
            let f = File::open(seg_path(&self.dir, loc.segment)).map_err(|e| e.to_string())?;
            self.reader = Some((loc.segment, f));
        }
        let Some((_, f)) = self.reader.as_mut() else {
            return Err("no reader".to_string());
        };
        let mut buf = vec![0u8; HEADER_BYTES as usize + loc.len as usize];
        f.seek(SeekFrom::Start(loc.offset))
            .and_then(|_| f.read_exact(&mut buf))
            .map_err(|e| e.to_string())?;
        match check_at(&buf, 0) {
            Ok(len) if len == loc.len => {
                buf.drain(..HEADER_BYTES as usize);
                Ok(buf)
            }
            Ok(_) => Err("record length changed".to_string()),
            Err(reason) => Err(reason.to_string()),
        }
    }

    /// Marks a record done (delivered or given up); deletes its segment
    /// once all of the segment's records are done.
    pub fn ack(&mut self, ticket: Ticket) {
        let apath = ack_path(&self.dir, ticket.segment);
        let Some(seg) = self.segments.get_mut(&ticket.segment) else {
            return;
        };
        seg.pending = seg.pending.saturating_sub(1);
        if seg.pending == 0 {
            if self
                .active
                .as_ref()
                .is_some_and(|(id, _)| *id == ticket.segment)
            {
                self.active = None;
            }
            self.remove_segment(ticket.segment);
            return;
        }
        if seg.ack.is_none() {
            match OpenOptions::new().create(true).append(true).open(&apath) {
                Ok(f) => seg.ack = Some(f),
                Err(e) => {
                    self.events.storage_io_error("open", &apath, &e);
                    return;
                }
            }
        }
        if let Some(f) = seg.ack.as_mut() {
            match f.write_all(&ticket.offset.to_le_bytes()) {
                Ok(()) => {
                    seg.ack_len += 8;
                    self.disk_bytes += 8;
                }
                Err(e) => self.events.storage_io_error("write", &apath, &e),
            }
        }
    }

    fn remove_segment(&mut self, id: u64) {
        if self.reader.as_ref().is_some_and(|(r, _)| *r == id) {
            self.reader = None;
        }
        if let Some(seg) = self.segments.remove(&id) {
            self.disk_bytes = self.disk_bytes.saturating_sub(seg.len + seg.ack_len);
        }
        for p in [seg_path(&self.dir, id), ack_path(&self.dir, id)] {
            if let Err(e) = remove_if_present(&p) {
                self.events.storage_io_error("remove", &p, &e);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(payload: &[u8]) -> Vec<u8> {
        let mut v = MAGIC.to_vec();
        v.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        v.extend_from_slice(&checksum(payload).to_le_bytes());
        v.extend_from_slice(payload);
        v
    }

    #[test]
    fn scan_skips_damaged_stretches_and_resyncs() {
        let a = record(b"first");
        let b = record(b"second");
        let c = record(b"third");
        let mut data = [a.clone(), b.clone(), c.clone()].concat();
        let (good, bad) = scan(&data);
        assert_eq!(good.len(), 3);
        assert!(bad.is_empty());
        // A flipped payload byte in the middle record.
        data[a.len() + 14] ^= 0xff;
        let (good, bad) = scan(&data);
        assert_eq!(
            good.iter().map(|g| g.0).collect::<Vec<_>>(),
            [0, (a.len() + b.len()) as u64]
        );
        assert_eq!(bad, [(a.len() as u64, "checksum mismatch")]);
        // A tail cut short.
        let cut = [a.clone(), b[..7].to_vec()].concat();
        let (good, bad) = scan(&cut);
        assert_eq!(good.len(), 1);
        assert_eq!(bad, [(a.len() as u64, "truncated record header")]);
        // Garbage before a good record is one stretch.
        let junk = [b"xxxxxxxxxxxxxxxxxxxx".to_vec(), c].concat();
        let (good, bad) = scan(&junk);
        assert_eq!((good.len(), bad.len()), (1, 1));
    }

    #[test]
    fn exporter_dirs_are_sanitized() {
        assert_eq!(
            exporter_dir(Path::new("/q"), "otlp_http/a b[0]"),
            Path::new("/q/otlp_http_a_b_0_")
        );
    }
}
