//! `sending_queue`: a bounded in-memory FIFO of batches between `consume()`
//! and the sending workers. Bounded both in batches (`queue_size`) and in
//! bytes (`max_bytes`); when full, the batch being offered — the newest — is
//! refused, as in the OpenTelemetry collector. With `storage` configured
//! the queue is persistent instead ([`crate::storage`]): batches wait on
//! disk, bounded by `storage.max_bytes`, and survive restarts.

use crate::events::ExporterEvents;
use crate::storage::{AppendError, Store, Ticket};
use crate::storage_codec;
use profcol_config::{join_path, Problem, Validate};
use profcol_pdata::ProfileBatch;
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
    /// Waiting batches are merged into one request of at most this many
    /// profiles.
    pub max_batch_size: usize,
    /// How long a worker holding fewer than `max_batch_size` profiles waits
    /// for more before sending.
    pub flush_timeout: profcol_config::Duration,
    /// Keep queued batches on disk instead of in memory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub storage: Option<crate::config::StorageConfig>,
    #[serde(flatten)]
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

/// The queue itself; shared by the consumer side and the workers.
pub struct Queue {
    state: Mutex<State>,
    notify: Notify,
    capacity: usize,
    max_bytes: usize,
    events: Option<Arc<ExporterEvents>>,
    storage_dir: Option<PathBuf>,
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
            capacity: capacity.max(1),
            max_bytes: usize::try_from(max_bytes).unwrap_or(usize::MAX).max(1),
            events: None,
            storage_dir: None,
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
            capacity: usize::MAX,
            max_bytes: usize::MAX,
            events: Some(events),
            storage_dir,
        }
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

    /// Writes `batch` to the persistent queue and makes it durable
    /// (`fdatasync`) before returning. Blocking: call it off the async
    /// workers. On refusal, the detail to report.
    pub fn push_durable(&self, batch: &ProfileBatch) -> Result<(), (Refusal, String)> {
        let payload = storage_codec::encode_batch(batch);
        let handle = {
            let mut s = self.lock();
            if s.closed {
                return Err((Refusal::Closed, "the exporter is shutting down".into()));
            }
            let Backend::Disk(store) = &mut s.backend else {
                return Err((Refusal::Storage, "not a persistent queue".into()));
            };
            match store.append(&payload, batch.len()) {
                Ok(h) => h,
                Err(AppendError::Full) => return Err((
                    Refusal::Full,
                    "the persistent queue reached storage.max_bytes; the newest batch is refused"
                        .into(),
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
                let taken = match storage_codec::read_batch(&payload) {
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
    }

    /// Removes and returns everything still queued in memory. A persistent
    /// queue keeps its batches on disk for the next start and returns none.
    pub fn drain(&self) -> Vec<ProfileBatch> {
        let mut s = self.lock();
        match &mut s.backend {
            Backend::Memory { items, bytes } => {
                *bytes = 0;
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
}
