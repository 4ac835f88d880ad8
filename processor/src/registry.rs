//! The processor types in one table: each row names a type, its stability
//! and how its config decodes into a [`ProcessorConfig`]. The listing
//! (`profcol components`), validation, reload comparison and
//! [`crate::start_processor`] all read it, so a new processor type is a row
//! here, a variant of [`ProcessorConfig`] and its arm in `start_processor`.
//!
//! ```
//! use profcol_processor::registry;
//! assert_eq!(registry::lookup("batch").unwrap().stability, "development");
//! assert!(registry::lookup("tail_sampling").is_none());
//! ```

use crate::{attributes, batch, filter, memory_limiter, resource};
use profcol_config::yaml::Value;
use profcol_config::{decode, ComponentId, Problem};

/// A decoded, validated processor config, whatever its type; equal configs
/// configure the same processor (what a reload compares).
#[derive(PartialEq)]
pub enum ProcessorConfig {
    Batch(batch::BatchConfig),
    MemoryLimiter(memory_limiter::MemoryLimiterConfig),
    Resource(resource::ResourceProcessor),
    Attributes(attributes::AttributesProcessor),
    Filter(filter::FilterProcessor),
}

/// One processor type.
pub struct ProcessorType {
    pub name: &'static str,
    /// `development`, `alpha` or `beta`, as the Collector grades components.
    pub stability: &'static str,
    /// Decodes and validates the body of processor `id`; problems are
    /// reported under the path.
    pub decode: fn(&ComponentId, &Value, &str) -> Result<ProcessorConfig, Vec<Problem>>,
}

/// Every processor type, in the order `profcol components` lists them.
pub const TYPES: &[ProcessorType] = &[
    ProcessorType {
        name: "batch",
        stability: "development",
        decode: decode_batch,
    },
    ProcessorType {
        name: "memory_limiter",
        stability: "development",
        decode: decode_memory_limiter,
    },
    ProcessorType {
        name: "resource",
        stability: "development",
        decode: decode_resource,
    },
    ProcessorType {
        name: "attributes",
        stability: "development",
        decode: decode_attributes,
    },
    ProcessorType {
        name: "filter",
        stability: "development",
        decode: decode_filter,
    },
];

/// The type named `kind`.
pub fn lookup(kind: &str) -> Option<&'static ProcessorType> {
    TYPES.iter().find(|t| t.name == kind)
}

fn decode_batch(
    _: &ComponentId,
    body: &Value,
    path: &str,
) -> Result<ProcessorConfig, Vec<Problem>> {
    decode(body, path).map(ProcessorConfig::Batch)
}

fn decode_memory_limiter(
    _: &ComponentId,
    body: &Value,
    path: &str,
) -> Result<ProcessorConfig, Vec<Problem>> {
    decode(body, path).map(ProcessorConfig::MemoryLimiter)
}

fn decode_resource(
    _: &ComponentId,
    body: &Value,
    path: &str,
) -> Result<ProcessorConfig, Vec<Problem>> {
    resource::ResourceProcessor::parse(body, path).map(ProcessorConfig::Resource)
}

fn decode_attributes(
    _: &ComponentId,
    body: &Value,
    path: &str,
) -> Result<ProcessorConfig, Vec<Problem>> {
    attributes::AttributesProcessor::parse(body, path).map(ProcessorConfig::Attributes)
}

fn decode_filter(
    id: &ComponentId,
    body: &Value,
    path: &str,
) -> Result<ProcessorConfig, Vec<Problem>> {
    filter::FilterProcessor::parse(&id.to_string(), body, path).map(ProcessorConfig::Filter)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_found() {
        let mut names: Vec<&str> = TYPES.iter().map(|t| t.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), TYPES.len());
        for t in TYPES {
            assert_eq!(lookup(t.name).map(|f| f.name), Some(t.name));
        }
    }
}
