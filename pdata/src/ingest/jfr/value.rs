//! Reads a value of any class the metadata declares: primitives by their
//! JFR names, strings in any of JFR's encodings, pooled fields as
//! references, arrays, and other classes field by field.

use super::cursor::{Cursor, JfrString};
use super::metadata::{Field, Types};
use super::JfrError;
use std::cell::Cell;

/// Classes nest a few levels (an event holds a stack trace's frames); a
/// deeper nesting is a cycle in hostile metadata.
const MAX_DEPTH: usize = 16;

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Int(i64),
    Float(f64),
    Str(JfrString),
    /// A key into the constant pool of the field's class.
    Ref(u64),
    /// A class's fields, in the metadata's order.
    Object(Vec<Value>),
    Array(Vec<Value>),
}

impl Value {
    pub fn int(&self) -> Option<i64> {
        match self {
            Value::Int(v) => Some(*v),
            Value::Float(f) => Some(*f as i64),
            _ => None,
        }
    }

    pub fn reference(&self) -> Option<u64> {
        match self {
            Value::Ref(r) => Some(*r),
            Value::Int(v) => u64::try_from(*v).ok(),
            _ => None,
        }
    }

    pub fn fields(&self) -> &[Value] {
        match self {
            Value::Object(f) => f,
            _ => &[],
        }
    }

    pub fn items(&self) -> &[Value] {
        match self {
            Value::Array(v) => v,
            _ => &[],
        }
    }
}

/// Reads values with the chunk's types, counting them against the
/// chunk's budget: a class whose fields take no bytes could otherwise make
/// a few bytes decode into millions of values. [`Decoder::skip`] walks a
/// value without building it (the constant pools are indexed that way and
/// decoded only when looked up).
pub struct Decoder<'t> {
    pub types: &'t Types,
    budget: &'t Cell<usize>,
}

/// The budget of a chunk of `chunk_bytes`: four values per byte (and a few
/// thousand more), for everything read from it, indexing and lookups
/// together.
pub fn budget(chunk_bytes: usize) -> Cell<usize> {
    Cell::new(chunk_bytes.saturating_mul(4).saturating_add(4096))
}

impl<'t> Decoder<'t> {
    pub fn new(types: &'t Types, budget: &'t Cell<usize>) -> Self {
        Self { types, budget }
    }

    /// Reads one value of class `type_id`.
    pub fn read(&self, c: &mut Cursor, type_id: u64) -> Result<Value, JfrError> {
        self.walk(c, type_id, 0, true)
    }

    /// Steps over one value of class `type_id`.
    pub fn skip(&self, c: &mut Cursor, type_id: u64) -> Result<(), JfrError> {
        self.walk(c, type_id, 0, false).map(drop)
    }

    fn spend(&self, c: &Cursor) -> Result<(), JfrError> {
        let left =
            self.budget.get().checked_sub(1).ok_or_else(|| {
                JfrError::at(c.pos(), "more values than the chunk's bytes can hold")
            })?;
        self.budget.set(left);
        Ok(())
    }

    /// Reads (`keep`) or steps over a value; a value stepped over is
    /// `Int(0)`.
    fn walk(
        &self,
        c: &mut Cursor,
        type_id: u64,
        depth: usize,
        keep: bool,
    ) -> Result<Value, JfrError> {
        self.spend(c)?;
        if depth > MAX_DEPTH {
            return Err(JfrError::at(c.pos(), "values nest too deep"));
        }
        let class = self
            .types
            .by_id
            .get(&type_id)
            .ok_or_else(|| JfrError::at(c.pos(), format!("no class with id {type_id}")))?;
        Ok(match class.name.as_str() {
            "boolean" | "byte" => Value::Int(i64::from(c.u8()? as i8)),
            // Narrow types are written as their unsigned bits: -1 as an
            // int is 0xffffffff, not a 64-bit -1.
            "char" => Value::Int(i64::from(c.varint()? as u16)),
            "short" => Value::Int(i64::from(c.varint()? as u16 as i16)),
            "int" => Value::Int(i64::from(c.varint()? as u32 as i32)),
            "long" => Value::Int(c.varint()? as i64),
            "float" => Value::Float(f64::from(f32::from_bits(c.be_u32()?))),
            "double" => Value::Float(f64::from_bits(c.be_u64()?)),
            "java.lang.String" if keep => Value::Str(c.string()?),
            "java.lang.String" => {
                c.skip_string()?;
                Value::Int(0)
            }
            _ => {
                let mut fields = Vec::with_capacity(if keep { class.fields.len() } else { 0 });
                for f in &class.fields {
                    let v = self.field(c, f, depth, keep)?;
                    if keep {
                        fields.push(v);
                    }
                }
                if keep {
                    Value::Object(fields)
                } else {
                    Value::Int(0)
                }
            }
        })
    }

    fn field(
        &self,
        c: &mut Cursor,
        f: &Field,
        depth: usize,
        keep: bool,
    ) -> Result<Value, JfrError> {
        if !f.array {
            return self.one(c, f, depth, keep);
        }
        let n = c.count("array element")?;
        let mut items = Vec::with_capacity(if keep { n } else { 0 });
        for _ in 0..n {
            let v = self.one(c, f, depth, keep)?;
            if keep {
                items.push(v);
            }
        }
        Ok(if keep {
            Value::Array(items)
        } else {
            Value::Int(0)
        })
    }

    fn one(&self, c: &mut Cursor, f: &Field, depth: usize, keep: bool) -> Result<Value, JfrError> {
        if f.pooled {
            self.spend(c)?;
            Ok(Value::Ref(c.varint()?))
        } else {
            self.walk(c, f.type_id, depth + 1, keep)
        }
    }
}
