//! Only the `config` crate knows the YAML implementation: the other
//! library crates hold component bodies as `profcol_config::Body`. This
//! reads their non-test sources and fails on any use of the YAML document
//! model (`yaml::Value`, `yaml::Mapping`, `yaml::Number`) or of the YAML
//! crate itself, so that swapping the parser touches only `config/`.
//!
//! Test code may still build documents: files named `*tests.rs` are
//! skipped, and so is everything from a `#[cfg(test)]` line followed by a
//! `mod tests` line.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

const CRATES: &[&str] = &[
    "receiver",
    "exporter",
    "processor",
    "runtime",
    "http",
    "pdata",
];
const FORBIDDEN: &[&str] = &["yaml::Value", "yaml::Mapping", "yaml::Number", "yaml_serde"];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `(line number, line)` of every forbidden name in `source` before its
/// test module.
fn violations(source: &str) -> Vec<(usize, String)> {
    let lines: Vec<&str> = source.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let next = lines.get(i + 1).map_or("", |l| l.trim_start());
        if line.trim() == "#[cfg(test)]" && next.starts_with("mod tests") {
            break;
        }
        if FORBIDDEN.iter().any(|f| line.contains(f)) {
            out.push((i + 1, line.trim().to_string()));
        }
    }
    out
}

#[test]
fn the_scanner_finds_names_outside_test_modules_only() {
    let source = "use profcol_config::Body;\nfn f(v: &profcol_config::yaml::Value) {}\n#[cfg(test)]\nfn helper(v: yaml::Mapping) {}\n#[cfg(test)]\nmod tests {\n    use yaml_serde::Value;\n}\n";
    assert_eq!(
        violations(source),
        [
            (2, "fn f(v: &profcol_config::yaml::Value) {}".to_string()),
            (4, "fn helper(v: yaml::Mapping) {}".to_string()),
        ]
    );
    assert!(violations("fn f(b: &Body) {}\n").is_empty());
}

#[test]
fn no_library_crate_but_config_names_the_yaml_document_model() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let mut files = Vec::new();
    for name in CRATES {
        rust_files(&root.join(name).join("src"), &mut files);
    }
    assert!(files.len() > 100, "only {} files found", files.len());
    let mut found = Vec::new();
    for file in &files {
        let name = file.file_name().unwrap().to_string_lossy();
        if name.ends_with("tests.rs") {
            continue;
        }
        let source = std::fs::read_to_string(file).unwrap();
        for (line, text) in violations(&source) {
            let shown = file.strip_prefix(root).unwrap().display();
            found.push(format!("{shown}:{line}: {text}"));
        }
    }
    assert!(
        found.is_empty(),
        "use profcol_config::Body instead:\n{}",
        found.join("\n")
    );
}
