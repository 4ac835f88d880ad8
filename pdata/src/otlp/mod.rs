//! OTLP profiles: the direct writer that turns pprof views into the bytes
//! of one `ExportProfilesServiceRequest` ([`OtlpWriter`],
//! [`to_otlp_bytes`]), the way back to pprof ([`from_otlp`]), OTLP/JSON
//! ([`json`]), folded stacks, and the prost messages themselves
//! ([`proto`], [`collector`]).

pub(crate) mod conventions;
pub(crate) mod convert;
pub(crate) mod dict;
mod dict_table;
pub(crate) mod fields;
mod folded;
mod from_otlp;
pub(crate) mod hasher;
mod index_cache;
pub mod json;
mod label_cache;
mod location_codes;
mod sample_batch;
mod sample_columns;
mod sink;
pub(crate) mod stack_table;
mod string_refs;
mod writer;

/// The profiles service and its request and response messages
/// (`opentelemetry.proto.collector.profiles.v1development`).
pub use opentelemetry_proto::tonic::collector::profiles::v1development as collector;
/// The OTLP profiles messages (`opentelemetry.proto.profiles.v1development`).
pub use opentelemetry_proto::tonic::profiles::v1development as proto;

pub use conventions::{
    ATTR_SCOPE_DEFAULT_SAMPLE_TYPE, ATTR_SCOPE_SAMPLE_TYPE_ORDER, SCOPE_NAME,
    SERVICE_NAME_ATTRIBUTE,
};
pub use folded::folded_otlp;
pub use from_otlp::from_otlp;
pub use writer::{
    to_otlp_bytes, to_otlp_bytes_with, views_to_otlp_bytes, OtlpOptions, OtlpWriter, ViewRecord,
};
