//! `sending_queue`: a bounded in-memory FIFO of batches between `consume()`
//! and the sending workers. Bounded both in batches (`queue_size`) and in
//! bytes (`max_bytes`); when full, the batch being offered — the newest — is
//! refused, as in the OpenTelemetry collector.

use profcol_config::{join_path, Problem, Validate};
use profcol_pdata::ProfileBatch;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard, PoisonError};
use tokio::sync::Notify;

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
    #[serde(flatten)]
    pub unknown: crate::config::Unknown,
}

impl Default for QueueConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            num_consumers: 10,
            queue_size: 1000,
            max_bytes: 256 * 1024 * 1024,
            max_batch_size: 100,
            flush_timeout: profcol_config::Duration::from_millis(200),
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
        crate::config::unknown_keys(&self.unknown, path, problems);
    }
}

/// Why a batch was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Full,
    Closed,
}

struct Entry {
    batch: ProfileBatch,
    bytes: usize,
}

#[derive(Default)]
struct State {
    items: VecDeque<Entry>,
    bytes: usize,
    closed: bool,
}

/// The queue itself; shared by the consumer side and the workers.
pub struct Queue {
    state: Mutex<State>,
    notify: Notify,
    capacity: usize,
    max_bytes: usize,
}

impl Queue {
    pub fn new(capacity: usize, max_bytes: u64) -> Self {
        Self {
            state: Mutex::default(),
            notify: Notify::new(),
            capacity: capacity.max(1),
            max_bytes: usize::try_from(max_bytes).unwrap_or(usize::MAX).max(1),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// (batches, bytes) waiting.
    pub fn usage(&self) -> (usize, usize) {
        let s = self.lock();
        (s.items.len(), s.bytes)
    }

    /// Queues `batch`; refuses it when either bound would be exceeded. A
    /// batch bigger than `max_bytes` on its own is accepted only into an
    /// empty queue, so it is not refused forever.
    pub fn push(&self, batch: ProfileBatch, bytes: usize) -> Result<(), (ProfileBatch, Refusal)> {
        let mut s = self.lock();
        if s.closed {
            return Err((batch, Refusal::Closed));
        }
        let over_bytes = !s.items.is_empty() && s.bytes.saturating_add(bytes) > self.max_bytes;
        if s.items.len() >= self.capacity || over_bytes {
            return Err((batch, Refusal::Full));
        }
        s.bytes += bytes;
        s.items.push_back(Entry { batch, bytes });
        drop(s);
        self.notify.notify_one();
        Ok(())
    }

    /// Takes the oldest batch if it has at most `max_records` profiles
    /// (or `max_records` is `None`).
    pub fn try_pop(&self, max_records: Option<usize>) -> Option<(ProfileBatch, usize)> {
        let mut s = self.lock();
        let fits = s
            .items
            .front()
            .is_some_and(|e| max_records.is_none_or(|m| e.batch.len() <= m));
        if !fits {
            return None;
        }
        let e = s.items.pop_front()?;
        s.bytes -= e.bytes;
        let more = !s.items.is_empty();
        drop(s);
        if more {
            // Pass the wake-up on: another worker may be idle.
            self.notify.notify_one();
        }
        Some((e.batch, e.bytes))
    }

    /// Waits for the oldest batch; `None` once closed and empty.
    pub async fn pop(&self) -> Option<(ProfileBatch, usize)> {
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
    ) -> Option<(ProfileBatch, usize)> {
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
                s.closed || !s.items.is_empty()
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

    /// Removes and returns everything still queued.
    pub fn drain(&self) -> Vec<ProfileBatch> {
        let mut s = self.lock();
        s.bytes = 0;
        s.items.drain(..).map(|e| e.batch).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use profcol_pdata::{pprof, Labels, ProfileRecord};

    fn batch(n: usize) -> ProfileBatch {
        ProfileBatch::new(
            (0..n)
                .map(|_| ProfileRecord::new(Labels::new(), pprof::Profile::default()))
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
            q.try_pop(None).unwrap().0.len(),
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
        let waiter = tokio::spawn(async move { q2.pop().await.map(|b| b.0.len()) });
        tokio::task::yield_now().await;
        q.push(batch(3), 1).unwrap();
        assert_eq!(waiter.await.unwrap(), Some(3));
        q.push(batch(1), 1).unwrap();
        q.close();
        assert_eq!(q.push(batch(1), 1).unwrap_err().1, Refusal::Closed);
        assert_eq!(
            q.pop().await.map(|b| b.0.len()),
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
        assert_eq!(q.pop_fitting_until(5, soon).await.unwrap().0.len(), 5);
        let started = std::time::Instant::now();
        let soon = tokio::time::Instant::now() + std::time::Duration::from_millis(30);
        assert!(q.pop_fitting_until(5, soon).await.is_none());
        assert!(started.elapsed() >= std::time::Duration::from_millis(25));
    }
}
