//! The crate's one error type.

/// Everything decoding, converting or consuming profiles can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The downstream refused the batch (a full queue, a shutdown).
    #[error("downstream refused the batch: {0}")]
    Refused(String),

    /// The body was empty.
    #[error("empty profile body")]
    EmptyBody,

    /// The body (after decompression) is larger than the configured cap.
    #[error("profile is larger than the limit of {limit} bytes after decompression")]
    TooLarge { limit: usize },

    /// The gzip or zstd stream is corrupt or truncated.
    #[error("could not decompress the {format} body: {source}")]
    Decompress {
        format: &'static str,
        #[source]
        source: std::io::Error,
    },

    /// The bytes are not a protobuf `perftools.profiles.Profile`.
    #[error("body is not a pprof protobuf: {0}")]
    Decode(#[from] prost::DecodeError),

    /// The bytes are not a protobuf `perftools.profiles.Profile` (found by
    /// the zero-copy decoder, [`PprofView`](crate::pprof::PprofView)).
    #[error("body is not a pprof protobuf: {0}")]
    Malformed(&'static str),

    /// The profile has no sample types.
    #[error("invalid pprof: no sample types")]
    NoSampleTypes,

    /// `string_table[0]` must be the empty string.
    #[error("invalid pprof: string_table[0] is {0:?}, not \"\"")]
    StringTableStart(String),

    /// A string index points outside the string table.
    #[error("invalid pprof: {field} string index {index} is outside the string table of {len}")]
    StringIndex {
        field: &'static str,
        index: i64,
        len: usize,
    },

    /// A sample carries a different number of values than there are sample types.
    #[error(
        "invalid pprof: sample {sample} has {got} values, the profile has {want} sample types"
    )]
    ValueCount {
        sample: usize,
        got: usize,
        want: usize,
    },

    /// An id (location, function, mapping) refers to nothing.
    #[error("invalid pprof: {kind} id {id} is referenced but not defined")]
    MissingId { kind: &'static str, id: u64 },

    /// A definition uses the reserved id 0.
    #[error("invalid pprof: a {kind} uses the reserved id 0")]
    ZeroId { kind: &'static str },

    /// A table is larger than its configured limit.
    #[error("profile has {count} {what}, more than the limit of {limit}")]
    TooMany {
        what: &'static str,
        count: usize,
        limit: usize,
    },

    /// An OTLP index points outside its dictionary table.
    #[error("invalid OTLP profiles: {table} index {index} is outside the table of {len}")]
    OtlpIndex {
        table: &'static str,
        index: i64,
        len: usize,
    },

    /// The bytes are not a protobuf OTLP profiles request.
    #[error("body is not an OTLP ExportProfilesServiceRequest: {0}")]
    OtlpDecode(#[source] prost::DecodeError),

    /// The OTLP request is structurally unusable (e.g. no dictionary).
    #[error("invalid OTLP profiles: {0}")]
    InvalidOtlp(String),

    /// A processor could not process the batch (e.g. a filter condition
    /// failed with `error_mode: propagate`); the batch is not passed on.
    #[error("{0}")]
    Processing(String),
}
