//! Golden files of configuration errors: each `tests/config_errors/*.yaml`
//! holds one kind of mistake, and the `.txt` beside it the full output
//! `profcol validate --config <that file>` prints for it (the error of
//! [`profcol::settings::load`]). The test fails when an output changes;
//! after a deliberate change, rewrite the files with
//!
//! ```text
//! UPDATE_GOLDEN=1 cargo test -p profcol --test config_errors
//! ```
//!
//! and read the diff: every message must tell the reader what to change.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

const DIR: &str = "tests/config_errors";

/// What `profcol validate` prints on stderr for `file`.
fn validate_output(file: &str) -> String {
    match profcol::settings::load(&[file.to_string()], &[]) {
        Ok(s) => format!("{}: configuration is valid\n", s.source_names()),
        Err(e) => format!("{e}\n"),
    }
}

#[test]
fn every_mistake_prints_its_golden_output() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut cases: Vec<String> = std::fs::read_dir(DIR)
        .unwrap()
        .map(|e| e.unwrap().path().to_string_lossy().to_string())
        .filter(|p| p.ends_with(".yaml"))
        .collect();
    cases.sort();
    assert!(cases.len() >= 10, "{cases:?}");
    let mut differ = Vec::new();
    for yaml in &cases {
        let got = validate_output(yaml);
        assert!(
            !got.contains("configuration is valid"),
            "{yaml} should have problems"
        );
        let golden = Path::new(yaml).with_extension("txt");
        if update {
            std::fs::write(&golden, &got).unwrap();
            continue;
        }
        let want = std::fs::read_to_string(&golden).unwrap_or_default();
        if got != want {
            differ.push(format!(
                "{}:\n--- want\n{want}--- got\n{got}",
                golden.display()
            ));
        }
    }
    assert!(
        differ.is_empty(),
        "outputs changed (UPDATE_GOLDEN=1 rewrites them):\n{}",
        differ.join("\n")
    );
}

#[test]
fn a_missing_file_is_named_once_with_its_cause() {
    let shown = validate_output("tests/config_errors/no-such-file.yaml");
    assert!(
        shown.starts_with("cannot read config file tests/config_errors/no-such-file.yaml: "),
        "{shown}"
    );
    let cause = shown.trim_end().rsplit(": ").next().unwrap();
    assert_eq!(shown.matches(cause).count(), 1, "{shown}");
}
