//! The names profcol's OTLP output uses for what pprof carries and OTLP has
//! no field for (the pprof semantic conventions), and the two messages
//! built from them once per resource and per profile: the `Resource` of a
//! label set and the `InstrumentationScope` of one pprof profile.

use crate::labels::Labels;
use crate::otlp::convert::ProfileHead;
use opentelemetry_proto::tonic::common::v1::{
    any_value, AnyValue, ArrayValue, InstrumentationScope, KeyValue,
};
use opentelemetry_proto::tonic::resource::v1::Resource;

/// The scope name on every `ScopeProfiles` profcol produces.
pub const SCOPE_NAME: &str = "profcol";
/// The resource attribute `service_name` maps to.
pub const SERVICE_NAME_ATTRIBUTE: &str = "service.name";

pub(crate) const ATTR_BUILD_ID: &str = "process.executable.build_id.gnu";
pub(crate) const ATTR_HAS_FUNCTIONS: &str = "pprof.mapping.has_functions";
pub(crate) const ATTR_HAS_FILENAMES: &str = "pprof.mapping.has_filenames";
pub(crate) const ATTR_HAS_LINE_NUMBERS: &str = "pprof.mapping.has_line_numbers";
pub(crate) const ATTR_HAS_INLINE_FRAMES: &str = "pprof.mapping.has_inline_frames";
pub(crate) const ATTR_IS_FOLDED: &str = "pprof.location.is_folded";
/// Profile attributes (pprof semantic conventions) of a pprof header.
pub const ATTR_COMMENT: &str = "pprof.profile.comment";
pub const ATTR_DROP_FRAMES: &str = "pprof.profile.drop_frames";
pub const ATTR_KEEP_FRAMES: &str = "pprof.profile.keep_frames";
pub const ATTR_DOC_URL: &str = "pprof.profile.doc_url";
/// Scope attributes (semantic conventions, `model/pprof`).
pub const ATTR_SCOPE_DEFAULT_SAMPLE_TYPE: &str = "pprof.scope.default_sample_type";
pub const ATTR_SCOPE_SAMPLE_TYPE_ORDER: &str = "pprof.scope.sample_type_order";
/// What earlier profcol versions wrote as a profile attribute; still read.
pub(crate) const ATTR_LEGACY_DEFAULT_SAMPLE_TYPE: &str = "pprof.profile.default_sample_type";

/// The pprof label keys that are trace links (as Grafana Pyroscope and the
/// Go SDKs write them).
pub(crate) const SPAN_ID_LABEL: &str = "span_id";
pub(crate) const TRACE_ID_LABEL: &str = "trace_id";

fn string_kv(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.to_string())),
        }),
        ..Default::default()
    }
}

/// The labels that become a record's resource attributes: its public
/// labels without the `__`-prefixed ones.
pub(crate) fn resource_labels(labels: &Labels) -> Labels {
    let mut public = labels.public();
    public.retain(|k, _| !k.starts_with(Labels::RESERVED_PREFIX));
    public
}

/// The resource of a set of [`resource_labels`].
pub(crate) fn resource(labels: &Labels) -> Resource {
    let attributes = labels
        .iter()
        .map(|(k, v)| {
            string_kv(
                if k == Labels::SERVICE_NAME {
                    SERVICE_NAME_ATTRIBUTE
                } else {
                    k
                },
                v,
            )
        })
        .collect();
    Resource {
        attributes,
        ..Default::default()
    }
}

/// The scope of one pprof profile's `ScopeProfiles`.
pub(crate) fn scope(head: &ProfileHead) -> InstrumentationScope {
    let mut attributes = Vec::with_capacity(2);
    if let Some(t) = &head.default_sample_type {
        attributes.push(string_kv(ATTR_SCOPE_DEFAULT_SAMPLE_TYPE, t));
    }
    if !head.sample_types.is_empty() {
        let values = (0..head.sample_types.len())
            .map(|i| AnyValue {
                value: Some(any_value::Value::IntValue(i as i64)),
            })
            .collect();
        attributes.push(KeyValue {
            key: ATTR_SCOPE_SAMPLE_TYPE_ORDER.to_string(),
            value: Some(AnyValue {
                value: Some(any_value::Value::ArrayValue(ArrayValue { values })),
            }),
            ..Default::default()
        });
    }
    InstrumentationScope {
        name: SCOPE_NAME.to_string(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        attributes,
        ..Default::default()
    }
}
