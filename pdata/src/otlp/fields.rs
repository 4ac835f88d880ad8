//! The field numbers of the OTLP profiles messages the writer encodes by
//! hand (opentelemetry-proto v1.10.0, `profiles.proto` and `common.proto`),
//! grouped by message. A test encodes each field with prost and checks its
//! key against these.

/// `ExportProfilesServiceRequest`.
pub(crate) const REQUEST_RESOURCE_PROFILES: u32 = 1;
pub(crate) const REQUEST_DICTIONARY: u32 = 2;

/// `ResourceProfiles`.
pub(crate) const RESOURCE_PROFILES_RESOURCE: u32 = 1;
pub(crate) const RESOURCE_PROFILES_SCOPE_PROFILES: u32 = 2;

/// `ScopeProfiles`.
pub(crate) const SCOPE_PROFILES_SCOPE: u32 = 1;
pub(crate) const SCOPE_PROFILES_PROFILES: u32 = 2;

/// `Profile`.
pub(crate) const PROFILE_SAMPLE_TYPE: u32 = 1;
pub(crate) const PROFILE_SAMPLES: u32 = 2;
pub(crate) const PROFILE_TIME_UNIX_NANO: u32 = 3;
pub(crate) const PROFILE_DURATION_NANO: u32 = 4;
pub(crate) const PROFILE_PERIOD_TYPE: u32 = 5;
pub(crate) const PROFILE_PERIOD: u32 = 6;
pub(crate) const PROFILE_ATTRIBUTE_INDICES: u32 = 11;

/// `Sample`.
pub(crate) const SAMPLE_STACK_INDEX: u32 = 1;
pub(crate) const SAMPLE_ATTRIBUTE_INDICES: u32 = 2;
pub(crate) const SAMPLE_LINK_INDEX: u32 = 3;
pub(crate) const SAMPLE_VALUES: u32 = 4;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::otlp::collector::ExportProfilesServiceRequest;
    use crate::otlp::proto::*;
    use crate::testutil::{assert_constants_are_tags, d, tag_case};
    use crate::wire::{FIXED64, LEN, VARINT};
    use opentelemetry_proto::tonic::common::v1::{
        any_value::Value, AnyValue, InstrumentationScope,
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
        ];
        assert_constants_are_tags(&cases);
    }
}
