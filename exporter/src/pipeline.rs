//! The sending machinery every network exporter (and the file exporter)
//! shares: `consume()` → bounded queue → `num_consumers` workers that merge
//! waiting batches, turn them into requests and send each with retries.
//! Exporters only say how to prepare and send one request ([`Sender`]).
//! With `sending_queue.storage` the queue is persistent: a batch is
//! accepted once it is on disk, and its record is acked once every request
//! made from it was sent or given up for good (not when shutdown
//! interrupted it: then it is sent again after the next start).

use crate::batching::{Assembler, Batching};
use crate::events::ExporterEvents;
use crate::queue::{Queue, QueueConfig};
use crate::retry::{self, GiveUp, RetryPolicy, SendError};
use crate::storage::{exporter_dir, Store};
use crate::Error;
use futures::future::BoxFuture;
use profcol_pdata::{Consumer, ProfileBatch};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// One request ready to send, with what it carries for the metrics.
pub struct Prepared<R> {
    pub request: R,
    pub profiles: u64,
    pub bytes: u64,
}

/// How one exporter turns profiles into requests and sends one.
#[async_trait::async_trait]
pub trait Sender: Send + Sync + 'static {
    type Request: Send + Sync + 'static;
    /// Encodes a (merged) batch into the requests to send; whatever cannot
    /// be encoded the sender reports as dropped itself.
    fn prepare(&self, batch: ProfileBatch) -> Vec<Prepared<Self::Request>>;
    /// One attempt.
    async fn send(&self, request: &Self::Request) -> Result<(), SendError>;
    /// Told how each attempt went and how the request ended, for metrics of
    /// the exporter's own.
    fn on_attempt(&self, _request: &Self::Request, _elapsed: std::time::Duration) {}
    fn on_retry(&self, _request: &Self::Request) {}
    fn on_done(&self, _request: &Self::Request, _outcome: Result<(), GiveUp>) {}
}

struct Worker<S: Sender> {
    sender: Arc<S>,
    policy: RetryPolicy,
    events: Arc<ExporterEvents>,
    cancel: CancellationToken,
    /// Batches come from a persistent queue: one interrupted by shutdown
    /// stays on disk rather than being counted as failed.
    durable: bool,
}

impl<S: Sender> Worker<S> {
    /// Prepares and sends `batch`; `false` when shutdown interrupted a
    /// request, so that a persistent queue keeps the batch.
    async fn process(&self, batch: ProfileBatch) -> bool {
        // Encoding and compressing is CPU work; keep it off the async workers
        // that the scrape loops share.
        let sender = self.sender.clone();
        let profiles = batch.len() as u64;
        let bytes = batch.approx_bytes() as u64;
        let prepared = match tokio::task::spawn_blocking(move || sender.prepare(batch)).await {
            Ok(p) => p,
            Err(e) => {
                self.events
                    .dropped("encode_failed", profiles, bytes, &e.to_string());
                return true;
            }
        };
        let mut done = true;
        for p in prepared {
            done &= self.send_one(p).await;
        }
        done
    }

    async fn send_one(&self, p: Prepared<S::Request>) -> bool {
        let _in_flight = self.events.begin_request();
        let result = retry::run(
            &self.policy,
            &self.cancel,
            || async {
                let started = Instant::now();
                let r = self.sender.send(&p.request).await;
                let elapsed = started.elapsed();
                self.events.attempt_took(elapsed);
                self.sender.on_attempt(&p.request, elapsed);
                r
            },
            |e, wait| {
                self.events.retrying(e.reason(), wait);
                self.sender.on_retry(&p.request);
            },
        )
        .await;
        match result {
            Ok(()) => {
                self.events.sent(p.profiles, p.bytes);
                self.sender.on_done(&p.request, Ok(()));
                true
            }
            Err((GiveUp::Shutdown, _)) if self.durable => {
                self.events.storage_interrupted(p.profiles);
                false
            }
            Err((why, e)) => {
                self.events
                    .failed(why.as_str(), p.profiles, p.bytes, e.reason());
                self.sender.on_done(&p.request, Err(why));
                true
            }
        }
    }

    async fn run(self: Arc<Self>, queue: Arc<Queue>, assembler: Arc<Assembler>) {
        while !self.cancel.is_cancelled() {
            let Some(popped) = assembler.next(&queue).await else {
                break;
            };
            let (n, bytes) = queue.usage();
            self.events.queue_usage(n, bytes);
            if self.process(popped.batch).await {
                queue.ack(&popped.tickets);
                let (n, bytes) = queue.usage();
                self.events.queue_usage(n, bytes);
            }
        }
    }
}

type DirectFn = Arc<dyn Fn(ProfileBatch) -> BoxFuture<'static, ()> + Send + Sync>;

enum Mode {
    Queued(Arc<Queue>),
    Direct(DirectFn),
}

/// A running queue with its workers (or, with the queue disabled, a direct
/// path that sends before `consume()` returns).
pub struct Pipeline {
    mode: Mode,
    events: Arc<ExporterEvents>,
    cancel: CancellationToken,
    workers: Mutex<Vec<JoinHandle<()>>>,
}

impl Pipeline {
    /// Starts the workers; must be called inside a tokio runtime. With
    /// `storage` configured, opens (or creates) the exporter's directory
    /// under it and queues again what a previous run left there; fails when
    /// that directory cannot be created or written.
    pub fn start<S: Sender>(
        sender: Arc<S>,
        queue_cfg: &QueueConfig,
        policy: RetryPolicy,
        events: Arc<ExporterEvents>,
    ) -> Result<Arc<Self>, Error> {
        let cancel = CancellationToken::new();
        let store = match (&queue_cfg.storage, queue_cfg.enabled) {
            (Some(storage), true) => Some(open_store(storage, &events)?),
            _ => None,
        };
        let worker = Arc::new(Worker {
            sender,
            policy,
            events: events.clone(),
            cancel: cancel.clone(),
            durable: store.is_some(),
        });
        if !queue_cfg.enabled {
            let direct: DirectFn = Arc::new(move |batch| {
                let w = worker.clone();
                Box::pin(async move {
                    w.process(batch).await;
                })
            });
            return Ok(Arc::new(Self {
                mode: Mode::Direct(direct),
                events,
                cancel,
                workers: Mutex::default(),
            }));
        }
        let queue = Arc::new(
            match store {
                Some(store) => Queue::persistent(store, events.clone()).reading_back_under(
                    queue_cfg
                        .storage
                        .as_ref()
                        .map(|s| s.read_back_limits.clone())
                        .unwrap_or_default(),
                ),
                None => Queue::new(queue_cfg.queue_size, queue_cfg.max_bytes),
            }
            .blocking_on_overflow(queue_cfg.block_on_overflow)
            .counting_waits(events.queue_waiting_gauge()),
        );
        if !queue.is_persistent() {
            events.queue_capacity(queue.capacity());
        }
        let (n, bytes) = queue.usage();
        events.queue_usage(n, bytes);
        let assembler = Arc::new(Assembler::new(Batching {
            max_batch_size: queue_cfg.max_batch_size.max(1),
            flush_timeout: queue_cfg.flush_timeout.get(),
        }));
        let workers = (0..queue_cfg.num_consumers.max(1))
            .map(|_| tokio::spawn(worker.clone().run(queue.clone(), assembler.clone())))
            .collect();
        Ok(Arc::new(Self {
            mode: Mode::Queued(queue),
            events,
            cancel,
            workers: Mutex::new(workers),
        }))
    }

    pub fn events(&self) -> &Arc<ExporterEvents> {
        &self.events
    }

    /// Queues the batch (or sends it, without a queue). On refusal, the
    /// sentence that says why; the refusal is already counted.
    pub async fn offer(&self, batch: ProfileBatch) -> Result<(), String> {
        match &self.mode {
            Mode::Direct(send) => {
                send(batch).await;
                Ok(())
            }
            Mode::Queued(queue) if queue.is_persistent() => {
                let profiles = batch.len() as u64;
                let bytes = batch.approx_bytes() as u64;
                let result = queue.offer_durable(batch).await;
                let (n, b) = queue.usage();
                self.events.queue_usage(n, b);
                result.map_err(|refused| {
                    self.events
                        .dropped(refused.why.reason(), profiles, bytes, &refused.detail);
                    refused.detail
                })
            }
            Mode::Queued(queue) => {
                let bytes = batch.memory_bytes();
                let result = queue.offer(batch, bytes).await;
                let (n, b) = queue.usage();
                self.events.queue_usage(n, b);
                result.map_err(|(batch, refused)| {
                    self.events.dropped(
                        refused.why.reason(),
                        batch.len() as u64,
                        bytes as u64,
                        &refused.detail,
                    );
                    refused.detail
                })
            }
        }
    }

    /// Stops taking batches, sends what is queued until `deadline`, then
    /// cancels what is still in flight; every profile not sent is counted.
    pub async fn shutdown(&self, deadline: std::time::Duration) {
        let Mode::Queued(queue) = &self.mode else {
            self.cancel.cancel();
            return;
        };
        queue.close();
        let handles =
            std::mem::take(&mut *self.workers.lock().unwrap_or_else(PoisonError::into_inner));
        let mut all = futures::future::join_all(handles);
        if tokio::time::timeout(deadline, &mut all).await.is_err() {
            self.cancel.cancel();
            all.await;
        }
        self.cancel.cancel();
        if queue.is_persistent() {
            let (n, bytes) = queue.usage();
            self.events.storage_kept(n, bytes as u64);
            self.events.queue_usage(n, bytes);
            return;
        }
        for batch in queue.drain() {
            let bytes = batch.approx_bytes() as u64;
            self.events.dropped(
                "shutdown",
                batch.len() as u64,
                bytes,
                "still queued when the shutdown deadline passed",
            );
        }
        self.events.queue_usage(0, 0);
    }
}

/// Opens the persistent queue's store in the exporter's own directory.
fn open_store(
    storage: &crate::config::StorageConfig,
    events: &Arc<ExporterEvents>,
) -> Result<Store, Error> {
    let dir = exporter_dir(std::path::Path::new(&storage.directory), events.id());
    // Segments of 1/16 of the budget: space comes back a segment at a time.
    let segment_bytes = (storage.max_bytes / 16).clamp(64 << 10, 16 << 20);
    Store::open(&dir, storage.max_bytes, segment_bytes, events.clone()).map_err(|e| {
        let id = events.id().split('[').next().unwrap_or_default();
        Error::Config(vec![profcol_config::Problem::new(
            format!("exporters::{id}::sending_queue::storage::directory"),
            format!("cannot use {} for the persistent queue: {e}", dir.display()),
        )])
    })
}

/// The `Consumer` of a queued exporter: offers every batch to each of its
/// pipelines (one per destination), in turn: a pipeline waiting for room
/// (`block_on_overflow`) holds up the next. Refuses only when no pipeline
/// took it, with each pipeline's reason.
pub struct PipelineConsumer {
    pub pipelines: Vec<Arc<Pipeline>>,
}

#[async_trait::async_trait]
impl Consumer for PipelineConsumer {
    async fn consume(&self, batch: ProfileBatch) -> Result<(), profcol_pdata::Error> {
        let mut accepted = false;
        let mut reasons: Vec<String> = Vec::new();
        for p in &self.pipelines {
            match p.offer(batch.clone()).await {
                Ok(()) => accepted = true,
                Err(why) if !reasons.contains(&why) => reasons.push(why),
                Err(_) => {}
            }
        }
        if accepted || self.pipelines.is_empty() {
            Ok(())
        } else {
            Err(profcol_pdata::Error::Refused(reasons.join("; ")))
        }
    }
}
