//! Evaluating a parsed condition against one profile ([`Subject`]), with
//! OTTL's comparison rules: `nil` equals only `nil`; ints and floats
//! compare as numbers; strings compare as text (ordering by bytes); bools
//! only for (in)equality; values of different types are unequal and never
//! ordered; arrays and maps are equal when their contents are.

use crate::actions::{Attrs, Value};
use crate::filter::ottl::lexer::CmpOp;
use crate::filter::ottl::parser::{Call, Expr, Lit, Operand};
use crate::filter::ottl::paths::{Field, Key, Part};
use opentelemetry_proto::tonic::common::v1::any_value;
use std::cmp::Ordering;

/// One OTLP profile as a condition sees it: its resource, its scope and
/// itself.
pub trait Subject {
    fn resource_attr(&self, key: &str) -> Option<Value>;
    fn scope_name(&self) -> &str;
    fn scope_version(&self) -> &str;
    fn scope_attr(&self, key: &str) -> Option<Value>;
    fn profile_attr(&self, key: &str) -> Option<Value>;
    /// The sample type's (type, unit).
    fn sample_type(&self) -> (&str, &str);
    /// The period type's (type, unit), if the profile has one.
    fn period_type(&self) -> Option<(&str, &str)>;
    fn period(&self) -> i64;
    fn time_unix_nano(&self) -> i64;
    fn duration_unix_nano(&self) -> i64;
    fn original_payload_format(&self) -> &str;
    fn dropped_attributes_count(&self, level: u8) -> i64;
    /// Whether `f` holds for some sample's attributes.
    fn any_sample(&self, f: &mut dyn FnMut(&Attrs) -> bool) -> bool;
}

/// Why a condition could not be evaluated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvalError(pub String);

impl std::fmt::Display for EvalError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whether `e` holds for `s`.
pub fn eval(e: &Expr, s: &dyn Subject) -> Result<bool, EvalError> {
    match e {
        Expr::Or(a, b) => Ok(eval(a, s)? || eval(b, s)?),
        Expr::And(a, b) => Ok(eval(a, s)? && eval(b, s)?),
        Expr::Not(a) => Ok(!eval(a, s)?),
        Expr::Compare(a, op, b) => Ok(compare(&value(a, s)?, *op, &value(b, s)?)),
        Expr::Bool(o) => match value(o, s)? {
            Some(Value::Bool(b)) => Ok(b),
            _ => Err(EvalError("the condition's value is not a boolean".into())),
        },
    }
}

fn index(mut v: Option<Value>, keys: &[Key]) -> Option<Value> {
    for k in keys {
        let Value::Other(any) = v? else { return None };
        v = match (any.value, k) {
            (Some(any_value::Value::KvlistValue(l)), Key::Str(s)) => l
                .values
                .into_iter()
                .find(|kv| &kv.key == s)
                .and_then(|kv| kv.value)
                .map(|x| Value::from_any(&x)),
            (Some(any_value::Value::ArrayValue(a)), Key::Int(i)) => usize::try_from(*i)
                .ok()
                .and_then(|i| a.values.get(i))
                .map(Value::from_any),
            _ => None,
        };
    }
    v
}

fn attr(keys: &[Key], get: impl Fn(&str) -> Option<Value>) -> Option<Value> {
    match keys.split_first() {
        Some((Key::Str(k), rest)) => index(get(k), rest),
        _ => None,
    }
}

fn field(f: &Field, s: &dyn Subject) -> Option<Value> {
    let text = |x: &str| Some(Value::Str(x.to_string()));
    match f {
        Field::ResourceAttr(keys) => attr(keys, |k| s.resource_attr(k)),
        Field::ScopeAttr(keys) => attr(keys, |k| s.scope_attr(k)),
        Field::ProfileAttr(keys) => attr(keys, |k| s.profile_attr(k)),
        Field::ResourceDroppedAttributesCount => Some(Value::Int(s.dropped_attributes_count(0))),
        Field::ScopeDroppedAttributesCount => Some(Value::Int(s.dropped_attributes_count(1))),
        Field::ProfileDroppedAttributesCount => Some(Value::Int(s.dropped_attributes_count(2))),
        Field::ScopeName => text(s.scope_name()),
        Field::ScopeVersion => text(s.scope_version()),
        Field::SampleType(Part::Type) => text(s.sample_type().0),
        Field::SampleType(Part::Unit) => text(s.sample_type().1),
        // A profile without a period type reads as the empty value type,
        // whose strings are "" (as the Collector's pdata reads it).
        Field::PeriodType(Part::Type) => text(s.period_type().map_or("", |p| p.0)),
        Field::PeriodType(Part::Unit) => text(s.period_type().map_or("", |p| p.1)),
        Field::Period => Some(Value::Int(s.period())),
        Field::TimeUnixNano => Some(Value::Int(s.time_unix_nano())),
        Field::DurationUnixNano => Some(Value::Int(s.duration_unix_nano())),
        Field::OriginalPayloadFormat => text(s.original_payload_format()),
    }
}

fn value(o: &Operand, s: &dyn Subject) -> Result<Option<Value>, EvalError> {
    Ok(match o {
        Operand::Lit(Lit::Str(x)) => Some(Value::Str(x.clone())),
        Operand::Lit(Lit::Int(i)) => Some(Value::Int(*i)),
        Operand::Lit(Lit::Float(f)) => Some(Value::Double(*f)),
        Operand::Lit(Lit::Bool(b)) => Some(Value::Bool(*b)),
        Operand::Lit(Lit::Nil) => None,
        Operand::Field(f) => field(f, s),
        Operand::Call(c) => Some(Value::Bool(call(c, s)?)),
    })
}

/// The text `IsMatch` and the sample functions match: strings as they
/// are, numbers and bools as their text; nil has none.
fn text_of(v: &Value) -> Result<String, EvalError> {
    match v {
        Value::Other(_) => Err(EvalError(format!(
            "expected a string, an int, a double or a bool, found a {}",
            v.type_name()
        ))),
        v => Ok(v.as_string()),
    }
}

fn call(c: &Call, s: &dyn Subject) -> Result<bool, EvalError> {
    match c {
        Call::IsMatch(target, re) => match value(target, s)? {
            None => Ok(false),
            Some(v) => {
                Ok(re.is_match(&text_of(&v).map_err(|e| EvalError(format!("IsMatch: {e}")))?))
            }
        },
        Call::HasAttrOnSample(key, want) => Ok(s.any_sample(&mut |attrs| {
            attrs
                .get(key)
                .is_some_and(|v| text_of(v).is_ok_and(|t| &t == want))
        })),
        Call::HasAttrKeyOnSample(key) => Ok(s.any_sample(&mut |attrs| attrs.get(key).is_some())),
    }
}

fn compare(a: &Option<Value>, op: CmpOp, b: &Option<Value>) -> bool {
    let ord: Option<Ordering> = match (a, b) {
        (None, None) => Some(Ordering::Equal),
        (None, _) | (_, None) => None,
        (Some(x), Some(y)) => match (x, y) {
            (Value::Str(x), Value::Str(y)) => Some(x.cmp(y)),
            (Value::Int(x), Value::Int(y)) => Some(x.cmp(y)),
            (Value::Double(x), Value::Double(y)) => x.partial_cmp(y),
            (Value::Int(x), Value::Double(y)) => (*x as f64).partial_cmp(y),
            (Value::Double(x), Value::Int(y)) => x.partial_cmp(&(*y as f64)),
            (Value::Bool(x), Value::Bool(y)) => {
                return match op {
                    CmpOp::Eq => x == y,
                    CmpOp::Ne => x != y,
                    _ => false,
                }
            }
            (Value::Other(x), Value::Other(y)) => {
                return match op {
                    CmpOp::Eq => x == y,
                    CmpOp::Ne => x != y,
                    _ => false,
                }
            }
            _ => None,
        },
    };
    // nil only equals nil: ordering nil is false.
    let nil = a.is_none() || b.is_none();
    match (op, ord) {
        (CmpOp::Eq, o) => o == Some(Ordering::Equal),
        (CmpOp::Ne, o) => o != Some(Ordering::Equal),
        (_, None) => false,
        (_, Some(_)) if nil => false,
        (CmpOp::Lt, Some(o)) => o == Ordering::Less,
        (CmpOp::Le, Some(o)) => o != Ordering::Greater,
        (CmpOp::Gt, Some(o)) => o == Ordering::Greater,
        (CmpOp::Ge, Some(o)) => o != Ordering::Less,
    }
}
