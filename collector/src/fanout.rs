//! Fan-out: hands every batch to each downstream consumer of a pipeline, and
//! to each pipeline a receiver feeds. A receiver holds its fan-out through a
//! [`Switch`], so that a reload can rewire a running receiver to new or
//! restarted exporters without restarting it.

use async_trait::async_trait;
use profcol_pdata::{Consumer, Error, ProfileBatch};
use std::sync::{Arc, PoisonError, RwLock};

/// Sends each batch to every consumer in turn (a clone each; profiles are
/// shared, not copied). One refusal does not stop the others.
pub struct FanOut {
    consumers: Vec<(String, Arc<dyn Consumer>)>,
}

impl FanOut {
    pub fn new(consumers: Vec<(String, Arc<dyn Consumer>)>) -> Self {
        Self { consumers }
    }
}

#[async_trait]
impl Consumer for FanOut {
    async fn consume(&self, batch: ProfileBatch) -> Result<(), Error> {
        if let [(_, only)] = self.consumers.as_slice() {
            return only.consume(batch).await;
        }
        let mut refused = Vec::new();
        for (name, c) in &self.consumers {
            if let Err(e) = c.consume(batch.clone()).await {
                // A refusal's reason only: the prefix is added once, by
                // the error this fan-out returns (fan-outs nest).
                let reason = match e {
                    Error::Refused(reason) => reason,
                    other => other.to_string(),
                };
                refused.push(format!("{name}: {reason}"));
            }
        }
        if refused.is_empty() {
            Ok(())
        } else {
            Err(Error::Refused(refused.join("; ")))
        }
    }
}

/// A consumer whose downstream can be replaced while batches flow: each
/// batch goes to the consumer current when it arrives.
pub struct Switch {
    current: RwLock<Arc<dyn Consumer>>,
}

impl Switch {
    pub fn new(next: Arc<dyn Consumer>) -> Self {
        Self {
            current: RwLock::new(next),
        }
    }

    /// Later batches go to `next`; a batch already handed on finishes where it went.
    pub fn set(&self, next: Arc<dyn Consumer>) {
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = next;
    }

    fn get(&self) -> Arc<dyn Consumer> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

#[async_trait]
impl Consumer for Switch {
    async fn consume(&self, batch: ProfileBatch) -> Result<(), Error> {
        // The lock is held only to clone the Arc, never across the await.
        let next = self.get();
        next.consume(batch).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    struct Counting(AtomicUsize, bool);

    #[async_trait]
    impl Consumer for Counting {
        async fn consume(&self, batch: ProfileBatch) -> Result<(), Error> {
            self.0.fetch_add(batch.len(), Ordering::SeqCst);
            if self.1 {
                Err(Error::Refused("full".into()))
            } else {
                Ok(())
            }
        }
    }

    #[tokio::test]
    async fn every_consumer_gets_the_batch_even_after_a_refusal() {
        let a = Arc::new(Counting(AtomicUsize::new(0), true));
        let b = Arc::new(Counting(AtomicUsize::new(0), false));
        let f = FanOut::new(vec![("a".into(), a.clone()), ("b".into(), b.clone())]);
        let batch = ProfileBatch::new(vec![profcol_pdata::ProfileRecord::from_profile(
            Default::default(),
            &profcol_pdata::pprof::Profile::empty("samples", "count"),
        )
        .unwrap()]);
        let err = f.consume(batch).await.unwrap_err();
        assert_eq!(err.to_string(), "downstream refused the batch: a: full");
        assert_eq!(a.0.load(Ordering::SeqCst), 1);
        assert_eq!(b.0.load(Ordering::SeqCst), 1);
    }

    /// Fan-outs nest (a receiver's pipelines, each pipeline's exporters):
    /// the text says "downstream refused the batch" once, naming the path.
    #[tokio::test]
    async fn nested_refusals_carry_the_prefix_once() {
        let full = || Arc::new(Counting(AtomicUsize::new(0), true)) as Arc<dyn Consumer>;
        let ok = Arc::new(Counting(AtomicUsize::new(0), false)) as Arc<dyn Consumer>;
        let inner = FanOut::new(vec![("a".into(), full()), ("b".into(), full())]);
        let outer = FanOut::new(vec![
            ("p1".into(), Arc::new(inner) as Arc<dyn Consumer>),
            ("p2".into(), ok),
        ]);
        let batch = ProfileBatch::new(vec![profcol_pdata::ProfileRecord::from_profile(
            Default::default(),
            &profcol_pdata::pprof::Profile::empty("samples", "count"),
        )
        .unwrap()]);
        let err = outer.consume(batch).await.unwrap_err();
        let text = err.to_string();
        assert_eq!(text, "downstream refused the batch: p1: a: full; b: full");
        assert_eq!(text.matches("downstream refused the batch").count(), 1);
    }

    #[tokio::test]
    async fn a_switch_sends_to_whatever_is_current() {
        let a = Arc::new(Counting(AtomicUsize::new(0), false));
        let b = Arc::new(Counting(AtomicUsize::new(0), true));
        let s = Switch::new(a.clone());
        let one = || {
            ProfileBatch::new(vec![profcol_pdata::ProfileRecord::from_profile(
                Default::default(),
                &profcol_pdata::pprof::Profile::empty("samples", "count"),
            )
            .unwrap()])
        };
        s.consume(one()).await.unwrap();
        s.set(b.clone());
        assert!(s.consume(one()).await.is_err());
        s.consume(one()).await.unwrap_err();
        assert_eq!(a.0.load(Ordering::SeqCst), 1);
        assert_eq!(b.0.load(Ordering::SeqCst), 2);
    }

    /// Waits until released, as a full blocking sending queue does; says
    /// when a hand-off started waiting.
    struct Held(tokio::sync::Notify, AtomicUsize, tokio::sync::Notify);

    #[async_trait]
    impl Consumer for Held {
        async fn consume(&self, batch: ProfileBatch) -> Result<(), Error> {
            self.2.notify_one();
            self.0.notified().await;
            self.1.fetch_add(batch.len(), Ordering::SeqCst);
            Ok(())
        }
    }

    /// A hand-off waiting below a switch holds no lock: a reload can point
    /// the switch elsewhere meanwhile, and new batches go there at once.
    #[tokio::test]
    async fn a_waiting_hand_off_does_not_hold_the_switch() {
        let held = Arc::new(Held(
            tokio::sync::Notify::new(),
            AtomicUsize::new(0),
            tokio::sync::Notify::new(),
        ));
        let other = Arc::new(Counting(AtomicUsize::new(0), false));
        let s = Arc::new(Switch::new(held.clone()));
        let one = || {
            ProfileBatch::new(vec![profcol_pdata::ProfileRecord::from_profile(
                Default::default(),
                &profcol_pdata::pprof::Profile::empty("samples", "count"),
            )
            .unwrap()])
        };
        let s2 = s.clone();
        let waiting = tokio::spawn(async move { s2.consume(one()).await });
        held.2.notified().await;
        assert!(!waiting.is_finished());
        s.set(other.clone());
        tokio::time::timeout(std::time::Duration::from_secs(1), s.consume(one()))
            .await
            .expect("the switch is not held by the waiting hand-off")
            .unwrap();
        assert_eq!(other.0.load(Ordering::SeqCst), 1);
        held.0.notify_one();
        waiting.await.unwrap().unwrap();
        assert_eq!(
            held.1.load(Ordering::SeqCst),
            1,
            "the waiting batch ends where it went"
        );
    }
}
