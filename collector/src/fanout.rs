//! Fan-out: hands every batch to each downstream consumer of a pipeline, and
//! to each pipeline a receiver feeds.

use async_trait::async_trait;
use profcol_pdata::{Consumer, Error, ProfileBatch};
use std::sync::Arc;

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
                refused.push(format!("{name}: {e}"));
            }
        }
        if refused.is_empty() {
            Ok(())
        } else {
            Err(Error::Refused(refused.join("; ")))
        }
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
        let batch = ProfileBatch::new(vec![profcol_pdata::ProfileRecord::new(
            Default::default(),
            Default::default(),
        )]);
        let err = f.consume(batch).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "downstream refused the batch: a: downstream refused the batch: full"
        );
        assert_eq!(a.0.load(Ordering::SeqCst), 1);
        assert_eq!(b.0.load(Ordering::SeqCst), 1);
    }
}
