//! The crate's one error type.

/// Everything decoding, converting or consuming profiles can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The downstream refused the batch (a full queue, a shutdown).
    #[error("downstream refused the batch: {0}")]
    Refused(String),
}
