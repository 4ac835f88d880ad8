//! Merges batches waiting in the queue into one request: up to
//! `max_batch_size` profiles, waiting at most `flush_timeout` after the first
//! for more to arrive. Batches are merged, never split.

use crate::queue::{Popped, Queue};
use std::time::Duration;

/// How workers merge queued batches.
#[derive(Debug, Clone, Copy)]
pub struct Batching {
    pub max_batch_size: usize,
    pub flush_timeout: Duration,
}

/// The next request's worth of profiles (with their queued bytes and
/// persistent-queue tickets); `None` once the queue is closed and empty.
pub async fn next_batch(queue: &Queue, cfg: Batching) -> Option<Popped> {
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
}
