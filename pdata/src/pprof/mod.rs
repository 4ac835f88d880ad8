//! pprof: the profile model (`perftools.profiles.Profile` as prost structs),
//! the zero-copy [`PprofView`] the scrape path decodes bodies into,
//! decompression under [`DecodeLimits`], validation, encoding, folded stacks
//! and [`Canonical`] profiles for comparing meaning.

mod canonical;
pub(crate) mod data;
pub(crate) mod decode;
pub(crate) mod decompress;
mod encode;
pub(crate) mod folded;
pub(crate) mod gunzip;
pub(crate) mod ids;
pub(crate) mod model;
pub(crate) mod offsets;
pub(crate) mod tables;
pub(crate) mod validate;
pub(crate) mod view;
mod window;

pub use canonical::{canonical, Canonical, CanonicalLocation, CanonicalMapping, CanonicalSample};
pub use data::Overlay;
pub use decode::{
    decode_pprof, DecodeLimits, DEFAULT_MAX_DECOMPRESSED_BYTES, DEFAULT_MAX_LABELS_PER_SAMPLE,
};
pub use decompress::{decompress, decompress_into, Compression};
pub use encode::{encode_pprof, encode_pprof_gzip, gzip};
pub use folded::folded_pprof;
pub use model::{Function, Label, Line, Location, Mapping, Profile, Sample, ValueType};
pub use view::{PprofView, SampleBuf};
pub use window::window_start;
