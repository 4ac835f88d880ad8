//! The test oracle: the slow, obviously-right paths through prost structs
//! that the fast paths are checked against, byte for byte. Compiled for
//! this crate's tests and with the `oracle` feature (the fuzz targets,
//! integration tests, benches and other crates' tests); never on the data
//! path.
//!
//! - [`to_otlp`](fn@to_otlp): pprof → OTLP as prost messages, through the writer's own
//!   converter and dictionary; its `encode_to_vec()` must equal
//!   [`crate::otlp::to_otlp_bytes`].
//! - [`decode_pprof`]: prost's `Profile::decode` + [`validate`]; the view
//!   ([`crate::pprof::decode_pprof`]) must accept exactly the same bodies
//!   and decode them to the same profile.
//!
//! ```
//! use profcol_pdata::{oracle, otlp, pprof::Profile, Labels, ProfileRecord};
//! use prost::Message;
//! let record = ProfileRecord::from_profile(Labels::new(), &Profile::empty("samples", "count"))?;
//! let records = [record];
//! assert_eq!(otlp::to_otlp_bytes(&records), oracle::to_otlp(&records).encode_to_vec());
//! # Ok::<(), profcol_pdata::Error>(())
//! ```

mod decode;
pub(crate) mod dict;
mod to_otlp;

pub use decode::{decode_pprof, validate};
pub use to_otlp::{profile_to_otlp, profiles_to_otlp, to_otlp};
