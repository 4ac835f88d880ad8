//! The one YAML implementation profcol uses, behind this module so that no
//! other crate depends on a YAML crate: they hold a component's raw body as
//! an opaque [`crate::Body`] and call [`from_str`] / [`to_string`] here
//! (the document model, [`Value`], is for this crate and for the collector's
//! whole-document views).
//!
//! The parser is `yaml_serde`, the YAML organization's maintained
//! continuation of the archived `serde_yaml` (same document model, same
//! messages with line and column, same limits on alias expansion and
//! nesting, so a "billion laughs" document is refused at once).
//!
//! ```
//! use profcol_config::yaml;
//! let doc: yaml::Value = yaml::from_str("receivers: {pyroscope_scrape: {}}").unwrap();
//! assert!(doc.get("receivers").is_some());
//! ```

pub use yaml_serde::{from_slice, from_str, from_value, to_string, to_value};
pub use yaml_serde::{Error, Mapping, Number, Value};

#[cfg(test)]
mod tests {
    use super::*;

    /// Ten levels of ten aliases each: 10^10 nodes if expanded.
    fn billion_laughs() -> String {
        let mut doc = String::from("a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
        for i in 1..10 {
            let prev = format!("*a{}", i - 1);
            let row = [prev.as_str(); 10].join(", ");
            doc.push_str(&format!("a{i}: &a{i} [{row}]\n"));
        }
        doc.push_str("receivers: *a9\n");
        doc
    }

    #[test]
    fn a_billion_laughs_document_is_refused_not_expanded() {
        let doc = billion_laughs();
        // A parser that expanded the aliases would run for minutes and
        // exhaust memory; the bound here only catches that regression.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(from_str::<Value>(&doc).map_err(|e| e.to_string()));
        });
        let outcome = rx
            .recv_timeout(std::time::Duration::from_secs(10))
            .expect("the parser returned");
        let message = outcome.expect_err("refused");
        assert!(message.contains("repetition limit exceeded"), "{message}");
    }

    #[test]
    fn syntax_errors_carry_line_and_column() {
        let e = from_str::<Value>("a: 1\nb: [unclosed\n").unwrap_err();
        let at = e.location().expect("a location");
        assert_eq!(at.line(), 3, "{e}");
        assert!(e.to_string().contains("line 3 column"), "{e}");
    }
}
