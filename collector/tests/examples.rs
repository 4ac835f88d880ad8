//! The configs in `examples/`: every `examples/*.yaml` (found with
//! `read_dir`, so a new example is covered without touching this file) must
//! pass `profcol validate`, with exactly the environment variables the test
//! sets below, and `examples/default.yaml` must be the embedded default.
//!
//! The examples that use `kubernetes_sd_configs` or `docker_sd_configs` are
//! checked by their own tests, which pass once the receiver knows those keys.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod e2e;

use e2e::profcol_bin;
use profcol_config::yaml::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The variables the examples read with `${env:NAME}` and no default, with
/// the values the Kubernetes downward API (or the operator) would give them.
const ENV: &[(&str, &str)] = &[
    ("NODE_NAME", "node-a"),
    ("POD_NAME", "profcol-7d9f8b-x2k4q"),
    ("POD_IP", "10.42.0.17"),
];

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Every `examples/*.yaml`, sorted.
fn examples() -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(repo_root().join("examples"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().and_then(|e| e.to_str()) == Some("yaml"))
        .collect();
    found.sort();
    found
}

fn parse(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap();
    profcol_config::yaml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Whether some receiver of the config has the key `key`.
fn uses(doc: &Value, key: &str) -> bool {
    doc["receivers"]
        .as_mapping()
        .is_some_and(|m| m.values().any(|r| r.get(key).is_some()))
}

/// The names of `${env:NAME}` / `${NAME}` references without a `:-` default
/// in the config's values (comments are not values, and are not expanded).
fn required_env(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => {
            let mut rest = s.as_str();
            while let Some(i) = rest.find("${") {
                if rest[..i].ends_with('$') {
                    rest = &rest[i + 2..];
                    continue;
                }
                let body = &rest[i + 2..];
                let end = body.find('}').expect("unterminated ${");
                let reference = &body[..end];
                let name = reference.strip_prefix("env:").unwrap_or(reference);
                if !name.contains(":-") && !name.starts_with("file:") {
                    out.push(name.to_string());
                }
                rest = &body[end..];
            }
        }
        Value::Sequence(s) => s.iter().for_each(|v| required_env(v, out)),
        Value::Mapping(m) => m.values().for_each(|v| required_env(v, out)),
        Value::Tagged(t) => required_env(&t.value, out),
        _ => {}
    }
}

/// Runs `profcol validate --config <path>` in an environment holding only
/// [`ENV`], after checking that [`ENV`] covers what the file needs.
fn assert_valid(path: &Path) {
    let mut needed = Vec::new();
    required_env(&parse(path), &mut needed);
    for name in &needed {
        assert!(
            ENV.iter().any(|(n, _)| n == name),
            "{} reads ${{env:{name}}} without a default: add {name} to ENV in this test",
            path.display()
        );
    }
    let out = Command::new(profcol_bin())
        .args(["validate", "--config", path.to_str().unwrap()])
        .env_clear()
        .envs(ENV.iter().copied())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{} is not valid:\n{}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("configuration is valid"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// Validates every example for which `select` is true; returns how many.
fn validate_where(select: impl Fn(&Value) -> bool) -> Vec<String> {
    let mut checked = Vec::new();
    for path in examples() {
        if select(&parse(&path)) {
            assert_valid(&path);
            checked.push(path.file_name().unwrap().to_string_lossy().to_string());
        }
    }
    checked
}

#[test]
fn examples_without_service_discovery_are_valid() {
    let checked = validate_where(|doc| {
        !uses(doc, "kubernetes_sd_configs") && !uses(doc, "docker_sd_configs")
    });
    for name in ["default.yaml", "otlp.yaml", "pyroscope.yaml"] {
        assert!(
            checked.iter().any(|c| c == name),
            "{name} not checked: {checked:?}"
        );
    }
}

/// Needs the receiver's `kubernetes_sd_configs` (until it is merged,
/// `validate` refuses the key as unknown).
#[test]
fn kubernetes_examples_are_valid() {
    let checked = validate_where(|doc| uses(doc, "kubernetes_sd_configs"));
    for name in ["clustering.yaml", "kubernetes-daemonset.yaml"] {
        assert!(
            checked.iter().any(|c| c == name),
            "{name} not checked: {checked:?}"
        );
    }
}

/// Needs the receiver's `docker_sd_configs`.
#[test]
fn docker_example_is_valid() {
    let checked = validate_where(|doc| uses(doc, "docker_sd_configs"));
    assert_eq!(checked, ["docker.yaml"]);
}

#[test]
fn default_example_is_the_embedded_default() {
    let example = std::fs::read_to_string(repo_root().join("examples/default.yaml")).unwrap();
    let embedded = std::fs::read_to_string(repo_root().join("collector/src/default.yaml")).unwrap();
    assert_eq!(
        example, embedded,
        "examples/default.yaml differs from collector/src/default.yaml (the pipeline profcol runs without --config): copy it over"
    );
}

/// The env scan above must see what profcol expands, or the ENV check
/// would pass vacuously.
#[test]
fn required_env_finds_references_without_defaults() {
    let doc: Value = profcol_config::yaml::from_str(
        "a: ${env:ONE}\nb: ['${TWO}:7946', '${env:THREE:-x}', '$${env:FOUR}', '${file:/f}']\n",
    )
    .unwrap();
    let mut found = Vec::new();
    required_env(&doc, &mut found);
    assert_eq!(found, ["ONE", "TWO"]);
}

/// Runs `profcol <args>` in an environment holding only [`ENV`]; its
/// standard output, after asserting it succeeded.
fn run_ok(args: &[&str]) -> String {
    let out = Command::new(profcol_bin())
        .args(args)
        .env_clear()
        .envs(ENV.iter().copied())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "profcol {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `print-config` prints the typed configs, defaults written out: what it
/// prints for each example is a valid config that prints the same again.
#[test]
fn print_config_of_every_example_is_a_valid_config_printing_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let mut checked = 0;
    for path in examples() {
        let first = run_ok(&["print-config", "--config", path.to_str().unwrap()]);
        let printed = dir.path().join(path.file_name().unwrap());
        std::fs::write(&printed, &first).unwrap();
        let again = run_ok(&["print-config", "--config", printed.to_str().unwrap()]);
        assert_eq!(
            first,
            again,
            "{}: printing the printed config differs",
            path.display()
        );
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} examples");
}
