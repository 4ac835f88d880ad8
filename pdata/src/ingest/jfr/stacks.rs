//! Turns a chunk's stack trace ids into frames: stack trace → frames →
//! method → class and method name (symbols), each looked up in the chunk's
//! constant pools by the field names the metadata gives. An id with no
//! constant gives no stack (the sample is skipped); a constant that does
//! not decode is an error.

use super::builder::Frame;
use super::chunk::Chunk;
use super::metadata::Class;
use super::symbols::merge_generated;
use super::value::Value;
use super::JfrError;
use std::collections::HashMap;
use std::rc::Rc;

/// A field of a class, by index.
pub fn field<'v>(v: &'v Value, class: &Class, name: &str) -> Option<&'v Value> {
    v.fields().get(class.field(name)?)
}

type Found<T> = Result<Option<T>, JfrError>;

pub struct Stacks<'c> {
    chunk: &'c Chunk<'c>,
    traces: HashMap<u64, Option<Rc<[Frame]>>>,
    methods: HashMap<u64, Option<String>>,
}

impl<'c> Stacks<'c> {
    pub fn new(chunk: &'c Chunk<'c>) -> Self {
        Self {
            chunk,
            traces: HashMap::new(),
            methods: HashMap::new(),
        }
    }

    /// The frames (leaf first) of stack trace `id`.
    pub fn frames(&mut self, id: u64) -> Found<Rc<[Frame]>> {
        if let Some(hit) = self.traces.get(&id) {
            return Ok(hit.clone());
        }
        let frames = self.resolve(id)?.map(Rc::from);
        self.traces.insert(id, frames.clone());
        Ok(frames)
    }

    fn resolve(&mut self, id: u64) -> Found<Vec<Frame>> {
        let chunk = self.chunk;
        let (Some(trace_class), Some(frame_class)) = (
            chunk.types.named("jdk.types.StackTrace"),
            chunk.types.named("jdk.types.StackFrame"),
        ) else {
            return Ok(None);
        };
        let Some(trace) = chunk.constant(trace_class.id, id)? else {
            return Ok(None);
        };
        let frames = field(&trace, trace_class, "frames").map_or(&[][..], Value::items);
        let mut out = Vec::with_capacity(frames.len());
        for f in frames {
            let Some(method) = field(f, frame_class, "method").and_then(Value::reference) else {
                continue;
            };
            let line = field(f, frame_class, "lineNumber")
                .and_then(Value::int)
                .filter(|l| *l > 0)
                .unwrap_or(0);
            if let Some(function) = self.method_name(method)? {
                out.push(Frame { function, line });
            }
        }
        Ok(Some(out))
    }

    /// `class.method` (the class in the JVM's slash form, generated names
    /// merged), or the method name alone for a frame without a class
    /// (native code).
    fn method_name(&mut self, id: u64) -> Found<String> {
        if let Some(hit) = self.methods.get(&id) {
            return Ok(hit.clone());
        }
        let name = self.resolve_method(id)?;
        self.methods.insert(id, name.clone());
        Ok(name)
    }

    fn resolve_method(&self, id: u64) -> Found<String> {
        let Some(method_class) = self.chunk.types.named("jdk.types.Method") else {
            return Ok(None);
        };
        let Some(method) = self.chunk.constant(method_class.id, id)? else {
            return Ok(None);
        };
        let name = match field(&method, method_class, "name").and_then(Value::reference) {
            Some(s) => self.symbol(s)?.unwrap_or_default(),
            None => String::new(),
        };
        let class = match field(&method, method_class, "type").and_then(Value::reference) {
            Some(c) => self.class_name(c)?.unwrap_or_default(),
            None => String::new(),
        };
        Ok(Some(match (class.is_empty(), name.is_empty()) {
            (true, _) => name,
            (false, true) => class,
            (false, false) => format!("{class}.{name}"),
        }))
    }

    fn class_name(&self, id: u64) -> Found<String> {
        let Some(class_class) = self.chunk.types.named("java.lang.Class") else {
            return Ok(None);
        };
        let Some(class) = self.chunk.constant(class_class.id, id)? else {
            return Ok(None);
        };
        let Some(symbol) = field(&class, class_class, "name").and_then(Value::reference) else {
            return Ok(None);
        };
        Ok(self.symbol(symbol)?.map(|s| merge_generated(&s)))
    }

    fn symbol(&self, id: u64) -> Found<String> {
        let Some(symbol_class) = self.chunk.types.named("jdk.types.Symbol") else {
            return Ok(None);
        };
        let Some(symbol) = self.chunk.constant(symbol_class.id, id)? else {
            return Ok(None);
        };
        match field(&symbol, symbol_class, "string") {
            Some(s) => self.chunk.text(s),
            None => Ok(None),
        }
    }
}
