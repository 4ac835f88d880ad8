//! Each exporter's typed config serializes to a block its own decoder (the
//! factory's) takes back unchanged; every key the decoder accepts is
//! written out; planted secrets never appear in the output.

use crate::config::key_union;
use crate::registry::{ExporterConfig, EXPORTERS};
use profcol_config::http_client::HTTP_CLIENT_KEYS;
use profcol_config::yaml::{self, Value};
use std::collections::BTreeSet;

fn decode(kind: &str, body: &profcol_config::Body) -> ExporterConfig {
    match EXPORTERS.decode(&kind.parse().unwrap(), body, "exporters::x") {
        Ok(c) => c,
        Err(p) => panic!("{kind}: {p:?}\n{}", yaml::to_string(body).unwrap()),
    }
}

/// Decodes `body`, serializes the config, decodes that and checks it is
/// the same config; returns the serialized form.
fn round_trip(kind: &str, body: &str) -> Value {
    let first = decode(kind, &yaml::from_str(body).unwrap());
    let shown = yaml::to_value(&first).unwrap();
    let again = decode(kind, &yaml::from_value(shown.clone()).unwrap());
    assert!(
        first == again,
        "{kind}: the serialized config decodes to another config\n{}",
        yaml::to_string(&shown).unwrap()
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

/// Every key of `list` is written, with a value other than the default's:
/// proof that the body under test sets each key.
fn assert_all_set(kind: &str, full: &Value, default: &Value, list: &[&str]) {
    for key in list {
        let got = full.get(key);
        assert!(got.is_some(), "{kind}: {key} is not serialized");
        assert_ne!(got, default.get(key), "{kind}: {key} is at its default");
    }
}

const OTLP_GRPC_FULL: &str = r#"
endpoint: "collector.example:4317"
tls: {insecure: true, ca_file: /ca.pem, cert_file: /c.pem, key_file: /k.pem,
      server_name_override: otel.example, insecure_skip_verify: true}
headers: {}
compression: zstd
compression_params: {level: 7}
timeout: 3s
retry_on_failure: {enabled: false, initial_interval: 1s, max_interval: 2s,
                   max_elapsed_time: 1m30s, multiplier: 2.5, randomization_factor: 0.25}
sending_queue: {enabled: true, num_consumers: 3, queue_size: 50, max_bytes: 12345,
                block_on_overflow: true, max_batch_size: 7, flush_timeout: 1500ms,
                storage: {directory: /var/q, max_bytes: 999}}
numeric_sample_attributes: drop
max_request_bytes: 1000
keepalive: {time: 1m, timeout: 2s, permit_without_stream: true}
"#;

const OTLP_HTTP_FULL: &str = r#"
endpoint: "https://collector.example:4318"
profiles_endpoint: "https://collector.example:4318/custom/profiles"
tls: {ca_pem: CA, cert_pem: CERT, key_file: /k.pem, server_name: otel.example,
      insecure_skip_verify: true}
compression: none
compression_params: {level: 0}
timeout: 1m
retry_on_failure: {enabled: false, initial_interval: 100ms, max_interval: 1h,
                   max_elapsed_time: 0s, multiplier: 1, randomization_factor: 1}
sending_queue: {enabled: false, num_consumers: 1, queue_size: 2, max_bytes: 3,
                block_on_overflow: true, max_batch_size: 4, flush_timeout: 0s}
numeric_sample_attributes: drop
max_request_bytes: 0
"#;

/// Two endpoints, so that the HTTP client keys that exclude each other
/// are all set (files, not inline secrets: those do not round-trip).
const PYROSCOPE_FULL: &str = r#"
endpoint:
  - url: "https://pyroscope.example/push"
    name: first
    remote_timeout: 3s
    min_backoff_period: 1s
    max_backoff_period: 9s
    max_backoff_retries: 0
    retry_on_http_429: false
    bearer_token_file: /token
    tls_config: {ca_file: /ca.pem, cert_file: /c.pem, key_file: /k.pem,
                 insecure_skip_verify: true, min_version: TLS13, server_name: p.example}
    enable_http2: false
    follow_redirects: false
    proxy_url: "http://proxy.example:3128"
    no_proxy: "localhost"
  - url: "http://other.example"
    basic_auth: {username: alice, password_file: /pw}
    proxy_from_environment: true
  - url: "http://third.example"
    authorization: {type: Token, credentials_file: /cred}
  - url: "http://fourth.example"
    oauth2: {client_id: id, client_secret_file: /s, scopes: [a, b],
             endpoint_params: {audience: x}, token_url: "https://t.example/token",
             tls_config: {ca_file: /ca.pem}, proxy_url: "http://proxy.example:1"}
external_labels: {cluster: eu-1}
sending_queue: {num_consumers: 2, storage: {directory: /var/q}}
max_request_bytes: 4096
"#;

const FILE_FULL: &str = r#"
directory: /tmp/profiles
format: otlp_json
max_files: 3
max_bytes: 4096
numeric_sample_attributes: drop
sending_queue: {block_on_overflow: true}
"#;

const DEBUG_FULL: &str = "{verbosity: detailed, sampling_initial: 9, sampling_thereafter: 3}";

#[test]
fn otlp_grpc_round_trips_with_every_key_and_with_defaults() {
    let full = round_trip("otlp_grpc", OTLP_GRPC_FULL);
    let default = round_trip("otlp_grpc", "{endpoint: 'h:4317'}");
    let all = key_union(
        crate::otlp_config::OTLP_COMMON_KEYS,
        crate::otlp_grpc::GRPC_KEYS,
    );
    // headers: an empty map is the only value that round-trips (values
    // print as <secret>); the secrets test covers them.
    let set_here: Vec<&str> = all.iter().copied().filter(|k| *k != "headers").collect();
    assert_all_set("otlp_grpc", &full, &default, &set_here);
    assert_eq!(keys(&full), set(&all));
    assert_eq!(
        full["endpoint"], "collector.example:4317",
        "written as given"
    );
    assert_eq!(full["tls"]["server_name"], "otel.example", "canonical name");
    assert_eq!(full["timeout"], "3s");
    assert_eq!(full["sending_queue"]["flush_timeout"], "1.5s");
}

#[test]
fn otlp_http_round_trips_with_every_key_and_with_defaults() {
    let full = round_trip("otlp_http", OTLP_HTTP_FULL);
    let default = round_trip("otlp_http", "{endpoint: 'http://h:4318'}");
    let all = key_union(
        crate::otlp_config::OTLP_COMMON_KEYS,
        crate::otlp_http::HTTP_KEYS,
    );
    let set_here: Vec<&str> = all.iter().copied().filter(|k| *k != "headers").collect();
    assert_all_set("otlp_http", &full, &default, &set_here);
    assert_eq!(keys(&full), set(&all));
    assert_eq!(full["endpoint"], "https://collector.example:4318");
    assert_eq!(default["endpoint"], "http://h:4318", "not normalized");
}

#[test]
fn pyroscope_round_trips_with_every_key_and_with_defaults() {
    let full = round_trip("pyroscope", PYROSCOPE_FULL);
    let default = round_trip("pyroscope", "{endpoint: {url: 'http://p:4040'}}");
    let top = crate::pyroscope::config::TOP_KEYS;
    assert_eq!(keys(&full), set(top));
    let others: Vec<&str> = top.iter().copied().filter(|k| *k != "endpoint").collect();
    assert_all_set("pyroscope", &full, &default, &others);
    let endpoints = full["endpoint"].as_sequence().unwrap();
    assert_eq!(endpoints.len(), 4);
    let written: BTreeSet<String> = endpoints.iter().flat_map(keys).collect();
    let accepted = set(&key_union(
        crate::pyroscope::config::ENDPOINT_KEYS,
        HTTP_CLIENT_KEYS,
    ));
    // bearer_token, headers and proxy_connect_header hold secrets only:
    // they are set in the secrets test.
    let secret_only = set(&["bearer_token", "headers", "proxy_connect_header"]);
    let missing: Vec<&String> = accepted
        .difference(&written)
        .filter(|k| !secret_only.contains(*k))
        .collect();
    assert!(
        missing.is_empty(),
        "endpoint keys never written: {missing:?}"
    );
    assert_eq!(default["endpoint"].as_sequence().unwrap().len(), 1);
}

#[test]
fn file_and_debug_round_trip_with_every_key_and_with_defaults() {
    for (kind, body, list) in [
        ("file", FILE_FULL, crate::file::FILE_KEYS),
        ("debug", DEBUG_FULL, crate::debug::DEBUG_KEYS),
    ] {
        let full = round_trip(kind, body);
        let default = round_trip(kind, "{}");
        assert_all_set(kind, &full, &default, list);
        assert_eq!(keys(&full), set(list), "{kind}");
    }
    let pprof = round_trip("file", "{format: pprof}");
    assert!(
        pprof.get("numeric_sample_attributes").is_none(),
        "None is left out"
    );
}

/// The defaults, written out, name every key the decoder accepts except
/// the few whose default is "not set"; a key added to a struct and its key
/// list but not serialized fails here.
#[test]
fn every_accepted_key_is_in_the_serialized_defaults() {
    let unset = |list: &[&str], optional: &[&str]| -> BTreeSet<String> {
        set(list).difference(&set(optional)).cloned().collect()
    };
    let grpc = round_trip("otlp_grpc", "{endpoint: 'h:4317'}");
    let grpc_keys = key_union(
        crate::otlp_config::OTLP_COMMON_KEYS,
        crate::otlp_grpc::GRPC_KEYS,
    );
    assert_eq!(
        keys(&grpc),
        unset(&grpc_keys, &["compression_params", "keepalive"])
    );
    let http = round_trip("otlp_http", "{endpoint: 'http://h:4318'}");
    let http_keys = key_union(
        crate::otlp_config::OTLP_COMMON_KEYS,
        crate::otlp_http::HTTP_KEYS,
    );
    assert_eq!(
        keys(&http),
        unset(&http_keys, &["compression_params", "profiles_endpoint"])
    );
    assert_eq!(
        keys(&grpc["tls"]),
        unset(
            crate::tls::TLS_KEYS,
            &[
                "ca_file",
                "ca_pem",
                "cert_file",
                "cert_pem",
                "key_file",
                "key_pem",
                "server_name"
            ]
        )
    );
    assert_eq!(
        keys(&grpc["retry_on_failure"]),
        set(crate::retry::RETRY_KEYS)
    );
    assert_eq!(
        keys(&grpc["sending_queue"]),
        unset(crate::queue::QUEUE_KEYS, &["storage"])
    );
    let full = round_trip("otlp_grpc", OTLP_GRPC_FULL);
    assert_eq!(
        keys(&full["tls"]),
        unset(crate::tls::TLS_KEYS, &["ca_pem", "cert_pem", "key_pem"])
    );
    assert_eq!(
        keys(&full["keepalive"]),
        set(crate::otlp_grpc::KEEPALIVE_KEYS)
    );
    assert_eq!(
        keys(&full["sending_queue"]["storage"]),
        set(crate::config::STORAGE_KEYS)
    );
    let pyroscope = round_trip("pyroscope", "{endpoint: {url: 'http://p:4040'}}");
    assert_eq!(keys(&pyroscope), set(crate::pyroscope::config::TOP_KEYS));
    let endpoint = &pyroscope["endpoint"][0];
    let mut endpoint_keys = set(crate::pyroscope::config::ENDPOINT_KEYS);
    endpoint_keys.remove("name");
    endpoint_keys.extend(set(&[
        "enable_http2",
        "follow_redirects",
        "proxy_from_environment",
    ]));
    assert_eq!(keys(endpoint), endpoint_keys);
    let file = round_trip("file", "{}");
    assert_eq!(
        keys(&file),
        unset(crate::file::FILE_KEYS, &["numeric_sample_attributes"])
    );
    assert_eq!(
        keys(&file["sending_queue"]),
        set(crate::file::FILE_QUEUE_KEYS)
    );
    assert_eq!(
        keys(&round_trip("debug", "{}")),
        set(crate::debug::DEBUG_KEYS)
    );
}

/// Every place a credential can be written, each with its own planted value.
const PLANTED: &[&str] = &[
    "PLANTED-HEADER",
    "PLANTED-KEY-PEM",
    "PLANTED-URL-PW",
    "PLANTED-URL-TOKEN",
    "PLANTED-PROFILES-PW",
    "PLANTED-PROFILES-SIG",
    "PLANTED-BEARER",
    "PLANTED-BASIC-PW",
    "PLANTED-CREDENTIALS",
    "PLANTED-CLIENT-SECRET",
    "PLANTED-TOKEN-URL-SECRET",
    "PLANTED-PROXY-PW",
    "PLANTED-CONNECT-HEADER",
    "PLANTED-OAUTH-PROXY-PW",
    "PLANTED-OAUTH-CONNECT",
    "PLANTED-CLIENT-KEY-PEM",
    "PLANTED-OAUTH-KEY-PEM",
    "PLANTED-PYRO-HEADER",
    "PLANTED-PYRO-URL-PW",
    "PLANTED-PYRO-URL-KEY",
    "PLANTED-LABEL",
];

#[test]
fn planted_secrets_never_appear_in_the_serialized_configs() {
    let bodies = [
        (
            "otlp_grpc",
            r#"{endpoint: "u:PLANTED-URL-PW@h:4317",
                headers: {x-api-key: PLANTED-HEADER, Authorization: "Bearer PLANTED-HEADER"},
                tls: {cert_file: /c.pem, key_pem: PLANTED-KEY-PEM}}"#,
        ),
        (
            "otlp_http",
            r#"{endpoint: "https://u:PLANTED-URL-PW@h:4318/?access_token=PLANTED-URL-TOKEN&tenant=t1",
                profiles_endpoint: "https://v:PLANTED-PROFILES-PW@h/p?sig=PLANTED-PROFILES-SIG",
                headers: {X-Scope-OrgID: PLANTED-HEADER},
                tls: {cert_pem: C, key_pem: PLANTED-KEY-PEM}}"#,
        ),
        (
            "pyroscope",
            r#"{endpoint: [
                {url: "https://tenant:PLANTED-PYRO-URL-PW@p.example/?api_key=PLANTED-PYRO-URL-KEY",
                 headers: {X-Scope-OrgID: PLANTED-PYRO-HEADER},
                 bearer_token: PLANTED-BEARER,
                 tls_config: {cert_file: /c, key_pem: PLANTED-CLIENT-KEY-PEM},
                 proxy_url: "http://proxy:PLANTED-PROXY-PW@proxy.example:3128",
                 proxy_connect_header: {Proxy-Authorization: [PLANTED-CONNECT-HEADER]}},
                {url: "http://a", basic_auth: {username: alice, password: PLANTED-BASIC-PW}},
                {url: "http://b", authorization: {credentials: PLANTED-CREDENTIALS}},
                {url: "http://c", oauth2: {client_id: id, client_secret: PLANTED-CLIENT-SECRET,
                  token_url: "https://t.example/token?client_secret=PLANTED-TOKEN-URL-SECRET",
                  tls_config: {cert_file: /c, key_pem: PLANTED-OAUTH-KEY-PEM},
                  proxy_url: "http://p:PLANTED-OAUTH-PROXY-PW@proxy.example",
                  proxy_connect_header: {Proxy-Authorization: [PLANTED-OAUTH-CONNECT]}}}],
                external_labels: {api_key: PLANTED-LABEL, cluster: eu-1}}"#,
        ),
    ];
    let mut everything = String::new();
    for (kind, body) in bodies {
        let config = decode(kind, &yaml::from_str(body).unwrap());
        everything.push_str(&yaml::to_string(&config).unwrap());
    }
    let planted_in_bodies: String = bodies.iter().map(|(_, b)| *b).collect();
    for planted in PLANTED {
        assert!(
            planted_in_bodies.contains(planted),
            "{planted} is not planted"
        );
        assert!(
            !everything.contains(planted),
            "{planted} shown:\n{everything}"
        );
    }
    // What is not secret is still shown.
    for shown in [
        "h:4317",
        "tenant=t1",
        "p.example",
        "alice",
        "x-api-key",
        "X-Scope-OrgID",
        "Proxy-Authorization",
        "https://t.example/token",
        "proxy.example:3128",
        "eu-1",
    ] {
        assert!(everything.contains(shown), "{shown} missing:\n{everything}");
    }
    assert!(everything.matches("<secret>").count() >= 10, "{everything}");
}
