//! The chunk's metadata event: the type system every other event is read
//! with. Each class has an id, a name and its fields in the order they are
//! written; a field names its type's id, whether it is an array and whether
//! its value is written as a reference into a constant pool.

use super::cursor::{Cursor, JfrString};
use super::JfrError;
use std::collections::HashMap;

/// Elements nest root → metadata → class → field → annotation; deeper is
/// not JFR.
const MAX_ELEMENT_DEPTH: usize = 8;

#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub name: String,
    pub type_id: u64,
    pub array: bool,
    pub pooled: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Class {
    pub id: u64,
    pub name: String,
    pub fields: Vec<Field>,
}

impl Class {
    /// The index of the field called `name`.
    pub fn field(&self, name: &str) -> Option<usize> {
        self.fields.iter().position(|f| f.name == name)
    }
}

/// Every class of the chunk, by id and by name.
#[derive(Debug, Default)]
pub struct Types {
    pub by_id: HashMap<u64, Class>,
    by_name: HashMap<String, u64>,
}

impl Types {
    pub fn id_of(&self, name: &str) -> Option<u64> {
        self.by_name.get(name).copied()
    }

    pub fn named(&self, name: &str) -> Option<&Class> {
        self.id_of(name).and_then(|id| self.by_id.get(&id))
    }
}

struct Element {
    name: String,
    attributes: Vec<(String, String)>,
    children: Vec<Element>,
}

impl Element {
    fn attribute(&self, key: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

fn read_element(c: &mut Cursor, strings: &[String], depth: usize) -> Result<Element, JfrError> {
    if depth > MAX_ELEMENT_DEPTH {
        return Err(JfrError::at(c.pos(), "metadata elements nest too deep"));
    }
    let string = |c: &mut Cursor| -> Result<String, JfrError> {
        let at = c.pos();
        let i = c.varint()?;
        usize::try_from(i)
            .ok()
            .and_then(|i| strings.get(i))
            .cloned()
            .ok_or_else(|| JfrError::at(at, format!("metadata string index {i} is out of range")))
    };
    let name = string(c)?;
    let n = c.count("metadata attribute")?;
    let mut attributes = Vec::with_capacity(n);
    for _ in 0..n {
        attributes.push((string(c)?, string(c)?));
    }
    let n = c.count("metadata element")?;
    let mut children = Vec::with_capacity(n);
    for _ in 0..n {
        children.push(read_element(c, strings, depth + 1)?);
    }
    Ok(Element {
        name,
        attributes,
        children,
    })
}

fn number(e: &Element, key: &str) -> Result<u64, String> {
    let v = e
        .attribute(key)
        .ok_or_else(|| format!("a metadata {} has no {key:?}", e.name))?;
    v.parse()
        .map_err(|_| format!("metadata {} {key} {v:?} is not a number", e.name))
}

/// Reads the metadata event at `offset` (its size and type header first).
pub fn read(buf: &[u8], offset: usize) -> Result<Types, JfrError> {
    let mut c = Cursor::new(buf, offset);
    let _size = c.varint()?;
    let at = c.pos();
    let kind = c.varint()?;
    if kind != super::EVENT_METADATA {
        return Err(JfrError::at(
            at,
            format!("the metadata offset points at an event of type {kind}"),
        ));
    }
    let _start = c.varint()?;
    let _duration = c.varint()?;
    let _metadata_id = c.varint()?;
    let n = c.count("metadata string")?;
    let mut strings = Vec::with_capacity(n);
    for _ in 0..n {
        strings.push(match c.string()? {
            JfrString::Text(s) => s,
            JfrString::Null => String::new(),
            JfrString::Pooled(_) => {
                return Err(JfrError::at(c.pos(), "a metadata string refers to a pool"))
            }
        });
    }
    let root = read_element(&mut c, &strings, 0)?;
    let mut types = Types::default();
    let classes = root
        .children
        .iter()
        .filter(|e| e.name == "metadata")
        .flat_map(|m| m.children.iter())
        .filter(|e| e.name == "class");
    for e in classes {
        let id = number(e, "id").map_err(|m| JfrError::at(offset, m))?;
        let name = e.attribute("name").unwrap_or_default().to_string();
        let mut fields = Vec::new();
        for f in e.children.iter().filter(|f| f.name == "field") {
            fields.push(Field {
                name: f.attribute("name").unwrap_or_default().to_string(),
                type_id: number(f, "class").map_err(|m| JfrError::at(offset, m))?,
                array: f.attribute("dimension").is_some_and(|d| d != "0"),
                pooled: f.attribute("constantPool") == Some("true"),
            });
        }
        types.by_name.insert(name.clone(), id);
        types.by_id.insert(id, Class { id, name, fields });
    }
    Ok(types)
}
