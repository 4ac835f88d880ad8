//! profcol's exporters: `otlp_grpc`, `otlp_http`, `pyroscope`, `file` and
//! `debug`, and the sending queue and retry helper they share.

pub mod batching;
pub mod error;
pub mod events;
pub mod metrics;
pub mod pipeline;
pub mod queue;
pub mod retry;

pub use error::Error;
