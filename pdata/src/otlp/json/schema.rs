//! The messages of an OTLP profiles request as OTLP/JSON sees them: for
//! every field its number, its JSON (lowerCamelCase) and proto names, its
//! type and whether it repeats. Transcribed from `opentelemetry-proto`
//! (profiles `v1development`, common, resource and collector protos) as the
//! Rust crate this workspace pins generates them; a field added there must
//! be added here, or it is dropped from JSON (unknown fields are skipped,
//! as OTLP/JSON readers must).

/// How a field is written in JSON (and on the wire).
#[derive(Debug, Clone, Copy)]
pub(super) enum Kind {
    Int32,
    UInt32,
    /// `int64`: a decimal string in JSON.
    Int64,
    /// `uint64`: a decimal string in JSON.
    UInt64,
    /// `fixed64`: a decimal string in JSON, eight bytes on the wire.
    Fixed64,
    Bool,
    Double,
    Str,
    /// base64 in JSON.
    Bytes,
    /// Trace, span and profile ids: hex in OTLP/JSON.
    HexBytes,
    Message(&'static Msg),
}

#[derive(Debug)]
pub(super) struct Field {
    pub num: u32,
    pub json: &'static str,
    pub proto: &'static str,
    pub kind: Kind,
    pub repeated: bool,
}

#[derive(Debug)]
pub(super) struct Msg {
    pub fields: &'static [Field],
}

impl Msg {
    pub(super) fn by_num(&self, num: u32) -> Option<(usize, &Field)> {
        self.fields.iter().enumerate().find(|(_, f)| f.num == num)
    }

    /// The field a JSON key names: its JSON name or its proto name.
    pub(super) fn by_key(&self, key: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.json == key || f.proto == key)
    }
}

const fn one(num: u32, json: &'static str, proto: &'static str, kind: Kind) -> Field {
    Field {
        num,
        json,
        proto,
        kind,
        repeated: false,
    }
}

const fn rep(num: u32, json: &'static str, proto: &'static str, kind: Kind) -> Field {
    Field {
        num,
        json,
        proto,
        kind,
        repeated: true,
    }
}

use Kind::*;

/// `collector.profiles.v1development.ExportProfilesServiceRequest`.
pub(super) static EXPORT_REQUEST: Msg = Msg {
    fields: &[
        rep(
            1,
            "resourceProfiles",
            "resource_profiles",
            Message(&RESOURCE_PROFILES),
        ),
        one(2, "dictionary", "dictionary", Message(&DICTIONARY)),
    ],
};

static DICTIONARY: Msg = Msg {
    fields: &[
        rep(1, "mappingTable", "mapping_table", Message(&MAPPING)),
        rep(2, "locationTable", "location_table", Message(&LOCATION)),
        rep(3, "functionTable", "function_table", Message(&FUNCTION)),
        rep(4, "linkTable", "link_table", Message(&LINK)),
        rep(5, "stringTable", "string_table", Str),
        rep(
            6,
            "attributeTable",
            "attribute_table",
            Message(&KEY_VALUE_AND_UNIT),
        ),
        rep(7, "stackTable", "stack_table", Message(&STACK)),
    ],
};

static RESOURCE_PROFILES: Msg = Msg {
    fields: &[
        one(1, "resource", "resource", Message(&RESOURCE)),
        rep(
            2,
            "scopeProfiles",
            "scope_profiles",
            Message(&SCOPE_PROFILES),
        ),
        one(3, "schemaUrl", "schema_url", Str),
    ],
};

static SCOPE_PROFILES: Msg = Msg {
    fields: &[
        one(1, "scope", "scope", Message(&SCOPE)),
        rep(2, "profiles", "profiles", Message(&PROFILE)),
        one(3, "schemaUrl", "schema_url", Str),
    ],
};

static PROFILE: Msg = Msg {
    fields: &[
        one(1, "sampleType", "sample_type", Message(&VALUE_TYPE)),
        rep(2, "samples", "samples", Message(&SAMPLE)),
        one(3, "timeUnixNano", "time_unix_nano", Fixed64),
        one(4, "durationNano", "duration_nano", UInt64),
        one(5, "periodType", "period_type", Message(&VALUE_TYPE)),
        one(6, "period", "period", Int64),
        one(7, "profileId", "profile_id", HexBytes),
        one(
            8,
            "droppedAttributesCount",
            "dropped_attributes_count",
            UInt32,
        ),
        one(9, "originalPayloadFormat", "original_payload_format", Str),
        one(10, "originalPayload", "original_payload", Bytes),
        rep(11, "attributeIndices", "attribute_indices", Int32),
    ],
};

static LINK: Msg = Msg {
    fields: &[
        one(1, "traceId", "trace_id", HexBytes),
        one(2, "spanId", "span_id", HexBytes),
    ],
};

static VALUE_TYPE: Msg = Msg {
    fields: &[
        one(1, "typeStrindex", "type_strindex", Int32),
        one(2, "unitStrindex", "unit_strindex", Int32),
    ],
};

static SAMPLE: Msg = Msg {
    fields: &[
        one(1, "stackIndex", "stack_index", Int32),
        rep(2, "attributeIndices", "attribute_indices", Int32),
        one(3, "linkIndex", "link_index", Int32),
        rep(4, "values", "values", Int64),
        rep(5, "timestampsUnixNano", "timestamps_unix_nano", Fixed64),
    ],
};

static MAPPING: Msg = Msg {
    fields: &[
        one(1, "memoryStart", "memory_start", UInt64),
        one(2, "memoryLimit", "memory_limit", UInt64),
        one(3, "fileOffset", "file_offset", UInt64),
        one(4, "filenameStrindex", "filename_strindex", Int32),
        rep(5, "attributeIndices", "attribute_indices", Int32),
    ],
};

static STACK: Msg = Msg {
    fields: &[rep(1, "locationIndices", "location_indices", Int32)],
};

static LOCATION: Msg = Msg {
    fields: &[
        one(1, "mappingIndex", "mapping_index", Int32),
        one(2, "address", "address", UInt64),
        rep(3, "lines", "lines", Message(&LINE)),
        rep(4, "attributeIndices", "attribute_indices", Int32),
    ],
};

static LINE: Msg = Msg {
    fields: &[
        one(1, "functionIndex", "function_index", Int32),
        one(2, "line", "line", Int64),
        one(3, "column", "column", Int64),
    ],
};

static FUNCTION: Msg = Msg {
    fields: &[
        one(1, "nameStrindex", "name_strindex", Int32),
        one(2, "systemNameStrindex", "system_name_strindex", Int32),
        one(3, "filenameStrindex", "filename_strindex", Int32),
        one(4, "startLine", "start_line", Int64),
    ],
};

static KEY_VALUE_AND_UNIT: Msg = Msg {
    fields: &[
        one(1, "keyStrindex", "key_strindex", Int32),
        one(2, "value", "value", Message(&ANY_VALUE)),
        one(3, "unitStrindex", "unit_strindex", Int32),
    ],
};

/// `common.v1.AnyValue`: a oneof, so a member is written even when it holds
/// its type's zero value.
static ANY_VALUE: Msg = Msg {
    fields: &[
        one(1, "stringValue", "string_value", Str),
        one(2, "boolValue", "bool_value", Bool),
        one(3, "intValue", "int_value", Int64),
        one(4, "doubleValue", "double_value", Double),
        one(5, "arrayValue", "array_value", Message(&ARRAY_VALUE)),
        one(6, "kvlistValue", "kvlist_value", Message(&KEY_VALUE_LIST)),
        one(7, "bytesValue", "bytes_value", Bytes),
        one(8, "stringValueStrindex", "string_value_strindex", Int32),
    ],
};

static ARRAY_VALUE: Msg = Msg {
    fields: &[rep(1, "values", "values", Message(&ANY_VALUE))],
};

static KEY_VALUE_LIST: Msg = Msg {
    fields: &[rep(1, "values", "values", Message(&KEY_VALUE))],
};

static KEY_VALUE: Msg = Msg {
    fields: &[
        one(1, "key", "key", Str),
        one(2, "value", "value", Message(&ANY_VALUE)),
        one(3, "keyStrindex", "key_strindex", Int32),
    ],
};

/// `common.v1.InstrumentationScope`.
static SCOPE: Msg = Msg {
    fields: &[
        one(1, "name", "name", Str),
        one(2, "version", "version", Str),
        rep(3, "attributes", "attributes", Message(&KEY_VALUE)),
        one(
            4,
            "droppedAttributesCount",
            "dropped_attributes_count",
            UInt32,
        ),
    ],
};

/// `resource.v1.Resource`.
static RESOURCE: Msg = Msg {
    fields: &[
        rep(1, "attributes", "attributes", Message(&KEY_VALUE)),
        one(
            2,
            "droppedAttributesCount",
            "dropped_attributes_count",
            UInt32,
        ),
        rep(3, "entityRefs", "entity_refs", Message(&ENTITY_REF)),
    ],
};

/// `common.v1.EntityRef`.
static ENTITY_REF: Msg = Msg {
    fields: &[
        one(1, "schemaUrl", "schema_url", Str),
        one(2, "type", "type", Str),
        rep(3, "idKeys", "id_keys", Str),
        rep(4, "descriptionKeys", "description_keys", Str),
    ],
};
