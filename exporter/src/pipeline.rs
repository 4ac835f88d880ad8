//! The sending machinery every network exporter (and the file exporter)
//! shares: `consume()` → bounded queue → `num_consumers` workers that merge
//! waiting batches, turn them into requests and send each with retries.
//! Exporters only say how to prepare and send one request ([`Sender`]).

use crate::batching::{next_batch, Batching};
use crate::events::ExporterEvents;
use crate::queue::{Queue, QueueConfig, Refusal};
use crate::retry::{self, GiveUp, RetryPolicy, SendError};
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
}

impl<S: Sender> Worker<S> {
    async fn process(&self, batch: ProfileBatch) {
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
                return;
            }
        };
        for p in prepared {
            self.send_one(p).await;
        }
    }

    async fn send_one(&self, p: Prepared<S::Request>) {
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
            }
            Err((why, e)) => {
                self.events
                    .failed(why.as_str(), p.profiles, p.bytes, e.reason());
                self.sender.on_done(&p.request, Err(why));
            }
        }
    }

    async fn run(self: Arc<Self>, queue: Arc<Queue>, batching: Batching) {
        while !self.cancel.is_cancelled() {
            let Some((batch, _)) = next_batch(&queue, batching).await else {
                break;
            };
            let (n, bytes) = queue.usage();
            self.events.queue_usage(n, bytes);
            self.process(batch).await;
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
    /// Starts the workers; must be called inside a tokio runtime.
    pub fn start<S: Sender>(
        sender: Arc<S>,
        queue_cfg: &QueueConfig,
        policy: RetryPolicy,
        events: Arc<ExporterEvents>,
    ) -> Arc<Self> {
        let cancel = CancellationToken::new();
        let worker = Arc::new(Worker {
            sender,
            policy,
            events: events.clone(),
            cancel: cancel.clone(),
        });
        if !queue_cfg.enabled {
            let direct: DirectFn = Arc::new(move |batch| {
                let w = worker.clone();
                Box::pin(async move { w.process(batch).await })
            });
            return Arc::new(Self {
                mode: Mode::Direct(direct),
                events,
                cancel,
                workers: Mutex::default(),
            });
        }
        let queue = Arc::new(Queue::new(queue_cfg.queue_size, queue_cfg.max_bytes));
        events.queue_capacity(queue.capacity());
        events.queue_usage(0, 0);
        let batching = Batching {
            max_batch_size: queue_cfg.max_batch_size.max(1),
            flush_timeout: queue_cfg.flush_timeout.get(),
        };
        let workers = (0..queue_cfg.num_consumers.max(1))
            .map(|_| tokio::spawn(worker.clone().run(queue.clone(), batching)))
            .collect();
        Arc::new(Self {
            mode: Mode::Queued(queue),
            events,
            cancel,
            workers: Mutex::new(workers),
        })
    }

    pub fn events(&self) -> &Arc<ExporterEvents> {
        &self.events
    }

    /// Queues the batch (or sends it, without a queue). `false` when it was
    /// refused; the refusal is already counted.
    pub async fn offer(&self, batch: ProfileBatch) -> bool {
        match &self.mode {
            Mode::Direct(send) => {
                send(batch).await;
                true
            }
            Mode::Queued(queue) => {
                let bytes = batch.memory_bytes();
                let result = queue.push(batch, bytes);
                let (n, b) = queue.usage();
                self.events.queue_usage(n, b);
                match result {
                    Ok(()) => true,
                    Err((refused, why)) => {
                        let (reason, detail) = match why {
                            Refusal::Full => (
                                "queue_full",
                                "the sending queue is full; the newest batch is refused",
                            ),
                            Refusal::Closed => ("shutdown", "the exporter is shutting down"),
                        };
                        self.events
                            .dropped(reason, refused.len() as u64, bytes as u64, detail);
                        false
                    }
                }
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

/// The `Consumer` of a queued exporter: offers every batch to each of its
/// pipelines (one per destination). Refuses only when no pipeline took it.
pub struct PipelineConsumer {
    pub pipelines: Vec<Arc<Pipeline>>,
}

#[async_trait::async_trait]
impl Consumer for PipelineConsumer {
    async fn consume(&self, batch: ProfileBatch) -> Result<(), profcol_pdata::Error> {
        let mut accepted = false;
        for p in &self.pipelines {
            accepted |= p.offer(batch.clone()).await;
        }
        if accepted || self.pipelines.is_empty() {
            Ok(())
        } else {
            Err(profcol_pdata::Error::Refused(
                "the exporter's sending queue is full or shutting down".to_string(),
            ))
        }
    }
}
