//! The field numbers of the OTLP profiles messages the writer encodes and
//! the received-request check reads by hand (opentelemetry-proto v1.10.0,
//! `profiles.proto`, `common.proto` and `resource.proto`), grouped by
//! message. A test encodes each field with prost and checks its
//! key against these.

/// `ExportProfilesServiceRequest`.
pub(crate) const REQUEST_RESOURCE_PROFILES: u32 = 1;
pub(crate) const REQUEST_DICTIONARY: u32 = 2;

/// `ResourceProfiles`.
pub(crate) const RESOURCE_PROFILES_RESOURCE: u32 = 1;
pub(crate) const RESOURCE_PROFILES_SCOPE_PROFILES: u32 = 2;
pub(crate) const RESOURCE_PROFILES_SCHEMA_URL: u32 = 3;

/// `resource.v1.Resource`.
pub(crate) const RESOURCE_ATTRIBUTES: u32 = 1;
pub(crate) const RESOURCE_DROPPED_ATTRIBUTES_COUNT: u32 = 2;
pub(crate) const RESOURCE_ENTITY_REFS: u32 = 3;

/// `common.v1.EntityRef`.
pub(crate) const ENTITY_REF_SCHEMA_URL: u32 = 1;
pub(crate) const ENTITY_REF_TYPE: u32 = 2;
pub(crate) const ENTITY_REF_ID_KEYS: u32 = 3;
pub(crate) const ENTITY_REF_DESCRIPTION_KEYS: u32 = 4;

/// `ScopeProfiles`.
pub(crate) const SCOPE_PROFILES_SCOPE: u32 = 1;
pub(crate) const SCOPE_PROFILES_PROFILES: u32 = 2;
pub(crate) const SCOPE_PROFILES_SCHEMA_URL: u32 = 3;

/// `common.v1.InstrumentationScope`.
pub(crate) const SCOPE_NAME: u32 = 1;
pub(crate) const SCOPE_VERSION: u32 = 2;
pub(crate) const SCOPE_ATTRIBUTES: u32 = 3;
pub(crate) const SCOPE_DROPPED_ATTRIBUTES_COUNT: u32 = 4;

/// `Profile`.
pub(crate) const PROFILE_SAMPLE_TYPE: u32 = 1;
pub(crate) const PROFILE_SAMPLES: u32 = 2;
pub(crate) const PROFILE_TIME_UNIX_NANO: u32 = 3;
pub(crate) const PROFILE_DURATION_NANO: u32 = 4;
pub(crate) const PROFILE_PERIOD_TYPE: u32 = 5;
pub(crate) const PROFILE_PERIOD: u32 = 6;
pub(crate) const PROFILE_PROFILE_ID: u32 = 7;
pub(crate) const PROFILE_DROPPED_ATTRIBUTES_COUNT: u32 = 8;
pub(crate) const PROFILE_ORIGINAL_PAYLOAD_FORMAT: u32 = 9;
pub(crate) const PROFILE_ORIGINAL_PAYLOAD: u32 = 10;
pub(crate) const PROFILE_ATTRIBUTE_INDICES: u32 = 11;

/// `Sample`.
pub(crate) const SAMPLE_STACK_INDEX: u32 = 1;
pub(crate) const SAMPLE_ATTRIBUTE_INDICES: u32 = 2;
pub(crate) const SAMPLE_LINK_INDEX: u32 = 3;
pub(crate) const SAMPLE_VALUES: u32 = 4;
pub(crate) const SAMPLE_TIMESTAMPS_UNIX_NANO: u32 = 5;

/// `ValueType`.
pub(crate) const VALUE_TYPE_TYPE_STRINDEX: u32 = 1;
pub(crate) const VALUE_TYPE_UNIT_STRINDEX: u32 = 2;

/// `ProfilesDictionary`.
pub(crate) const DICTIONARY_MAPPING_TABLE: u32 = 1;
pub(crate) const DICTIONARY_LOCATION_TABLE: u32 = 2;
pub(crate) const DICTIONARY_FUNCTION_TABLE: u32 = 3;
pub(crate) const DICTIONARY_LINK_TABLE: u32 = 4;
pub(crate) const DICTIONARY_STRING_TABLE: u32 = 5;
pub(crate) const DICTIONARY_ATTRIBUTE_TABLE: u32 = 6;
pub(crate) const DICTIONARY_STACK_TABLE: u32 = 7;

/// `Mapping`.
pub(crate) const MAPPING_MEMORY_START: u32 = 1;
pub(crate) const MAPPING_MEMORY_LIMIT: u32 = 2;
pub(crate) const MAPPING_FILE_OFFSET: u32 = 3;
pub(crate) const MAPPING_FILENAME_STRINDEX: u32 = 4;
pub(crate) const MAPPING_ATTRIBUTE_INDICES: u32 = 5;

/// `Link`.
pub(crate) const LINK_TRACE_ID: u32 = 1;
pub(crate) const LINK_SPAN_ID: u32 = 2;

/// `Location`.
pub(crate) const LOCATION_MAPPING_INDEX: u32 = 1;
pub(crate) const LOCATION_ADDRESS: u32 = 2;
pub(crate) const LOCATION_LINES: u32 = 3;
pub(crate) const LOCATION_ATTRIBUTE_INDICES: u32 = 4;

/// `Line`.
pub(crate) const LINE_FUNCTION_INDEX: u32 = 1;
pub(crate) const LINE_LINE: u32 = 2;
pub(crate) const LINE_COLUMN: u32 = 3;

/// `Function`.
pub(crate) const FUNCTION_NAME_STRINDEX: u32 = 1;
pub(crate) const FUNCTION_SYSTEM_NAME_STRINDEX: u32 = 2;
pub(crate) const FUNCTION_FILENAME_STRINDEX: u32 = 3;
pub(crate) const FUNCTION_START_LINE: u32 = 4;

/// `Stack`.
pub(crate) const STACK_LOCATION_INDICES: u32 = 1;

/// `KeyValueAndUnit`.
pub(crate) const KEY_VALUE_AND_UNIT_KEY_STRINDEX: u32 = 1;
pub(crate) const KEY_VALUE_AND_UNIT_VALUE: u32 = 2;
pub(crate) const KEY_VALUE_AND_UNIT_UNIT_STRINDEX: u32 = 3;

/// `common.v1.AnyValue` (a oneof).
pub(crate) const ANY_VALUE_STRING_VALUE: u32 = 1;
pub(crate) const ANY_VALUE_BOOL_VALUE: u32 = 2;
pub(crate) const ANY_VALUE_INT_VALUE: u32 = 3;
pub(crate) const ANY_VALUE_DOUBLE_VALUE: u32 = 4;
pub(crate) const ANY_VALUE_ARRAY_VALUE: u32 = 5;
pub(crate) const ANY_VALUE_KVLIST_VALUE: u32 = 6;
pub(crate) const ANY_VALUE_BYTES_VALUE: u32 = 7;
pub(crate) const ANY_VALUE_STRING_VALUE_STRINDEX: u32 = 8;

/// `common.v1.ArrayValue` and `common.v1.KeyValueList`.
pub(crate) const ARRAY_VALUE_VALUES: u32 = 1;
pub(crate) const KEY_VALUE_LIST_VALUES: u32 = 1;

/// `common.v1.KeyValue`.
pub(crate) const KEY_VALUE_KEY: u32 = 1;
pub(crate) const KEY_VALUE_VALUE: u32 = 2;
pub(crate) const KEY_VALUE_KEY_STRINDEX: u32 = 3;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::otlp::collector::ExportProfilesServiceRequest;
    use crate::otlp::proto::*;
    use crate::testutil::{assert_constants_are_tags, d, tag_case};
    use crate::wire::{FIXED64, LEN, VARINT};
    use opentelemetry_proto::tonic::common::v1::{
        any_value::Value, AnyValue, ArrayValue, EntityRef, InstrumentationScope, KeyValue,
        KeyValueList,
    };
    use opentelemetry_proto::tonic::resource::v1::Resource;
    use prost::Message;

    /// Every constant against prost: a message with that one field set
    /// encodes as the constant's key (field number and wire type) first.
    #[test]
    fn constants_are_prosts_tags() {
        let cases = [
            tag_case!(REQUEST_RESOURCE_PROFILES, LEN, ExportProfilesServiceRequest, resource_profiles: vec![d()]),
            tag_case!(REQUEST_DICTIONARY, LEN, ExportProfilesServiceRequest, dictionary: Some(d())),
            tag_case!(RESOURCE_PROFILES_RESOURCE, LEN, ResourceProfiles, resource: Some(Resource::default())),
            tag_case!(RESOURCE_PROFILES_SCOPE_PROFILES, LEN, ResourceProfiles, scope_profiles: vec![d()]),
            tag_case!(SCOPE_PROFILES_SCOPE, LEN, ScopeProfiles, scope: Some(InstrumentationScope::default())),
            tag_case!(SCOPE_PROFILES_PROFILES, LEN, ScopeProfiles, profiles: vec![d()]),
            tag_case!(PROFILE_SAMPLE_TYPE, LEN, Profile, sample_type: Some(d())),
            tag_case!(PROFILE_SAMPLES, LEN, Profile, samples: vec![d()]),
            tag_case!(PROFILE_TIME_UNIX_NANO, FIXED64, Profile, time_unix_nano: 1),
            tag_case!(PROFILE_DURATION_NANO, VARINT, Profile, duration_nano: 1),
            tag_case!(PROFILE_PERIOD_TYPE, LEN, Profile, period_type: Some(d())),
            tag_case!(PROFILE_PERIOD, VARINT, Profile, period: 1),
            tag_case!(PROFILE_ATTRIBUTE_INDICES, LEN, Profile, attribute_indices: vec![1]),
            tag_case!(SAMPLE_STACK_INDEX, VARINT, Sample, stack_index: 1),
            tag_case!(SAMPLE_ATTRIBUTE_INDICES, LEN, Sample, attribute_indices: vec![1]),
            tag_case!(SAMPLE_LINK_INDEX, VARINT, Sample, link_index: 1),
            tag_case!(SAMPLE_VALUES, LEN, Sample, values: vec![1]),
            tag_case!(VALUE_TYPE_TYPE_STRINDEX, VARINT, ValueType, type_strindex: 1),
            tag_case!(VALUE_TYPE_UNIT_STRINDEX, VARINT, ValueType, unit_strindex: 1),
            tag_case!(DICTIONARY_MAPPING_TABLE, LEN, ProfilesDictionary, mapping_table: vec![d()]),
            tag_case!(DICTIONARY_LOCATION_TABLE, LEN, ProfilesDictionary, location_table: vec![d()]),
            tag_case!(DICTIONARY_FUNCTION_TABLE, LEN, ProfilesDictionary, function_table: vec![d()]),
            tag_case!(DICTIONARY_LINK_TABLE, LEN, ProfilesDictionary, link_table: vec![d()]),
            tag_case!(DICTIONARY_STRING_TABLE, LEN, ProfilesDictionary, string_table: vec![String::new()]),
            tag_case!(DICTIONARY_ATTRIBUTE_TABLE, LEN, ProfilesDictionary, attribute_table: vec![d()]),
            tag_case!(DICTIONARY_STACK_TABLE, LEN, ProfilesDictionary, stack_table: vec![d()]),
            tag_case!(LOCATION_MAPPING_INDEX, VARINT, Location, mapping_index: 1),
            tag_case!(LOCATION_ADDRESS, VARINT, Location, address: 1),
            tag_case!(LOCATION_LINES, LEN, Location, lines: vec![d()]),
            tag_case!(LOCATION_ATTRIBUTE_INDICES, LEN, Location, attribute_indices: vec![1]),
            tag_case!(LINE_FUNCTION_INDEX, VARINT, Line, function_index: 1),
            tag_case!(LINE_LINE, VARINT, Line, line: 1),
            tag_case!(LINE_COLUMN, VARINT, Line, column: 1),
            tag_case!(FUNCTION_NAME_STRINDEX, VARINT, Function, name_strindex: 1),
            tag_case!(FUNCTION_SYSTEM_NAME_STRINDEX, VARINT, Function, system_name_strindex: 1),
            tag_case!(FUNCTION_FILENAME_STRINDEX, VARINT, Function, filename_strindex: 1),
            tag_case!(FUNCTION_START_LINE, VARINT, Function, start_line: 1),
            tag_case!(STACK_LOCATION_INDICES, LEN, Stack, location_indices: vec![1]),
            tag_case!(KEY_VALUE_AND_UNIT_KEY_STRINDEX, VARINT, KeyValueAndUnit, key_strindex: 1),
            tag_case!(KEY_VALUE_AND_UNIT_VALUE, LEN, KeyValueAndUnit, value: Some(d())),
            tag_case!(KEY_VALUE_AND_UNIT_UNIT_STRINDEX, VARINT, KeyValueAndUnit, unit_strindex: 1),
            tag_case!(ANY_VALUE_STRING_VALUE, LEN, AnyValue, value: Some(Value::StringValue(String::new()))),
            tag_case!(ANY_VALUE_BOOL_VALUE, VARINT, AnyValue, value: Some(Value::BoolValue(false))),
            tag_case!(ANY_VALUE_INT_VALUE, VARINT, AnyValue, value: Some(Value::IntValue(0))),
            tag_case!(ANY_VALUE_DOUBLE_VALUE, FIXED64, AnyValue, value: Some(Value::DoubleValue(0.0))),
            tag_case!(ANY_VALUE_ARRAY_VALUE, LEN, AnyValue, value: Some(Value::ArrayValue(d()))),
            tag_case!(ANY_VALUE_KVLIST_VALUE, LEN, AnyValue, value: Some(Value::KvlistValue(d()))),
            tag_case!(ANY_VALUE_BYTES_VALUE, LEN, AnyValue, value: Some(Value::BytesValue(vec![]))),
            tag_case!(ANY_VALUE_STRING_VALUE_STRINDEX, VARINT, AnyValue, value: Some(Value::StringValueStrindex(0))),
            tag_case!(ARRAY_VALUE_VALUES, LEN, ArrayValue, values: vec![d()]),
            tag_case!(KEY_VALUE_LIST_VALUES, LEN, KeyValueList, values: vec![d()]),
            tag_case!(KEY_VALUE_KEY, LEN, KeyValue, key: "k".into()),
            tag_case!(KEY_VALUE_VALUE, LEN, KeyValue, value: Some(d())),
            tag_case!(KEY_VALUE_KEY_STRINDEX, VARINT, KeyValue, key_strindex: 1),
            tag_case!(RESOURCE_PROFILES_SCHEMA_URL, LEN, ResourceProfiles, schema_url: "u".into()),
            tag_case!(RESOURCE_ATTRIBUTES, LEN, Resource, attributes: vec![d()]),
            tag_case!(RESOURCE_DROPPED_ATTRIBUTES_COUNT, VARINT, Resource, dropped_attributes_count: 1),
            tag_case!(RESOURCE_ENTITY_REFS, LEN, Resource, entity_refs: vec![d()]),
            tag_case!(ENTITY_REF_SCHEMA_URL, LEN, EntityRef, schema_url: "u".into()),
            tag_case!(ENTITY_REF_TYPE, LEN, EntityRef, r#type: "t".into()),
            tag_case!(ENTITY_REF_ID_KEYS, LEN, EntityRef, id_keys: vec![String::new()]),
            tag_case!(ENTITY_REF_DESCRIPTION_KEYS, LEN, EntityRef, description_keys: vec![String::new()]),
            tag_case!(SCOPE_PROFILES_SCHEMA_URL, LEN, ScopeProfiles, schema_url: "u".into()),
            tag_case!(SCOPE_NAME, LEN, InstrumentationScope, name: "n".into()),
            tag_case!(SCOPE_VERSION, LEN, InstrumentationScope, version: "v".into()),
            tag_case!(SCOPE_ATTRIBUTES, LEN, InstrumentationScope, attributes: vec![d()]),
            tag_case!(SCOPE_DROPPED_ATTRIBUTES_COUNT, VARINT, InstrumentationScope, dropped_attributes_count: 1),
            tag_case!(PROFILE_PROFILE_ID, LEN, Profile, profile_id: vec![1]),
            tag_case!(PROFILE_DROPPED_ATTRIBUTES_COUNT, VARINT, Profile, dropped_attributes_count: 1),
            tag_case!(PROFILE_ORIGINAL_PAYLOAD_FORMAT, LEN, Profile, original_payload_format: "f".into()),
            tag_case!(PROFILE_ORIGINAL_PAYLOAD, LEN, Profile, original_payload: vec![1]),
            tag_case!(SAMPLE_TIMESTAMPS_UNIX_NANO, LEN, Sample, timestamps_unix_nano: vec![1]),
            tag_case!(MAPPING_MEMORY_START, VARINT, Mapping, memory_start: 1),
            tag_case!(MAPPING_MEMORY_LIMIT, VARINT, Mapping, memory_limit: 1),
            tag_case!(MAPPING_FILE_OFFSET, VARINT, Mapping, file_offset: 1),
            tag_case!(MAPPING_FILENAME_STRINDEX, VARINT, Mapping, filename_strindex: 1),
            tag_case!(MAPPING_ATTRIBUTE_INDICES, LEN, Mapping, attribute_indices: vec![1]),
            tag_case!(LINK_TRACE_ID, LEN, Link, trace_id: vec![1]),
            tag_case!(LINK_SPAN_ID, LEN, Link, span_id: vec![1]),
        ];
        assert_constants_are_tags(&cases);
    }
}
