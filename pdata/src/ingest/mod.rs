//! The formats the Pyroscope SDKs push, as codecs: the `/ingest` `name`
//! parameter ([`name`]), collapsed stacks (`folded`, `lines`) built into a
//! pprof ([`folded`]), the `multipart/form-data` body pyroscope-go sends
//! ([`multipart`]), the profile types a name suffix or a
//! `sample_type_config` stands for ([`profile_type`]), the push API's
//! `PushRequest` in protobuf and Connect JSON ([`push_proto`]), and the Java
//! agent's JFR recordings converted to pprof ([`jfr`]). Pure
//! functions over bytes, bounded and panic-free (fuzzed); the `pyroscope`
//! receiver (`profcol-receiver`) serves them over HTTP.

pub mod folded;
pub mod jfr;
pub mod multipart;
pub mod name;
pub mod profile_type;
pub mod push_proto;
