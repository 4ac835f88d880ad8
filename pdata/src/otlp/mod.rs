//! OTLP profiles: the writer that turns pprof profiles into the protobuf
//! bytes of one `ExportProfilesServiceRequest` with one shared dictionary
//! (DESIGN.md §5) without building the request's prost structs, the way
//! back ([`from_otlp`](fn@from_otlp)), OTLP/JSON ([`json`]), folded stacks, and the prost
//! messages themselves ([`proto`], [`collector`]) for readers of requests.
//!
//! ```
//! use profcol_pdata::otlp::{collector::ExportProfilesServiceRequest, from_otlp, to_otlp_bytes};
//! use profcol_pdata::{pprof::Profile, Labels, ProfileRecord};
//! use prost::Message;
//! let labels = Labels::from_pairs([("service_name", "api")]);
//! let record = ProfileRecord::from_profile(labels, &Profile::empty("samples", "count"))?;
//! let bytes = to_otlp_bytes(&[record]);
//! let back = from_otlp(&ExportProfilesServiceRequest::decode(bytes.as_slice())?)?;
//! assert_eq!(back[0].labels.get("service_name"), Some("api"));
//! # Ok::<(), profcol_pdata::Error>(())
//! ```
//!
//! The exporters call [`to_otlp_bytes_with`] with their [`OtlpOptions`];
//! [`OtlpWriter`] converts one profile at a time (a caller converting many
//! files holds one body at a time) and can stream its output.
//!
//! What a request holds (DESIGN.md §5):
//!
//! - One `ResourceProfiles` per distinct set of resource attributes, in
//!   order of first appearance: the record's public labels without any
//!   `__`-prefixed one (`__name__` and `__delta__` are Pyroscope push
//!   labels), `service_name` as `service.name`.
//! - One `ScopeProfiles` per pprof profile, scope `profcol` at the crate
//!   version, carrying the pprof semantic conventions as scope attributes:
//!   `pprof.scope.default_sample_type` (when the pprof names one) and
//!   `pprof.scope.sample_type_order` (the pprof index of each profile, in
//!   order: `[0, 1, …]`).
//! - One OTLP `Profile` per pprof sample type, in sample-type order. Each
//!   distinct sample identity (stack, attributes, link) gives one OTLP
//!   sample with a single value, the sum of the pprof samples that share
//!   it; a sample whose value for the profile's type is zero is left out.
//! - Stacks are leaf first and locations keep their line order (`lines[0]` is
//!   the innermost inlined frame), as in pprof.
//! - Sample labels become attributes: string labels as strings, numeric
//!   labels (`str` unset) as ints with `num_unit` as the unit. Keys are
//!   unique within a sample: labels repeating a key become one attribute
//!   whose value is the array of their values. A `span_id` label that holds
//!   16 lowercase hex digits (with a `trace_id` of 32, when present) is the
//!   sample's link in `link_table`, not an attribute.
//! - Mapping build id → `process.executable.build_id.gnu` and the `has_*`
//!   flags → `pprof.mapping.has_*` (when true); `is_folded` →
//!   `pprof.location.is_folded`; comments, drop/keep frames and doc url →
//!   `pprof.profile.*` profile attributes.
//! - `time_unix_nano`/`duration_nano` are the pprof's `time_nanos` and
//!   `duration_nanos`: the window `[time, time + duration)`.
//! - `original_payload` stays empty; `profile_id` is not set.

pub(crate) mod conventions;
pub(crate) mod convert;
pub(crate) mod dict;
mod dict_table;
pub(crate) mod fields;
mod folded;
mod from_otlp;
pub(crate) mod hasher;
mod index_cache;
pub mod json;
mod label_cache;
mod location_codes;
mod payload;
mod sample_batch;
mod sample_columns;
mod sink;
pub(crate) mod stack_table;
mod string_refs;
mod writer;

/// The profiles service and its request and response messages
/// (`opentelemetry.proto.collector.profiles.v1development`).
pub use opentelemetry_proto::tonic::collector::profiles::v1development as collector;
/// The OTLP profiles messages (`opentelemetry.proto.profiles.v1development`).
pub use opentelemetry_proto::tonic::profiles::v1development as proto;

pub use conventions::{
    ATTR_COMMENT, ATTR_DOC_URL, ATTR_DROP_FRAMES, ATTR_KEEP_FRAMES, ATTR_SCOPE_DEFAULT_SAMPLE_TYPE,
    ATTR_SCOPE_SAMPLE_TYPE_ORDER, SCOPE_NAME, SERVICE_NAME_ATTRIBUTE,
};
pub use folded::folded_otlp;
pub use from_otlp::from_otlp;
pub use payload::{ContentCoding, OtlpLimits, OtlpPayload};
pub use string_refs::resolved as resolve_string_refs;
pub use writer::{
    to_otlp_bytes, to_otlp_bytes_with, views_to_otlp_bytes, OtlpOptions, OtlpWriter, ViewRecord,
};
