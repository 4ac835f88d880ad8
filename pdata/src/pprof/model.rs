//! The pprof wire format (`perftools.profiles.Profile`, profile.proto), as
//! prost messages. Field numbers are those of google/pprof's profile.proto.

#![allow(missing_docs)]

#[derive(Clone, PartialEq, prost::Message)]
pub struct Profile {
    #[prost(message, repeated, tag = "1")]
    pub sample_type: Vec<ValueType>,
    #[prost(message, repeated, tag = "2")]
    pub sample: Vec<Sample>,
    #[prost(message, repeated, tag = "3")]
    pub mapping: Vec<Mapping>,
    #[prost(message, repeated, tag = "4")]
    pub location: Vec<Location>,
    #[prost(message, repeated, tag = "5")]
    pub function: Vec<Function>,
    #[prost(string, repeated, tag = "6")]
    pub string_table: Vec<String>,
    #[prost(int64, tag = "7")]
    pub drop_frames: i64,
    #[prost(int64, tag = "8")]
    pub keep_frames: i64,
    #[prost(int64, tag = "9")]
    pub time_nanos: i64,
    #[prost(int64, tag = "10")]
    pub duration_nanos: i64,
    #[prost(message, optional, tag = "11")]
    pub period_type: Option<ValueType>,
    #[prost(int64, tag = "12")]
    pub period: i64,
    #[prost(int64, repeated, tag = "13")]
    pub comment: Vec<i64>,
    #[prost(int64, tag = "14")]
    pub default_sample_type: i64,
    #[prost(int64, tag = "15")]
    pub doc_url: i64,
}

/// `Profile` field numbers.
pub(crate) const PROFILE_SAMPLE_TYPE: u32 = 1;
pub(crate) const PROFILE_SAMPLE: u32 = 2;
pub(crate) const PROFILE_MAPPING: u32 = 3;
pub(crate) const PROFILE_LOCATION: u32 = 4;
pub(crate) const PROFILE_FUNCTION: u32 = 5;
pub(crate) const PROFILE_STRING_TABLE: u32 = 6;
pub(crate) const PROFILE_DROP_FRAMES: u32 = 7;
pub(crate) const PROFILE_KEEP_FRAMES: u32 = 8;
pub(crate) const PROFILE_TIME_NANOS: u32 = 9;
pub(crate) const PROFILE_DURATION_NANOS: u32 = 10;
pub(crate) const PROFILE_PERIOD_TYPE: u32 = 11;
pub(crate) const PROFILE_PERIOD: u32 = 12;
pub(crate) const PROFILE_COMMENT: u32 = 13;
pub(crate) const PROFILE_DEFAULT_SAMPLE_TYPE: u32 = 14;
pub(crate) const PROFILE_DOC_URL: u32 = 15;

#[derive(Clone, Copy, PartialEq, Eq, Hash, prost::Message)]
pub struct ValueType {
    #[prost(int64, tag = "1")]
    pub r#type: i64,
    #[prost(int64, tag = "2")]
    pub unit: i64,
}

/// `ValueType` field numbers.
pub(crate) const VALUE_TYPE_TYPE: u32 = 1;
pub(crate) const VALUE_TYPE_UNIT: u32 = 2;

#[derive(Clone, PartialEq, prost::Message)]
pub struct Sample {
    #[prost(uint64, repeated, tag = "1")]
    pub location_id: Vec<u64>,
    #[prost(int64, repeated, tag = "2")]
    pub value: Vec<i64>,
    #[prost(message, repeated, tag = "3")]
    pub label: Vec<Label>,
}

/// `Sample` field numbers.
pub(crate) const SAMPLE_LOCATION_ID: u32 = 1;
pub(crate) const SAMPLE_VALUE: u32 = 2;
pub(crate) const SAMPLE_LABEL: u32 = 3;

#[derive(Clone, Copy, PartialEq, Eq, Hash, prost::Message)]
pub struct Label {
    #[prost(int64, tag = "1")]
    pub key: i64,
    #[prost(int64, tag = "2")]
    pub str: i64,
    #[prost(int64, tag = "3")]
    pub num: i64,
    #[prost(int64, tag = "4")]
    pub num_unit: i64,
}

/// `Label` field numbers.
pub(crate) const LABEL_KEY: u32 = 1;
pub(crate) const LABEL_STR: u32 = 2;
pub(crate) const LABEL_NUM: u32 = 3;
pub(crate) const LABEL_NUM_UNIT: u32 = 4;

#[derive(Clone, PartialEq, Eq, Hash, prost::Message)]
pub struct Mapping {
    #[prost(uint64, tag = "1")]
    pub id: u64,
    #[prost(uint64, tag = "2")]
    pub memory_start: u64,
    #[prost(uint64, tag = "3")]
    pub memory_limit: u64,
    #[prost(uint64, tag = "4")]
    pub file_offset: u64,
    #[prost(int64, tag = "5")]
    pub filename: i64,
    #[prost(int64, tag = "6")]
    pub build_id: i64,
    #[prost(bool, tag = "7")]
    pub has_functions: bool,
    #[prost(bool, tag = "8")]
    pub has_filenames: bool,
    #[prost(bool, tag = "9")]
    pub has_line_numbers: bool,
    #[prost(bool, tag = "10")]
    pub has_inline_frames: bool,
}

/// `Mapping` field numbers.
pub(crate) const MAPPING_ID: u32 = 1;
pub(crate) const MAPPING_MEMORY_START: u32 = 2;
pub(crate) const MAPPING_MEMORY_LIMIT: u32 = 3;
pub(crate) const MAPPING_FILE_OFFSET: u32 = 4;
pub(crate) const MAPPING_FILENAME: u32 = 5;
pub(crate) const MAPPING_BUILD_ID: u32 = 6;
pub(crate) const MAPPING_HAS_FUNCTIONS: u32 = 7;
pub(crate) const MAPPING_HAS_FILENAMES: u32 = 8;
pub(crate) const MAPPING_HAS_LINE_NUMBERS: u32 = 9;
pub(crate) const MAPPING_HAS_INLINE_FRAMES: u32 = 10;

#[derive(Clone, PartialEq, Eq, Hash, prost::Message)]
pub struct Location {
    #[prost(uint64, tag = "1")]
    pub id: u64,
    #[prost(uint64, tag = "2")]
    pub mapping_id: u64,
    #[prost(uint64, tag = "3")]
    pub address: u64,
    #[prost(message, repeated, tag = "4")]
    pub line: Vec<Line>,
    #[prost(bool, tag = "5")]
    pub is_folded: bool,
}

/// `Location` field numbers.
pub(crate) const LOCATION_ID: u32 = 1;
pub(crate) const LOCATION_MAPPING_ID: u32 = 2;
pub(crate) const LOCATION_ADDRESS: u32 = 3;
pub(crate) const LOCATION_LINE: u32 = 4;
pub(crate) const LOCATION_IS_FOLDED: u32 = 5;

#[derive(Clone, Copy, PartialEq, Eq, Hash, prost::Message)]
pub struct Line {
    #[prost(uint64, tag = "1")]
    pub function_id: u64,
    #[prost(int64, tag = "2")]
    pub line: i64,
    #[prost(int64, tag = "3")]
    pub column: i64,
}

/// `Line` field numbers.
pub(crate) const LINE_FUNCTION_ID: u32 = 1;
pub(crate) const LINE_LINE: u32 = 2;
pub(crate) const LINE_COLUMN: u32 = 3;

#[derive(Clone, Copy, PartialEq, Eq, Hash, prost::Message)]
pub struct Function {
    #[prost(uint64, tag = "1")]
    pub id: u64,
    #[prost(int64, tag = "2")]
    pub name: i64,
    #[prost(int64, tag = "3")]
    pub system_name: i64,
    #[prost(int64, tag = "4")]
    pub filename: i64,
    #[prost(int64, tag = "5")]
    pub start_line: i64,
}

/// `Function` field numbers.
pub(crate) const FUNCTION_ID: u32 = 1;
pub(crate) const FUNCTION_NAME: u32 = 2;
pub(crate) const FUNCTION_SYSTEM_NAME: u32 = 3;
pub(crate) const FUNCTION_FILENAME: u32 = 4;
pub(crate) const FUNCTION_START_LINE: u32 = 5;

impl Profile {
    /// A valid profile of one sample type and no samples (placeholders,
    /// tests).
    pub fn empty(sample_type: &str, unit: &str) -> Self {
        Profile {
            sample_type: vec![ValueType { r#type: 1, unit: 2 }],
            string_table: vec![String::new(), sample_type.into(), unit.into()],
            ..Default::default()
        }
    }

    /// The string at `idx`, or "" when out of range.
    pub fn str(&self, idx: i64) -> &str {
        usize::try_from(idx)
            .ok()
            .and_then(|i| self.string_table.get(i))
            .map(String::as_str)
            .unwrap_or("")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{assert_constants_are_tags, d, tag_case};
    use crate::wire::{LEN, VARINT};
    use prost::Message;

    /// Every field constant against prost: a message with that one field
    /// set encodes as the constant's key (field number and wire type) first.
    #[test]
    fn constants_are_the_messages_tags() {
        let cases = [
            tag_case!(PROFILE_SAMPLE_TYPE, LEN, Profile, sample_type: vec![d()]),
            tag_case!(PROFILE_SAMPLE, LEN, Profile, sample: vec![d()]),
            tag_case!(PROFILE_MAPPING, LEN, Profile, mapping: vec![d()]),
            tag_case!(PROFILE_LOCATION, LEN, Profile, location: vec![d()]),
            tag_case!(PROFILE_FUNCTION, LEN, Profile, function: vec![d()]),
            tag_case!(PROFILE_STRING_TABLE, LEN, Profile, string_table: vec![String::new()]),
            tag_case!(PROFILE_DROP_FRAMES, VARINT, Profile, drop_frames: 1),
            tag_case!(PROFILE_KEEP_FRAMES, VARINT, Profile, keep_frames: 1),
            tag_case!(PROFILE_TIME_NANOS, VARINT, Profile, time_nanos: 1),
            tag_case!(PROFILE_DURATION_NANOS, VARINT, Profile, duration_nanos: 1),
            tag_case!(PROFILE_PERIOD_TYPE, LEN, Profile, period_type: Some(d())),
            tag_case!(PROFILE_PERIOD, VARINT, Profile, period: 1),
            tag_case!(PROFILE_COMMENT, LEN, Profile, comment: vec![1]),
            tag_case!(PROFILE_DEFAULT_SAMPLE_TYPE, VARINT, Profile, default_sample_type: 1),
            tag_case!(PROFILE_DOC_URL, VARINT, Profile, doc_url: 1),
            tag_case!(VALUE_TYPE_TYPE, VARINT, ValueType, r#type: 1),
            tag_case!(VALUE_TYPE_UNIT, VARINT, ValueType, unit: 1),
            tag_case!(SAMPLE_LOCATION_ID, LEN, Sample, location_id: vec![1]),
            tag_case!(SAMPLE_VALUE, LEN, Sample, value: vec![1]),
            tag_case!(SAMPLE_LABEL, LEN, Sample, label: vec![d()]),
            tag_case!(LABEL_KEY, VARINT, Label, key: 1),
            tag_case!(LABEL_STR, VARINT, Label, str: 1),
            tag_case!(LABEL_NUM, VARINT, Label, num: 1),
            tag_case!(LABEL_NUM_UNIT, VARINT, Label, num_unit: 1),
            tag_case!(MAPPING_ID, VARINT, Mapping, id: 1),
            tag_case!(MAPPING_MEMORY_START, VARINT, Mapping, memory_start: 1),
            tag_case!(MAPPING_MEMORY_LIMIT, VARINT, Mapping, memory_limit: 1),
            tag_case!(MAPPING_FILE_OFFSET, VARINT, Mapping, file_offset: 1),
            tag_case!(MAPPING_FILENAME, VARINT, Mapping, filename: 1),
            tag_case!(MAPPING_BUILD_ID, VARINT, Mapping, build_id: 1),
            tag_case!(MAPPING_HAS_FUNCTIONS, VARINT, Mapping, has_functions: true),
            tag_case!(MAPPING_HAS_FILENAMES, VARINT, Mapping, has_filenames: true),
            tag_case!(MAPPING_HAS_LINE_NUMBERS, VARINT, Mapping, has_line_numbers: true),
            tag_case!(MAPPING_HAS_INLINE_FRAMES, VARINT, Mapping, has_inline_frames: true),
            tag_case!(LOCATION_ID, VARINT, Location, id: 1),
            tag_case!(LOCATION_MAPPING_ID, VARINT, Location, mapping_id: 1),
            tag_case!(LOCATION_ADDRESS, VARINT, Location, address: 1),
            tag_case!(LOCATION_LINE, LEN, Location, line: vec![d()]),
            tag_case!(LOCATION_IS_FOLDED, VARINT, Location, is_folded: true),
            tag_case!(LINE_FUNCTION_ID, VARINT, Line, function_id: 1),
            tag_case!(LINE_LINE, VARINT, Line, line: 1),
            tag_case!(LINE_COLUMN, VARINT, Line, column: 1),
            tag_case!(FUNCTION_ID, VARINT, Function, id: 1),
            tag_case!(FUNCTION_NAME, VARINT, Function, name: 1),
            tag_case!(FUNCTION_SYSTEM_NAME, VARINT, Function, system_name: 1),
            tag_case!(FUNCTION_FILENAME, VARINT, Function, filename: 1),
            tag_case!(FUNCTION_START_LINE, VARINT, Function, start_line: 1),
        ];
        assert_constants_are_tags(&cases);
    }
}
