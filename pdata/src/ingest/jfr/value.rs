//! Reads a value of any class the metadata declares: primitives by their
//! JFR names, strings in any of JFR's encodings, pooled fields as
//! references, arrays, and other classes field by field.

use super::cursor::{Cursor, JfrString};
use super::metadata::{Field, Types};
use super::JfrError;

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

/// Reads values with the chunk's types, counting them: a class whose
/// fields take no bytes could otherwise make a few bytes decode into
/// millions of values.
pub struct Decoder<'t> {
    pub types: &'t Types,
    budget: usize,
}

impl<'t> Decoder<'t> {
    /// A decoder for a chunk of `chunk_bytes`: it reads at most four
    /// values per byte (and a few thousand more).
    pub fn new(types: &'t Types, chunk_bytes: usize) -> Self {
        Self {
            types,
            budget: chunk_bytes.saturating_mul(4).saturating_add(4096),
        }
    }

    /// Reads one value of class `type_id`.
    pub fn read(&mut self, c: &mut Cursor, type_id: u64) -> Result<Value, JfrError> {
        self.read_at(c, type_id, 0)
    }

    fn spend(&mut self, c: &Cursor) -> Result<(), JfrError> {
        self.budget = self
            .budget
            .checked_sub(1)
            .ok_or_else(|| JfrError::at(c.pos(), "more values than the chunk's bytes can hold"))?;
        Ok(())
    }

    fn read_at(&mut self, c: &mut Cursor, type_id: u64, depth: usize) -> Result<Value, JfrError> {
        self.spend(c)?;
        if depth > MAX_DEPTH {
            return Err(JfrError::at(c.pos(), "values nest too deep"));
        }
        let types = self.types;
        let class = types
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
            "java.lang.String" => Value::Str(c.string()?),
            _ => {
                let mut fields = Vec::with_capacity(class.fields.len());
                for f in &class.fields {
                    fields.push(self.read_field(c, f, depth)?);
                }
                Value::Object(fields)
            }
        })
    }

    fn read_field(&mut self, c: &mut Cursor, f: &Field, depth: usize) -> Result<Value, JfrError> {
        if !f.array {
            return self.one(c, f, depth);
        }
        let n = c.count("array element")?;
        let mut items = Vec::with_capacity(n);
        for _ in 0..n {
            items.push(self.one(c, f, depth)?);
        }
        Ok(Value::Array(items))
    }

    fn one(&mut self, c: &mut Cursor, f: &Field, depth: usize) -> Result<Value, JfrError> {
        if f.pooled {
            self.spend(c)?;
            Ok(Value::Ref(c.varint()?))
        } else {
            self.read_at(c, f.type_id, depth + 1)
        }
    }
}
