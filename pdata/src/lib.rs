//! The data that flows through profcol, and the codecs that read and write
//! it. A receiver turns a scraped body into a [`PprofData`] (decompressed,
//! validated, kept zero-copy), pairs it with its [`Labels`] in a
//! [`ProfileRecord`] and hands a [`ProfileBatch`] to the next hop's
//! [`Consumer`]; exporters forward the served bytes as they are, or send
//! the OTLP request [`otlp::to_otlp_bytes`] writes from the records.
//!
//! ```
//! use bytes::Bytes;
//! use profcol_pdata::pprof::{encode_pprof_gzip, DecodeLimits, Profile};
//! use profcol_pdata::{otlp, Labels, PprofData, ProfileBatch, ProfileRecord};
//! let served = Bytes::from(encode_pprof_gzip(&Profile::empty("samples", "count")));
//! let data = PprofData::from_served(served, &DecodeLimits::default())?;
//! let record = ProfileRecord::new(Labels::from_pairs([("service_name", "api")]), data);
//! let request = otlp::to_otlp_bytes(std::slice::from_ref(&record));
//! let batch = ProfileBatch::new(vec![record]);
//! # assert!(!request.is_empty() && batch.len() == 1);
//! # Ok::<(), profcol_pdata::Error>(())
//! ```
//!
//! - [`pprof`]: the pprof model, the zero-copy [`pprof::PprofView`],
//!   decoding under limits, encoding, folded stacks.
//! - [`otlp`]: pprof → OTLP protobuf bytes, OTLP → pprof, OTLP/JSON, and
//!   the OTLP prost messages.
//! - [`delta`]: per-interval deltas of cumulative profiles.
//! - [`ingest`]: the formats the Pyroscope SDKs push (`/ingest`'s `name`,
//!   collapsed stacks, multipart forms, the push API's `PushRequest`).
//! - `oracle` (this crate's tests, and the `oracle` feature): the slow
//!   paths through prost structs that the fast ones are checked against.
//!
//! No tasks, no HTTP: what a running component is handed (its context,
//! telemetry, the cluster view) lives in `profcol-runtime`.

mod batch;
pub mod delta;
mod error;
pub mod ingest;
mod labels;
#[cfg(any(test, feature = "oracle"))]
pub mod oracle;
pub mod otlp;
pub mod pprof;
#[cfg(test)]
mod testutil;
mod wire;

pub use batch::{Consumer, ProfileBatch, ProfileRecord};
pub use error::Error;
pub use labels::Labels;
pub use pprof::data::PprofData;
