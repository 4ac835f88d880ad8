//! The `convert` action, as the Collector converts (contrib
//! `attraction/type_converter.go`): to `string` any value becomes its text;
//! to `int` a double is truncated, a bool is 1 or 0 and a string is parsed
//! as a base-10 integer; to `double` an int or bool becomes its number and a
//! string is parsed as a float. A value that does not convert (a string
//! that is no number, an array) is left as it was.

use crate::actions::config::Target;
use crate::actions::Value;

pub(crate) fn convert(v: &Value, to: Target) -> Option<Value> {
    match (to, v) {
        (Target::Str, Value::Str(_)) => None,
        (Target::Str, other) => Some(Value::Str(other.as_string())),
        (Target::Int, Value::Double(d)) => Some(Value::Int(*d as i64)),
        (Target::Int, Value::Bool(b)) => Some(Value::Int(i64::from(*b))),
        (Target::Int, Value::Str(s)) => s.parse::<i64>().ok().map(Value::Int),
        (Target::Double, Value::Int(i)) => Some(Value::Double(*i as f64)),
        (Target::Double, Value::Bool(b)) => Some(Value::Double(if *b { 1.0 } else { 0.0 })),
        (Target::Double, Value::Str(s)) => s.parse::<f64>().ok().map(Value::Double),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cases of the Collector's `TestProfileAttributes_Convert`, and
    /// the ones around them.
    #[test]
    fn converts_as_the_collector_does() {
        let s = |x: &str| Value::Str(x.into());
        for (v, to, want) in [
            (Value::Int(1), Target::Int, Value::Int(1)),
            (Value::Bool(false), Target::Int, Value::Int(0)),
            (s("123"), Target::Int, Value::Int(123)),
            (s("int-10"), Target::Int, s("int-10")),
            (s("123.6"), Target::Int, s("123.6")),
            (Value::Double(123.9), Target::Int, Value::Int(123)),
            (s("123.6"), Target::Double, Value::Double(123.6)),
            (Value::Int(4), Target::Double, Value::Double(4.0)),
            (Value::Bool(true), Target::Double, Value::Double(1.0)),
            (s("x"), Target::Double, s("x")),
            (Value::Double(99.1), Target::Str, s("99.1")),
            (Value::Bool(true), Target::Str, s("true")),
            (Value::Int(-3), Target::Str, s("-3")),
        ] {
            let got = convert(&v, to).unwrap_or_else(|| v.clone());
            assert_eq!(got, want, "{v:?} to {to:?}");
        }
    }
}
