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

pub mod actions;
pub mod attributes;
pub mod error;
pub mod filter;
mod otlp_edit;
mod regex_error;
pub mod resource;
#[cfg(test)]
mod testutil;
pub mod transform;

pub use error::Error;

use futures::future::BoxFuture;
use profcol_config::{ComponentId, Problem};
use profcol_pdata::Consumer;
use profcol_runtime::ComponentContext;
use std::sync::Arc;
use std::time::Duration;
use transform::TransformConsumer;

/// The version profcol's scope carries (the OTLP writer's `SCOPE_NAME` at
/// the workspace version), as processors see a pprof record's scope.
pub(crate) const SCOPE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Every processor type with its stability.
pub fn processor_types() -> Vec<(&'static str, &'static str)> {
    vec![
        ("resource", "development"),
        ("attributes", "development"),
        ("filter", "development"),
    ]
}

/// A decoded, validated processor config.
enum Parsed {
    Resource(resource::ResourceProcessor),
    Attributes(attributes::AttributesProcessor),
    Filter(filter::FilterProcessor),
}

fn parse(id: &ComponentId, body: &serde_yaml::Value, path: &str) -> Result<Parsed, Vec<Problem>> {
    match id.kind() {
        "resource" => resource::ResourceProcessor::parse(body, path).map(Parsed::Resource),
        "attributes" => attributes::AttributesProcessor::parse(body, path).map(Parsed::Attributes),
        "filter" => filter::FilterProcessor::parse(&id.to_string(), body, path).map(Parsed::Filter),
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
    _ctx: ComponentContext,
    next: Arc<dyn Consumer>,
) -> Result<ProcessorHandle, Error> {
    let path = format!("processors::{id}");
    let parsed = parse(id, body, &path).map_err(Error::Config)?;
    let stateless = |c: Arc<dyn Consumer>| ProcessorHandle::stateless(c);
    Ok(match parsed {
        Parsed::Resource(p) => stateless(Arc::new(TransformConsumer::new(p, next))),
        Parsed::Attributes(p) => stateless(Arc::new(TransformConsumer::new(p, next))),
        Parsed::Filter(p) => stateless(Arc::new(TransformConsumer::new(p, next))),
    })
}
