//! The typed receiver configs serialize back to YAML that decodes to the
//! same config (every key, defaults written out), and never print a
//! credential: secrets, header values, URL passwords and secret-looking
//! parameters show as `<secret>`. Round-trip bodies write `<secret>` where
//! a secret goes, so that the key still round-trips; the leak tests plant
//! real values.

use crate::config::{ScrapeConfig, SCRAPE_KEYS};
use crate::discovery::docker::config::{DOCKERSWARM_SD_KEYS, DOCKER_SD_KEYS};
use crate::discovery::file_sd::FileSdConfig;
use crate::discovery::http_sd::HTTP_SD_KEYS;
use crate::discovery::kubernetes::config::KUBERNETES_SD_KEYS;
use crate::discovery::target_allocator::TARGET_ALLOCATOR_KEYS;
use crate::push::otlp::config::{GrpcConfig, HttpConfig, OtlpConfig};
use crate::push::pyroscope::config::PyroscopeReceiverConfig;
use profcol_config::http_client::HTTP_CLIENT_KEYS;
use profcol_config::keys::{key_union, serialized_keys, struct_fields};
use profcol_config::yaml;
use profcol_config::{decode, Validate};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::collections::BTreeSet;

const ID: &str = "pyroscope_scrape/full";

/// Every key of a scrape receiver set to something other than its default
/// (the HTTP client's auth alternatives spread over the blocks that take
/// one each).
const FULL_SCRAPE: &str = r#"
targets:
  - { __address__: "app:6060", __scheme__: https, env: prod, __param_debug: "1" }
  - { __address__: "db:6061" }
http_sd_configs:
  - url: "http://sd.example:9000/targets?page=2"
    refresh_interval: 45s
    max_response_size: 2MiB
    basic_auth: { username: sd-user, password: "<secret>" }
    tls_config:
      ca_pem: "CA PEM"
      cert_pem: "CERT PEM"
      key_pem: "<secret>"
      insecure_skip_verify: true
      min_version: TLS13
      server_name: sd.internal
    enable_http2: false
    follow_redirects: false
    proxy_url: "http://proxy.example:3128"
    no_proxy: "10.0.0.0/8"
    proxy_connect_header: { X-Proxy-Auth: ["<secret>", "<secret>"] }
  - url: "https://sd2.example/targets"
    basic_auth: { username: other, password_file: /run/sd-password }
    proxy_from_environment: true
file_sd_configs:
  - { files: ["/etc/t/*.json", "/etc/t/b.yaml"], refresh_interval: 2m, max_file_size: 1MiB }
docker_sd_configs:
  - host: "tcp://docker.example:2376"
    port: 8080
    host_networking_host: docker-host
    match_first_network: false
    filters: [{ name: label, values: ["a=b", "c"] }]
    refresh_interval: 30s
    max_response_size: 8MiB
    tls_config: { ca_file: /etc/docker/ca.pem, cert_file: /etc/docker/cert.pem, key_file: /etc/docker/key.pem }
    enable_http2: false
    follow_redirects: false
dockerswarm_sd_configs:
  - host: "https://swarm.example:2376"
    role: tasks
    port: 9090
    filters: [{ name: service, values: [api] }]
    refresh_interval: 90s
    max_response_size: 4MiB
    tls_config: { insecure_skip_verify: true }
kubernetes_sd_configs:
  - role: pod
    api_server: "https://k8s.example:6443"
    namespaces: { names: [a, b] }
    selectors: [{ role: pod, label: "app=x", field: "spec.nodeName=n1" }]
    attach_metadata: { node: true, namespace: true }
    bearer_token: "<secret>"
    tls_config: { ca_file: /k8s/ca.crt }
    proxy_url: "http://proxy.example:3128"
    enable_http2: false
  - role: node
    api_server: "https://k8s2.example:6443"
    bearer_token_file: /run/k8s-token
  - role: service
    kubeconfig_file: /etc/kube/config
  - role: endpoints
    namespaces: { own_namespace: true }
target_allocator:
  endpoint: "http://ta.example:80"
  interval: 20s
  collector_id: col-1
  authorization: { type: Token, credentials: "<secret>" }
  follow_redirects: false
relabel_configs:
  - { source_labels: [a, b], separator: "|", regex: "(x+)-(.*)", target_label: t, replacement: "$2", action: replace }
  - { source_labels: [a], modulus: 8, target_label: shard, action: hashmod }
  - { regex: "tmp_.*", action: labeldrop }
  - { source_labels: [b], target_label: c, action: keepequal }
job_name: job-x
params: { foo: [bar, baz] }
scrape_interval: 30s
scrape_timeout: 40s
scheme: https
delta_profiling_duration: 20s
max_body_size: 32MiB
max_samples_per_profile: 10
max_labels_per_sample: 11
max_stack_depth: 12
label_limit: 13
label_name_length_limit: 14
label_value_length_limit: 15
profiling_config:
  path_prefix: /app
  profile:
    memory: { enabled: false, path: /m, delta: true }
    block: { enabled: false, path: /b, delta: true }
    goroutine: { enabled: false, path: /g, delta: true }
    mutex: { enabled: false, path: /x, delta: true }
    process_cpu: { enabled: true, path: /cpu, delta: false }
    fgprof: { enabled: true, path: /fg, delta: false }
    godeltaprof_memory: { enabled: true, path: /dm }
    godeltaprof_mutex: { enabled: true, path: /dx }
    godeltaprof_block: { enabled: true, path: /db }
    custom:
      zeta: { enabled: true, path: /debug/zeta, delta: true }
      alpha: { enabled: false, path: /debug/alpha }
clustering: { enabled: true }
oauth2:
  client_id: cid
  client_secret: "<secret>"
  endpoint_params: { audience: aud }
  scopes: [read, write]
  token_url: "https://auth.example/token"
  tls_config: { insecure_skip_verify: true }
  proxy_url: "http://proxy.example:3128"
  no_proxy: "*.local"
  proxy_connect_header: { X-Oauth-Proxy: ["<secret>"] }
tls_config: { ca_file: /ca.pem, cert_file: /cert.pem, key_file: /key.pem, min_version: TLS12, server_name: app.internal }
enable_http2: false
follow_redirects: false
proxy_url: "socks5://proxy.example:1080"
no_proxy: "*.internal"
proxy_connect_header: { X-Top: ["<secret>"] }
"#;

/// Every key of an `otlp` receiver, both protocols.
const FULL_OTLP: &str = r#"
protocols:
  grpc:
    endpoint: "0.0.0.0:14317"
    transport: tcp4
    dialer: { timeout: 5s }
    tls: { cert_file: /c.pem, key_file: /k.pem, client_ca_file: /ca.pem, min_version: "1.3", reload_interval: 1h, client_ca_file_reload: true }
    max_recv_msg_size_mib: 16
    max_concurrent_streams: 100
    read_buffer_size: 1024
    write_buffer_size: 2048
    keepalive:
      server_parameters: { max_connection_idle: 1m, max_connection_age: 2m, max_connection_age_grace: 10s, time: 30s, timeout: 5s }
      enforcement_policy: { min_time: 10s, permit_without_stream: true }
    include_metadata: true
    middlewares: []
    bearer_token: "<secret>"
  http:
    endpoint: "[::1]:14318"
    transport: tcp6
    dialer: { timeout: 1s }
    tls: { cert_file: /hc.pem, key_file: /hk.pem, min_version: TLS12 }
    cors: { allowed_origins: ["https://*.example"], allowed_headers: [X-A], exposed_headers: [X-B], max_age: 600 }
    max_request_body_size: 8MiB
    include_metadata: false
    response_headers: { X-Served-By: "<secret>" }
    compression_algorithms: [gzip, zstd]
    read_timeout: 10s
    read_header_timeout: 2s
    write_timeout: 11s
    idle_timeout: 12s
    keep_alives_enabled: false
    middlewares: []
    traces_url_path: /t
    metrics_url_path: /m
    logs_url_path: /l
    profiles_url_path: /p
    basic_auth: { username: u, password: "<secret>" }
"#;

/// The keys [`FULL_OTLP`] cannot set at once (each protocol takes one
/// kind of auth) and the list form of `response_headers`; `auth` is always
/// refused.
const OTLP_ALTERNATIVES: [&str; 2] = [
    r#"
protocols:
  grpc: { basic_auth: { username: g, password_file: /g } }
  http: { bearer_token_file: /run/otlp-token, response_headers: [{ name: X-A, value: "<secret>" }] }
"#,
    r#"
protocols:
  grpc: { bearer_token_file: /run/grpc-token }
  http: { bearer_token: "<secret>" }
"#,
];

/// Every key of a `pyroscope` receiver.
const FULL_PYROSCOPE: &str = r#"
endpoint: "0.0.0.0:14040"
tls: { cert_file: /c.pem, key_file: /k.pem, client_ca_file: /ca.pem, min_version: TLS13 }
basic_auth: { username: u, password: "<secret>" }
max_request_body_size: 1MiB
max_decompressed_size: 2MiB
max_label_names_per_series: 3
max_label_name_length: 4
max_label_value_length: 5
max_samples_per_profile: 6
max_labels_per_sample: 7
max_stack_depth: 8
read_timeout: 9s
"#;

fn parse<T: DeserializeOwned + Validate>(body: &str) -> T {
    let v: profcol_config::Body = yaml::from_str(body).unwrap();
    match decode::<T>(&v, "r") {
        Ok(c) => c,
        Err(p) => panic!("{p:?}"),
    }
}

/// The config serialized to YAML text, then read back by the decoder.
fn round_trip<T: Serialize + DeserializeOwned + Validate>(config: &T) -> T {
    let text = yaml::to_string(config).unwrap();
    let v: profcol_config::Body = yaml::from_str(&text).unwrap();
    match decode::<T>(&v, "r") {
        Ok(c) => c,
        Err(p) => panic!("{p:?} decoding\n{text}"),
    }
}

fn keys(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|k| k.to_string()).collect()
}

/// The keys of the block at `path` (a list index or a map key per step)
/// of the serialized config.
fn keys_at<T: Serialize>(config: &T, path: &[&str]) -> BTreeSet<String> {
    let mut v = yaml::to_value(config).unwrap();
    for step in path {
        v = match step.parse::<usize>() {
            Ok(i) => v[i].clone(),
            Err(_) => v[*step].clone(),
        };
    }
    serialized_keys(&v).into_iter().collect()
}

#[test]
fn a_scrape_config_with_every_key_set_round_trips() {
    let c: ScrapeConfig = parse(FULL_SCRAPE);
    assert_eq!(round_trip(&c), c);
    // Not merely equal defaults: the body really set what it claims.
    assert_eq!(c.max_stack_depth, 12);
    assert_eq!(c.kubernetes_sd_configs.len(), 4);
    assert_eq!(c.profiling_config.profile.custom.0.len(), 2);
    assert!(!c.http.follow_redirects && c.http.oauth2.is_some());
}

#[test]
fn resolved_scrape_configs_round_trip() {
    for body in [
        "targets: []",
        "http_sd_configs: [{url: 'http://sd'}]",
        FULL_SCRAPE,
    ] {
        let resolved = parse::<ScrapeConfig>(body).resolved(ID);
        assert_eq!(round_trip(&resolved), resolved, "{body}");
    }
}

#[test]
fn the_defaults_round_trip_written_out() {
    let c: ScrapeConfig = parse("targets: []");
    assert_eq!(round_trip(&c), c);
    let text = yaml::to_string(&c.resolved(ID)).unwrap();
    for written in [
        "scrape_interval: 15s",
        "scrape_timeout: 18s",
        "delta_profiling_duration: 14s",
        "max_body_size: 64MiB",
        "job_name: pyroscope_scrape/full",
        "scheme: http",
        "enable_http2: true",
        "path: /debug/pprof/allocs",
    ] {
        assert!(text.contains(written), "{written} missing:\n{text}");
    }
    let otlp: OtlpConfig = parse("protocols: {grpc: , http: }");
    assert_eq!(round_trip(&otlp), otlp);
    let text = yaml::to_string(&otlp).unwrap();
    assert!(text.contains("endpoint: localhost:4317"), "{text}");
    let pyro: PyroscopeReceiverConfig = parse("{}");
    assert_eq!(pyro, PyroscopeReceiverConfig::default());
    assert_eq!(round_trip(&pyro), pyro);
    let text = yaml::to_string(&pyro).unwrap();
    assert!(
        text.contains("max_decompressed_size: 64MiB") && text.contains("read_timeout: 30s"),
        "{text}"
    );
}

#[test]
fn an_otlp_config_with_every_key_set_round_trips() {
    for body in [FULL_OTLP, OTLP_ALTERNATIVES[0], OTLP_ALTERNATIVES[1]] {
        let c: OtlpConfig = parse(body);
        assert_eq!(round_trip(&c), c, "{body}");
    }
    let c: OtlpConfig = parse(FULL_OTLP);
    let grpc = c.protocols.grpc.as_ref().unwrap();
    assert_eq!(grpc.max_concurrent_streams, Some(100));
}

#[test]
fn a_pyroscope_config_with_every_key_set_round_trips() {
    let c: PyroscopeReceiverConfig = parse(FULL_PYROSCOPE);
    assert_ne!(c, PyroscopeReceiverConfig::default());
    assert_eq!(round_trip(&c), c);
    let c: PyroscopeReceiverConfig = parse("bearer_token_file: /run/t");
    assert_eq!(round_trip(&c), c);
}

/// Every key the decoder accepts is printed: the own keys of each block
/// (the lists its unknown-key messages name, or its struct's fields) are
/// exactly the keys its full config serializes to. A field added to a
/// struct without a key on its list, or a listed key left out of the
/// serialization (or of the full bodies above), fails here.
#[test]
fn the_serialized_keys_are_the_accepted_keys() {
    let c: ScrapeConfig = parse(FULL_SCRAPE);
    let top = keys_at(&c, &[]);
    let accepted = keys(&key_union(SCRAPE_KEYS, HTTP_CLIENT_KEYS));
    // The auth alternatives besides oauth2 are set in the discovery blocks.
    let alternatives = keys(&[
        "bearer_token",
        "bearer_token_file",
        "basic_auth",
        "authorization",
    ]);
    let want: BTreeSet<String> = accepted.difference(&alternatives).cloned().collect();
    assert_eq!(top, want);
    // Defaults are written out: the resolved default prints every own key
    // but the optional target_allocator.
    let default = keys_at(&parse::<ScrapeConfig>("targets: []").resolved(ID), &[]);
    let own: BTreeSet<String> = keys(SCRAPE_KEYS)
        .into_iter()
        .filter(|k| k != "target_allocator")
        .collect();
    assert!(default.is_superset(&own), "{:?}", own.difference(&default));
    assert!(
        default.is_subset(&accepted),
        "{:?}",
        default.difference(&accepted)
    );

    let http = |own| keys(&key_union(own, HTTP_CLIENT_KEYS));
    let union = |a: BTreeSet<String>, b: BTreeSet<String>| -> BTreeSet<String> {
        a.union(&b).cloned().collect()
    };
    let sd = union(
        keys_at(&c, &["http_sd_configs", "0"]),
        keys_at(&c, &["http_sd_configs", "1"]),
    );
    let sd_want: BTreeSet<String> = http(HTTP_SD_KEYS)
        .difference(&keys(&[
            "bearer_token",
            "bearer_token_file",
            "authorization",
            "oauth2",
        ]))
        .cloned()
        .collect();
    assert_eq!(sd, sd_want);
    let k8s = (0..4).fold(BTreeSet::new(), |acc, i| {
        union(acc, keys_at(&c, &["kubernetes_sd_configs", &i.to_string()]))
    });
    // Refused by kubernetes_sd_configs, or exclusive with bearer_token.
    let k8s_out = keys(&[
        "oauth2",
        "no_proxy",
        "proxy_from_environment",
        "proxy_connect_header",
        "basic_auth",
        "authorization",
    ]);
    let k8s_want: BTreeSet<String> = http(KUBERNETES_SD_KEYS)
        .difference(&k8s_out)
        .cloned()
        .collect();
    // proxy_from_environment is a flag, always written.
    assert_eq!(
        k8s.difference(&keys(&["proxy_from_environment"]))
            .cloned()
            .collect::<BTreeSet<_>>(),
        k8s_want
    );
    // Docker discovery takes no auth and no proxy: only tls_config and the
    // flags of the client block.
    let client_flags = keys(&[
        "tls_config",
        "enable_http2",
        "follow_redirects",
        "proxy_from_environment",
    ]);
    let docker_want = union(keys(DOCKER_SD_KEYS), client_flags.clone());
    assert_eq!(keys_at(&c, &["docker_sd_configs", "0"]), docker_want);
    let swarm_want = union(keys(DOCKERSWARM_SD_KEYS), client_flags.clone());
    assert_eq!(keys_at(&c, &["dockerswarm_sd_configs", "0"]), swarm_want);
    let ta_want = union(
        keys(TARGET_ALLOCATOR_KEYS),
        union(client_flags, keys(&["authorization"])),
    );
    let ta_want: BTreeSet<String> = ta_want
        .difference(&keys(&["tls_config"]))
        .cloned()
        .collect();
    assert_eq!(keys_at(&c, &["target_allocator"]), ta_want);
    assert_eq!(
        keys_at(&c, &["file_sd_configs", "0"]),
        keys(struct_fields::<FileSdConfig>())
    );

    // Blocks that deny unknown keys: their struct's fields.
    let profile = keys_at(&c, &["profiling_config", "profile"]);
    assert_eq!(
        profile,
        keys(struct_fields::<crate::profile_types::ProfileBlocks>())
    );
    assert_eq!(
        keys_at(&c, &["profiling_config"]),
        keys(struct_fields::<crate::profile_types::ProfilingConfig>())
    );
    assert_eq!(
        keys_at(&c, &["relabel_configs", "0"]),
        keys(struct_fields::<crate::relabel::RelabelConfig>())
    );
    let otlp: OtlpConfig = parse(FULL_OTLP);
    let alt: Vec<OtlpConfig> = OTLP_ALTERNATIVES.iter().map(|b| parse(b)).collect();
    let refused = keys(&["auth"]);
    for (block, fields) in [
        ("grpc", struct_fields::<GrpcConfig>()),
        ("http", struct_fields::<HttpConfig>()),
    ] {
        let got = alt
            .iter()
            .fold(keys_at(&otlp, &["protocols", block]), |acc, c| {
                union(acc, keys_at(c, &["protocols", block]))
            });
        let want: BTreeSet<String> = keys(fields).difference(&refused).cloned().collect();
        assert_eq!(got, want, "{block}");
    }
    let pyro = union(
        keys_at(&parse::<PyroscopeReceiverConfig>(FULL_PYROSCOPE), &[]),
        keys_at(
            &parse::<PyroscopeReceiverConfig>("bearer_token_file: /t"),
            &[],
        ),
    );
    let pyro_want: BTreeSet<String> = keys(struct_fields::<PyroscopeReceiverConfig>())
        .difference(&keys(&["bearer_token"]))
        .cloned()
        .collect();
    assert_eq!(pyro, pyro_want);
}

/// Asserts that none of `planted` appears in the text and that the
/// redaction marker does.
fn assert_redacted(text: &str, planted: &[&str]) {
    for secret in planted {
        assert!(!text.contains(secret), "{secret} leaked:\n{text}");
    }
    assert!(text.contains("<secret>"), "{text}");
}

#[test]
fn no_planted_secret_of_a_scrape_config_is_printed() {
    let body = r#"
targets:
  - { __address__: "app:6060", __param_token: tgt-tok-1, __param_api_key: tgt-key-2, __param_debug: "keep-1" }
params: { access_token: [param-tok-3], seconds: ["keep-2"] }
http_sd_configs:
  - url: "http://sd-user:url-pass-4@sd.example:9000/targets?token=url-tok-5&page=keep-3"
    basic_auth: { username: keep-user, password: basic-pass-6 }
    tls_config: { cert_pem: "CERT", key_pem: "tls-key-7" }
    proxy_url: "http://proxy-user:proxy-pass-8@proxy.example:3128"
    proxy_connect_header: { Proxy-Authorization: [hdr-val-9] }
kubernetes_sd_configs:
  - role: pod
    api_server: "https://k8s.example:6443/?access_token=k8s-tok-10"
    bearer_token: bearer-11
target_allocator:
  endpoint: "http://ta-user:ta-pass-12@ta.example"
  collector_id: keep-collector
  authorization: { credentials: auth-cred-13 }
docker_sd_configs:
  - host: "https://docker-user:docker-pass-14@docker.example:2376"
oauth2:
  client_id: keep-client
  client_secret: oauth-secret-15
  endpoint_params: { client_assertion_key: param-key-16, audience: keep-aud }
  token_url: "https://auth.example/token?api_key=token-url-key-17"
  proxy_url: "http://proxy.example:3128"
  proxy_connect_header: { X-A: [oauth-hdr-18] }
proxy_url: "http://proxy.example:3128"
proxy_connect_header: { X-B: [top-hdr-19, top-hdr-20] }
"#;
    let c: ScrapeConfig = parse(body);
    for config in [c.clone(), c.resolved(ID)] {
        let text = yaml::to_string(&config).unwrap();
        assert_redacted(
            &text,
            &[
                "tgt-tok",
                "tgt-key",
                "param-tok",
                "url-pass",
                "url-tok",
                "basic-pass",
                "tls-key",
                "proxy-pass",
                "hdr-val",
                "k8s-tok",
                "bearer-11",
                "ta-pass",
                "auth-cred",
                "docker-pass",
                "oauth-secret",
                "param-key",
                "token-url-key",
                "oauth-hdr",
                "top-hdr",
            ],
        );
        // What is not a credential still prints as written.
        for kept in [
            "__param_debug: keep-1",
            "keep-2",
            "page=keep-3",
            "username: keep-user",
            "client_id: keep-client",
            "audience: keep-aud",
            "proxy_url: http://proxy.example:3128",
            "Proxy-Authorization:",
        ] {
            assert!(text.contains(kept), "{kept} missing:\n{text}");
        }
    }
}

#[test]
fn no_planted_secret_of_a_push_receiver_is_printed() {
    let otlp: OtlpConfig = parse(
        r#"
protocols:
  grpc: { bearer_token: grpc-bearer-1 }
  http:
    basic_auth: { username: keep-user, password: http-pass-2 }
    response_headers: { X-Served-By: resp-hdr-3 }
"#,
    );
    let listed: OtlpConfig =
        parse("protocols: {http: {response_headers: [{name: X-Keep, value: resp-hdr-4}]}}");
    let pyro: PyroscopeReceiverConfig =
        parse("basic_auth: {username: keep-user, password: pyro-pass-5}");
    let pyro_bearer: PyroscopeReceiverConfig = parse("bearer_token: pyro-bearer-6");
    let text = [
        yaml::to_string(&otlp).unwrap(),
        yaml::to_string(&listed).unwrap(),
        yaml::to_string(&pyro).unwrap(),
        yaml::to_string(&pyro_bearer).unwrap(),
    ]
    .join("---\n");
    assert_redacted(
        &text,
        &[
            "grpc-bearer",
            "http-pass",
            "resp-hdr",
            "pyro-pass",
            "pyro-bearer",
        ],
    );
    for kept in ["username: keep-user", "X-Served-By", "name: X-Keep"] {
        assert!(text.contains(kept), "{kept} missing:\n{text}");
    }
}

#[test]
fn a_clean_url_prints_as_written() {
    let c: ScrapeConfig = parse(
        "http_sd_configs: [{url: 'http://sd.example:80/t?page=2', proxy_url: 'http://p:3128'}]",
    );
    let text = yaml::to_string(&c).unwrap();
    assert!(
        text.contains("url: http://sd.example:80/t?page=2"),
        "{text}"
    );
    assert!(text.contains("proxy_url: http://p:3128"), "{text}");
}

#[test]
fn the_push_blocks_have_the_keys_they_decode() {
    // A block present with no value is enabled: it prints as a mapping.
    let c: OtlpConfig = parse("protocols: {grpc: }");
    let text = yaml::to_string(&c).unwrap();
    assert!(
        text.contains("grpc:\n    endpoint: localhost:4317"),
        "{text}"
    );
    assert!(!text.contains("http:"), "{text}");
    assert!(c.protocols.grpc.is_some());
}
