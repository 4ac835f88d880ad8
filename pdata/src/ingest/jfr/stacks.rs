//! Turns a chunk's stack trace ids into frames: stack trace → frames →
//! method → class and method name (symbols), each looked up in the chunk's
//! constant pools by the field names the metadata gives. Unknown ids give
//! no stack (the sample is skipped), never an error.

use super::builder::Frame;
use super::chunk::Chunk;
use super::metadata::Class;
use super::symbols::merge_generated;
use super::value::Value;
use std::collections::HashMap;
use std::rc::Rc;

/// A field of a class, by index.
fn field<'v>(v: &'v Value, class: &Class, name: &str) -> Option<&'v Value> {
    v.fields().get(class.field(name)?)
}

pub struct Stacks<'c> {
    chunk: &'c Chunk<'c>,
    cache: HashMap<u64, Option<Rc<[Frame]>>>,
    names: HashMap<u64, Option<String>>,
}

impl<'c> Stacks<'c> {
    pub fn new(chunk: &'c Chunk<'c>) -> Self {
        Self {
            chunk,
            cache: HashMap::new(),
            names: HashMap::new(),
        }
    }

    /// The frames (leaf first) of stack trace `id`.
    pub fn frames(&mut self, id: u64) -> Option<Rc<[Frame]>> {
        if let Some(hit) = self.cache.get(&id) {
            return hit.clone();
        }
        let frames = self.resolve(id).map(Rc::from);
        self.cache.insert(id, frames.clone());
        frames
    }

    fn resolve(&mut self, id: u64) -> Option<Vec<Frame>> {
        let types = &self.chunk.types;
        let trace_class = types.named("jdk.types.StackTrace")?;
        let frame_class = types.named("jdk.types.StackFrame")?;
        let trace = self.chunk.constant(trace_class.id, id)?;
        let frames = field(trace, trace_class, "frames")?.items();
        let mut out = Vec::with_capacity(frames.len());
        for f in frames {
            let Some(method) = field(f, frame_class, "method").and_then(Value::reference) else {
                continue;
            };
            let line = field(f, frame_class, "lineNumber")
                .and_then(Value::int)
                .filter(|l| *l > 0)
                .unwrap_or(0);
            if let Some(function) = self.method_name(method) {
                out.push(Frame { function, line });
            }
        }
        Some(out)
    }

    /// `class.method` (the class in the JVM's slash form, generated names
    /// merged), or the method name alone for a frame without a class
    /// (native code).
    fn method_name(&mut self, id: u64) -> Option<String> {
        if let Some(hit) = self.names.get(&id) {
            return hit.clone();
        }
        let name = self.resolve_method(id);
        self.names.insert(id, name.clone());
        name
    }

    fn resolve_method(&self, id: u64) -> Option<String> {
        let types = &self.chunk.types;
        let method_class = types.named("jdk.types.Method")?;
        let method = self.chunk.constant(method_class.id, id)?;
        let name = field(method, method_class, "name")
            .and_then(Value::reference)
            .and_then(|s| self.symbol(s))
            .unwrap_or_default();
        let class = field(method, method_class, "type")
            .and_then(Value::reference)
            .and_then(|c| self.class_name(c))
            .unwrap_or_default();
        Some(match (class.is_empty(), name.is_empty()) {
            (true, _) => name,
            (false, true) => class,
            (false, false) => format!("{class}.{name}"),
        })
    }

    fn class_name(&self, id: u64) -> Option<String> {
        let class_class = self.chunk.types.named("java.lang.Class")?;
        let class = self.chunk.constant(class_class.id, id)?;
        let symbol = field(class, class_class, "name").and_then(Value::reference)?;
        Some(merge_generated(&self.symbol(symbol)?))
    }

    fn symbol(&self, id: u64) -> Option<String> {
        let symbol_class = self.chunk.types.named("jdk.types.Symbol")?;
        let symbol = self.chunk.constant(symbol_class.id, id)?;
        self.chunk.text(field(symbol, symbol_class, "string")?)
    }
}
