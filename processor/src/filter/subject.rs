//! The profiles a condition is evaluated on, as [`Subject`]s: one sample
//! type of a pprof record (which the OTLP writer makes one OTLP profile,
//! with the record's labels as its resource and profcol's scope), and one
//! `Profile` of a received OTLP request.

use crate::actions::{Attrs, Value};
use crate::attributes::otlp::dict_attrs;
use crate::attributes::pprof::label_attrs;
use crate::filter::ottl::Subject;
use opentelemetry_proto::tonic::common::v1::{
    any_value, AnyValue, ArrayValue, InstrumentationScope,
};
use profcol_pdata::otlp::proto::{Profile, ProfilesDictionary, ValueType};
use profcol_pdata::otlp::{
    ATTR_COMMENT, ATTR_DOC_URL, ATTR_DROP_FRAMES, ATTR_KEEP_FRAMES, ATTR_SCOPE_DEFAULT_SAMPLE_TYPE,
    ATTR_SCOPE_SAMPLE_TYPE_ORDER, SCOPE_NAME,
};
use profcol_pdata::pprof::SampleBuf;
use profcol_pdata::PprofData;

fn array(values: Vec<AnyValue>) -> Value {
    Value::Other(AnyValue {
        value: Some(any_value::Value::ArrayValue(ArrayValue { values })),
    })
}

/// Sample type `index` of a pprof record.
pub(crate) struct PprofSubject<'a> {
    pub resource: &'a Attrs,
    pub data: &'a PprofData,
    pub index: usize,
}

impl PprofSubject<'_> {
    fn str(&self, i: i64) -> &str {
        self.data.view().str(i)
    }
}

impl Subject for PprofSubject<'_> {
    fn resource_attr(&self, key: &str) -> Option<Value> {
        self.resource.get(key).cloned()
    }
    fn scope_name(&self) -> &str {
        SCOPE_NAME
    }
    fn scope_version(&self) -> &str {
        crate::SCOPE_VERSION
    }
    fn scope_attr(&self, key: &str) -> Option<Value> {
        let h = self.data.header();
        match key {
            ATTR_SCOPE_DEFAULT_SAMPLE_TYPE if h.default_sample_type != 0 => {
                Some(Value::Str(self.str(h.default_sample_type).to_string()))
            }
            ATTR_SCOPE_SAMPLE_TYPE_ORDER if !h.sample_type.is_empty() => Some(array(
                (0..h.sample_type.len())
                    .map(|i| Value::Int(i as i64).to_any())
                    .collect(),
            )),
            _ => None,
        }
    }
    fn profile_attr(&self, key: &str) -> Option<Value> {
        let h = self.data.header();
        let text = |i: i64| (i != 0).then(|| Value::Str(self.str(i).to_string()));
        match key {
            ATTR_COMMENT if !h.comment.is_empty() => Some(array(
                h.comment
                    .iter()
                    .map(|&c| Value::Str(self.str(c).to_string()).to_any())
                    .collect(),
            )),
            ATTR_DROP_FRAMES => text(h.drop_frames),
            ATTR_KEEP_FRAMES => text(h.keep_frames),
            ATTR_DOC_URL => text(h.doc_url),
            _ => None,
        }
    }
    fn sample_type(&self) -> (&str, &str) {
        match self.data.header().sample_type.get(self.index) {
            Some(t) => (self.str(t.r#type), self.str(t.unit)),
            None => ("", ""),
        }
    }
    fn period_type(&self) -> Option<(&str, &str)> {
        let p = self.data.header().period_type.as_ref()?;
        Some((self.str(p.r#type), self.str(p.unit)))
    }
    fn period(&self) -> i64 {
        self.data.header().period
    }
    fn time_unix_nano(&self) -> i64 {
        self.data.header().time_nanos
    }
    fn duration_unix_nano(&self) -> i64 {
        self.data.header().duration_nanos
    }
    fn original_payload_format(&self) -> &str {
        ""
    }
    fn dropped_attributes_count(&self, _level: u8) -> i64 {
        0
    }
    /// The samples of this sample type: those with a value for it (the
    /// OTLP writer leaves zeros out).
    fn any_sample(&self, f: &mut dyn FnMut(&Attrs) -> bool) -> bool {
        let mut buf = SampleBuf::default();
        let view = self.data.view();
        for k in 0..self.data.sample_count() {
            if self.data.read_sample(k, &mut buf).is_err() {
                continue;
            }
            if buf.values.get(self.index).copied().unwrap_or(0) == 0 {
                continue;
            }
            if f(&label_attrs(&buf.labels, |i| view.str(i))) {
                return true;
            }
        }
        false
    }
}

/// One `Profile` of a received request (string references resolved).
pub(crate) struct OtlpSubject<'a> {
    pub resource: &'a Attrs,
    pub resource_dropped: u32,
    pub scope: Option<&'a InstrumentationScope>,
    pub scope_attrs: &'a Attrs,
    pub profile: &'a Profile,
    pub dict: &'a ProfilesDictionary,
}

impl OtlpSubject<'_> {
    fn str(&self, i: i32) -> &str {
        usize::try_from(i)
            .ok()
            .and_then(|i| self.dict.string_table.get(i))
            .map_or("", String::as_str)
    }
    fn value_type(&self, v: Option<&ValueType>) -> (&str, &str) {
        v.map_or(("", ""), |v| {
            (self.str(v.type_strindex), self.str(v.unit_strindex))
        })
    }
}

impl Subject for OtlpSubject<'_> {
    fn resource_attr(&self, key: &str) -> Option<Value> {
        self.resource.get(key).cloned()
    }
    fn scope_name(&self) -> &str {
        self.scope.map_or("", |s| s.name.as_str())
    }
    fn scope_version(&self) -> &str {
        self.scope.map_or("", |s| s.version.as_str())
    }
    fn scope_attr(&self, key: &str) -> Option<Value> {
        self.scope_attrs.get(key).cloned()
    }
    fn profile_attr(&self, key: &str) -> Option<Value> {
        dict_attrs(self.dict, &self.profile.attribute_indices)
            .get(key)
            .cloned()
    }
    fn sample_type(&self) -> (&str, &str) {
        self.value_type(self.profile.sample_type.as_ref())
    }
    fn period_type(&self) -> Option<(&str, &str)> {
        self.profile
            .period_type
            .as_ref()
            .map(|p| self.value_type(Some(p)))
    }
    fn period(&self) -> i64 {
        self.profile.period
    }
    fn time_unix_nano(&self) -> i64 {
        self.profile.time_unix_nano as i64
    }
    fn duration_unix_nano(&self) -> i64 {
        self.profile.duration_nano as i64
    }
    fn original_payload_format(&self) -> &str {
        &self.profile.original_payload_format
    }
    fn dropped_attributes_count(&self, level: u8) -> i64 {
        i64::from(match level {
            0 => self.resource_dropped,
            1 => self.scope.map_or(0, |s| s.dropped_attributes_count),
            _ => self.profile.dropped_attributes_count,
        })
    }
    fn any_sample(&self, f: &mut dyn FnMut(&Attrs) -> bool) -> bool {
        self.profile
            .samples
            .iter()
            .any(|s| f(&dict_attrs(self.dict, &s.attribute_indices)))
    }
}
