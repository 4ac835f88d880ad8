//! [`Value`]: one attribute value as the actions see it. OTLP attributes are
//! typed (string, int, double, bool, and arrays, maps and bytes, which the
//! actions carry without looking inside); pprof labels are strings or ints.

use base64::Engine;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue};

/// One attribute value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Str(String),
    Int(i64),
    Double(f64),
    Bool(bool),
    /// Arrays, maps, bytes and the empty value, as OTLP carries them.
    Other(AnyValue),
}

impl Value {
    /// The value of an OTLP attribute.
    pub fn from_any(v: &AnyValue) -> Self {
        match &v.value {
            Some(any_value::Value::StringValue(s)) => Value::Str(s.clone()),
            Some(any_value::Value::IntValue(i)) => Value::Int(*i),
            Some(any_value::Value::DoubleValue(d)) => Value::Double(*d),
            Some(any_value::Value::BoolValue(b)) => Value::Bool(*b),
            _ => Value::Other(v.clone()),
        }
    }

    /// The OTLP form of the value.
    pub fn to_any(&self) -> AnyValue {
        let value = match self {
            Value::Str(s) => any_value::Value::StringValue(s.clone()),
            Value::Int(i) => any_value::Value::IntValue(*i),
            Value::Double(d) => any_value::Value::DoubleValue(*d),
            Value::Bool(b) => any_value::Value::BoolValue(*b),
            Value::Other(v) => return v.clone(),
        };
        AnyValue { value: Some(value) }
    }

    /// The value as text, as the Collector's `AsString` gives it: doubles
    /// in the shortest form that reads back (exponent below 1e-6 and from
    /// 1e21), arrays and maps as JSON, bytes as base64, the empty value as
    /// "".
    pub fn as_string(&self) -> String {
        match self {
            Value::Str(s) => s.clone(),
            Value::Int(i) => i.to_string(),
            Value::Double(d) => format_double(*d),
            Value::Bool(b) => b.to_string(),
            Value::Other(v) => match &v.value {
                None => String::new(),
                Some(any_value::Value::BytesValue(b)) => {
                    base64::engine::general_purpose::STANDARD.encode(b)
                }
                Some(_) => json(v).to_string(),
            },
        }
    }

    /// The value's type name in the Collector's words.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "Str",
            Value::Int(_) => "Int",
            Value::Double(_) => "Double",
            Value::Bool(_) => "Bool",
            Value::Other(v) => match &v.value {
                Some(any_value::Value::ArrayValue(_)) => "Slice",
                Some(any_value::Value::KvlistValue(_)) => "Map",
                Some(any_value::Value::BytesValue(_)) => "Bytes",
                _ => "Empty",
            },
        }
    }
}

/// A double as ECMAScript prints numbers (Go's `encoding/json` rule, which
/// the Collector's `AsString` follows).
pub fn format_double(d: f64) -> String {
    if d.is_nan() {
        return "json: unsupported value: NaN".into();
    }
    if d.is_infinite() {
        let sign = if d > 0.0 { "+" } else { "-" };
        return format!("json: unsupported value: {sign}Inf");
    }
    let abs = d.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let s = format!("{d:e}");
        match s.split_once('e') {
            Some((mantissa, exp)) if !exp.starts_with('-') => format!("{mantissa}e+{exp}"),
            _ => s,
        }
    } else {
        format!("{d}")
    }
}

/// The JSON form of an OTLP value (its raw value, as the Collector's
/// `AsRaw` gives it).
fn json(v: &AnyValue) -> serde_json::Value {
    use serde_json::Value as J;
    match &v.value {
        None => J::Null,
        Some(any_value::Value::StringValue(s)) => J::String(s.clone()),
        Some(any_value::Value::BoolValue(b)) => J::Bool(*b),
        Some(any_value::Value::IntValue(i)) => J::from(*i),
        Some(any_value::Value::DoubleValue(d)) => {
            serde_json::Number::from_f64(*d).map_or(J::Null, J::Number)
        }
        Some(any_value::Value::ArrayValue(a)) => J::Array(a.values.iter().map(json).collect()),
        Some(any_value::Value::KvlistValue(l)) => J::Object(
            l.values
                .iter()
                .map(|kv| (kv.key.clone(), kv.value.as_ref().map_or(J::Null, json)))
                .collect(),
        ),
        Some(any_value::Value::BytesValue(b)) => {
            J::String(base64::engine::general_purpose::STANDARD.encode(b))
        }
        Some(any_value::Value::StringValueStrindex(_)) => J::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_print_as_the_collector_prints_them() {
        assert_eq!(format_double(99.1), "99.1");
        assert_eq!(format_double(3.0), "3");
        assert_eq!(format_double(1e21), "1e+21");
        assert_eq!(format_double(1.5e-7), "1.5e-7");
        assert_eq!(format_double(0.000001), "0.000001");
        assert_eq!(format_double(-2.5), "-2.5");
    }
}
