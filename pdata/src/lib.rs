//! The data that flows through profcol: `ProfileBatch` and its records, the
//! pprof wire format and codec, pprof ⇄ OTLP profiles conversion, and the
//! `Consumer` trait. No tasks, no HTTP.

pub mod batch;
pub mod canonical;
pub mod decode;
pub mod delta;
mod dict;
mod dict_table;
pub mod error;
pub mod folded;
pub mod from_otlp;
mod gunzip;
mod hash;
mod ids;
mod index_cache;
mod label_cache;
pub mod labels;
mod location_codes;
mod offsets;
pub mod otlp_json;
pub mod otlp_writer;
pub mod pprof;
pub mod pprof_data;
mod sample_batch;
mod sample_columns;
mod sink;
mod stack_table;
pub mod string_refs;
mod tables;
#[cfg(test)]
mod testutil;
pub mod to_otlp;
pub mod view;
pub mod window;
mod wire;

pub use batch::{Consumer, ProfileBatch, ProfileRecord};
pub use decode::{decode_pprof, decompress, encode_pprof, encode_pprof_gzip, DecodeLimits};
pub use delta::{is_cumulative, DeltaComputer};
pub use error::Error;
pub use folded::{folded_otlp, folded_pprof};
pub use from_otlp::from_otlp;
pub use labels::Labels;
/// The OTLP profiles messages this crate converts to and from.
pub use opentelemetry_proto::tonic::collector::profiles::v1development as otlp_collector;
pub use opentelemetry_proto::tonic::profiles::v1development as otlp;
pub use otlp_writer::{
    to_otlp_bytes, to_otlp_bytes_with, views_to_otlp_bytes, OtlpOptions, OtlpWriter, ViewRecord,
};
pub use pprof_data::{Overlay, PprofData};
pub use to_otlp::{profile_to_otlp, to_otlp};
pub use view::{decode_pprof_fast, PprofView, SampleBuf};
