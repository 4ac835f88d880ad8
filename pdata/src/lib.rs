//! The data that flows through profcol: [`ProfileBatch`]es of
//! [`ProfileRecord`]s (labels and a validated pprof body), the [`Consumer`]
//! trait every hop implements, the pprof codec ([`pprof`]), pprof → OTLP
//! conversion ([`otlp`]) and deltas of cumulative profiles ([`delta`]).
//! No tasks, no HTTP.

mod batch;
pub mod delta;
mod error;
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
