//! The crate's one error type.

use profcol_config::Problem;

/// Everything starting or running an exporter can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The exporter type is not one this crate provides.
    #[error("unknown exporter type {0:?}")]
    UnknownType(String),
    /// The configuration did not validate.
    #[error("invalid exporter configuration: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Config(Vec<Problem>),
    /// TLS material could not be read or used.
    #[error("TLS setup failed: {0}")]
    Tls(String),
    /// A client (HTTP or gRPC) could not be built.
    #[error("cannot build the client: {0}")]
    Client(String),
    /// A file or directory could not be used.
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    /// A profile could not be encoded.
    #[error("cannot encode the profile: {0}")]
    Encode(String),
}
