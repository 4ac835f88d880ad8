//! Any text: the filter processor's OTTL-subset parser never panics, in
//! every context; an error points at a column inside the condition (or
//! just past its end); what parses evaluates without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use profcol_processor::actions::{Attrs, Value};
use profcol_processor::filter::ottl::{eval, parse_condition, Context, Subject};

struct Fixed;

impl Subject for Fixed {
    fn resource_attr(&self, key: &str) -> Option<Value> {
        (key == "service.name").then(|| Value::Str("api".into()))
    }
    fn scope_name(&self) -> &str {
        "profcol"
    }
    fn scope_version(&self) -> &str {
        "0"
    }
    fn scope_attr(&self, _: &str) -> Option<Value> {
        Some(Value::Int(1))
    }
    fn profile_attr(&self, _: &str) -> Option<Value> {
        None
    }
    fn sample_type(&self) -> (&str, &str) {
        ("cpu", "nanoseconds")
    }
    fn period_type(&self) -> Option<(&str, &str)> {
        Some(("cpu", "nanoseconds"))
    }
    fn period(&self) -> i64 {
        10_000_000
    }
    fn time_unix_nano(&self) -> i64 {
        1
    }
    fn duration_unix_nano(&self) -> i64 {
        2
    }
    fn original_payload_format(&self) -> &str {
        ""
    }
    fn dropped_attributes_count(&self, _: u8) -> i64 {
        0
    }
    fn any_sample(&self, f: &mut dyn FnMut(&Attrs) -> bool) -> bool {
        f(&Attrs::default())
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    for ctx in [Context::Inferred, Context::Resource, Context::Scope, Context::Profile] {
        match parse_condition(text, ctx) {
            Ok(e) => {
                let _ = eval(&e, &Fixed);
            }
            Err(e) => assert!(e.column >= 1 && e.column <= text.chars().count() + 1),
        }
    }
});
