//! `--config` as the OpenTelemetry Collector takes it, with the real
//! binary: `file:`, `env:` and `yaml:` sources merged in order beside a
//! plain path, and errors that name the URI.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod e2e;

use e2e::profcol_bin;
use std::process::Command;

const BASE: &str = "receivers:\n  pyroscope_scrape:\n    targets: [{__address__: 'a:1'}]\nexporters:\n  debug: {}\n";

fn profcol(args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
    let out = Command::new(profcol_bin())
        .args(args)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[test]
fn file_env_and_yaml_sources_merge_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("base.yaml");
    std::fs::write(&base, BASE).unwrap();
    let file_uri = format!("file:{}", base.display());
    let (ok, out, err) = profcol(
        &[
            "print-config",
            "--config",
            &file_uri,
            "--config",
            "env:PROFCOL_TEST_PIPELINE",
            "--config",
            "yaml:exporters::debug::verbosity: detailed",
        ],
        &[(
            "PROFCOL_TEST_PIPELINE",
            "service::pipelines::profiles: {receivers: [pyroscope_scrape], exporters: [debug]}",
        )],
    );
    assert!(ok, "{err}");
    let doc: profcol_config::yaml::Value = profcol_config::yaml::from_str(&out).unwrap();
    assert_eq!(doc["exporters"]["debug"]["verbosity"], "detailed");
    assert_eq!(
        doc["service"]["pipelines"]["profiles"]["exporters"][0],
        "debug"
    );
    // A problem names the source that set the key.
    let (ok, _, err) = profcol(
        &[
            "validate",
            "--config",
            &base.display().to_string(),
            "--config",
            "yaml:exporters::debug::verbosity: loud",
        ],
        &[],
    );
    assert!(!ok);
    assert!(
        err.contains("yaml:exporters::debug::verbosity: loud: exporters::debug::verbosity:"),
        "{err}"
    );
}

#[test]
fn bad_uris_are_named() {
    let (ok, _, err) = profcol(&["validate", "--config", "env:PROFCOL_TEST_UNSET_VAR"], &[]);
    assert!(!ok);
    assert!(
        err.contains("--config env:PROFCOL_TEST_UNSET_VAR: environment variable PROFCOL_TEST_UNSET_VAR is not set"),
        "{err}"
    );
    let (ok, _, err) = profcol(&["validate", "--config", "s3://bucket/c.yaml"], &[]);
    assert!(!ok);
    assert!(
        err.contains("--config s3://bucket/c.yaml: unsupported scheme \"s3\""),
        "{err}"
    );
}
