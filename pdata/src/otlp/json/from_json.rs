//! OTLP/JSON → protobuf bytes, driven by the schema, accepting what any
//! OTLP/JSON producer writes: keys in lowerCamelCase or proto snake_case;
//! absent fields and `null` as zero values; 64-bit (and 32-bit) integers as
//! strings or numbers; doubles as numbers or `"NaN"`/`"Infinity"`; ids as
//! hex, other bytes as base64 (standard or URL-safe, padded or not), and
//! either as an array of byte values. Unknown keys are skipped, as the OTLP
//! JSON encoding requires of receivers.

use super::schema::{Field, Kind, Msg};
use crate::wire::{put_key, put_len_field, put_varint, FIXED64, LEN, VARINT};
use base64::Engine;
use serde_json::Value;

/// A problem and where it is (`resourceProfiles[0].dictionary…`).
#[derive(Debug)]
pub(super) struct JsonError {
    /// Innermost segment first.
    path: Vec<String>,
    what: String,
}

impl JsonError {
    fn new(what: impl Into<String>) -> Self {
        Self {
            path: Vec::new(),
            what: what.into(),
        }
    }

    fn at(mut self, segment: String) -> Self {
        self.path.push(segment);
        self
    }
}

impl std::fmt::Display for JsonError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut first = true;
        for s in self.path.iter().rev() {
            if !first && !s.starts_with('[') {
                f.write_str(".")?;
            }
            f.write_str(s)?;
            first = false;
        }
        if first {
            f.write_str(&self.what)
        } else {
            write!(f, ": {}", self.what)
        }
    }
}

/// Appends the encoding of the JSON object `v`, a `msg`, to `out`.
pub(super) fn message(v: &Value, msg: &Msg, out: &mut Vec<u8>) -> Result<(), JsonError> {
    let obj = v
        .as_object()
        .ok_or_else(|| JsonError::new(format!("expected an object, found {}", kind_of(v))))?;
    for (key, value) in obj {
        let Some(field) = msg.by_key(key) else {
            continue;
        };
        field_value(field, value, out).map_err(|e| e.at(field.json.to_string()))?;
    }
    Ok(())
}

fn field_value(field: &Field, v: &Value, out: &mut Vec<u8>) -> Result<(), JsonError> {
    if v.is_null() {
        return Ok(());
    }
    if !field.repeated {
        return single(field, v, out);
    }
    let items = v
        .as_array()
        .ok_or_else(|| JsonError::new(format!("expected an array, found {}", kind_of(v))))?;
    match field.kind {
        // Numbers are packed, as protobuf encoders do for proto3.
        Kind::Int32 | Kind::UInt32 | Kind::Int64 | Kind::UInt64 | Kind::Bool => {
            let mut packed = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                put_varint(
                    &mut packed,
                    varint(field.kind, item).map_err(|e| e.at(format!("[{i}]")))?,
                );
            }
            put_len_field(out, field.num, &packed);
        }
        Kind::Fixed64 | Kind::Double => {
            let mut packed = Vec::with_capacity(items.len() * 8);
            for (i, item) in items.iter().enumerate() {
                let bits = fixed(field.kind, item).map_err(|e| e.at(format!("[{i}]")))?;
                packed.extend_from_slice(&bits.to_le_bytes());
            }
            put_len_field(out, field.num, &packed);
        }
        _ => {
            for (i, item) in items.iter().enumerate() {
                single(field, item, out).map_err(|e| e.at(format!("[{i}]")))?;
            }
        }
    }
    Ok(())
}

/// One value of `field` (one element, for a repeated field).
fn single(field: &Field, v: &Value, out: &mut Vec<u8>) -> Result<(), JsonError> {
    match field.kind {
        Kind::Int32 | Kind::UInt32 | Kind::Int64 | Kind::UInt64 | Kind::Bool => {
            put_key(out, field.num, VARINT);
            put_varint(out, varint(field.kind, v)?);
        }
        Kind::Fixed64 | Kind::Double => {
            put_key(out, field.num, FIXED64);
            out.extend_from_slice(&fixed(field.kind, v)?.to_le_bytes());
        }
        Kind::Str => {
            let s = v.as_str().ok_or_else(|| {
                JsonError::new(format!("expected a string, found {}", kind_of(v)))
            })?;
            put_len_field(out, field.num, s.as_bytes());
        }
        Kind::Bytes => put_len_field(out, field.num, &bytes(v, false)?),
        Kind::HexBytes => put_len_field(out, field.num, &bytes(v, true)?),
        Kind::Message(m) => {
            let mut body = Vec::new();
            message(v, m, &mut body)?;
            put_key(out, field.num, LEN);
            put_varint(out, body.len() as u64);
            out.extend_from_slice(&body);
        }
    }
    Ok(())
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// An integer (or bool) field's varint.
fn varint(kind: Kind, v: &Value) -> Result<u64, JsonError> {
    let bad = || JsonError::new(format!("{v} is not a valid {}", kind_name(kind)));
    if let Kind::Bool = kind {
        return v.as_bool().map(u64::from).ok_or_else(bad);
    }
    let n = integer(v).ok_or_else(bad)?;
    let ok = match kind {
        Kind::Int32 => i32::try_from(n).is_ok(),
        Kind::UInt32 => u32::try_from(n).is_ok(),
        Kind::Int64 => i64::try_from(n).is_ok(),
        _ => u64::try_from(n).is_ok(),
    };
    if !ok {
        return Err(bad());
    }
    // Negative int32/int64 are sign-extended to 64 bits on the wire.
    Ok(n as u64)
}

/// A fixed64 or double field's eight bytes.
fn fixed(kind: Kind, v: &Value) -> Result<u64, JsonError> {
    let bad = || JsonError::new(format!("{v} is not a valid {}", kind_name(kind)));
    if let Kind::Double = kind {
        let d = match v {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => match s.as_str() {
                "NaN" => Some(f64::NAN),
                "Infinity" => Some(f64::INFINITY),
                "-Infinity" => Some(f64::NEG_INFINITY),
                other => other.trim().parse().ok(),
            },
            _ => None,
        };
        return d.map(f64::to_bits).ok_or_else(bad);
    }
    integer(v)
        .and_then(|n| u64::try_from(n).ok())
        .ok_or_else(bad)
}

fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Int32 => "int32",
        Kind::UInt32 => "uint32",
        Kind::Int64 => "int64",
        Kind::UInt64 => "uint64",
        Kind::Fixed64 => "fixed64",
        Kind::Bool => "bool",
        Kind::Double => "double",
        _ => "value",
    }
}

/// An integer written as a JSON number (exact, or a float with no
/// fraction) or as a decimal string.
fn integer(v: &Value) -> Option<i128> {
    match v {
        Value::Number(n) => n
            .as_i64()
            .map(i128::from)
            .or_else(|| n.as_u64().map(i128::from))
            .or_else(|| {
                let f = n.as_f64()?;
                (f.fract() == 0.0 && f.abs() < 1.9e19).then_some(f as i128)
            }),
        Value::String(s) => s.trim().parse::<i128>().ok(),
        _ => None,
    }
}

/// A bytes field: hex first for ids, base64 otherwise (and as the ids'
/// fallback), or an array of byte values.
fn bytes(v: &Value, hex_first: bool) -> Result<Vec<u8>, JsonError> {
    if let Some(items) = v.as_array() {
        return items
            .iter()
            .map(|n| n.as_u64().and_then(|n| u8::try_from(n).ok()))
            .collect::<Option<Vec<u8>>>()
            .ok_or_else(|| JsonError::new("expected an array of byte values"));
    }
    let s = v
        .as_str()
        .ok_or_else(|| JsonError::new(format!("expected a string, found {}", kind_of(v))))?;
    if hex_first {
        if let Some(b) = hex(s) {
            return Ok(b);
        }
    }
    base64(s).ok_or_else(|| {
        JsonError::new(if hex_first {
            format!("{s:?} is neither hex nor base64")
        } else {
            format!("{s:?} is not base64")
        })
    })
}

fn hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| s.get(i..i + 2).and_then(|b| u8::from_str_radix(b, 16).ok()))
        .collect()
}

fn base64(s: &str) -> Option<Vec<u8>> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
        .iter()
        .find_map(|e| e.decode(s).ok())
}
