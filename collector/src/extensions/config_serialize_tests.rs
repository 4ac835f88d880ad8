//! Each extension's typed config serializes to a block its factory
//! decodes to an equal config, every accepted key written out.

use super::{ExtensionConfig, EXTENSIONS};
use profcol_config::keys::struct_fields;
use profcol_config::yaml::{self, Value};
use std::collections::BTreeSet;

fn decode(kind: &str, body: &profcol_config::Body) -> ExtensionConfig {
    match EXTENSIONS.decode(&kind.parse().unwrap(), body, "extensions::x") {
        Ok(c) => c,
        Err(p) => panic!("{kind}: {p:?}\n{}", yaml::to_string(body).unwrap()),
    }
}

/// Decodes `body`, serializes the config (as text, as print-config does),
/// decodes that and checks it is the same config; returns the serialized
/// form.
fn round_trip(kind: &str, body: &str) -> Value {
    let first = decode(kind, &yaml::from_str(body).unwrap());
    let text = yaml::to_string(&first).unwrap();
    let shown: Value = yaml::from_str(&text).unwrap();
    assert!(
        first == decode(kind, &yaml::from_value(shown.clone()).unwrap()),
        "{kind}: the serialized config decodes to another config\n{text}"
    );
    shown
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_mapping()
        .unwrap_or_else(|| panic!("not a mapping: {v:?}"))
        .keys()
        .map(|k| k.as_str().unwrap().to_string())
        .collect()
}

fn set(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|k| k.to_string()).collect()
}

/// Every key of `full` differs from `default`'s: the body sets each key.
fn assert_all_set(kind: &str, full: &Value, default: &Value) {
    for key in keys(full) {
        assert_ne!(
            full.get(&key),
            default.get(&key),
            "{kind}: {key} at its default"
        );
    }
}

#[test]
fn health_check_round_trips_with_every_key_and_with_defaults() {
    let full = round_trip(
        "health_check",
        r#"{endpoint: "0.0.0.0:9999", path: /health/, response_body: {healthy: up, unhealthy: down},
            tls: {cert_file: /c.pem, key_file: /k.pem, client_ca_file: /ca.pem, min_version: TLS13},
            check_collector_pipeline: {enabled: true, interval: 1m, exporter_failure_threshold: 2}}"#,
    );
    let default = round_trip("health_check", "{}");
    let all = struct_fields::<super::health_check::HealthCheckConfig>();
    assert_eq!(keys(&full), set(all));
    assert_eq!(keys(&default), set(&["endpoint", "path"]), "None left out");
    assert_all_set("health_check", &full, &default);
    assert_eq!(default["endpoint"], "localhost:13133");
    assert_eq!(
        keys(&full["check_collector_pipeline"]),
        set(struct_fields::<super::health_check::CheckCollectorPipeline>())
    );
    assert_eq!(
        keys(&full["tls"]),
        set(struct_fields::<profcol_config::server::ServerTlsConfig>())
    );
    let pipeline = round_trip("health_check", "{check_collector_pipeline: {}}");
    assert_eq!(
        pipeline["check_collector_pipeline"]["interval"], "5m",
        "defaults written"
    );
}

#[test]
fn pprof_round_trips_with_every_key_and_with_defaults() {
    let full = round_trip(
        "pprof",
        "{endpoint: '127.0.0.1:1888', block_profile_fraction: 3, mutex_profile_fraction: 5, save_to_file: /tmp/cpu.pprof}",
    );
    let default = round_trip("pprof", "{}");
    let all = struct_fields::<super::pprof::PprofConfig>();
    assert_eq!(keys(&full), set(all));
    assert_eq!(
        keys(&default),
        set(&[
            "endpoint",
            "block_profile_fraction",
            "mutex_profile_fraction"
        ])
    );
    assert_all_set("pprof", &full, &default);
}

#[test]
fn file_storage_round_trips_with_every_key_and_with_defaults() {
    let full = round_trip(
        "file_storage",
        r#"{directory: /var/q, timeout: 5s, create_directory: true, directory_permissions: "0700", fsync: true,
            compaction: {on_start: false, on_rebound: false, directory: /tmp/c, max_transaction_size: 10,
                         rebound_needed_threshold_mib: 20, rebound_trigger_threshold_mib: 30,
                         check_interval: 10s, cleanup_on_start: true}}"#,
    );
    let default = round_trip("file_storage", "{}");
    let all = struct_fields::<super::file_storage::FileStorageConfig>();
    assert_eq!(keys(&full), set(all));
    assert_eq!(
        keys(&default),
        set(&["directory", "timeout", "create_directory"]),
        "None left out: fsync and directory_permissions have no value that is their default"
    );
    assert_all_set("file_storage", &full, &default);
    assert_eq!(
        keys(&full["compaction"]),
        set(struct_fields::<super::file_storage::Compaction>())
    );
    assert_eq!(
        full["directory_permissions"], "0700",
        "as written, not a number"
    );
}

#[test]
fn endpoints_print_without_userinfo() {
    for kind in ["health_check", "pprof"] {
        let config = decode(
            kind,
            &yaml::from_str("{endpoint: 'admin:PLANTED-PW@localhost:1234'}").unwrap(),
        );
        let text = yaml::to_string(&config).unwrap();
        assert!(!text.contains("PLANTED-PW"), "{kind}: {text}");
        assert!(
            text.contains("endpoint: localhost:1234\n"),
            "{kind}: {text}"
        );
    }
}
