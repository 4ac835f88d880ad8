//! Protobuf bytes → OTLP/JSON, driven by the schema: 64-bit integers as
//! decimal strings, ids as hex, other bytes as base64, fields in schema
//! order, and (as proto3 JSON writers do by default) only the fields
//! present on the wire, so zero values are left out except inside a oneof.

use super::schema::{Field, Kind, Msg};
use crate::wire::{Reader, FIXED64, LEN, VARINT};
use crate::Error;
use base64::Engine;
use serde_json::{Map, Value};

/// The JSON object of one encoded message.
pub(super) fn message(bytes: &[u8], msg: &Msg) -> Result<Value, Error> {
    // Per field: the values seen (repeated) or the last one, and for
    // message fields the concatenated encodings (protobuf merges them).
    let mut values: Vec<Vec<Value>> = vec![Vec::new(); msg.fields.len()];
    let mut nested: Vec<Option<Vec<u8>>> = vec![None; msg.fields.len()];
    let mut r = Reader::new(bytes);
    while !r.is_empty() {
        let (num, wt) = r.key()?;
        let Some((i, field)) = msg.by_num(num) else {
            r.skip(wt)?;
            continue;
        };
        match field.kind {
            Kind::Message(_) if field.repeated => {
                let body = r.message(wt)?;
                values[i].push(message(body, child(field))?);
            }
            Kind::Message(_) => {
                let body = r.message(wt)?;
                nested[i]
                    .get_or_insert_with(Vec::new)
                    .extend_from_slice(body);
            }
            _ => {
                let vs = scalars(&mut r, bytes, wt, field.kind)?;
                if field.repeated {
                    values[i].extend(vs);
                } else if let Some(last) = vs.into_iter().last() {
                    values[i] = vec![last];
                }
            }
        }
    }
    let mut out = Map::new();
    for (i, field) in msg.fields.iter().enumerate() {
        if let Some(body) = nested[i].take() {
            out.insert(field.json.to_string(), message(&body, child(field))?);
            continue;
        }
        let vs = std::mem::take(&mut values[i]);
        if field.repeated {
            if !vs.is_empty() {
                out.insert(field.json.to_string(), Value::Array(vs));
            }
        } else if let Some(v) = vs.into_iter().next() {
            out.insert(field.json.to_string(), v);
        }
    }
    Ok(Value::Object(out))
}

fn child(field: &Field) -> &'static Msg {
    match field.kind {
        Kind::Message(m) => m,
        // Only called for message fields.
        _ => &EMPTY,
    }
}

static EMPTY: Msg = Msg { fields: &[] };

/// One scalar field occurrence (`r` reads `buf`): a single value, or a
/// packed run of them.
fn scalars(r: &mut Reader<'_>, buf: &[u8], wt: u8, kind: Kind) -> Result<Vec<Value>, Error> {
    let mut out = Vec::new();
    match (kind, wt) {
        (Kind::Str, LEN) => {
            let b = r.bytes()?;
            let s = std::str::from_utf8(b).map_err(|_| Error::Malformed("invalid UTF-8 string"))?;
            out.push(Value::String(s.to_string()));
        }
        (Kind::Bytes, LEN) => {
            let b = r.bytes()?;
            out.push(Value::String(
                base64::engine::general_purpose::STANDARD.encode(b),
            ));
        }
        (Kind::HexBytes, LEN) => {
            let b = r.bytes()?;
            out.push(Value::String(
                b.iter().map(|x| format!("{x:02x}")).collect(),
            ));
        }
        (Kind::Fixed64 | Kind::Double, FIXED64) => out.push(fixed(kind, fixed64(r, buf)?)),
        (Kind::Fixed64 | Kind::Double, LEN) => {
            let b = r.bytes()?;
            if b.len() % 8 != 0 {
                return Err(Error::Malformed("packed fixed64 of a wrong length"));
            }
            for c in b.chunks_exact(8) {
                let mut a = [0u8; 8];
                a.copy_from_slice(c);
                out.push(fixed(kind, u64::from_le_bytes(a)));
            }
        }
        (Kind::Int32 | Kind::UInt32 | Kind::Int64 | Kind::UInt64 | Kind::Bool, VARINT | LEN) => {
            r.repeated(wt, |v| out.push(varint(kind, v)))?
        }
        _ => return Err(Error::Malformed("invalid wire type")),
    }
    Ok(out)
}

/// Reads one fixed64 field of `buf`, the buffer `r` reads.
fn fixed64(r: &mut Reader<'_>, buf: &[u8]) -> Result<u64, Error> {
    let at = r.pos();
    r.skip(FIXED64)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(
        buf.get(at..at + 8)
            .ok_or(Error::Malformed("buffer underflow"))?,
    );
    Ok(u64::from_le_bytes(a))
}

fn fixed(kind: Kind, v: u64) -> Value {
    match kind {
        Kind::Double => double(f64::from_bits(v)),
        _ => Value::String(v.to_string()),
    }
}

/// proto3 JSON's doubles: numbers, or `"NaN"`, `"Infinity"`, `"-Infinity"`.
fn double(d: f64) -> Value {
    if d.is_nan() {
        Value::String("NaN".into())
    } else if d.is_infinite() {
        Value::String(if d > 0.0 { "Infinity" } else { "-Infinity" }.into())
    } else {
        serde_json::Number::from_f64(d).map_or(Value::Null, Value::Number)
    }
}

fn varint(kind: Kind, v: u64) -> Value {
    match kind {
        // Truncation is protobuf's int32/uint32 decoding.
        Kind::Int32 => Value::from(v as i32),
        Kind::UInt32 => Value::from(v as u32),
        Kind::Int64 => Value::String((v as i64).to_string()),
        Kind::Bool => Value::Bool(v != 0),
        _ => Value::String(v.to_string()),
    }
}
