//! [`Value`]: one attribute value as the actions see it. OTLP attributes are
//! typed (string, int, double, bool, and arrays, maps and bytes, which the
//! actions carry without looking inside); pprof labels are strings or ints.

use base64::Engine;
use opentelemetry_proto::tonic::common::v1::{
    any_value, AnyValue, ArrayValue, KeyValue, KeyValueList,
};

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

    /// A value written in the config: strings, integers, floats, booleans,
    /// and lists and maps of them (as the Collector reads `value`).
    pub fn from_yaml(v: &profcol_config::yaml::Value) -> Result<Self, String> {
        Ok(match v {
            profcol_config::yaml::Value::String(s) => Value::Str(s.clone()),
            profcol_config::yaml::Value::Bool(b) => Value::Bool(*b),
            profcol_config::yaml::Value::Number(n) => match n.as_i64() {
                Some(i) => Value::Int(i),
                None => Value::Double(n.as_f64().ok_or("a number out of range")?),
            },
            profcol_config::yaml::Value::Sequence(items) => {
                let values = items
                    .iter()
                    .map(|i| Value::from_yaml(i).map(|v| v.to_any()))
                    .collect::<Result<_, _>>()?;
                Value::Other(AnyValue {
                    value: Some(any_value::Value::ArrayValue(ArrayValue { values })),
                })
            }
            profcol_config::yaml::Value::Mapping(m) => {
                let mut values = Vec::with_capacity(m.len());
                for (k, v) in m {
                    let key = match k {
                        profcol_config::yaml::Value::String(s) => s.clone(),
                        _ => return Err("a map whose keys are not strings".into()),
                    };
                    values.push(KeyValue {
                        key,
                        value: Some(Value::from_yaml(v)?.to_any()),
                        ..Default::default()
                    });
                }
                Value::Other(AnyValue {
                    value: Some(any_value::Value::KvlistValue(KeyValueList { values })),
                })
            }
            profcol_config::yaml::Value::Null => Value::Other(AnyValue::default()),
            profcol_config::yaml::Value::Tagged(t) => Value::from_yaml(&t.value)?,
        })
    }

    /// The value as written in the config ([`Value::from_yaml`] reads it
    /// back): bytes, which a config cannot write, as base64 text.
    pub fn to_yaml(&self) -> profcol_config::yaml::Value {
        use profcol_config::yaml::{Mapping, Value as Y};
        match self {
            Value::Str(s) => Y::String(s.clone()),
            Value::Int(i) => Y::Number((*i).into()),
            Value::Double(d) => Y::Number((*d).into()),
            Value::Bool(b) => Y::Bool(*b),
            Value::Other(v) => match &v.value {
                None => Y::Null,
                Some(any_value::Value::ArrayValue(a)) => Y::Sequence(
                    a.values
                        .iter()
                        .map(|v| Value::from_any(v).to_yaml())
                        .collect(),
                ),
                Some(any_value::Value::KvlistValue(l)) => Y::Mapping(
                    l.values
                        .iter()
                        .map(|kv| {
                            let v = kv
                                .value
                                .as_ref()
                                .map_or(Y::Null, |v| Value::from_any(v).to_yaml());
                            (Y::String(kv.key.clone()), v)
                        })
                        .collect::<Mapping>(),
                ),
                Some(_) => Y::String(self.as_string()),
            },
        }
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

    #[test]
    fn config_values_keep_their_type() {
        let v: profcol_config::yaml::Value =
            profcol_config::yaml::from_str("[1, a, true, 2.5, {k: v}]").unwrap();
        let got = Value::from_yaml(&v).unwrap();
        assert_eq!(got.type_name(), "Slice");
        assert_eq!(got.as_string(), r#"[1,"a",true,2.5,{"k":"v"}]"#);
        let round = Value::from_any(&got.to_any());
        assert_eq!(round, got);
        assert_eq!(
            Value::from_yaml(&profcol_config::yaml::from_str("7").unwrap()).unwrap(),
            Value::Int(7)
        );
    }
}
