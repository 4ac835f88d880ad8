//! `sending_queue`: a bounded in-memory FIFO of batches between `consume()`
//! and the sending workers. Bounded both in batches (`queue_size`) and in
//! bytes (`max_bytes`); when full, the batch being offered — the newest — is
//! refused, as in the OpenTelemetry collector. With `storage` configured
//! the queue is persistent instead ([`crate::storage`]): batches wait on
//! disk, bounded by `storage.max_bytes`, and survive restarts.
//!
//! With `block_on_overflow` (the Collector's key, default false) a full
//! queue makes [`Queue::offer`] / [`Queue::offer_durable`] wait for room
//! instead: until a worker takes a batch (memory) or a segment is deleted
//! (disk), the exporter shuts down, or the caller gives up
//! ([`profcol_runtime::caller`]). A batch that could never fit is still
//! refused at once.

use crate::events::ExporterEvents;
use crate::storage::{AppendError, Store, Ticket};
use crate::storage_codec;
use profcol_config::{join_path, Problem, Validate};
use profcol_pdata::ProfileBatch;
use prometheus_client::metrics::gauge::Gauge;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use tokio::sync::Notify;

/// The keys of [`QueueConfig`].
pub const QUEUE_KEYS: &[&str] = &[
    "enabled",
    "num_consumers",
    "queue_size",
    "max_bytes",
    "block_on_overflow",
    "max_batch_size",
    "flush_timeout",
    "storage",
];

/// The `sending_queue` block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct QueueConfig {
    /// false = `consume()` sends (with retries) before returning.
    pub enabled: bool,
    /// Concurrent senders.
    pub num_consumers: usize,
    /// Capacity in batches.
    pub queue_size: usize,
    /// Capacity in bytes of profile data (raw pprof or an estimate).
    pub max_bytes: u64,
    /// When full, `consume()` waits for room instead of refusing.
    pub block_on_overflow: bool,
    /// Waiting batches are merged into one request of at most this many
    /// profiles.
    pub max_batch_size: usize,
    /// How long a worker holding fewer than `max_batch_size` profiles waits
    /// for more before sending.
    pub flush_timeout: profcol_config::Duration,
    /// Keep queued batches on disk instead of in memory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub storage: Option<crate::config::StorageConfig>,
    #[serde(flatten, skip_serializing)]
    pub unknown: crate::config::Unknown,
}

/// Profiles per request by default. Bigger requests share one dictionary
/// among more profiles, but past ~20 scraped profiles the CPU per profile
/// no longer falls, while the request being built and compressed keeps
/// growing: at 1,000 scale targets, 20 and 100 cost the same CPU per
/// profile and 100 held 32 MiB more (BENCHMARKS.md, "One ingest path").
pub const DEFAULT_MAX_BATCH_SIZE: usize = 20;

impl Default for QueueConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            num_consumers: 10,
            queue_size: 1000,
            max_bytes: 256 * 1024 * 1024,
            block_on_overflow: false,
            max_batch_size: DEFAULT_MAX_BATCH_SIZE,
            flush_timeout: profcol_config::Duration::from_millis(200),
            storage: None,
            unknown: Default::default(),
        }
    }
}

impl Validate for QueueConfig {
    fn validate(&self, path: &str, problems: &mut Vec<Problem>) {
        let mut positive = |field: &str, v: u64| {
            if v == 0 {
                problems.push(Problem::new(
                    join_path(path, field),
                    "must be greater than 0",
                ));
            }
        };
        positive("num_consumers", self.num_consumers as u64);
        positive("queue_size", self.queue_size as u64);
        positive("max_bytes", self.max_bytes);
        positive("max_batch_size", self.max_batch_size as u64);
        if let Some(storage) = &self.storage {
            let at = join_path(path, "storage");
            if !self.enabled {
                problems.push(Problem::new(
                    at.clone(),
                    "needs the sending queue enabled (enabled: true)",
                ));
            }
            storage.validate(&at, problems);
        }
        crate::config::unknown_keys(&self.unknown, path, QUEUE_KEYS, problems);
    }
}

/// Why a batch was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Full,
    Closed,
    /// The persistent queue could not write it.
    Storage,
    /// Larger than the whole queue: waiting for room could never help.
    TooLarge,
    /// The caller stopped waiting for room (its receiver is stopping).
    GaveUp,
}

impl Refusal {
    /// The `reason` label a refused batch is counted under.
    pub fn reason(self) -> &'static str {
        match self {
            Refusal::Full => "queue_full",
            Refusal::Closed | Refusal::GaveUp => "shutdown",
            Refusal::Storage => "storage_error",
            Refusal::TooLarge => "too_large",
        }
    }
}

/// A batch the queue did not take: why, and the sentence that says so.
#[derive(Debug)]
pub struct Refused {
    pub why: Refusal,
    pub detail: String,
}

const GAVE_UP: &str =
    "the receiver stopped while the batch waited for room in the full sending queue";

/// What a caller that waited for room is told when the wait ended in a
/// refusal.
fn after_waiting(why: Refusal, waited: bool) -> Option<&'static str> {
    match (why, waited) {
        (Refusal::Closed, true) => {
            Some("the exporter shut down while the batch waited for room in the full sending queue")
        }
        (Refusal::GaveUp, _) => Some(GAVE_UP),
        _ => None,
    }
}

/// What a worker takes from the queue: a batch (possibly several merged),
/// its queued bytes, and, with a persistent queue, the records to
/// [`Queue::ack`] once it is delivered or given up.
pub struct Popped {
    pub batch: ProfileBatch,
    pub bytes: usize,
    pub tickets: Vec<Ticket>,
}

impl Popped {
    /// Appends `other` (merging two pops into one request).
    pub fn merge(&mut self, other: Popped) {
        self.batch.extend(other.batch);
        self.bytes += other.bytes;
        self.tickets.extend(other.tickets);
    }
}

struct Entry {
    batch: ProfileBatch,
    bytes: usize,
}

enum Backend {
    Memory {
        items: VecDeque<Entry>,
        bytes: usize,
    },
    Disk(Box<Store>),
}

struct State {
    backend: Backend,
    closed: bool,
}

/// A popped record that no longer decodes, to be reported and acked.
enum Taken {
    Batch(Popped),
    Undecodable(Ticket, PathBuf, u64, String),
    /// A stored batch whose every profile failed the read-back checks.
    AllRefused(Ticket),
}

/// One caller counted as waiting for room, until dropped.
struct Waiting(Gauge);

impl Drop for Waiting {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// The queue itself; shared by the consumer side and the workers.
pub struct Queue {
    state: Mutex<State>,
    notify: Notify,
    /// Wakes callers waiting for room (`block_on_overflow`): a batch was
    /// taken, a persistent record acked, or the queue closed.
    room: Notify,
    block_on_overflow: bool,
    /// Counts the callers waiting for room, when set.
    waiting: Option<Gauge>,
    capacity: usize,
    max_bytes: usize,
    events: Option<Arc<ExporterEvents>>,
    storage_dir: Option<PathBuf>,
    /// The caps profiles read back from the store are checked against.
    read_back_limits: profcol_pdata::pprof::DecodeLimits,
}

impl Queue {
    /// An in-memory queue.
    pub fn new(capacity: usize, max_bytes: u64) -> Self {
        Self {
            state: Mutex::new(State {
                backend: Backend::Memory {
                    items: VecDeque::new(),
                    bytes: 0,
                },
                closed: false,
            }),
            notify: Notify::new(),
            room: Notify::new(),
            block_on_overflow: false,
            waiting: None,
            capacity: capacity.max(1),
            max_bytes: usize::try_from(max_bytes).unwrap_or(usize::MAX).max(1),
            events: None,
            storage_dir: None,
            read_back_limits: Default::default(),
        }
    }

    /// A persistent queue over `store`, bounded by the store's `max_bytes`
    /// only; what the store holds from a previous run comes out first.
    pub fn persistent(store: Store, events: Arc<ExporterEvents>) -> Self {
        let storage_dir = Some(store.dir().to_path_buf());
        Self {
            state: Mutex::new(State {
                backend: Backend::Disk(Box::new(store)),
                closed: false,
            }),
            notify: Notify::new(),
            room: Notify::new(),
            block_on_overflow: false,
            waiting: None,
            capacity: usize::MAX,
            max_bytes: usize::MAX,
            events: Some(events),
            storage_dir,
            read_back_limits: Default::default(),
        }
    }

    /// With `block`, a full queue makes [`Queue::offer`] and
    /// [`Queue::offer_durable`] wait for room instead of refusing.
    pub fn blocking_on_overflow(mut self, block: bool) -> Self {
        self.block_on_overflow = block;
        self
    }

    /// Counts the callers waiting for room in `gauge` while they wait.
    pub fn counting_waits(mut self, gauge: Gauge) -> Self {
        self.waiting = Some(gauge);
        self
    }

    /// The caller is waiting for room until the returned guard drops.
    fn wait_mark(&self) -> (profcol_runtime::caller::WaitMark, Option<Waiting>) {
        let counted = self.waiting.clone().map(|g| {
            g.inc();
            Waiting(g)
        });
        (profcol_runtime::caller::waiting(), counted)
    }

    /// Checks profiles read back from the store against `limits` (the
    /// default: the decoder's default caps).
    pub fn reading_back_under(mut self, limits: profcol_pdata::pprof::DecodeLimits) -> Self {
        self.read_back_limits = limits;
        self
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    pub fn is_persistent(&self) -> bool {
        matches!(self.lock().backend, Backend::Disk(_))
    }

    /// (batches, bytes) waiting; with a persistent queue the bytes are those
    /// its files take on disk.
    pub fn usage(&self) -> (usize, usize) {
        match &self.lock().backend {
            Backend::Memory { items, bytes } => (items.len(), *bytes),
            Backend::Disk(store) => {
                let (n, b) = store.usage();
                (n, usize::try_from(b).unwrap_or(usize::MAX))
            }
        }
    }

    /// Queues `batch` in memory; refuses it when either bound would be
    /// exceeded. A batch bigger than `max_bytes` on its own is accepted only
    /// into an empty queue, so it is not refused forever. A persistent queue
    /// takes batches through [`Queue::push_durable`] instead.
    pub fn push(&self, batch: ProfileBatch, bytes: usize) -> Result<(), (ProfileBatch, Refusal)> {
        let mut s = self.lock();
        if s.closed {
            return Err((batch, Refusal::Closed));
        }
        let Backend::Memory {
            items,
            bytes: queued,
        } = &mut s.backend
        else {
            return Err((batch, Refusal::Storage));
        };
        let over_bytes = !items.is_empty() && queued.saturating_add(bytes) > self.max_bytes;
        if items.len() >= self.capacity || over_bytes {
            return Err((batch, Refusal::Full));
        }
        *queued += bytes;
        items.push_back(Entry { batch, bytes });
        drop(s);
        self.notify.notify_one();
        Ok(())
    }

    /// Queues `batch` in memory ([`Queue::push`]); with
    /// `block_on_overflow`, a full queue makes it wait for room until a
    /// worker takes a batch, the queue closes or the caller gives up. A
    /// batch larger than `max_bytes` on its own is then refused at once
    /// unless the queue is empty: waiting could never make it fit.
    pub async fn offer(
        &self,
        batch: ProfileBatch,
        bytes: usize,
    ) -> Result<(), (ProfileBatch, Refused)> {
        let mut batch = batch;
        let mut mark = None;
        loop {
            let room = self.room.notified();
            tokio::pin!(room);
            room.as_mut().enable();
            let why = match self.push(batch, bytes) {
                Ok(()) => return Ok(()),
                Err((b, why)) => {
                    batch = b;
                    why
                }
            };
            let why = match why {
                Refusal::Full if self.block_on_overflow && bytes > self.max_bytes => {
                    Refusal::TooLarge
                }
                why => why,
            };
            if why != Refusal::Full || !self.block_on_overflow {
                let detail = self.memory_detail(why, bytes, mark.is_some());
                return Err((batch, Refused { why, detail }));
            }
            mark.get_or_insert_with(|| self.wait_mark());
            tokio::select! {
                _ = &mut room => {}
                _ = profcol_runtime::caller::cancelled() => {
                    let detail = self.memory_detail(Refusal::GaveUp, bytes, true);
                    return Err((batch, Refused { why: Refusal::GaveUp, detail }));
                }
            }
        }
    }

    fn memory_detail(&self, why: Refusal, bytes: usize, waited: bool) -> String {
        if let Some(text) = after_waiting(why, waited) {
            return text.to_string();
        }
        match why {
            Refusal::Full => "the sending queue is full; the newest batch is refused".to_string(),
            Refusal::TooLarge => format!(
                "the batch takes {bytes} bytes, more than the whole sending_queue.max_bytes ({}); waiting for room could never make it fit, so it is refused at once",
                self.max_bytes
            ),
            Refusal::Closed => "the exporter is shutting down".to_string(),
            Refusal::Storage => "the queue could not store the batch".to_string(),
            Refusal::GaveUp => GAVE_UP.to_string(),
        }
    }

    /// Writes `batch` to the persistent queue and makes it durable; with
    /// `block_on_overflow`, a full store makes it wait (asynchronously)
    /// for a segment to be deleted, the queue to close or the caller to
    /// give up. A record larger than `storage.max_bytes` is refused at once.
    pub async fn offer_durable(self: &Arc<Self>, batch: ProfileBatch) -> Result<(), Refused> {
        let profiles = batch.len();
        let payload =
            match tokio::task::spawn_blocking(move || storage_codec::encode_batch(&batch)).await {
                Ok(p) => Arc::new(p),
                Err(e) => {
                    return Err(Refused {
                        why: Refusal::Storage,
                        detail: format!("the batch could not be encoded: {e}"),
                    })
                }
            };
        let mut mark = None;
        loop {
            let room = self.room.notified();
            tokio::pin!(room);
            room.as_mut().enable();
            let (q, p) = (self.clone(), payload.clone());
            let result = tokio::task::spawn_blocking(move || q.append_durable(&p, profiles))
                .await
                .unwrap_or_else(|e| Err((Refusal::Storage, e.to_string())));
            match result {
                Ok(()) => return Ok(()),
                Err((Refusal::Full, _)) if self.block_on_overflow => {}
                Err((why, detail)) => {
                    let detail = after_waiting(why, mark.is_some())
                        .map(str::to_string)
                        .unwrap_or(detail);
                    return Err(Refused { why, detail });
                }
            }
            mark.get_or_insert_with(|| self.wait_mark());
            tokio::select! {
                _ = &mut room => {}
                _ = profcol_runtime::caller::cancelled() => {
                    return Err(Refused { why: Refusal::GaveUp, detail: GAVE_UP.to_string() });
                }
            }
        }
    }

    /// Writes `batch` to the persistent queue and makes it durable
    /// (`fdatasync`) before returning. Blocking: call it off the async
    /// workers. On refusal, the detail to report.
    pub fn push_durable(&self, batch: &ProfileBatch) -> Result<(), (Refusal, String)> {
        self.append_durable(&storage_codec::encode_batch(batch), batch.len())
    }

    /// [`Queue::push_durable`] of an encoded batch.
    fn append_durable(&self, payload: &[u8], profiles: usize) -> Result<(), (Refusal, String)> {
        let handle = {
            let mut s = self.lock();
            if s.closed {
                return Err((Refusal::Closed, "the exporter is shutting down".into()));
            }
            let Backend::Disk(store) = &mut s.backend else {
                return Err((Refusal::Storage, "not a persistent queue".into()));
            };
            match store.append(payload, profiles) {
                Ok(h) => h,
                Err(AppendError::Full) => return Err((
                    Refusal::Full,
                    "the persistent queue reached storage.max_bytes; the newest batch is refused"
                        .into(),
                )),
                Err(AppendError::TooLarge { record, max_bytes }) => return Err((
                    Refusal::TooLarge,
                    format!("the batch takes {record} bytes on disk, more than the whole storage.max_bytes ({max_bytes}); waiting for room could never make it fit, so it is refused at once"),
                )),
                Err(AppendError::Io(e)) => {
                    return Err((
                        Refusal::Storage,
                        format!("cannot write to {}: {e}", store.dir().display()),
                    ))
                }
            }
        };
        self.notify.notify_one();
        // Synced outside the lock so that senders are not held up; the
        // batch is already queued, a failed sync only weakens durability.
        if let Some(file) = handle {
            if let Err(e) = file.sync_data() {
                if let (Some(ev), Some(dir)) = (&self.events, &self.storage_dir) {
                    ev.storage_io_error("sync", dir, &e);
                }
            }
        }
        Ok(())
    }

    fn take(&self, max_records: Option<usize>) -> Option<Taken> {
        let mut s = self.lock();
        let (taken, more) = match &mut s.backend {
            Backend::Memory { items, bytes } => {
                let fits = items
                    .front()
                    .is_some_and(|e| max_records.is_none_or(|m| e.batch.len() <= m));
                if !fits {
                    return None;
                }
                let e = items.pop_front()?;
                *bytes -= e.bytes;
                self.room.notify_waiters();
                let popped = Popped {
                    batch: e.batch,
                    bytes: e.bytes,
                    tickets: Vec::new(),
                };
                (Taken::Batch(popped), !items.is_empty())
            }
            Backend::Disk(store) => {
                let (payload, ticket) = store.pop(max_records)?;
                let more = !store.is_empty();
                let (path, offset) = store.record_path(&ticket);
                drop(s);
                let bytes = payload.len();
                let taken = match storage_codec::read_batch(&payload, &self.read_back_limits) {
                    Ok(read) => {
                        if let Some(ev) = &self.events {
                            for refused in &read.refused {
                                ev.storage_refused(&path, offset, refused);
                            }
                        }
                        let batch = read.batch;
                        let emptied = !read.refused.is_empty()
                            && batch.records.is_empty()
                            && batch.otlp.is_empty();
                        if emptied {
                            Taken::AllRefused(ticket)
                        } else {
                            Taken::Batch(Popped {
                                batch,
                                bytes,
                                tickets: vec![ticket],
                            })
                        }
                    }
                    Err(e) => Taken::Undecodable(ticket, path, offset, e),
                };
                if more {
                    self.notify.notify_one();
                }
                return Some(taken);
            }
        };
        drop(s);
        if more {
            // Pass the wake-up on: another worker may be idle.
            self.notify.notify_one();
        }
        Some(taken)
    }

    /// Takes the oldest batch if it has at most `max_records` profiles
    /// (or `max_records` is `None`).
    pub fn try_pop(&self, max_records: Option<usize>) -> Option<Popped> {
        loop {
            match self.take(max_records)? {
                Taken::Batch(p) => return Some(p),
                Taken::Undecodable(ticket, path, offset, reason) => {
                    if let Some(ev) = &self.events {
                        ev.storage_corrupt(&path, offset, &reason);
                    }
                    self.ack(&[ticket]);
                }
                Taken::AllRefused(ticket) => self.ack(&[ticket]),
            }
        }
    }

    /// Marks persistent records done (delivered or given up for good).
    pub fn ack(&self, tickets: &[Ticket]) {
        if tickets.is_empty() {
            return;
        }
        let mut s = self.lock();
        if let Backend::Disk(store) = &mut s.backend {
            for t in tickets {
                store.ack(*t);
            }
        }
        drop(s);
        self.room.notify_waiters();
    }

    fn is_empty(s: &State) -> bool {
        match &s.backend {
            Backend::Memory { items, .. } => items.is_empty(),
            Backend::Disk(store) => store.is_empty(),
        }
    }

    /// Waits for the oldest batch; `None` once closed and empty.
    pub async fn pop(&self) -> Option<Popped> {
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(x) = self.try_pop(None) {
                return Some(x);
            }
            if self.is_closed() {
                return None;
            }
            notified.await;
        }
    }

    /// Waits up to `deadline` for a batch of at most `max_records` profiles.
    pub async fn pop_fitting_until(
        &self,
        max_records: usize,
        deadline: tokio::time::Instant,
    ) -> Option<Popped> {
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(x) = self.try_pop(Some(max_records)) {
                return Some(x);
            }
            let stop = {
                let s = self.lock();
                // Closing: flush now. Non-empty: the head does not fit.
                s.closed || !Self::is_empty(&s)
            };
            if stop {
                return None;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return None;
            }
        }
    }

    pub fn is_closed(&self) -> bool {
        self.lock().closed
    }

    /// Refuses new batches; workers drain what is queued and then stop.
    pub fn close(&self) {
        self.lock().closed = true;
        self.notify.notify_waiters();
        self.room.notify_waiters();
    }

    /// Removes and returns everything still queued in memory. A persistent
    /// queue keeps its batches on disk for the next start and returns none.
    pub fn drain(&self) -> Vec<ProfileBatch> {
        let mut s = self.lock();
        match &mut s.backend {
            Backend::Memory { items, bytes } => {
                *bytes = 0;
                self.room.notify_waiters();
                items.drain(..).map(|e| e.batch).collect()
            }
            Backend::Disk(_) => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use profcol_pdata::{pprof, Labels, ProfileRecord};

    fn batch(n: usize) -> ProfileBatch {
        ProfileBatch::new(
            (0..n)
                .map(|_| {
                    ProfileRecord::from_profile(
                        Labels::new(),
                        &pprof::Profile::empty("samples", "count"),
                    )
                    .unwrap()
                })
                .collect(),
        )
    }

    #[test]
    fn refuses_the_newest_when_full_by_count_or_bytes() {
        let q = Queue::new(2, 100);
        q.push(batch(1), 10).unwrap();
        q.push(batch(2), 10).unwrap();
        let (refused, why) = q.push(batch(3), 10).unwrap_err();
        assert_eq!((refused.len(), why), (3, Refusal::Full));
        assert_eq!(
            q.try_pop(None).unwrap().batch.len(),
            1,
            "the oldest stays first"
        );
        assert_eq!(q.push(batch(4), 91).unwrap_err().1, Refusal::Full);
        q.push(batch(4), 90).unwrap();
        assert_eq!(q.usage(), (2, 100));
    }

    #[test]
    fn an_oversized_batch_fits_only_an_empty_queue() {
        let q = Queue::new(10, 100);
        q.push(batch(1), 500).unwrap();
        assert_eq!(q.push(batch(1), 1).unwrap_err().1, Refusal::Full);
    }

    #[tokio::test]
    async fn pop_waits_and_close_ends_it() {
        let q = std::sync::Arc::new(Queue::new(4, 1000));
        let q2 = q.clone();
        let waiter = tokio::spawn(async move { q2.pop().await.map(|b| b.batch.len()) });
        tokio::task::yield_now().await;
        q.push(batch(3), 1).unwrap();
        assert_eq!(waiter.await.unwrap(), Some(3));
        q.push(batch(1), 1).unwrap();
        q.close();
        assert_eq!(q.push(batch(1), 1).unwrap_err().1, Refusal::Closed);
        assert_eq!(
            q.pop().await.map(|b| b.batch.len()),
            Some(1),
            "drains after close"
        );
        assert!(q.pop().await.is_none());
    }

    #[tokio::test]
    async fn pop_fitting_respects_the_size_and_the_deadline() {
        let q = Queue::new(4, 1000);
        q.push(batch(5), 1).unwrap();
        let soon = tokio::time::Instant::now() + std::time::Duration::from_millis(20);
        assert!(q.pop_fitting_until(4, soon).await.is_none());
        assert_eq!(q.pop_fitting_until(5, soon).await.unwrap().batch.len(), 5);
        let started = std::time::Instant::now();
        let soon = tokio::time::Instant::now() + std::time::Duration::from_millis(30);
        assert!(q.pop_fitting_until(5, soon).await.is_none());
        assert!(started.elapsed() >= std::time::Duration::from_millis(25));
    }

    fn blocking(capacity: usize, max_bytes: u64) -> Arc<Queue> {
        Arc::new(Queue::new(capacity, max_bytes).blocking_on_overflow(true))
    }

    /// Starts an offer in its own task, to watch it wait.
    fn offer_in_task(
        q: &Arc<Queue>,
        n: usize,
        bytes: usize,
    ) -> tokio::task::JoinHandle<Result<(), Refusal>> {
        let q = q.clone();
        tokio::spawn(async move { q.offer(batch(n), bytes).await.map_err(|(_, r)| r.why) })
    }

    #[tokio::test(start_paused = true)]
    async fn a_blocked_offer_completes_when_a_worker_takes_a_batch() {
        let gauge = Gauge::default();
        let q = Arc::new(
            Queue::new(1, 1000)
                .blocking_on_overflow(true)
                .counting_waits(gauge.clone()),
        );
        q.offer(batch(1), 10).await.unwrap();
        assert_eq!(gauge.get(), 0, "an offer that finds room never waits");
        let waiting = offer_in_task(&q, 2, 10);
        tokio::time::sleep(std::time::Duration::from_secs(30)).await;
        assert!(!waiting.is_finished(), "a full queue makes the caller wait");
        assert_eq!(gauge.get(), 1, "the waiting caller is counted");
        assert_eq!(q.usage(), (1, 10));
        assert_eq!(q.try_pop(None).unwrap().batch.len(), 1);
        assert_eq!(waiting.await.unwrap(), Ok(()));
        assert_eq!(gauge.get(), 0, "and no longer once it got room");
        assert_eq!(
            q.try_pop(None).unwrap().batch.len(),
            2,
            "the waiting batch is queued"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_blocked_offer_waits_for_bytes_too() {
        let q = blocking(10, 100);
        q.offer(batch(1), 90).await.unwrap();
        let waiting = offer_in_task(&q, 1, 20);
        tokio::time::sleep(std::time::Duration::from_secs(5)).await;
        assert!(!waiting.is_finished());
        q.try_pop(None).unwrap();
        assert_eq!(waiting.await.unwrap(), Ok(()));
        assert_eq!(q.usage(), (1, 20));
    }

    #[tokio::test(start_paused = true)]
    async fn a_blocked_offer_is_refused_when_the_exporter_shuts_down() {
        let q = blocking(1, 1000);
        q.offer(batch(1), 10).await.unwrap();
        let q2 = q.clone();
        let waiting =
            tokio::spawn(
                async move { q2.offer(batch(3), 10).await.map_err(|(b, r)| (b.len(), r)) },
            );
        tokio::time::sleep(std::time::Duration::from_secs(60)).await;
        assert!(!waiting.is_finished());
        q.close();
        let (profiles, refused) = waiting.await.unwrap().unwrap_err();
        assert_eq!((profiles, refused.why), (3, Refusal::Closed));
        assert_eq!(refused.why.reason(), "shutdown");
        assert!(
            refused
                .detail
                .contains("shut down while the batch waited for room"),
            "{}",
            refused.detail
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_blocked_offer_ends_when_its_caller_gives_up() {
        use profcol_runtime::caller::{self, Caller, WaitObserver};
        use std::sync::atomic::{AtomicUsize, Ordering};
        #[derive(Default)]
        struct Waits(AtomicUsize, AtomicUsize);
        impl WaitObserver for Waits {
            fn wait_started(&self) {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
            fn wait_ended(&self) {
                self.1.fetch_add(1, Ordering::SeqCst);
            }
        }
        let gauge = Gauge::default();
        let q = Arc::new(
            Queue::new(1, 1000)
                .blocking_on_overflow(true)
                .counting_waits(gauge.clone()),
        );
        q.offer(batch(1), 10).await.unwrap();
        let token = tokio_util::sync::CancellationToken::new();
        let waits = Arc::new(Waits::default());
        let caller = Caller {
            gave_up: token.clone(),
            observer: Some(waits.clone()),
        };
        let q2 = q.clone();
        let waiting = tokio::spawn(caller::scope(caller, async move {
            q2.offer(batch(1), 10).await.map_err(|(_, r)| r)
        }));
        tokio::time::sleep(std::time::Duration::from_secs(10)).await;
        assert_eq!(
            waits.0.load(Ordering::SeqCst),
            1,
            "the caller is told it waits"
        );
        assert_eq!(waits.1.load(Ordering::SeqCst), 0);
        assert_eq!(gauge.get(), 1);
        token.cancel();
        let refused = waiting.await.unwrap().unwrap_err();
        assert_eq!(refused.why, Refusal::GaveUp);
        assert_eq!(refused.why.reason(), "shutdown");
        assert_eq!(waits.1.load(Ordering::SeqCst), 1);
        assert_eq!(gauge.get(), 0, "a caller that gave up is no longer counted");
        assert_eq!(q.usage(), (1, 10), "nothing was added");
    }

    #[tokio::test(start_paused = true)]
    async fn an_oversized_batch_is_refused_at_once_even_when_blocking() {
        let q = blocking(10, 100);
        q.offer(batch(1), 10).await.unwrap();
        let started = tokio::time::Instant::now();
        let (_, refused) = q.offer(batch(1), 500).await.unwrap_err();
        assert_eq!(started.elapsed(), std::time::Duration::ZERO);
        assert_eq!(
            (refused.why, refused.why.reason()),
            (Refusal::TooLarge, "too_large")
        );
        assert!(
            refused
                .detail
                .contains("more than the whole sending_queue.max_bytes (100)")
                && refused.detail.contains("could never make it fit"),
            "{}",
            refused.detail
        );
        // As without blocking, an empty queue takes it.
        let q = blocking(10, 100);
        q.offer(batch(1), 500).await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn by_default_a_full_queue_refuses_the_newest_at_once() {
        let q = Queue::new(1, 1000);
        q.offer(batch(1), 10).await.unwrap();
        let started = tokio::time::Instant::now();
        let (refused_batch, refused) = q.offer(batch(2), 10).await.unwrap_err();
        assert_eq!(started.elapsed(), std::time::Duration::ZERO);
        assert_eq!((refused_batch.len(), refused.why), (2, Refusal::Full));
        assert_eq!(refused.why.reason(), "queue_full");
        assert_eq!(
            refused.detail,
            "the sending queue is full; the newest batch is refused"
        );
    }

    fn disk_queue(dir: &std::path::Path, max_bytes: u64, block: bool) -> Arc<Queue> {
        let events = Arc::new(ExporterEvents::new(
            "otlp_http/disk",
            Arc::new(crate::metrics::ExporterMetrics::default()),
        ));
        let store = Store::open(dir, max_bytes, 64 << 10, events.clone()).unwrap();
        Arc::new(Queue::persistent(store, events).blocking_on_overflow(block))
    }

    // Real time: the persistent queue writes on the blocking pool.
    #[tokio::test]
    async fn a_persistent_queue_waits_for_a_deleted_segment_and_ends_at_shutdown() {
        let one = storage_codec::encode_batch(&batch(1)).len() as u64 + 12;
        let dir = tempfile::tempdir().unwrap();
        let q = disk_queue(dir.path(), one * 3 / 2, true);
        q.offer_durable(batch(1)).await.unwrap();
        let q2 = q.clone();
        let waiting =
            tokio::spawn(async move { q2.offer_durable(batch(1)).await.map_err(|r| r.why) });
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        assert!(!waiting.is_finished(), "a full store makes the caller wait");
        // Delivered and acked: the segment goes, and with it the bytes.
        let popped = q.try_pop(None).unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        assert!(!waiting.is_finished(), "taken is not yet delivered");
        q.ack(&popped.tickets);
        tokio::time::timeout(std::time::Duration::from_secs(5), waiting)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(q.usage().0, 1);

        // Full again: shutdown ends the wait.
        let q2 = q.clone();
        let waiting = tokio::spawn(async move { q2.offer_durable(batch(1)).await });
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        assert!(!waiting.is_finished());
        q.close();
        let refused = tokio::time::timeout(std::time::Duration::from_secs(5), waiting)
            .await
            .unwrap()
            .unwrap()
            .unwrap_err();
        assert_eq!(refused.why, Refusal::Closed);
        assert!(
            refused.detail.contains("shut down while the batch waited"),
            "{}",
            refused.detail
        );
    }

    #[tokio::test]
    async fn a_persistent_queue_refuses_what_could_never_fit_and_by_default_what_does_not_fit_now()
    {
        let one = storage_codec::encode_batch(&batch(1)).len() as u64 + 12;
        let dir = tempfile::tempdir().unwrap();
        let q = disk_queue(dir.path(), one / 2, true);
        let refused = q.offer_durable(batch(1)).await.unwrap_err();
        assert_eq!(refused.why, Refusal::TooLarge);
        assert!(
            refused
                .detail
                .contains("more than the whole storage.max_bytes"),
            "{}",
            refused.detail
        );

        let dir = tempfile::tempdir().unwrap();
        let q = disk_queue(dir.path(), one * 3 / 2, false);
        q.offer_durable(batch(1)).await.unwrap();
        let refused = q.offer_durable(batch(1)).await.unwrap_err();
        assert_eq!(refused.why, Refusal::Full);
    }
}
