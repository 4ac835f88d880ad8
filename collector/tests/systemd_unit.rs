//! `deploy/systemd/profcol.service` against profcol: `ExecStart`'s flags are
//! ones the CLI accepts (`profcol validate` is run with them, on the example
//! config the unit's comment installs), the reload signal is the one profcol
//! reloads on, and the sandbox leaves writable what that config writes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod e2e;

use e2e::profcol_bin;
use profcol_config::yaml::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

struct Unit {
    text: String,
    /// `Section.Key` → values in order (a key may repeat).
    keys: BTreeMap<String, Vec<String>>,
}

impl Unit {
    fn load() -> Self {
        let text =
            std::fs::read_to_string(repo_root().join("deploy/systemd/profcol.service")).unwrap();
        let mut keys: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut section = String::new();
        for line in text.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            if let Some(s) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                section = s.to_string();
                continue;
            }
            let (k, v) = line
                .split_once('=')
                .unwrap_or_else(|| panic!("not key=value: {line}"));
            keys.entry(format!("{section}.{}", k.trim()))
                .or_default()
                .push(v.trim().to_string());
        }
        Self { text, keys }
    }

    fn one(&self, key: &str) -> &str {
        let values = self
            .keys
            .get(key)
            .unwrap_or_else(|| panic!("{key} is not set"));
        assert_eq!(values.len(), 1, "{key} is set {} times", values.len());
        &values[0]
    }

    /// `ExecStart`'s binary and arguments.
    fn exec_start(&self) -> (String, Vec<String>) {
        let mut words = self.one("Service.ExecStart").split_whitespace();
        let bin = words.next().unwrap().to_string();
        (bin, words.map(String::from).collect())
    }

    /// The example the unit's comment installs as the config file.
    fn installed_example(&self) -> PathBuf {
        let line = self
            .text
            .lines()
            .find(|l| l.contains("install") && l.contains("examples/"))
            .expect("the unit's comment shows which example to install");
        let word = line
            .split_whitespace()
            .find(|w| w.starts_with("examples/"))
            .unwrap();
        repo_root().join(word)
    }
}

/// The `--config` path in the arguments.
fn config_arg(args: &[String]) -> String {
    let i = args
        .iter()
        .position(|a| a == "--config" || a == "-c")
        .expect("ExecStart passes --config");
    args[i + 1].clone()
}

#[test]
fn exec_start_flags_are_accepted_by_profcol() {
    let unit = Unit::load();
    let (bin, args) = unit.exec_start();
    assert_eq!(bin, "/usr/local/bin/profcol");
    let config = config_arg(&args);
    assert_eq!(config, "/etc/profcol/config.yaml");
    let example = unit.installed_example();
    assert!(example.exists(), "{} does not exist", example.display());
    // The same arguments with the config path pointing at the example.
    let args: Vec<String> = args
        .iter()
        .map(|a| {
            if *a == config {
                example.to_string_lossy().to_string()
            } else {
                a.clone()
            }
        })
        .collect();
    let out = Command::new(profcol_bin())
        .arg("validate")
        .args(&args)
        .env_clear()
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "profcol validate {args:?}:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // And without `validate` they are the run command: no subcommand, only
    // global flags clap knows (`--help` stops after parsing them).
    let out = Command::new(profcol_bin())
        .args(&args)
        .arg("--help")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for a in args.iter().filter(|a| a.starts_with('-')) {
        assert!(
            String::from_utf8_lossy(&out.stdout).contains(a.as_str()),
            "{a} is not in profcol --help"
        );
    }
}

#[test]
fn reload_and_restart_match_what_profcol_does() {
    let unit = Unit::load();
    // profcol reloads on SIGHUP (collector/src/shutdown.rs) and stops
    // cleanly on SIGTERM.
    assert_eq!(
        unit.one("Service.ExecReload"),
        "/bin/kill -HUP $MAINPID",
        "profcol reloads on SIGHUP"
    );
    assert_eq!(unit.one("Service.KillSignal"), "SIGTERM");
    assert_eq!(unit.one("Service.Restart"), "on-failure");
    // systemd's stop timeout outlasts the config's shutdown_timeout, so the
    // exporters' queues are flushed before SIGKILL.
    let config: Value =
        profcol_config::yaml::from_str(&std::fs::read_to_string(unit.installed_example()).unwrap())
            .unwrap();
    let seconds = |s: &str| -> u64 {
        s.strip_suffix('s')
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{s:?}: write whole seconds"))
    };
    let shutdown = config["service"]["shutdown_timeout"]
        .as_str()
        .map(seconds)
        .unwrap_or(10);
    let stop = seconds(unit.one("Service.TimeoutStopSec"));
    assert!(
        stop > shutdown,
        "TimeoutStopSec {stop}s <= shutdown_timeout {shutdown}s"
    );
}

#[test]
fn the_sandbox_leaves_writable_what_the_config_writes() {
    let unit = Unit::load();
    assert_eq!(unit.one("Service.ProtectSystem"), "strict");
    assert_eq!(unit.one("Service.NoNewPrivileges"), "yes");
    let user = unit.one("Service.User");
    assert_ne!(user, "root");
    let state = format!("/var/lib/{}", unit.one("Service.StateDirectory"));
    assert_eq!(unit.one("Service.WorkingDirectory"), state);
    let writable: Vec<String> = std::iter::once(state.clone())
        .chain(
            unit.keys
                .get("Service.ReadWritePaths")
                .into_iter()
                .flatten()
                .flat_map(|v| v.split_whitespace().map(String::from)),
        )
        .collect();
    let config: Value =
        profcol_config::yaml::from_str(&std::fs::read_to_string(unit.installed_example()).unwrap())
            .unwrap();
    let mut written = Vec::new();
    for (_, e) in config["exporters"].as_mapping().into_iter().flatten() {
        for dir in [&e["directory"], &e["sending_queue"]["storage"]["directory"]] {
            if let Some(d) = dir.as_str() {
                written.push(d.to_string());
            }
        }
    }
    assert!(
        !written.is_empty(),
        "the installed example writes nothing: nothing to check"
    );
    for dir in &written {
        // Relative paths resolve in WorkingDirectory, the state directory.
        let absolute = Path::new(&state).join(dir);
        assert!(
            writable.iter().any(|w| absolute.starts_with(w)),
            "{dir} is read-only under ProtectSystem=strict (writable: {writable:?})"
        );
    }
}
