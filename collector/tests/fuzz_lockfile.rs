//! The fuzz crate (`fuzz/`, outside the workspace) has its own lockfile:
//! it must build the same versions of the crates it shares with the
//! workspace, or the fuzzers test code the binary does not run. Refresh it
//! after a dependency change with
//! `cp Cargo.lock fuzz/Cargo.lock && (cd fuzz && cargo metadata --format-version 1 >/dev/null)`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Each package's versions in the lockfile at `path`.
fn versions(path: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut name = None;
    for line in text.lines() {
        if line == "[[package]]" {
            name = None;
        } else if let Some(n) = line.strip_prefix("name = ") {
            name = Some(n.trim_matches('"').to_string());
        } else if let (Some(v), Some(n)) = (line.strip_prefix("version = "), name.take()) {
            out.entry(n)
                .or_default()
                .insert(v.trim_matches('"').to_string());
        }
    }
    out
}

#[test]
fn the_fuzz_lockfile_pins_the_workspace_versions() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let workspace = versions(&root.join("Cargo.lock"));
    let fuzz = versions(&root.join("fuzz/Cargo.lock"));
    assert!(
        fuzz.contains_key("libfuzzer-sys"),
        "fuzz/Cargo.lock is not the fuzz crate's"
    );
    let drift: Vec<String> = fuzz
        .iter()
        .filter_map(|(name, fv)| {
            let wv = workspace.get(name)?;
            (!fv.is_subset(wv)).then(|| format!("{name}: fuzz {fv:?}, workspace {wv:?}"))
        })
        .collect();
    assert!(
        drift.is_empty(),
        "fuzz/Cargo.lock drifted from Cargo.lock:\n{}",
        drift.join("\n")
    );
}
