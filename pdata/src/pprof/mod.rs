//! pprof: the profile model (`perftools.profiles.Profile` as prost structs,
//! [`Profile`]), the zero-copy [`PprofView`] the data path keeps a body as,
//! decoding under [`DecodeLimits`] (decompression, validation), encoding,
//! folded stacks, [`Canonical`] profiles for comparing meaning, and the
//! window a scraped profile covers.
//!
//! ```
//! use bytes::Bytes;
//! use profcol_pdata::pprof::{decompress, encode_pprof_gzip, DecodeLimits, PprofView, Profile};
//! let body = encode_pprof_gzip(&Profile::empty("samples", "count"));
//! let limits = DecodeLimits::default();
//! let raw = decompress(&body, limits.max_decompressed_bytes)?;
//! let view = PprofView::decode(Bytes::from(raw.into_owned()), &limits)?;
//! assert_eq!(view.str(view.header().sample_type[0].r#type), "samples");
//! # Ok::<(), profcol_pdata::Error>(())
//! ```
//!
//! The scrape path goes through [`crate::PprofData`], which keeps the view
//! with the bytes as served; [`decode_pprof`] gives the prost structs to
//! callers that want them (tools, tests, debug output).

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
