//! profcol's configuration system: reading and merging YAML files, `--set`
//! overrides, `${env:…}`/`${file:…}` expansion, component ids, durations,
//! secrets, the shared HTTP client blocks, and problems that carry their key
//! path and file. This crate does no networking.

pub mod body;
pub mod cluster;
pub mod collector;
pub mod component_id;
pub mod decode;
pub mod duration;
pub mod error;
pub mod expand;
pub mod http_client;
pub mod keys;
pub mod load;
pub mod merge;
pub mod readable;
pub mod redact;
pub mod secret;
pub mod server;
pub mod suggest;
pub mod telemetry_compat;
pub mod uri;
pub mod yaml;

pub use body::Body;
pub use cluster::ClusterConfig;
pub use collector::{parse_collector, CollectorConfig, Kind, PipelineConfig, ServiceConfig};
pub use component_id::ComponentId;
pub use decode::{decode, decode_only, Validate};
pub use duration::Duration;
pub use error::{join_path, Error, Problem};
pub use http_client::HttpClientConfig;
pub use keys::{unknown_keys, Unknown};
pub use secret::Secret;
