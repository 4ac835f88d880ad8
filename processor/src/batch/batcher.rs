//! The running `batch` processor: [`Batcher::consume`] adds a batch to its
//! batchers and, when one reaches `send_batch_size`, sends from it in the
//! caller's task (so a refusal downstream reaches the caller, who can
//! retry); a timer task sends each batch `timeout` after its first profile
//! arrived; [`Batcher::shutdown`] sends what is left within a deadline.
//!
//! A chunk refused downstream is not kept. Its profiles that came with the
//! refused call are that call's refusal (a push receiver answers 429 and
//! the sender retries); profiles accepted earlier (their callers were
//! answered with success and are gone) are counted and logged as dropped.
//! A timer or shutdown flush has no caller: all of a refused chunk is
//! counted and logged.

use super::config::BatchConfig;
use super::events::{BatchEvents, Loss, Trigger};
use super::pending::{units, Call, Chunk, Pending};
use super::shards::Shards;
use async_trait::async_trait;
use profcol_pdata::{Consumer, Error as DataError, ProfileBatch};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

pub struct Batcher {
    cfg: BatchConfig,
    next: Arc<dyn Consumer>,
    state: Mutex<State>,
    /// Wakes the timer task when a batcher starts a new batch.
    wake: Notify,
    calls: AtomicU64,
    events: BatchEvents,
}

struct State {
    shards: Shards,
    /// After shutdown, batches pass straight through.
    closed: bool,
}

impl Batcher {
    pub fn new(cfg: BatchConfig, next: Arc<dyn Consumer>, events: BatchEvents) -> Self {
        let shards = Shards::new(
            cfg.metadata_keys.clone(),
            cfg.metadata_cardinality_limit as usize,
        );
        Self {
            cfg,
            next,
            state: Mutex::new(State {
                shards,
                closed: false,
            }),
            wake: Notify::new(),
            calls: AtomicU64::new(0),
            events,
        }
    }

    fn max(&self) -> usize {
        self.cfg.send_batch_max_size as usize
    }

    fn timeout(&self) -> Duration {
        self.cfg.timeout.get()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds `batch` to its batchers and takes what is to be sent now.
    fn take_in(&self, batch: ProfileBatch, call: Call) -> Result<Vec<Chunk>, DataError> {
        let mut st = self.state();
        let groups = st.shards.group(units(batch));
        if let Err(over) = st.shards.admit(&groups) {
            self.events.over_cardinality_limit(over.limit);
            return Err(DataError::Refused(format!(
                "the batch processor already batches {} combinations of metadata_keys values, its metadata_cardinality_limit",
                over.limit
            )));
        }
        self.events.cardinality(st.shards.cardinality());
        let mut out = Vec::new();
        if st.closed || !self.cfg.waits() {
            for (_, group) in groups {
                let mut p = Pending::default();
                for u in group {
                    p.push(u, call);
                }
                out.extend(p.drain_chunks(self.max()));
            }
            return Ok(out);
        }
        let size = self.cfg.send_batch_size as usize;
        let now = Instant::now();
        let mut started = false;
        for (key, group) in groups {
            let Some(shard) = st.shards.get_mut(&key) else {
                continue;
            };
            for u in group {
                shard.pending.push(u, call);
            }
            let mut cut = false;
            while shard.pending.samples() >= size {
                let Some(chunk) = shard.pending.take_chunk(self.max()) else {
                    break;
                };
                out.push(chunk);
                cut = true;
            }
            if shard.pending.is_empty() {
                shard.since = None;
            } else if cut || shard.since.is_none() {
                // As the Collector resets its timer after a size-triggered send.
                shard.since = Some(now);
                started = true;
            }
        }
        drop(st);
        if started {
            self.wake.notify_one();
        }
        Ok(out)
    }

    /// Sends `chunks` in order; returns the first refusal of a chunk that
    /// held profiles of `call`.
    async fn send(
        &self,
        chunks: Vec<Chunk>,
        trigger: Trigger,
        call: Option<Call>,
    ) -> Result<(), DataError> {
        let mut refusal = None;
        for chunk in chunks {
            let samples = chunk.samples;
            let others = chunk.profiles_not_from(call);
            let mine = call.is_some_and(|c| chunk.holds(c));
            match self.next.consume(chunk.batch).await {
                Ok(()) => self.events.sent(trigger, samples),
                Err(e) => {
                    self.events.lost(others, Loss::Refused, Some(&e));
                    if mine && refusal.is_none() {
                        refusal = Some(e);
                    }
                }
            }
        }
        refusal.map_or(Ok(()), Err)
    }

    /// Takes every batch whose timeout has passed at `now`.
    fn take_expired(&self, now: Instant) -> Vec<Chunk> {
        let timeout = self.timeout();
        let max = self.max();
        let mut st = self.state();
        let mut out = Vec::new();
        for shard in st.shards.iter_mut() {
            if shard.since.is_some_and(|t| t + timeout <= now) {
                out.extend(shard.pending.drain_chunks(max));
                shard.since = None;
            }
        }
        out
    }

    /// Sends each batch when its timeout passes, until `stop`.
    pub async fn run_timer(self: Arc<Self>, stop: CancellationToken) {
        loop {
            let due = self.state().shards.oldest().map(|t| t + self.timeout());
            let sleep = async {
                match due {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                _ = stop.cancelled() => return,
                _ = self.wake.notified() => {}
                _ = sleep => {
                    let chunks = self.take_expired(Instant::now());
                    // No caller to answer: a refusal is counted and logged.
                    let _ = self.send(chunks, Trigger::Timeout, None).await;
                }
            }
        }
    }

    /// Stops the timer (`stop`, `timer`), then sends everything held within
    /// `deadline`; what is still unsent then is counted and logged. Batches
    /// that arrive afterwards pass straight through.
    pub async fn shutdown(
        &self,
        stop: CancellationToken,
        timer: tokio::task::JoinHandle<()>,
        deadline: Duration,
    ) {
        let until = Instant::now() + deadline;
        stop.cancel();
        // A timer flush in flight finishes first.
        let _ = tokio::time::timeout_at(until, timer).await;
        let chunks: Vec<Chunk> = {
            let mut st = self.state();
            st.closed = true;
            let max = self.max();
            st.shards
                .iter_mut()
                .flat_map(|s| {
                    s.since = None;
                    s.pending.drain_chunks(max)
                })
                .collect()
        };
        let total: usize = chunks.iter().map(Chunk::profiles).sum();
        let mut unsent = 0;
        for chunk in chunks {
            let profiles = chunk.profiles();
            if Instant::now() >= until {
                unsent += profiles;
                continue;
            }
            let samples = chunk.samples;
            match tokio::time::timeout_at(until, self.next.consume(chunk.batch)).await {
                Ok(Ok(())) => self.events.sent(Trigger::Timeout, samples),
                Ok(Err(e)) => self.events.lost(profiles, Loss::Refused, Some(&e)),
                Err(_) => unsent += profiles,
            }
        }
        self.events.lost(unsent, Loss::ShutdownTimeout, None);
        self.events.flushed_at_shutdown(total - unsent);
    }
}

#[async_trait]
impl Consumer for Batcher {
    async fn consume(&self, batch: ProfileBatch) -> Result<(), DataError> {
        if batch.records.is_empty() && batch.otlp.is_empty() {
            return Ok(());
        }
        let call = self.calls.fetch_add(1, Ordering::Relaxed);
        let chunks = self.take_in(batch, call)?;
        self.send(chunks, Trigger::Size, Some(call)).await
    }
}
