//! The CLI's checking commands: `validate` on broken configs (every problem
//! with its key path and file, exact messages), `print-config` merging and
//! redaction, `components`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod e2e;

use e2e::run;
use std::path::PathBuf;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Each `fixtures/invalid/NAME.yaml` must fail `validate` with exactly the
/// text in `NAME.expected` (`{dir}` stands for the fixtures directory).
#[test]
fn validate_reports_every_problem_exactly() {
    let dir = fixtures().join("invalid");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
            continue;
        }
        let expected_path = path.with_extension("expected");
        let expected = std::fs::read_to_string(&expected_path)
            .unwrap_or_else(|_| panic!("{} has no .expected file", path.display()))
            .replace("{dir}", dir.to_str().unwrap());
        let out = run(&["validate", "--config", path.to_str().unwrap()]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{} must be refused", path.display());
        assert_eq!(
            stderr.trim_end(),
            expected.trim_end(),
            "for {}",
            path.display()
        );
        checked += 1;
    }
    assert!(checked >= 4, "only {checked} fixtures found");
}

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> String {
    let p = dir.path().join(name);
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}

#[test]
fn files_merge_in_order_and_set_wins() {
    let dir = tempfile::tempdir().unwrap();
    let a = write(
        &dir,
        "a.yaml",
        "receivers:\n  pyroscope_scrape:\n    targets: [{__address__: 'a:1'}]\n    scrape_interval: 30s\nexporters:\n  debug: {verbosity: basic}\nservice:\n  pipelines:\n    profiles: {receivers: [pyroscope_scrape], exporters: [debug]}\n",
    );
    let b = write(
        &dir,
        "b.yaml",
        "receivers:\n  pyroscope_scrape:\n    targets: [{__address__: 'b:2'}]\n    job_name: from-b\n",
    );
    let out = run(&[
        "print-config",
        "--config",
        &a,
        "--config",
        &b,
        "--set",
        "receivers.pyroscope_scrape.job_name=from-set",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: profcol_config::yaml::Value =
        profcol_config::yaml::from_str(&String::from_utf8_lossy(&out.stdout)).unwrap();
    let r = &doc["receivers"]["pyroscope_scrape"];
    assert_eq!(r["scrape_interval"], "30s", "maps merge");
    assert_eq!(r["targets"][0]["__address__"], "b:2", "lists replace");
    assert_eq!(r["targets"].as_sequence().unwrap().len(), 1);
    assert_eq!(r["job_name"], "from-set", "--set is applied last");
}

#[test]
fn print_config_redacts_secrets_from_env_and_files() {
    let dir = tempfile::tempdir().unwrap();
    let pw = write(&dir, "pw", "file-secret-value\n");
    let cfg = write(
        &dir,
        "c.yaml",
        &format!(
            "receivers:\n  pyroscope_scrape:\n    targets: [{{__address__: 'a:1'}}]\n    basic_auth: {{username: u, password: '${{file:{pw}}}'}}\n    proxy_url: 'http://user:${{env:PROFCOL_E2E_PROXY_PW}}@proxy:3128'\nexporters:\n  debug: {{}}\nservice:\n  pipelines:\n    profiles: {{receivers: [pyroscope_scrape], exporters: [debug]}}\n"
        ),
    );
    let out = std::process::Command::new(e2e::profcol_bin())
        .args(["print-config", "--config", &cfg])
        .env("PROFCOL_E2E_PROXY_PW", "env-secret-value")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!stdout.contains("file-secret-value"), "{stdout}");
    assert!(!stdout.contains("env-secret-value"), "{stdout}");
    assert!(stdout.contains("password: <secret>"), "{stdout}");
    // A URL with userinfo prints without it.
    assert!(stdout.contains("proxy_url: http://proxy:3128/"), "{stdout}");
}

#[test]
fn components_lists_the_built_in_types() {
    let out = run(&["components"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    for t in [
        "pyroscope_scrape",
        "otlp_grpc",
        "otlp_http",
        "pyroscope",
        "file",
        "debug",
    ] {
        assert!(
            stdout.contains(&format!("name: {t}\n")),
            "{t} missing:\n{stdout}"
        );
    }
}

#[test]
fn validate_accepts_the_embedded_default() {
    let out = run(&["validate"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("configuration is valid"));
}

#[test]
fn version_is_printed() {
    let out = run(&["--version"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("profcol {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn problems_name_the_file_that_set_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let base = write(
        &dir,
        "base.yaml",
        "receivers:\n  pyroscope_scrape:\n    targets: [{__address__: 'a:1'}]\nexporters:\n  debug: {}\nservice:\n  pipelines:\n    profiles: {receivers: [pyroscope_scrape], exporters: [debug]}\n",
    );
    let overlay = write(
        &dir,
        "overlay.yaml",
        "receivers:\n  pyroscope_scrape:\n    scrape_interval: soon\n",
    );
    let out = run(&[
        "validate",
        "--config",
        &base,
        "--config",
        &overlay,
        "--set",
        "exporters.debug.bogus=1",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains(&format!(
            "{overlay}: receivers::pyroscope_scrape::scrape_interval: invalid duration \"soon\""
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "--set: exporters::debug::bogus: unknown key `bogus` (valid keys: verbosity, sampling_initial, sampling_thereafter)"
        ),
        "{stderr}"
    );
}
