//! Processors that change or drop what passes one batch at a time and keep
//! nothing between batches (`resource`, `attributes`, `filter`): each is a
//! [`Transform`], and [`TransformConsumer`] puts one into a pipeline.

use async_trait::async_trait;
use profcol_pdata::{Consumer, Error as DataError, ProfileBatch};
use std::sync::Arc;

/// What a stateless processor does to one batch.
pub trait Transform: Send + Sync + 'static {
    /// The batch to hand on; an empty batch hands nothing on. An error
    /// refuses the batch (the receiver counts and logs the refusal).
    fn apply(&self, batch: ProfileBatch) -> Result<ProfileBatch, DataError>;
}

/// A [`Transform`] in a pipeline, in front of `next`.
pub struct TransformConsumer<T> {
    transform: T,
    next: Arc<dyn Consumer>,
}

impl<T: Transform> TransformConsumer<T> {
    pub fn new(transform: T, next: Arc<dyn Consumer>) -> Self {
        Self { transform, next }
    }
}

#[async_trait]
impl<T: Transform> Consumer for TransformConsumer<T> {
    async fn consume(&self, batch: ProfileBatch) -> Result<(), DataError> {
        let out = self.transform.apply(batch)?;
        if out.is_empty() {
            return Ok(());
        }
        self.next.consume(out).await
    }
}
