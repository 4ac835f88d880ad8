//! profcol's processors for the profiles signal, with the OpenTelemetry
//! Collector's names, keys and semantics.
//!
//! A pipeline's processors run in the order its `processors` list gives,
//! between its receivers and its exporters' fan-out. Each pipeline gets its
//! own instance of each processor it lists (as in the Collector), built by
//! [`start_processor`] in front of the next hop; the collector feeds
//! [`ProcessorHandle::consumer`] and, when the pipeline is replaced or
//! stops, calls [`ProcessorHandle::shutdown`] so that a processor holding
//! profiles (`batch`) hands them on.
//!
//! [`processor_types`] lists the built-in types, [`validate_processor`]
//! checks a config body with every problem under its key path.

pub mod batch;
pub mod error;
pub mod memory_limiter;
pub mod transform;

#[cfg(test)]
mod testutil;

pub use error::Error;

use futures::future::BoxFuture;
use profcol_config::{decode, ComponentId, Problem};
use profcol_pdata::Consumer;
use profcol_runtime::ComponentContext;
use std::sync::Arc;
use std::time::Duration;

/// Every processor type with its stability.
pub fn processor_types() -> Vec<(&'static str, &'static str)> {
    vec![
        // One line per type: (type, stability).
        ("batch", "development"),
        ("memory_limiter", "development"),
    ]
}

/// A decoded, validated processor config.
enum Parsed {
    Batch(batch::BatchConfig),
    MemoryLimiter(memory_limiter::MemoryLimiterConfig),
}

fn parse(id: &ComponentId, body: &serde_yaml::Value, path: &str) -> Result<Parsed, Vec<Problem>> {
    match id.kind() {
        "batch" => decode(body, path).map(Parsed::Batch),
        "memory_limiter" => decode(body, path).map(Parsed::MemoryLimiter),
        other => Err(vec![Problem::new(
            path,
            format!("unknown processor type {other:?}"),
        )]),
    }
}

/// Checks a processor's config; every problem at once, each under `path`.
pub fn validate_processor(
    id: &ComponentId,
    body: &serde_yaml::Value,
    path: &str,
) -> Result<(), Vec<Problem>> {
    parse(id, body, path).map(|_| ())
}

/// What a processor does when its pipeline is replaced or stops.
type Shutdown = Box<dyn FnOnce(Duration) -> BoxFuture<'static, ()> + Send>;

/// One running instance of a processor in one pipeline.
pub struct ProcessorHandle {
    consumer: Arc<dyn Consumer>,
    shutdown: Option<Shutdown>,
}

impl ProcessorHandle {
    /// A processor that holds nothing between batches.
    pub fn stateless(consumer: Arc<dyn Consumer>) -> Self {
        Self {
            consumer,
            shutdown: None,
        }
    }

    /// A processor that holds profiles and hands them on at `shutdown`.
    pub fn with_shutdown(consumer: Arc<dyn Consumer>, shutdown: Shutdown) -> Self {
        Self {
            consumer,
            shutdown: Some(shutdown),
        }
    }

    /// Where the previous hop hands batches.
    pub fn consumer(&self) -> Arc<dyn Consumer> {
        self.consumer.clone()
    }

    /// Hands on whatever the processor holds, within `deadline`.
    pub async fn shutdown(self, deadline: Duration) {
        if let Some(f) = self.shutdown {
            f(deadline).await;
        }
    }
}

/// Starts one instance of processor `id` (inside a tokio runtime) that
/// hands what it passes to `next`.
pub fn start_processor(
    id: &ComponentId,
    body: &serde_yaml::Value,
    ctx: ComponentContext,
    next: Arc<dyn Consumer>,
) -> Result<ProcessorHandle, Error> {
    let path = format!("processors::{id}");
    let parsed = parse(id, body, &path).map_err(Error::Config)?;
    match parsed {
        Parsed::Batch(cfg) => Ok(batch::start(cfg, &ctx, next)),
        Parsed::MemoryLimiter(cfg) => memory_limiter::start(cfg, &path, &ctx, next),
    }
}
