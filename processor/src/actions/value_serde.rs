//! How an attribute [`Value`] is written in the config (`value`,
//! `default_value`, a matcher's attribute value): strings, integers,
//! floats, booleans, and lists and maps of them, as the Collector reads
//! them. Serializing writes a value back so that it reads in as an equal
//! value; bytes, which a config cannot write, print as base64 text.

use super::Value;
use opentelemetry_proto::tonic::common::v1::{
    any_value, AnyValue, ArrayValue, KeyValue, KeyValueList,
};
use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(Written)
    }
}

struct Written;

impl<'de> Visitor<'de> for Written {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string, number, boolean, list or map")
    }
    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }
    fn visit_i64<E>(self, i: i64) -> Result<Value, E> {
        Ok(Value::Int(i))
    }
    fn visit_u64<E>(self, u: u64) -> Result<Value, E> {
        Ok(i64::try_from(u).map_or(Value::Double(u as f64), Value::Int))
    }
    fn visit_f64<E>(self, d: f64) -> Result<Value, E> {
        Ok(Value::Double(d))
    }
    fn visit_str<E>(self, s: &str) -> Result<Value, E> {
        Ok(Value::Str(s.to_string()))
    }
    fn visit_string<E>(self, s: String) -> Result<Value, E> {
        Ok(Value::Str(s))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Other(AnyValue::default()))
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Other(AnyValue::default()))
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Value::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut values = Vec::new();
        while let Some(v) = seq.next_element::<Value>()? {
            values.push(v.to_any());
        }
        Ok(Value::Other(AnyValue {
            value: Some(any_value::Value::ArrayValue(ArrayValue { values })),
        }))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut values = Vec::new();
        while let Some(key) = map.next_key::<Value>()? {
            let Value::Str(key) = key else {
                return Err(de::Error::custom(
                    "cannot be a map whose keys are not strings",
                ));
            };
            let value = map.next_value::<Value>()?;
            values.push(KeyValue {
                key,
                value: Some(value.to_any()),
                ..Default::default()
            });
        }
        Ok(Value::Other(AnyValue {
            value: Some(any_value::Value::KvlistValue(KeyValueList { values })),
        }))
    }
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Str(v) => s.serialize_str(v),
            Value::Int(i) => s.serialize_i64(*i),
            Value::Double(d) => s.serialize_f64(*d),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Other(v) => match &v.value {
                None => s.serialize_unit(),
                Some(any_value::Value::ArrayValue(a)) => {
                    let mut seq = s.serialize_seq(Some(a.values.len()))?;
                    for item in &a.values {
                        seq.serialize_element(&Value::from_any(item))?;
                    }
                    seq.end()
                }
                Some(any_value::Value::KvlistValue(l)) => {
                    let mut map = s.serialize_map(Some(l.values.len()))?;
                    for kv in &l.values {
                        let value = kv
                            .value
                            .as_ref()
                            .map_or_else(|| Value::Other(AnyValue::default()), Value::from_any);
                        map.serialize_entry(&kv.key, &value)?;
                    }
                    map.end()
                }
                Some(_) => s.serialize_str(&self.as_string()),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Value {
        profcol_config::yaml::from_str(text).unwrap()
    }

    #[test]
    fn config_values_keep_their_type() {
        let got = read("[1, a, true, 2.5, {k: v}]");
        assert_eq!(got.type_name(), "Slice");
        assert_eq!(got.as_string(), r#"[1,"a",true,2.5,{"k":"v"}]"#);
        let round = Value::from_any(&got.to_any());
        assert_eq!(round, got);
        assert_eq!(read("7"), Value::Int(7));
        assert_eq!(read("'7'"), Value::Str("7".into()));
    }

    #[test]
    fn a_value_reads_back_as_written() {
        for text in ["7", "-2.5", "true", "text", "[1, [a], {k: {n: 2}}]", "null"] {
            let value = read(text);
            let shown = profcol_config::yaml::to_string(&value).unwrap();
            assert_eq!(read(&shown), value, "{text} shown as {shown}");
        }
        let bytes = Value::Other(AnyValue {
            value: Some(any_value::Value::BytesValue(vec![1, 2])),
        });
        assert_eq!(profcol_config::yaml::to_string(&bytes).unwrap(), "AQI=\n");
    }

    #[test]
    fn map_keys_must_be_strings() {
        let e = profcol_config::yaml::from_str::<Value>("{1: a}").unwrap_err();
        assert!(
            e.to_string().contains("map whose keys are not strings"),
            "{e}"
        );
    }
}
