//! Merges batches waiting in the queue into one request: up to
//! `max_batch_size` profiles, waiting at most `flush_timeout` after the first
//! for more to arrive. Batches are merged, never split.
//!
//! Workers take turns ([`Assembler`]): one request is assembled at a time,
//! while the others send theirs. Were every idle worker to collect at once,
//! a steady trickle would be split among them into requests of a few
//! profiles each, and each request pays its own dictionary, headers and
//! compression start-up (see BENCHMARKS.md, "One ingest path").

use crate::queue::{Popped, Queue};
use std::time::Duration;

/// The queue's workers' shared turn at assembling the next request.
#[derive(Debug)]
pub struct Assembler {
    cfg: Batching,
    turn: tokio::sync::Mutex<()>,
}

impl Assembler {
    pub fn new(cfg: Batching) -> Self {
        Self {
            cfg,
            turn: tokio::sync::Mutex::new(()),
        }
    }

    /// Waits for this worker's turn, then assembles the next request
    /// (up to `max_batch_size` profiles, waiting at most `flush_timeout`);
    /// `None` once the queue is closed and empty.
    pub async fn next(&self, queue: &Queue) -> Option<Popped> {
        let _turn = self.turn.lock().await;
        next_batch(queue, self.cfg).await
    }
}

/// How workers merge queued batches.
#[derive(Debug, Clone, Copy)]
pub struct Batching {
    pub max_batch_size: usize,
    pub flush_timeout: Duration,
}

/// The next request's worth of profiles (with their queued bytes and
/// persistent-queue tickets); `None` once the queue is closed and empty.
async fn next_batch(queue: &Queue, cfg: Batching) -> Option<Popped> {
    let mut merged = queue.pop().await?;
    let deadline = tokio::time::Instant::now() + cfg.flush_timeout;
    while merged.batch.len() < cfg.max_batch_size {
        let room = cfg.max_batch_size - merged.batch.len();
        let next = if cfg.flush_timeout.is_zero() {
            queue.try_pop(Some(room))
        } else {
            queue.pop_fitting_until(room, deadline).await
        };
        let Some(more) = next else {
            break;
        };
        merged.merge(more);
    }
    Some(merged)
}

#[cfg(test)]
mod tests {
    use super::*;
    use profcol_pdata::{pprof, Labels, ProfileBatch, ProfileRecord};

    fn batch(n: usize) -> ProfileBatch {
        ProfileBatch::new(
            (0..n)
                .map(|i| {
                    ProfileRecord::from_profile(
                        Labels::from_pairs([("i", i.to_string())]),
                        &pprof::Profile::empty("samples", "count"),
                    )
                    .unwrap()
                })
                .collect(),
        )
    }

    #[tokio::test]
    async fn merges_waiting_batches_up_to_the_limit() {
        let q = Queue::new(10, 1 << 20);
        for n in [2, 3, 4, 1] {
            q.push(batch(n), n).unwrap();
        }
        let cfg = Batching {
            max_batch_size: 6,
            flush_timeout: Duration::ZERO,
        };
        let p = next_batch(&q, cfg).await.unwrap();
        assert_eq!((p.batch.len(), p.bytes), (5, 5), "4 more would exceed 6");
        let p = next_batch(&q, cfg).await.unwrap();
        assert_eq!(p.batch.len(), 5);
        assert_eq!(q.usage().0, 0);
    }

    #[tokio::test]
    async fn waits_for_late_batches_within_the_flush_timeout() {
        let q = std::sync::Arc::new(Queue::new(10, 1 << 20));
        q.push(batch(1), 1).unwrap();
        let q2 = q.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            q2.push(batch(2), 1).unwrap();
        });
        let cfg = Batching {
            max_batch_size: 3,
            flush_timeout: Duration::from_secs(2),
        };
        let started = std::time::Instant::now();
        let p = next_batch(&q, cfg).await.unwrap();
        assert_eq!(p.batch.len(), 3);
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "full batches go at once"
        );
    }

    /// A trickle of one-profile batches, ten workers: the requests are
    /// whole flush windows, not ten workers' shares of one.
    #[tokio::test(start_paused = true)]
    async fn workers_take_turns_so_a_trickle_fills_whole_windows() {
        let q = std::sync::Arc::new(Queue::new(1000, 1 << 20));
        let assembler = std::sync::Arc::new(Assembler::new(Batching {
            max_batch_size: 100,
            flush_timeout: Duration::from_millis(200),
        }));
        let sizes = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let workers: Vec<_> = (0..10)
            .map(|_| {
                let (q, a, sizes) = (q.clone(), assembler.clone(), sizes.clone());
                tokio::spawn(async move {
                    while let Some(p) = a.next(&q).await {
                        sizes.lock().unwrap().push(p.batch.len());
                    }
                })
            })
            .collect();
        for _ in 0..100 {
            q.push(batch(1), 1).unwrap();
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        q.close();
        for w in workers {
            w.await.unwrap();
        }
        let sizes = sizes.lock().unwrap().clone();
        assert_eq!(sizes.iter().sum::<usize>(), 100, "{sizes:?}");
        assert!(
            sizes.len() <= 6,
            "1 s of profiles in {} requests: {sizes:?}",
            sizes.len()
        );
    }
}
