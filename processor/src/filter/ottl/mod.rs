//! The subset of the OpenTelemetry Transformation Language (OTTL) that the
//! `filter` processor's conditions are written in. OTTL is large (editors,
//! converters by the dozen, arithmetic, maps, enums, caches); a profiles
//! pipeline filters on who sent a profile and what kind of profile it is,
//! so the subset is what such conditions need, parsed and checked when the
//! config is loaded:
//!
//! - **paths** of the Collector's profile context: `resource.attributes["k"]`,
//!   `instrumentation_scope.name` / `.version` / `.attributes["k"]`,
//!   `profile.sample_type.type` / `.unit`, `profile.period_type.type` /
//!   `.unit`, `profile.period`, `profile.time_unix_nano`,
//!   `profile.duration_unix_nano`, `profile.attributes["k"]`,
//!   `profile.original_payload_format`, `…dropped_attributes_count`; further
//!   `["k"]` / `[0]` index into map and array values. The context name may
//!   be left out when the condition list names its context (see [`Context`]);
//! - **literals**: double-quoted strings (Go escapes), ints, floats, `true`,
//!   `false`, `nil`;
//! - **operators** `==`, `!=`, `<`, `<=`, `>`, `>=`, `and`, `or`, `not`
//!   and parentheses;
//! - **functions**: the converter `IsMatch(value, "regex")`, and profcol's
//!   own `HasAttrOnSample("key", "value")` / `HasAttrKeyOnSample("key")`,
//!   modelled on the Collector's `HasAttrOnDatapoint` for metrics: the
//!   Collector's profile context cannot look at samples.
//!
//! Anything else — another function, an editor, an enum, a path outside the
//! list, arithmetic, map or bytes literals — is a config error naming the
//! column where it starts.
//!
//! ```
//! use profcol_processor::filter::ottl::{parse_condition, Context};
//! assert!(parse_condition(r#"IsMatch(sample_type.type, "^(alloc|inuse)_")"#, Context::Profile).is_ok());
//! let e = parse_condition(r#"resource.attributes["a"] == Concat("x")"#, Context::Inferred).unwrap_err();
//! assert_eq!(e.column, 29);
//! ```

mod eval;
mod lexer;
mod parser;
mod paths;

pub use eval::{eval, EvalError, Subject};
pub use lexer::CmpOp;
pub use parser::{Call, Expr, Lit, Operand};
pub use paths::{Context, Field, Key, Part};

use std::fmt;

/// Why a condition does not parse, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// 1-based, in characters.
    pub column: usize,
    pub message: String,
}

impl ParseError {
    pub(crate) fn new(src: &str, byte_offset: usize, message: impl Into<String>) -> Self {
        let offset = byte_offset.min(src.len());
        let column = src.char_indices().take_while(|(i, _)| *i < offset).count() + 1;
        Self {
            column,
            message: message.into(),
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "column {}: {}", self.column, self.message)
    }
}

/// Parses one condition written for `ctx`.
pub fn parse_condition(src: &str, ctx: Context) -> Result<Expr, ParseError> {
    parser::parse(src, ctx)
}

#[cfg(test)]
mod tests;
