//! The running `memory_limiter`: a task measures memory use every
//! `check_interval` (the first time at start) and switches the limiter
//! between accepting and refusing at the soft limit; [`Limiter::consume`]
//! hands batches on while accepting and refuses them while not.
//!
//! A refusal is [`DataError::Refused`], which every receiver treats as
//! back-pressure, not as bad data: push receivers answer `429` /
//! `RESOURCE_EXHAUSTED` with a retry hint, a scrape loop counts the
//! profile as dropped and scrapes again at its next interval. What was
//! handed on before the switch is never taken back.

use super::events::LimiterEvents;
use super::limits::Limits;
use async_trait::async_trait;
use profcol_pdata::{Consumer, Error as DataError, ProfileBatch};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Reads the process's memory use in bytes; `None` when it cannot.
pub type UsageReader = Arc<dyn Fn() -> Option<u64> + Send + Sync>;

pub struct Limiter {
    next: Arc<dyn Consumer>,
    limits: Limits,
    refusing: AtomicBool,
    usage: AtomicU64,
    events: LimiterEvents,
}

impl Limiter {
    pub fn new(limits: Limits, next: Arc<dyn Consumer>, events: LimiterEvents) -> Self {
        Self {
            next,
            limits,
            refusing: AtomicBool::new(false),
            usage: AtomicU64::new(0),
            events,
        }
    }

    /// Takes one measurement: refusing from the soft limit up, accepting
    /// below it; a crossing is logged once.
    pub fn check(&self, usage: Option<u64>) {
        let Some(usage) = usage else {
            self.events.unreadable();
            return;
        };
        self.usage.store(usage, Ordering::Relaxed);
        self.events.measured(usage);
        let soft = self.limits.soft();
        let over = usage >= soft;
        let was = self.refusing.swap(over, Ordering::Relaxed);
        if over && !was {
            self.events.started_refusing(usage, soft);
        } else if !over && was {
            self.events.stopped_refusing(usage, soft);
        }
    }

    /// Checks every `interval`, the first time at once, until `stop`.
    pub async fn run(
        self: Arc<Self>,
        read: UsageReader,
        interval: Duration,
        stop: CancellationToken,
    ) {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                biased;
                _ = stop.cancelled() => return,
                _ = tick.tick() => self.check(read()),
            }
        }
    }
}

#[async_trait]
impl Consumer for Limiter {
    async fn consume(&self, batch: ProfileBatch) -> Result<(), DataError> {
        if self.refusing.load(Ordering::Relaxed) {
            self.events.refused(batch.len());
            return Err(DataError::Refused(format!(
                "memory_limiter: profcol uses {} MiB, at or above its soft limit of {} MiB; retry later",
                self.usage.load(Ordering::Relaxed) >> 20,
                self.limits.soft() >> 20
            )));
        }
        self.next.consume(batch).await
    }
}
