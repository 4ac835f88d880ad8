//! Each exporter block's list of valid keys (used in unknown-key messages)
//! against the struct it describes: every listed key is accepted, and every
//! key a default serializes to is listed.

use crate::config::{key_union, StorageConfig, STORAGE_KEYS};
use crate::otlp_config::OTLP_COMMON_KEYS;
use crate::queue::{QueueConfig, QUEUE_KEYS};
use crate::retry::{RetryConfig, RETRY_KEYS};
use profcol_config::keys::{serialized_keys, unrecognised_keys};

fn assert_listed(serialized: Vec<String>, list: &[&str]) {
    for key in serialized {
        assert!(
            list.contains(&key.as_str()),
            "{key} is not listed in {list:?}"
        );
    }
}

#[test]
fn every_listed_key_is_accepted() {
    let none: Vec<String> = Vec::new();
    assert_eq!(unrecognised_keys::<StorageConfig>("{}", STORAGE_KEYS), none);
    assert_eq!(unrecognised_keys::<QueueConfig>("{}", QUEUE_KEYS), none);
    assert_eq!(unrecognised_keys::<RetryConfig>("{}", RETRY_KEYS), none);
    assert_eq!(
        unrecognised_keys::<crate::tls::TlsSettings>("{}", crate::tls::TLS_KEYS),
        none
    );
    assert_eq!(
        unrecognised_keys::<crate::file::FileConfig>("{}", crate::file::FILE_KEYS),
        none
    );
    assert_eq!(
        unrecognised_keys::<crate::file::FileQueueConfig>("{}", crate::file::FILE_QUEUE_KEYS),
        none
    );
    assert_eq!(
        unrecognised_keys::<crate::debug::DebugConfig>("{}", crate::debug::DEBUG_KEYS),
        none
    );
    assert_eq!(
        unrecognised_keys::<crate::otlp_grpc::OtlpGrpcConfig>(
            "{endpoint: 'h:4317'}",
            &key_union(OTLP_COMMON_KEYS, crate::otlp_grpc::GRPC_KEYS)
        ),
        none
    );
    assert_eq!(
        unrecognised_keys::<crate::otlp_http::OtlpHttpConfig>(
            "{endpoint: 'http://h:4318'}",
            &key_union(OTLP_COMMON_KEYS, crate::otlp_http::HTTP_KEYS)
        ),
        none
    );
}

#[test]
fn keepalive_and_pyroscope_keys_are_accepted() {
    let check = |kind: &str, body: String| {
        let v = profcol_config::Body::parse(&body).unwrap();
        let problems = crate::EXPORTERS
            .decode(&kind.parse().unwrap(), &v, "e")
            .err()
            .unwrap_or_default();
        let unknown: Vec<String> = problems
            .iter()
            .filter(|p| p.message.contains("unknown key"))
            .map(ToString::to_string)
            .collect();
        assert!(unknown.is_empty(), "{body}: {unknown:?}");
    };
    for key in crate::otlp_grpc::KEEPALIVE_KEYS {
        check(
            "otlp",
            format!("{{endpoint: 'h:1', keepalive: {{{key}: null}}}}"),
        );
    }
    for key in crate::pyroscope::config::TOP_KEYS {
        if *key != "endpoint" {
            check(
                "pyroscope",
                format!("{{endpoint: {{url: 'http://h'}}, {key}: null}}"),
            );
        }
    }
    let endpoint_keys = key_union(
        crate::pyroscope::config::ENDPOINT_KEYS,
        profcol_config::http_client::HTTP_CLIENT_KEYS,
    );
    for key in endpoint_keys.iter().filter(|k| **k != "url") {
        check(
            "pyroscope",
            format!("{{endpoint: {{url: 'http://h', {key}: null}}}}"),
        );
    }
}

#[test]
fn every_serialized_key_is_listed() {
    assert_listed(serialized_keys(&StorageConfig::default()), STORAGE_KEYS);
    let queue = QueueConfig {
        storage: Some(StorageConfig::default()),
        ..QueueConfig::default()
    };
    assert_listed(serialized_keys(&queue), QUEUE_KEYS);
    assert_eq!(serialized_keys(&queue).len(), QUEUE_KEYS.len());
    assert_listed(serialized_keys(&RetryConfig::default()), RETRY_KEYS);
    assert_eq!(
        serialized_keys(&RetryConfig::default()).len(),
        RETRY_KEYS.len()
    );
}
