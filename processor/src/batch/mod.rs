//! The `batch` processor: merges what arrives into batches of
//! `send_batch_size` samples (split at `send_batch_max_size`, never inside
//! a profile), sent when full or `timeout` after their first profile, one
//! batcher per combination of `metadata_keys` label values.
//!
//! ```yaml
//! processors:
//!   batch:
//!     send_batch_size: 8192     # samples
//!     send_batch_max_size: 0    # no upper bound
//!     timeout: 200ms
//!     metadata_keys: [__tenant_id__]
//! ```
//!
//! [`start`] puts one in a pipeline; the handle's shutdown sends what it
//! holds.

mod batcher;
pub mod config;
mod events;
pub mod metrics;
mod pending;
mod shards;

pub use config::BatchConfig;

use crate::ProcessorHandle;
use batcher::Batcher;
use events::BatchEvents;
use futures::FutureExt;
use profcol_pdata::Consumer;
use profcol_runtime::ComponentContext;
use std::sync::Arc;

/// Starts one `batch` processor in front of `next`.
pub fn start(cfg: BatchConfig, ctx: &ComponentContext, next: Arc<dyn Consumer>) -> ProcessorHandle {
    let events = BatchEvents::new(&ctx.id, ctx.telemetry.metrics::<metrics::BatchMetrics>());
    let waits = cfg.waits();
    let batcher = Arc::new(Batcher::new(cfg, next, events));
    let stop = ctx.shutdown.child_token();
    let timer = if waits {
        tokio::spawn(batcher.clone().run_timer(stop.clone()))
    } else {
        tokio::spawn(async {})
    };
    let consumer: Arc<dyn Consumer> = batcher.clone();
    ProcessorHandle::with_shutdown(
        consumer,
        Box::new(move |deadline| {
            async move { batcher.shutdown(stop, timer, deadline).await }.boxed()
        }),
    )
}

#[cfg(test)]
mod tests;
