//! The processor types: one [`Factory`] each, listed in [`PROCESSORS`].
//! The listing (`profcol components`), validation, reload comparison and
//! starting a processor all go through it, so a new processor type is a
//! factory here, listed in [`PROCESSORS`], and a variant of
//! [`ProcessorConfig`].
//!
//! ```
//! use profcol_processor::PROCESSORS;
//! assert_eq!(PROCESSORS.lookup("batch").unwrap().stability().as_str(), "development");
//! assert!(PROCESSORS.lookup("tail_sampling").is_none());
//! ```

use crate::transform::{Transform, TransformConsumer};
use crate::{attributes, batch, filter, memory_limiter, resource, Error, ProcessorHandle};
use profcol_config::Body;
use profcol_config::{decode, ComponentId, Problem};
use profcol_pdata::Consumer;
use profcol_runtime::factory::{wrong_config, Factory, Kind, Registry, Stability};
use profcol_runtime::ComponentContext;
use std::sync::Arc;

/// The processor kind: a started processor hands what it passes to the
/// next hop.
pub struct Processors;

impl Kind for Processors {
    const SINGULAR: &'static str = "processor";
    type Config = ProcessorConfig;
    type Input = Arc<dyn Consumer>;
    type Running = ProcessorHandle;
    type Error = Error;
    fn invalid(problems: Vec<Problem>) -> Error {
        Error::Config(problems)
    }
}

/// Every processor type, in the order `profcol components` lists them.
pub static PROCESSORS: Registry<Processors> = Registry::new(&[
    &BatchFactory,
    &MemoryLimiterFactory,
    &ResourceFactory,
    &AttributesFactory,
    &FilterFactory,
]);

/// A decoded, validated processor config, whatever its type; equal configs
/// configure the same processor (what a reload compares).
#[derive(Debug, Clone, PartialEq)]
pub enum ProcessorConfig {
    Batch(batch::BatchConfig),
    MemoryLimiter(memory_limiter::MemoryLimiterConfig),
    Resource(resource::ResourceProcessor),
    Attributes(attributes::AttributesProcessor),
    Filter(filter::FilterProcessor),
}

/// Declares a factory: its type name, how its body decodes into a
/// [`ProcessorConfig`] variant and how that variant starts.
macro_rules! processor_factory {
    ($factory:ident, $name:literal,
     decode: |$did:pat_param, $body:ident, $path:ident| $decode:expr,
     start: $variant:ident($cfg:ident, $id:ident, $ctx:ident, $next:ident) => $start:expr) => {
        struct $factory;

        impl Factory<Processors> for $factory {
            fn name(&self) -> &'static str {
                $name
            }
            fn stability(&self) -> Stability {
                Stability::Development
            }
            fn decode(
                &self,
                $did: &ComponentId,
                $body: &Body,
                $path: &str,
            ) -> Result<ProcessorConfig, Vec<Problem>> {
                $decode
            }
            fn start(
                &self,
                $id: &ComponentId,
                config: &ProcessorConfig,
                $ctx: ComponentContext,
                $next: Arc<dyn Consumer>,
            ) -> Result<ProcessorHandle, Error> {
                match config {
                    ProcessorConfig::$variant($cfg) => $start,
                    _ => Err(wrong_config(self, $id)),
                }
            }
        }
    };
}

processor_factory!(BatchFactory, "batch",
    decode: |_, body, path| decode(body, path).map(ProcessorConfig::Batch),
    start: Batch(cfg, _id, ctx, next) => Ok(batch::start(cfg.clone(), &ctx, next)));

processor_factory!(MemoryLimiterFactory, "memory_limiter",
decode: |_, body, path| decode(body, path).map(ProcessorConfig::MemoryLimiter),
start: MemoryLimiter(cfg, id, ctx, next) => {
    memory_limiter::start(cfg.clone(), &format!("processors::{id}"), &ctx, next)
});

processor_factory!(ResourceFactory, "resource",
    decode: |_, body, path| resource::ResourceProcessor::parse(body, path).map(ProcessorConfig::Resource),
    start: Resource(p, _id, _ctx, next) => Ok(transform(p.clone(), next)));

processor_factory!(AttributesFactory, "attributes",
    decode: |_, body, path| {
        attributes::AttributesProcessor::parse(body, path).map(ProcessorConfig::Attributes)
    },
    start: Attributes(p, _id, _ctx, next) => Ok(transform(p.clone(), next)));

processor_factory!(FilterFactory, "filter",
decode: |id, body, path| {
    filter::FilterProcessor::parse(&id.to_string(), body, path).map(ProcessorConfig::Filter)
},
start: Filter(p, _id, ctx, next) => {
    let metrics = ctx.telemetry.metrics::<filter::metrics::FilterMetrics>();
    Ok(transform(p.clone().counted(&metrics), next))
});

/// A processor that changes or drops records one batch at a time and
/// holds nothing between batches.
fn transform<T: Transform + 'static>(processor: T, next: Arc<dyn Consumer>) -> ProcessorHandle {
    ProcessorHandle::stateless(Arc::new(TransformConsumer::new(processor, next)))
}
